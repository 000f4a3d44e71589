"""The float side of quantization: a model's layers grouped into stages, one int8 op each
(or two, conv then max pool, with fuse=False), and their calibration.

1. The model, a Sequential (a chain) or a bb.Model graph, is seen as one list of nodes in
   an order where each comes after what it reads (`graph_of`).
2. The nodes are grouped by the one rewrite pass (nn/rewrites.py, INT8_CHAINS): a Conv2D /
   DepthwiseConv2D / Linear takes the BatchNorm right after it (folded into its weights
   and bias), a ReLU or ReLU6 (the clamp of its requantization) and, after a Conv2D, a
   MaxPool; an Add takes a ReLU after it. Dropout is the identity and Flatten is free in
   NCHW: neither is an op. A BatchNorm with nothing to fold into is refused by name (there
   is no stand-alone batch norm op).
3. Calibration runs the stages in float, with the folded weights, and records each stage
   output's range: the int8 scales are those of the folded model.
"""
import copy
from dataclasses import dataclass

import numpy as np

from ..nn.layers import (AvgPool1D, BatchNorm, Conv1D, Conv2D, DepthwiseConv2D, Dropout, Flatten,
                         Linear, MaxPool, MaxPool1D, ReLU, ReLU6, SeparableConv2D)
from ..nn.merge import Add, Concatenate
from ..nn.rewrites import INT8_CHAINS, fused_chains
from ..nn.symbolic import SymbolicTensor
from ..nn.tensor import Tensor, no_grad
from ..train.graph import Model
from .ops import OPS

WEIGHTED = (Conv2D, DepthwiseConv2D, Conv1D, Linear)
ACTIVATIONS = {ReLU: "relu", ReLU6: "relu6"}
IDENTITY = (Dropout, Flatten)
# the layers quantize.py builds ops for itself, then those an op class of ops.py's table
# is made from alone (MaxPool, AvgPool, GlobalAvgPool, Softmax, LeakyReLU, ...)
SUPPORTED = WEIGHTED + (BatchNorm, ReLU, ReLU6, MaxPool1D, AvgPool1D, Add, Concatenate,
                        SeparableConv2D) + IDENTITY
SUPPORTED += tuple(sorted({cls.layer for cls in OPS.values() if cls.layer is not None} - set(SUPPORTED),
                          key=lambda c: c.__name__))


@dataclass
class Node:
    """One layer call: its layer, its output shape, the values it reads (objects with a
    .shape, the model input first), its label in messages, and whether the layer takes
    its inputs as a list."""
    layer: object
    shape: tuple
    inputs: tuple
    label: str
    listed: bool = False


def graph_of(model):
    """(nodes, reads) of a built Sequential or Model: reads[i] lists the positions of the
    values node i reads (-1: the model input). A SeparableConv2D is two nodes, its
    depthwise and its 1x1 convolution (two int8 ops)."""
    if isinstance(model, Model):
        calls = [(n.layer, n.shape, n.inputs, f"layer {n.name!r}", n.listed, reads)
                 for n, reads in zip(model.nodes, model._reads)]
    else:
        value, calls = SymbolicTensor(model.input_shape), []
        for index, (layer, shape) in enumerate(zip(model.layers, model._output_shapes)):
            calls.append((layer, tuple(shape), (value,), f"layer {index}", False, [index - 1]))
            value = SymbolicTensor(shape)
    nodes, reads, position = [], [], {-1: -1}
    for i, (layer, shape, inputs, label, listed, node_reads) in enumerate(calls):
        sources = [position[r] for r in node_reads]
        if type(layer) is SeparableConv2D:
            mid = _output_shape(layer.depthwise, inputs[0].shape)
            nodes.append(Node(layer.depthwise, mid, inputs, f"{label} (SeparableConv2D depthwise)"))
            reads.append(sources)
            layer, inputs, sources = layer.pointwise, (nodes[-1],), [len(nodes) - 1]
            label = f"{label} (SeparableConv2D 1x1)"
        else:
            label = f"{label} ({type(layer).__name__})"
        nodes.append(Node(layer, tuple(shape), tuple(inputs), label, listed))
        reads.append(sources)
        position[i] = len(nodes) - 1
    return nodes, reads


def _output_shape(layer, in_shape):
    with no_grad():
        return tuple(layer(Tensor(np.zeros((1,) + tuple(in_shape), np.float32))).shape[1:])


class Stage:
    """Nodes run as one int8 op: the main node, then what INT8_CHAINS lets follow it."""

    def __init__(self, nodes, reads):
        self.nodes = nodes
        self.node = nodes[0]  # the main node
        self.reads = reads  # stage indices it reads (-1: the model input)
        self.last = nodes[-1]  # the node whose output is the stage's
        self.folded = None  # the weighted layer with the BatchNorm folded in
        self.batch_norm = self._find(BatchNorm)
        self.pool = self._find(MaxPool)
        # one clamp for the stage's activations (two in a row: the narrower, ReLU6)
        acts = {ACTIVATIONS[type(n.layer)] for n in nodes if type(n.layer) in ACTIVATIONS}
        self.activation = "relu6" if "relu6" in acts else ("relu" if acts else None)

    def _find(self, cls):
        return next((n for n in self.nodes[1:] if type(n.layer) is cls), None)

    @property
    def name(self):
        return " + ".join(n.label for n in self.nodes)

    @property
    def before_pool(self):
        """The nodes a conv op computes when the max pool runs as an op of its own."""
        return [n for n in self.nodes if n is not self.pool]


def fold_batch_norm(layer, bn):
    """(weight, bias) of `layer` (Conv2D, DepthwiseConv2D or Linear) followed by BatchNorm
    `bn` in eval mode, as one layer: w * g / sqrt(var + eps) per output channel, and
    (b - mean) * g / sqrt(var + eps) + beta."""
    weight = layer.weight.data.astype(np.float64)
    bias = (np.zeros(weight.shape[0]) if layer.bias is None
            else layer.bias.data.astype(np.float64))
    if bn is None:
        return weight, bias
    scale = bn.weight.data.astype(np.float64) / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    bias = (bias - bn.running_mean.astype(np.float64)) * scale + bn.bias.data.astype(np.float64)
    return weight, bias


def _folded_layer(stage):
    """A copy of the stage's weighted layer with its BatchNorm folded in (float32)."""
    layer = stage.node.layer
    weight, bias = fold_batch_norm(layer, None if stage.batch_norm is None else stage.batch_norm.layer)
    folded = copy.copy(layer)
    folded.weight = Tensor(weight.astype(np.float32))
    folded.bias = Tensor(bias.astype(np.float32))
    return folded


def _check_supported(node):
    cls = type(node.layer)
    if cls in SUPPORTED:
        return
    names = ", ".join(c.__name__ for c in SUPPORTED)
    base = next((c for c in SUPPORTED if isinstance(node.layer, c)), None)
    detail = (f", a subclass of {base.__name__}: quantize converts the built-in layers only, "
              f"whose arithmetic it knows" if base is not None else "")
    raise ValueError(f"quantize: {node.label[:-1]}{detail}) is not supported for int8; "
                     f"supported layers: {names}")


def _check_stage_node(node, sources):
    cls, layer = type(node.layer), node.layer
    # Along axis 1 (channels of (C, H, W) or Conv1D's (C, L), features of (F,)) a sample's
    # output is its inputs' bytes one after another: the one channel concat op.
    if cls is Concatenate and (layer.axis if layer.axis >= 0 else layer.axis + len(node.shape) + 1) != 1:
        raise ValueError(f"quantize: {node.label} joins along axis {layer.axis} (into per-sample "
                         f"shape {tuple(node.shape)}); int8 concatenates along axis 1 "
                         f"only (the channels of (C, H, W) or (C, L), the features of (F,))")
    if cls is Concatenate and len(sources) > 4:
        raise ValueError(f"quantize: {node.label} joins {len(sources)} inputs; the int8 op "
                         f"takes at most 4")
    if cls is Add and len(sources) != 2:
        raise ValueError(f"quantize: {node.label} adds {len(sources)} inputs; the int8 add "
                         f"takes 2 (chain two Adds)")
    if cls is DepthwiseConv2D and len(node.inputs[0].shape) != 3:
        raise ValueError(f"quantize: {node.label} gets per-sample shape {node.inputs[0].shape}; "
                         f"int8 depthwise takes (C, H, W)")


def make_stages(nodes, reads):
    """The nodes grouped into stages (in order), each reading earlier stages."""
    for node in nodes:
        _check_supported(node)
    chains = fused_chains([n.layer for n in nodes], reads, INT8_CHAINS)
    stages, value_of, inside = [], {-1: -1}, {}
    for i, node in enumerate(nodes):
        if i in inside:  # a later node of a chain: the chain's stage computes it
            value_of[i] = inside[i]
            continue
        sources = [value_of[r] for r in reads[i]]
        if type(node.layer) in IDENTITY:
            value_of[i] = sources[0]
            continue
        if type(node.layer) is BatchNorm:
            what = nodes[reads[i][0]].label if reads[i][0] >= 0 else "the model input"
            raise ValueError(f"quantize: {node.label} reads {what}, into which it cannot be "
                             f"folded: int8 folds a BatchNorm into the Conv2D, DepthwiseConv2D "
                             f"or Linear right before it (whose only reader it is) and has no "
                             f"stand-alone batch norm op")
        _check_stage_node(node, sources)
        chain = chains.get(i, [i])
        stages.append(Stage([nodes[j] for j in chain], sources))
        for j in chain:
            inside[j] = value_of[j] = len(stages) - 1
    for stage in stages:
        if isinstance(stage.node.layer, WEIGHTED):
            for param in stage.node.layer.parameters():
                if not np.all(np.isfinite(param.data)):
                    raise ValueError(f"quantize: {stage.node.label} has NaN or infinite "
                                     f"weights; int8 cannot represent them")
            stage.folded = _folded_layer(stage)
    return stages


def _run_stage(stage, args):
    """The float output of a stage for its input Tensors (batch first)."""
    node = stage.node
    # each input in the shape the node reads it (a Flatten before it is only a reshape)
    args = [Tensor(a.data.reshape((len(a.data),) + t.shape)) for a, t in zip(args, node.inputs)]
    layer = stage.folded if stage.folded is not None else node.layer
    x = layer(args if node.listed else args[0])
    for later in stage.nodes[1:]:
        if later is not stage.batch_norm:  # folded into the weights
            x = later.layer(x)
    return x


def run_folded(model, stages, X, batch_size=256):
    """The folded float model's outputs for X (what calibration sees), and each stage
    output's (min, max) over X: [input range] + [per stage]."""
    lo = np.full(len(stages) + 1, np.inf)
    hi = np.full(len(stages) + 1, -np.inf)
    outputs = []
    model.eval()
    with no_grad():
        for start in range(0, len(X), batch_size):
            x = Tensor(X[start:start + batch_size])
            lo[0], hi[0] = min(lo[0], x.data.min()), max(hi[0], x.data.max())
            values = []
            for k, stage in enumerate(stages):
                args = [x if r < 0 else values[r] for r in stage.reads]
                values.append(_run_stage(stage, args))
                lo[k + 1] = min(lo[k + 1], values[-1].data.min())
                hi[k + 1] = max(hi[k + 1], values[-1].data.max())
            outputs.append(values[-1].data)
    return np.concatenate(outputs), lo, hi
