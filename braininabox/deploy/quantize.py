"""Post-training int8 quantization of a trained Sequential or bb.Model graph.

    q = bb.quantize(model, calibration_data)

The scheme is TensorFlow Lite's:
- activations int8, asymmetric, one (scale, zero_point) per tensor, from the ranges
  the calibration data produces (always including 0, so padding and ReLU are exact);
- weights int8, symmetric, one scale per output channel;
- biases int32 at scale input_scale * weight_scale[channel];
- requantization by a Q31 multiplier and a shift per output channel (csrc/bb_requantize.h).

The layers are grouped into stages (stages.py: BatchNorm folded, ReLU / ReLU6 fused into
clamps, Dropout and Flatten free), calibrated in float, and each stage becomes its op
(ops.py): a Conv2D the im2col-band kernel (conv2d_gemm), or the pointwise kernel when it
is 1x1, stride 1, unpadded; a depthwise its own (any "same" padding, asymmetric too); Add
with its own output scale; Concatenate requantizing every input to its output's scale;
GlobalAvgPool TFLite's Mean.

With fuse=True (the default) a Conv2D (+ ReLU) followed by a MaxPool becomes one
conv2d_pool op (csrc/bb_conv2d_pool_s8.c), which never stores the convolution output.
Its quantization is exactly that of the two ops fuse=False gives (the pooled output's
scale; max pooling keeps it, and the clamp commutes with the max), so both give
identical bytes.

With frontend=bb.audio.MFCC(...) the calibration data is int16 PCM and the front end
becomes the model's first op (frontend.py): the network's input quantization is then the
front end's fixed one, not calibrated.
"""
import math
import warnings
from dataclasses import replace

import numpy as np

from ..data.loader import as_features
from ..nn.functional import padding_amounts
from ..nn.layers import AvgPool1D, Conv1D, DepthwiseConv2D, Linear, MaxPool1D
from ..nn.merge import Add, Concatenate
from ..train.graph import Model
from ..train.model import Sequential
from .arithmetic import activation_qparams
from . import streaming
from .frontend import calibration_features, check_frontend, features_quantization
from .ops import (OPS, AddOp, AvgPool2DOp, ClampOp, ConcatOp, Conv2DGemmOp, Conv2DOp, Conv2DPoolOp,
                  DepthwiseConv2DOp, LinearOp, MaxPool2DOp, PointwiseConv2DOp, chw, clamp_range)
from .quantized import QuantizedModel, with_frontend
from .stages import ACTIVATIONS, WEIGHTED, graph_of, make_stages, run_folded

# The op class a layer alone becomes (ops.py's table): MaxPool, AvgPool, Softmax,
# GlobalAvgPool, LeakyReLU (a ReLU alone is a clamp, below).
LAYER_OPS = {cls.layer: cls for cls in OPS.values() if cls.layer is not None}
# 1-D layers run as their 2-D ops on (C, L) seen as (C, L, 1) (ops.chw's view).
POOLS_1D = {MaxPool1D: MaxPool2DOp, AvgPool1D: AvgPool2DOp}


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"quantize: batch_size must be a positive integer, got {batch_size!r}")


def _check_stream(stream):
    if stream is True or stream is False:
        return
    if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)) or stream < 0:
        raise ValueError(f"quantize: stream must be True, False or an arena budget in bytes, "
                         f"got {stream!r}")


def _check_calibration(X):
    if len(X) == 0:
        raise ValueError("quantize: calibration_data is empty")
    if not np.all(np.isfinite(X)):
        raise ValueError("quantize: calibration_data contains NaN or infinity")
    if len(X) > 1 and np.all(X == X[:1]):
        warnings.warn("quantize: every calibration sample is the same; the activation ranges "
                      "(and so the int8 scales) fit that one input only. Calibrate with a few "
                      "hundred representative samples.", UserWarning, stacklevel=3)
    elif float(X.max()) == float(X.min()):
        warnings.warn("quantize: the calibration data is one constant value; the int8 input "
                      "scale cannot represent any other input.", UserWarning, stacklevel=3)


def quantize(model, calibration_data, batch_size=256, fuse=True, frontend=None, stream=False):
    """An int8 QuantizedModel of `model` (a Sequential or a bb.Model graph), with
    activation ranges from calibration_data.

    calibration_data: a few hundred representative inputs (N, ...) as the model takes them.
    fuse: merge Conv2D (+ ReLU) + MaxPool into one conv2d_pool op (same bytes, far less
    RAM); False keeps the convolution and the pooling as two ops. The fused op is a direct
    convolution and can take several times the ticks of the unfused conv2d_gemm + pool on
    some shapes (3x on a 3-channel 11x11 image): when RAM allows, compare both
    (bb.embedded.run(...).op_ticks) and take fuse=False if it is faster.
    frontend: a bb.audio.MFCC whose features (as frontend.to_float gives them) the model
    was trained on. calibration_data is then int16 PCM recordings (a list of 1-D arrays or
    an array (N, samples)), and the int8 model takes PCM: the front end is its first op.
    stream: let the memory planner run chains of convolutions in bands of rows
    (streaming.py) wherever that lowers the arena (same bytes, more ticks: each band is a
    kernel call). False (the default) keeps every op whole, the fastest; True: the
    smallest arena; a number of bytes: an arena budget the bands may grow into (taller
    bands, fewer ticks), never below the smallest arena nor above the unstreamed one (a
    model that fits the budget unstreamed comes back unstreamed).
    """
    if not isinstance(model, (Sequential, Model)):
        raise TypeError(f"quantize expects a Sequential or a bb.Model, got {type(model).__name__}")
    _check_batch_size(batch_size)
    _check_stream(stream)
    if frontend is not None:
        calibration_data = calibration_features(check_frontend(frontend, model),
                                                calibration_data)
    X = as_features(calibration_data, "quantize (calibration_data)")
    _check_calibration(X)
    model._build_for(X)
    # With a front end the input's quantization is its features' own: they pass unchanged.
    input_q = features_quantization(frontend) if frontend is not None else None
    q = quantize_stages(model, X, batch_size, fuse=fuse, input_q=input_q)
    q = with_frontend(frontend, q) if frontend is not None else q
    if stream is False:
        return q
    return streaming.stream(q, arena_limit=None if stream is True else int(stream))


def quantize_stages(model, X, batch_size=256, fuse=True, input_q=None):
    """The QuantizedModel of built `model`, calibrated on X (checked by quantize());
    input_q (scale, zero point), when given, is the input's instead of its calibrated one
    (a front end's fixed quantization)."""
    nodes, node_reads = graph_of(model)
    stages = make_stages(nodes, node_reads)
    if not any(isinstance(s.node.layer, WEIGHTED) for s in stages):
        raise ValueError("quantize: the model has no Conv2D, DepthwiseConv2D or Linear layer")
    _, lo, hi = run_folded(model, stages, X, batch_size)

    input_q = input_q if input_q is not None else activation_qparams(lo[0], hi[0])
    ops, reads, stage_q, stage_op = [], [], [], []
    for k, stage in enumerate(stages):
        if not (math.isfinite(lo[k + 1]) and math.isfinite(hi[k + 1])):
            raise ValueError(f"quantize: {stage.name} produces NaN or infinite values on the "
                             f"calibration data")
        in_qs = [input_q if r < 0 else stage_q[r] for r in stage.reads]
        out_q = activation_qparams(lo[k + 1], hi[k + 1])
        made = _stage_ops(stage, in_qs, out_q, fuse)
        for j, op in enumerate(made):
            shape = op.output_shape(op.in_shape)
            if tuple(shape) != tuple(op.out_shape):
                raise ValueError(f"quantize: {op.name}: the int8 {op.kind} op computes shape "
                                 f"{tuple(shape)}, the float layer {op.out_shape}")
            # the stage's first op reads its inputs, a second one the first's output
            reads.append([-1 if r < 0 else stage_op[r] for r in stage.reads] if j == 0
                         else [len(ops) - 1])
            ops.append(op)
        stage_q.append(made[-1].out_q)
        stage_op.append(len(ops) - 1)
    return QuantizedModel(ops, tuple(model.input_shape), input_q, tuple(nodes[-1].shape),
                          reads=reads)


def _stage_ops(stage, in_qs, out_q, fuse):
    """The int8 op(s) of one stage: one, or a conv and its max pool when not fused."""
    layer, cls = stage.node.layer, type(stage.node.layer)
    in_shapes = [tuple(t.shape) for t in stage.node.inputs]
    out_shape = tuple(stage.last.shape)
    if cls in WEIGHTED:
        if stage.pool is None:
            return [_weighted_op(stage, stage.name, in_shapes[0], out_shape, in_qs[0], out_q)]
        # the conv's output: the shape of the node before the pool (its ReLU keeps it)
        conv_nodes = stage.before_pool
        conv_shape = tuple(stage.nodes[stage.nodes.index(stage.pool) - 1].shape)
        conv_name = " + ".join(n.label for n in conv_nodes)
        conv = _weighted_op(stage, conv_name, in_shapes[0], conv_shape, in_qs[0], out_q,
                            direct=fuse)
        pool = LAYER_OPS[type(stage.pool.layer)].from_layers(
            [stage.pool.layer], stage.pool.label, conv_shape, out_shape, out_q, out_q)
        return [replace(Conv2DPoolOp.fuse(conv, pool), name=stage.name)] if fuse else [conv, pool]
    if cls is Add:
        return [AddOp.from_quant(stage.name, out_shape, in_qs[0], in_qs[1], out_q, stage.activation)]
    if cls is Concatenate:
        return [ConcatOp(name=stage.name, in_shape=in_shapes[0], out_shape=out_shape,
                         in_q=in_qs[0], out_q=out_q, in_qs=tuple(in_qs),
                         in_shapes=tuple(in_shapes))]
    if cls in POOLS_1D:
        return [POOLS_1D[cls](name=stage.name, in_shape=chw(in_shapes[0]), out_shape=chw(out_shape),
                              in_q=in_qs[0], out_q=in_qs[0], kernel=(layer.size, 1),
                              stride=(layer.stride, 1))]
    if cls in ACTIVATIONS:  # a ReLU / ReLU6 with no op to fuse into (and one after it): a clamp
        act_min, act_max = clamp_range(in_qs[0], stage.activation)
        return [ClampOp(name=stage.name, in_shape=in_shapes[0], out_shape=out_shape,
                        in_q=in_qs[0], out_q=in_qs[0], act_min=act_min, act_max=act_max)]
    return [LAYER_OPS[cls].from_layers([layer], stage.name, in_shapes[0], out_shape,
                                       in_qs[0], out_q)]


def _weighted_op(stage, name, in_shape, out_shape, in_q, out_q, direct=False):
    """The op of a Conv2D / DepthwiseConv2D / Linear stage (BatchNorm folded, its clamp);
    direct: a Conv2D as the direct convolution (what conv2d_pool fuses) rather than
    conv2d_gemm."""
    layer = stage.folded
    weight, bias = layer.weight.data, layer.bias.data
    act = stage.activation
    if isinstance(layer, Linear):
        if len(in_shape) != 1:
            raise ValueError(f"quantize: {name} gets per-sample shape {in_shape}; int8 Linear "
                             f"takes a feature vector (put a Flatten before it)")
        return LinearOp.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q, act)
    if isinstance(layer, Conv1D):  # a Conv2D with a (kernel, 1) window over (C, L, 1)
        return _conv2d_op(name, weight[..., None], bias, chw(in_shape), chw(out_shape), in_q, out_q,
                          act, (layer.kernel, 1), (layer.stride, 1),
                          layer.padding if isinstance(layer.padding, str) else (layer.padding, 0),
                          direct)
    if isinstance(layer, DepthwiseConv2D):
        padding = padding_amounts(layer.padding, layer.kernel, layer.stride, in_shape[1:], name)
        return DepthwiseConv2DOp.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q,
                                             act, kernel=tuple(layer.kernel),
                                             stride=tuple(layer.stride), padding=tuple(padding),
                                             depth_multiplier=layer.depth_multiplier)
    return _conv2d_op(name, weight, bias, in_shape, out_shape, in_q, out_q, act, tuple(layer.kernel),
                      tuple(layer.stride), layer.padding, direct)


def _conv2d_op(name, weight, bias, in_shape, out_shape, in_q, out_q, act, kernel, stride, padding,
               direct):
    """A convolution of (C, H, W): the pointwise kernel when it is 1x1, stride 1, unpadded,
    else conv2d_gemm (or the direct conv2d, what conv2d_pool fuses)."""
    top, bottom, left, right = padding_amounts(padding, kernel, stride, in_shape[1:], name)
    pads = (top, bottom, left, right)
    if kernel == (1, 1) and stride == (1, 1) and not any(pads) and not direct:
        return PointwiseConv2DOp.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q, act)
    if top == bottom and left == right:
        pads = (top, left)  # the symmetric pair
    cls = Conv2DOp if direct else Conv2DGemmOp
    return cls.from_arrays(name, weight, bias, in_shape, out_shape, in_q, out_q, act,
                           kernel=kernel, stride=stride, padding=pads)
