"""Post-training int8 quantization of a graph model (bb.Model), TFLite's scheme as for
Sequential (quantize.py):

1. The nodes (in the model's topological order) are grouped into stages, one int8 op
   each: a Conv2D / DepthwiseConv2D / Linear takes the BatchNorm right after it (folded
   into its weights and bias) and then a ReLU or ReLU6 (fused into its clamp); an Add
   takes a ReLU after it. A node is taken into the stage before it only when it is that
   stage's one reader. Dropout is the identity and Flatten is free in NCHW: neither is an op.
   A BatchNorm with nothing to fold into is refused by name (no per-channel affine op).
2. Calibration runs the stages in float, with the folded weights, and records each
   stage output's range: the int8 scales are those of the folded model.
3. Each stage becomes its op: a 1x1 stride-1 unpadded Conv2D the pointwise kernel, a
   depthwise its own (any "same" padding, asymmetric too), Add with its own output scale,
   Concatenate requantizing every input to its output's scale, GlobalAvgPool TFLite's Mean.
"""
import copy
import math

import numpy as np

from ..nn.functional import padding_amounts
from ..nn.layers import (AvgPool, BatchNorm, Conv2D, DepthwiseConv2D, Dropout, Flatten,
                         GlobalAvgPool, Linear, MaxPool, ReLU, ReLU6, Softmax)
from ..nn.merge import Add, Concatenate
from ..nn.tensor import Tensor, no_grad
from .arithmetic import activation_qparams
from .ops import (AddOp, AvgPool2DOp, ClampOp, ConcatOp, Conv2DGemmOp, Conv2DOp, DepthwiseConv2DOp,
                  GlobalAvgPoolOp, LinearOp, MaxPool2DOp, PointwiseConv2DOp, SoftmaxOp,
                  clamp_range)
from .quantized import QuantizedModel

WEIGHTED = (Conv2D, DepthwiseConv2D, Linear)
ACTIVATIONS = {ReLU: "relu", ReLU6: "relu6"}
SIMPLE = {MaxPool: MaxPool2DOp, AvgPool: AvgPool2DOp, Softmax: SoftmaxOp,
          GlobalAvgPool: GlobalAvgPoolOp}
SUPPORTED = WEIGHTED + (BatchNorm, ReLU, ReLU6, Add, Concatenate, Dropout, Flatten) + tuple(SIMPLE)


def _label(node):
    return f"layer {node.name!r} ({type(node.layer).__name__})"


class Stage:
    """Nodes run as one int8 op: the main node, then a folded BatchNorm and an activation."""

    def __init__(self, node, reads):
        self.node = node  # the main node
        self.reads = reads  # stage indices it reads (-1: the model input)
        self.batch_norm = None
        self.activation = None  # None, "relu" or "relu6"
        self.activation_layer = None
        self.last = node  # the node whose output is the stage's
        self.folded = None  # the weighted layer with the BatchNorm folded in

    @property
    def name(self):
        parts = [self.node] + [n for n in (self.batch_norm, self.activation_layer) if n is not None]
        return " + ".join(_label(n) for n in parts)


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


def _stages(model):
    """The model's nodes grouped into stages; also {node index: stage index} of each value."""
    nodes, reads = model.nodes, model._reads
    readers = {}
    for j, rs in enumerate(reads):
        for r in rs:
            readers.setdefault(r, []).append(j)
    stages, value_of = [], {-1: -1}
    for i, node in enumerate(nodes):
        layer, cls = node.layer, type(node.layer)
        if cls not in SUPPORTED:
            names = ", ".join(c.__name__ for c in SUPPORTED)
            raise ValueError(f"quantize: {_label(node)} is not supported for int8; supported "
                             f"layers: {names}")
        sources = [value_of[r] for r in reads[i]]
        prev = stages[sources[0]] if sources[0] >= 0 else None
        # the one reader of the stage before: it may be taken into that stage
        sole = (prev is not None and len(sources) == 1 and reads[i][0] >= 0
                and len(readers.get(reads[i][0], [])) == 1 and prev.last is nodes[reads[i][0]])
        if cls in (Dropout, Flatten):
            value_of[i] = sources[0]
            continue
        if cls is BatchNorm:
            if (sole and type(prev.node.layer) in WEIGHTED and prev.batch_norm is None
                    and prev.activation is None):
                prev.batch_norm = prev.last = node
                value_of[i] = sources[0]
                continue
            what = _label(nodes[reads[i][0]]) if reads[i][0] >= 0 else "the model input"
            raise ValueError(f"quantize: {_label(node)} reads {what}, into which it cannot be "
                             f"folded: int8 folds a BatchNorm into the Conv2D, DepthwiseConv2D "
                             f"or Linear right before it (whose only reader it is) and has no "
                             f"stand-alone batch norm op")
        if cls in ACTIVATIONS and sole and prev.activation is None and (
                type(prev.node.layer) in WEIGHTED or type(prev.node.layer) is Add):
            prev.activation, prev.activation_layer = ACTIVATIONS[cls], node
            prev.last = node
            value_of[i] = sources[0]
            continue
        if cls is Concatenate and layer.axis not in (1, -3) or (
                cls is Concatenate and len(node.shape) != 3):
            raise ValueError(f"quantize: {_label(node)} joins along axis {layer.axis}; int8 "
                             f"concatenates (C, H, W) images along the channels (axis=1) only")
        if cls is Concatenate and len(sources) > 4:
            raise ValueError(f"quantize: {_label(node)} joins {len(sources)} inputs; the int8 "
                             f"op takes at most 4")
        if cls is Add and len(sources) != 2:
            raise ValueError(f"quantize: {_label(node)} adds {len(sources)} inputs; the int8 "
                             f"add takes 2 (chain two Adds)")
        if cls is DepthwiseConv2D and len(node.inputs[0].shape) != 3:
            raise ValueError(f"quantize: {_label(node)} gets per-sample shape "
                             f"{node.inputs[0].shape}; int8 depthwise takes (C, H, W)")
        stages.append(Stage(node, sources))
        value_of[i] = len(stages) - 1
    return stages


def _run_stage(stage, args):
    """The float output of a stage for its input Tensors (batch first)."""
    node = stage.node
    # each input in the shape the node reads it (a Flatten before it is only a reshape)
    args = [Tensor(a.data.reshape((len(a.data),) + t.shape)) for a, t in zip(args, node.inputs)]
    layer = stage.folded if stage.folded is not None else node.layer
    x = layer(args if node.listed else args[0])
    if stage.activation_layer is not None:
        x = stage.activation_layer.layer(x)
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


def _weighted_op(stage, name, in_shape, out_shape, in_q, out_q, gemm=True):
    layer = stage.folded
    weight, bias = layer.weight.data, layer.bias.data
    act = stage.activation
    if isinstance(layer, Linear):
        if len(in_shape) != 1:
            raise ValueError(f"quantize: {name} gets per-sample shape {in_shape}; int8 Linear "
                             f"takes a feature vector (put a Flatten before it)")
        return LinearOp.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q, act)
    _, h, w = in_shape
    top, bottom, left, right = padding_amounts(layer.padding, layer.kernel, layer.stride, (h, w),
                                               name)
    padding = (top, bottom, left, right)
    if isinstance(layer, DepthwiseConv2D):
        return DepthwiseConv2DOp.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q,
                                             act, kernel=tuple(layer.kernel),
                                             stride=tuple(layer.stride), padding=padding,
                                             depth_multiplier=layer.depth_multiplier)
    if tuple(layer.kernel) == (1, 1) and tuple(layer.stride) == (1, 1) and not any(padding):
        return PointwiseConv2DOp.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q, act)
    if top == bottom and left == right:
        padding = (top, left)  # the symmetric pair, as the Sequential path writes it
    cls = Conv2DGemmOp if gemm else Conv2DOp
    return cls.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q, act,
                                kernel=tuple(layer.kernel), stride=tuple(layer.stride), padding=padding)


def quantize_graph(model, X, batch_size=256, input_q=None):
    """The QuantizedModel of bb.Model `model`, calibrated on X (checked by quantize());
    input_q (scale, zero point), when given, is the input's instead of its calibrated one
    (a front end's fixed quantization)."""
    stages = _stages(model)
    for stage in stages:
        layer = stage.node.layer
        if isinstance(layer, WEIGHTED):
            for param in layer.parameters():
                if not np.all(np.isfinite(param.data)):
                    raise ValueError(f"quantize: {_label(stage.node)} has NaN or infinite "
                                     f"weights; int8 cannot represent them")
            stage.folded = _folded_layer(stage)
    if not any(isinstance(s.node.layer, WEIGHTED) for s in stages):
        raise ValueError("quantize: the model has no Conv2D, DepthwiseConv2D or Linear layer")
    _, lo, hi = run_folded(model, stages, X, batch_size)

    input_q = input_q if input_q is not None else activation_qparams(lo[0], hi[0])
    qs = []
    ops = []
    for k, stage in enumerate(stages):
        name = stage.name
        if not (math.isfinite(lo[k + 1]) and math.isfinite(hi[k + 1])):
            raise ValueError(f"quantize: {name} produces NaN or infinite values on the "
                             f"calibration data")
        in_qs = [input_q if r < 0 else qs[r] for r in stage.reads]
        in_shapes = [t.shape for t in stage.node.inputs]
        out_shape = stage.last.shape
        out_q = activation_qparams(lo[k + 1], hi[k + 1])
        layer, cls = stage.node.layer, type(stage.node.layer)
        if cls in WEIGHTED:
            op = _weighted_op(stage, name, in_shapes[0], out_shape, in_qs[0], out_q)
        elif cls is Add:
            op = AddOp.from_quant(name, out_shape, in_qs[0], in_qs[1], out_q, stage.activation)
        elif cls is Concatenate:
            op = ConcatOp(name=name, in_shape=in_shapes[0], out_shape=out_shape, in_q=in_qs[0],
                          out_q=out_q, in_qs=tuple(in_qs), in_shapes=tuple(in_shapes))
        elif cls in ACTIVATIONS:  # a ReLU / ReLU6 with no op to fuse into: a clamp
            act_min, act_max = clamp_range(in_qs[0], ACTIVATIONS[cls])
            op = ClampOp(name=name, in_shape=in_shapes[0], out_shape=out_shape, in_q=in_qs[0],
                         out_q=in_qs[0], act_min=act_min, act_max=act_max)
        else:
            op = SIMPLE[cls].from_layers([layer], name, in_shapes[0], out_shape, in_qs[0], out_q)
        if tuple(op.output_shape(op.in_shape)) != tuple(out_shape):
            raise ValueError(f"quantize: {name}: the int8 {op.kind} op computes shape "
                             f"{tuple(op.output_shape(op.in_shape))}, the float layer {out_shape}")
        ops.append(op)
        qs.append(op.out_q)
    return QuantizedModel(ops, tuple(model.input_shape), input_q, tuple(model.output_shape),
                          reads=[s.reads for s in stages])
