"""Model: a graph of layers written with the functional API, Keras style.

    x = bb.Input((3, 32, 32))
    y = bb.layers.ReLU()(bb.layers.Conv2D(16, kernel=3, padding="same")(x))
    out = bb.layers.Linear(10)(bb.layers.GlobalAvgPool()(bb.layers.Add()([x_proj, y])))
    model = bb.Model(inputs=x, outputs=out)

Calling layers on symbolic tensors (nn/symbolic.py) recorded the nodes; Model walks
them back from the output, puts them in an order where each node comes after the
nodes it reads, and runs them in that order on data. A layer used by two nodes is one
set of weights. One input and one output. Training, summary and saving: training.py.

A model called on a symbolic tensor (features = base(x)) records its own nodes again,
reading x: the outer Model is flat, with the base's layer objects (weights shared).
"""
from ..nn.rewrites import fused_pairs, run_pair
from ..nn.symbolic import Input, SymbolicTensor, is_symbolic
from ..nn.tensor import Tensor
from .training import BaseModel

FORMAT = "braininabox.Model"
FORMAT_VERSION = 2  # the model file with its checksum (train/model_file.py)


def _single(value, what):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"Model takes one {what} (got {len(value)}); several inputs or "
                             f"outputs are not supported")
        value = value[0]
    if not isinstance(value, SymbolicTensor):
        raise TypeError(f"Model {what} must be a symbolic tensor (from bb.Input or a layer "
                        f"called on one), got {type(value).__name__}")
    return value


def _label(t):
    return f"{t.name!r} ({type(t.layer).__name__})" if t.layer is not None else f"Input {t.name!r}"


def _ordered_nodes(inputs, outputs):
    """The layer nodes between inputs and outputs, each after the nodes it reads.

    Refuses a cycle, an Input other than `inputs`, and an output that does not depend on
    `inputs`, naming the layers involved.
    """
    order, state = [], {}  # state: "open" while its inputs are being visited, then "done"
    stack = [(outputs, False)]
    path = []  # the chain of open nodes, to name a cycle
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            state[id(node)] = "done"
            path.pop()
            if node is not inputs:
                order.append(node)
            continue
        if state.get(id(node)) == "done":
            continue
        if node.layer is None and node is not inputs:
            reader = path[-1] if path else None
            raise ValueError(
                f"the graph reads {_label(node)}, which is not the model's input "
                f"{inputs.name!r}" + (f" (read by {_label(reader)})" if reader else "")
                + "; a Model has one input")
        state[id(node)] = "open"
        path.append(node)
        stack.append((node, True))
        for parent in reversed(node.inputs):
            if state.get(id(parent)) == "open":
                cycle = path[path.index(parent):] + [parent]
                raise ValueError("the graph has a cycle: " + " -> ".join(_label(t) for t in cycle))
            if state.get(id(parent)) != "done":
                stack.append((parent, False))
    if state.get(id(inputs)) != "done":
        raise ValueError(f"the input {inputs.name!r} is disconnected: the output "
                         f"{_label(outputs)} does not depend on it")
    return order


class Model(BaseModel):
    """A graph of layers from bb.Input to one output; see the module docstring."""

    def __init__(self, inputs, outputs, name=None):
        super().__init__(name)
        self.input = _single(inputs, "input")
        self.output = _single(outputs, "output")
        if self.input.layer is not None:
            raise ValueError(f"Model inputs must come from bb.Input, got the output of "
                             f"{_label(self.input)}")
        self.nodes = _ordered_nodes(self.input, self.output)
        if not self.nodes:
            raise ValueError("Model has no layers between its input and its output")
        self.input_shape, self.output_shape = self.input.shape, self.output.shape
        # for each node, the positions (in self.nodes, -1 for the input) of what it reads
        position = {id(self.input): -1, **{id(n): i for i, n in enumerate(self.nodes)}}
        self._reads = [[position[id(t)] for t in n.inputs] for n in self.nodes]
        # after node i runs, the values no later node reads can go (in predict, without a
        # graph to keep them alive, only the live branches stay in memory)
        last_read = {}
        for i, reads in enumerate(self._reads):
            for r in reads:
                last_read[r] = i
        self._done_after = [[r for r in set(reads) if r >= 0 and last_read[r] == i]
                            for i, reads in enumerate(self._reads)]
        self._fused = fused_pairs([node.layer for node in self.nodes], self._reads)

    @property
    def layers(self):
        return self.layers_in_order()

    def layers_in_order(self):
        seen, layers = set(), []
        for node in self.nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        return layers

    # ----------------------------------------------------------- forward
    def __call__(self, x):
        if is_symbolic(x):  # used as a layer of another Model: its nodes are inlined
            return self._call_symbolic(x)
        x = x if isinstance(x, Tensor) else Tensor(x)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"Model expects input (N, {', '.join(map(str, self.input_shape))}), "
                             f"got shape {x.shape}")
        values = [None] * len(self.nodes)
        for i, (node, reads) in enumerate(zip(self.nodes, self._reads)):
            if values[i] is None:  # not computed already by a fused pair
                args = [x if r < 0 else values[r] for r in reads]
                j = self._fused.get(i)
                if j is None:
                    values[i] = node.layer(args if node.listed else args[0])
                else:  # a pair run as one step (nn/rewrites.py)
                    values[j] = run_pair(node.layer, self.nodes[j].layer, args[0])
            for r in self._done_after[i]:
                values[r] = None
        return values[-1]

    def _record(self, x):
        """Each node again, reading x where this model reads its Input."""
        tensors = {id(self.input): x}
        for node in self.nodes:
            args = [tensors[id(t)] for t in node.inputs]
            tensors[id(node)] = node.layer(args if node.listed else args[0])
        return tensors[id(self.output)]

    def build(self, input_shape):
        """A Model is built when it is made; this only checks the shape."""
        if tuple(int(d) for d in input_shape) != self.input_shape:
            raise ValueError(f"Model was made for input {self.input_shape}, got {tuple(input_shape)}")
        return self

    def _build_for(self, X):
        if X.shape == self.input_shape:
            raise ValueError(f"Model takes a batch (N, {', '.join(map(str, X.shape))}); for "
                             f"one sample of shape {X.shape} pass X[None]")
        if tuple(X.shape[1:]) != self.input_shape:
            raise ValueError(f"Model expects samples of shape {self.input_shape}, got X of shape "
                             f"{X.shape}")
        return self.output_shape

    def _require_built(self, what):
        """A Model is always built."""

    def _node_costs(self):
        return [(n.layer, n.shape, n.layer.macs(n.shape)) for n in self.nodes]

    # ------------------------------------------------------------- display
    def summary(self, print_fn=print):
        """Each node: its layer, output shape, the nodes it reads, MACs and parameters."""
        rows, calls = [], {}
        # a layer's calls numbered in this graph (dense, dense:1): a model inlined here
        # (model(symbolic tensor)) was called once before, when it was written
        names = {id(self.input): self.input.name}
        for node, (layer, shape, macs) in zip(self.nodes, self._node_costs()):
            count = f"{sum(p.size for p in layer.parameters()):,}"
            call = calls.get(id(layer), 0)
            if call:
                count = "shared"  # its weights are counted where the layer first appears
            calls[id(layer)] = call + 1
            names[id(node)] = layer.name if call == 0 else f"{layer.name}:{call}"
            rows.append((f"{names[id(node)]} ({type(layer).__name__})", str((None,) + shape),
                         ", ".join(names[id(t)] for t in node.inputs), f"{macs:,}", count))
        return self._summary(f"Input {self.input.name!r}: {(None,) + self.input_shape}",
                             ("Layer (type)", "Output Shape", "Reads", "MACs", "Param #"),
                             rows, print_fn)

    # ---------------------------------------------------------- save / load
    def save(self, path):
        """Graph, weights and buffers in one file, written atomically; bb.load reads it."""
        layers = self.layers_in_order()
        index = {id(layer): i for i, layer in enumerate(layers)}
        header = {"format": FORMAT, "version": FORMAT_VERSION,
                  "input": {"name": self.input.name, "shape": list(self.input_shape)},
                  "layers": [{"name": l.name, "class": type(l).__name__, "config": l.get_config()}
                             for l in layers],
                  "nodes": [{"layer": index[id(n.layer)], "reads": reads, "list": n.listed}
                            for n, reads in zip(self.nodes, self._reads)]}
        return self._write(path, header)

    @classmethod
    def from_saved(cls, path, header, make_layer):
        """Replay the saved nodes on a new Input; weights are restored by the caller."""
        layers = []
        for spec in header["layers"]:
            layer = make_layer(spec)
            layer.name = spec["name"]
            layers.append(layer)
        x = Input(tuple(header["input"]["shape"]), name=header["input"]["name"])
        tensors = []
        for k, node in enumerate(header["nodes"]):
            reads = node["reads"]
            if any(not -1 <= r < k for r in reads):
                raise ValueError(f"{path}: node {k} reads a node that does not come before it "
                                 f"(a cycle or a corrupted file)")
            args = [x if r < 0 else tensors[r] for r in reads]
            tensors.append(layers[node["layer"]](args if node["list"] else args[0]))
        if not tensors:
            raise ValueError(f"{path}: the graph has no nodes")
        return cls(x, tensors[-1])
