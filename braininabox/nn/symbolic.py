"""Symbolic tensors: the placeholders a functional model is written with.

    x = Input((3, 32, 32))            # one sample's shape; the batch axis is left out
    y = Conv2D(16, kernel=3)(x)       # a SymbolicTensor: no data, a shape and its origin

A layer called on a SymbolicTensor does not compute anything on real data: it records a
node (the layer and the symbolic inputs it read) and returns a new SymbolicTensor for the
node's output. The output's shape comes from running the layer once on a zero sample in
evaluation mode, which also builds the layer's parameters (lazy sizes work as in
Sequential) and makes a mismatched input fail right there, with the layers named.
bb.Model (train/graph.py) turns the recorded nodes into a model.
"""
import numpy as np

from .tensor import Tensor, no_grad


class SymbolicTensor:
    """The output of `layer` applied to `inputs` (other SymbolicTensors), or an Input."""

    __slots__ = ("shape", "layer", "inputs", "listed", "call", "_name")

    def __init__(self, shape, layer=None, inputs=(), name=None, listed=False, call=0):
        self.shape = tuple(int(d) for d in shape)
        self.layer = layer
        self.inputs = tuple(inputs)
        self.listed = listed  # the layer took its inputs as a list (Add, Concatenate)
        self.call = call      # 0 for a layer's first call, 1 for its second (shared weights)...
        self._name = name     # an Input's name

    @property
    def name(self):
        """An Input's name; the layer's name for a node (dense:1 for its second call)."""
        if self.layer is None:
            return self._name
        return self.layer.name if self.call == 0 else f"{self.layer.name}:{self.call}"

    @property
    def ndim(self):
        return len(self.shape) + 1  # with the batch axis, as the layer will see it

    def __repr__(self):
        return f"SymbolicTensor(shape={(None,) + self.shape}, from={self.name!r})"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self!r} is symbolic (it has no values): build a bb.Model from it "
                        f"and call the model on data")


_input_count = [0]


def Input(shape, name=None):
    """A model's input: one sample's shape, without the batch axis (NCHW images: (C, H, W))."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                            for d in shape):
        raise ValueError(f"Input: shape must be a tuple of positive ints (one sample's shape, "
                         f"without the batch axis), got {shape!r}")
    if name is None:
        _input_count[0] += 1
        name = "input" if _input_count[0] == 1 else f"input_{_input_count[0] - 1}"
    return SymbolicTensor(shape, None, (), name)


def is_symbolic(x):
    """Whether x is a SymbolicTensor or a list/tuple holding one."""
    if isinstance(x, (list, tuple)):
        return any(isinstance(t, SymbolicTensor) for t in x)
    return isinstance(x, SymbolicTensor)


def describe(inputs):
    """'conv2d_1' (16, 8, 8) and 'input' (3, 8, 8): the names and shapes of symbolic inputs."""
    return " and ".join(f"{t.name!r} {t.shape}" for t in inputs)


def call_symbolic(layer, x):
    """Record layer(x) for symbolic x (one SymbolicTensor, or a list for merge layers)."""
    many = isinstance(x, (list, tuple))
    inputs = list(x) if many else [x]
    for t in inputs:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"layer {layer.name!r} ({type(layer).__name__}): cannot mix symbolic "
                            f"inputs with {type(t).__name__} data in one call")
    zeros = [Tensor(np.zeros((1,) + t.shape, dtype=np.float32)) for t in inputs]
    mode = layer.training
    layer.training = False  # e.g. BatchNorm refuses one sample in training mode
    try:
        with no_grad():
            out = layer(zeros if many else zeros[0])
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"layer {layer.name!r} ({type(layer).__name__}) cannot read "
                        f"{describe(inputs)}: {exc}") from None
    finally:
        layer.training = mode
    if not isinstance(out, Tensor):
        raise TypeError(f"layer {layer.name!r} ({type(layer).__name__}) returned "
                        f"{type(out).__name__}; a graph node must return one Tensor")
    # a layer called again (shared weights) names its later outputs dense:1, dense:2, ...
    calls = getattr(layer, "_symbolic_calls", 0)
    layer._symbolic_calls = calls + 1
    return SymbolicTensor(out.shape[1:], layer, inputs, listed=many, call=calls)
