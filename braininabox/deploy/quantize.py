"""Post-training int8 quantization of a trained Sequential model.

    q = bb.quantize(model, calibration_data)

The scheme is TensorFlow Lite's:
- activations int8, asymmetric, one (scale, zero_point) per tensor, from the ranges
  the calibration data produces (always including 0, so padding and ReLU are exact);
- weights int8, symmetric, one scale per output channel;
- biases int32 at scale input_scale * weight_scale[channel];
- requantization by a Q31 multiplier and a shift per output channel (csrc/bb_requantize.h).
A ReLU right after a Conv2D or Linear is fused into its clamp. Dropout is the identity
at inference and disappears; Flatten is free in NCHW (the bytes do not move).

With fuse=True (the default) a Conv2D (+ ReLU) followed by a MaxPool becomes one
conv2d_pool op (csrc/bb_conv2d_pool_s8.c), which never stores the convolution output.
Its quantization is exactly that of the unfused ops (the conv output's scale; max
pooling keeps it), so fuse=True and fuse=False give identical bytes.
"""
from dataclasses import replace

import numpy as np

from ..data.loader import as_features
from ..nn.layers import AvgPool, Conv2D, Dropout, Flatten, Linear, MaxPool, ReLU, Softmax
from ..nn.tensor import Tensor, no_grad
from ..train.model import Sequential
from .arithmetic import activation_qparams, quantize_multiplier, round_half_away
from .quantized import Int8Op, QuantizedModel

SUPPORTED = (Conv2D, Linear, MaxPool, AvgPool, ReLU, Flatten, Softmax, Dropout)
EXP_TABLE_ONE = 1 << 20  # exp(0) in the softmax table's fixed point


def _stages(model):
    """Group layers into int8 ops: (kind, layers, index of the first layer), fusing a ReLU
    into the Conv2D or Linear before it."""
    stages = []
    for index, layer in enumerate(model.layers):
        if not isinstance(layer, SUPPORTED):
            names = ", ".join(cls.__name__ for cls in SUPPORTED)
            raise ValueError(f"quantize: layer {index} ({type(layer).__name__}) is not supported "
                             f"for int8; supported layers: {names}")
        if isinstance(layer, Dropout):
            continue
        if (isinstance(layer, ReLU) and stages and stages[-1][0] in ("conv2d", "linear")
                and len(stages[-1][1]) == 1):
            stages[-1][1].append(layer)
            continue
        kind = {Conv2D: "conv2d", Linear: "linear", MaxPool: "max_pool2d", AvgPool: "avg_pool2d",
                ReLU: "clamp", Flatten: "reshape", Softmax: "softmax"}[type(layer)]
        stages.append((kind, [layer], index))
    return stages


def _calibrate(model, stages, X, batch_size):
    """Min and max of the input and of every stage's output over the calibration data."""
    lo = np.full(len(stages) + 1, np.inf)
    hi = np.full(len(stages) + 1, -np.inf)
    model.eval()
    with no_grad():
        for start in range(0, len(X), batch_size):
            x = Tensor(X[start:start + batch_size])
            lo[0], hi[0] = min(lo[0], x.data.min()), max(hi[0], x.data.max())
            for i, (_, layers, _) in enumerate(stages, start=1):
                for layer in layers:
                    x = layer(x)
                lo[i], hi[i] = min(lo[i], x.data.min()), max(hi[i], x.data.max())
    return lo, hi


def _weighted_op(kind, layers, name, in_shape, out_shape, in_q, out_q):
    layer = layers[0]
    weight = layer.weight.data.astype(np.float64)
    channels = weight.shape[0]
    flat = weight.reshape(channels, -1)
    w_scale = np.abs(flat).max(axis=1) / 127.0
    w_scale = np.where(w_scale > 0, w_scale, 1.0).astype(np.float32).astype(np.float64)
    weights = np.clip(round_half_away(flat / w_scale[:, None]), -127, 127).astype(np.int8)
    bias = None
    if layer.bias is not None:
        bias_scale = in_q[0] * w_scale
        bias = np.clip(round_half_away(layer.bias.data / bias_scale),
                       -2**31, 2**31 - 1).astype(np.int32)
    pairs = [quantize_multiplier(in_q[0] * s / out_q[0]) for s in w_scale]
    relu = len(layers) == 2
    op = Int8Op(kind=kind, name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q,
                out_q=out_q, weights=weights.reshape(weight.shape), bias=bias,
                multiplier=np.array([m for m, _ in pairs], dtype=np.int32),
                shift=np.array([s for _, s in pairs], dtype=np.int32),
                act_min=out_q[1] if relu else -128, act_max=127, weight_scales=w_scale)
    if kind == "conv2d":
        op.kernel, op.stride, op.padding = layer.kernel, layer.stride, layer.padding
    return op


def fuse_ops(ops):
    """ops with every conv2d directly followed by a max_pool2d merged into one conv2d_pool
    op (a clamp right after the pooling folds in too: a clamp commutes with a max)."""
    fused = []
    for op in ops:
        prev = fused[-1] if fused else None
        if op.kind == "max_pool2d" and prev is not None and prev.kind == "conv2d":
            fused[-1] = replace(prev, kind="conv2d_pool", name=f"{prev.name} + {op.name}",
                                out_shape=op.out_shape, pool_kernel=tuple(op.kernel),
                                pool_stride=tuple(op.stride))
        elif (op.kind == "clamp" and prev is not None and prev.kind == "conv2d_pool"
              and max(prev.act_min, op.act_min) <= min(prev.act_max, op.act_max)):
            fused[-1] = replace(prev, name=f"{prev.name} + {op.name}",
                                act_min=max(prev.act_min, op.act_min),
                                act_max=min(prev.act_max, op.act_max))
        else:
            fused.append(op)
    return fused


def quantize(model, calibration_data, batch_size=256, fuse=True):
    """An int8 QuantizedModel of `model`, with activation ranges from calibration_data.

    calibration_data: a few hundred representative inputs (N, ...) as the model takes them.
    fuse: merge Conv2D (+ ReLU) + MaxPool into one conv2d_pool op (same bytes, far less
    RAM); False keeps one op per layer.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"quantize expects a Sequential model, got {type(model).__name__}")
    X = as_features(calibration_data, "quantize (calibration_data)")
    model._build_for(X)
    stages = _stages(model)
    if not any(stage[0] in ("conv2d", "linear") for stage in stages):
        raise ValueError("quantize: the model has no Conv2D or Linear layer")
    lo, hi = _calibrate(model, stages, X, batch_size)

    shapes = [tuple(model.input_shape)]
    with no_grad():
        x = Tensor(np.zeros((1,) + shapes[0], dtype=np.float32))
        for _, layers, _ in stages:
            for layer in layers:
                x = layer(x)
            shapes.append(tuple(x.shape[1:]))

    input_q = activation_qparams(lo[0], hi[0])
    ops, current_q = [], input_q
    for i, (kind, layers, index) in enumerate(stages):
        name = f"layer {index} ({' + '.join(type(l).__name__ for l in layers)})"
        in_shape, out_shape = shapes[i], shapes[i + 1]
        if kind == "reshape":
            continue  # NCHW flatten: same bytes, same quantization
        if kind == "linear" and len(in_shape) != 1:
            raise ValueError(f"quantize: {name} gets per-sample shape {in_shape}; int8 Linear "
                             f"takes a feature vector (put a Flatten before it)")
        if kind in ("conv2d", "linear"):
            out_q = activation_qparams(lo[i + 1], hi[i + 1])
            op = _weighted_op(kind, layers, name, in_shape, out_shape, current_q, out_q)
        elif kind in ("max_pool2d", "avg_pool2d"):
            op = Int8Op(kind=kind, name=name, in_shape=in_shape, out_shape=out_shape,
                        in_q=current_q, out_q=current_q, kernel=layers[0].size,
                        stride=layers[0].stride)
        elif kind == "clamp":
            op = Int8Op(kind=kind, name=name, in_shape=in_shape, out_shape=out_shape,
                        in_q=current_q, out_q=current_q, act_min=current_q[1], act_max=127)
        else:  # softmax: output scale 1/256, zero point -128
            if len(in_shape) != 1:
                raise ValueError(f"quantize: layer {index} (Softmax) gets per-sample shape {in_shape}; "
                                 f"int8 softmax runs over a feature vector (put a Flatten before it)")
            distances = np.arange(256, dtype=np.float64) * current_q[0]
            table = round_half_away(EXP_TABLE_ONE * np.exp(-distances)).astype(np.int32)
            op = Int8Op(kind=kind, name=name, in_shape=in_shape, out_shape=out_shape,
                        in_q=current_q, out_q=(1.0 / 256.0, -128), exp_table=table)
        ops.append(op)
        current_q = op.out_q
    if fuse:
        ops = fuse_ops(ops)
    return QuantizedModel(ops, tuple(model.input_shape), input_q, shapes[-1])
