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

With frontend=bb.audio.MFCC(...) the calibration data is int16 PCM and the front end
becomes the model's first op (frontend.py): the network's input quantization is then the
front end's fixed one, not calibrated.
"""
import math
import warnings
from dataclasses import replace

import numpy as np

from ..data.loader import as_features
from ..nn.layers import Conv2D, Dropout, Flatten, ReLU
from ..nn.tensor import Tensor, no_grad
from ..train.graph import Model
from ..train.model import Sequential
from .arithmetic import activation_qparams
from .frontend import calibration_features, check_frontend, features_quantization
from . import streaming
from .graph_quantize import quantize_graph
from .ops import OPS, Conv2DOp, Conv2DPoolOp, LinearOp, MaxPool2DOp
from .quantized import QuantizedModel, with_frontend

# Float layer class -> the int8 op class built from it (ops.py's table); Flatten and
# Dropout become no op.
LAYER_OPS = {cls.layer: cls for cls in OPS.values() if cls.layer is not None}
SKIPPED = (Flatten, Dropout)
SUPPORTED = tuple(LAYER_OPS) + SKIPPED
WEIGHTED = (Conv2DOp, LinearOp)


def _stages(model):
    """Group layers into int8 ops: (op class or None for Flatten, layers, index of the
    first layer), fusing a ReLU into the Conv2D or Linear before it."""
    stages = []
    for index, layer in enumerate(model.layers):
        cls = type(layer)
        if cls not in SUPPORTED:
            names = ", ".join(c.__name__ for c in SUPPORTED)
            base = next((c for c in SUPPORTED if isinstance(layer, c)), None)
            detail = (f", a subclass of {base.__name__}: quantize converts the built-in layers "
                      f"only, whose arithmetic it knows" if base is not None else "")
            raise ValueError(f"quantize: layer {index} ({cls.__name__}{detail}) is not supported "
                             f"for int8; supported layers: {names}")
        if cls is Dropout:
            continue
        if cls is Conv2D and isinstance(layer.padding, str):
            raise ValueError(f"quantize: layer {index} (Conv2D) has padding={layer.padding!r} "
                             f"at stride {layer.stride} with kernel {layer.kernel}: padding "
                             f"that depends on the input size and may be larger at the bottom "
                             f"/ right, which the int8 kernels do not take yet; use an int or "
                             f"a (height, width) padding")
        if (cls is ReLU and stages and stages[-1][0] in WEIGHTED and len(stages[-1][1]) == 1):
            stages[-1][1].append(layer)
            continue
        stages.append((LAYER_OPS.get(cls), [layer], index))
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


def fuse_ops(ops):
    """ops with every conv2d directly followed by a max_pool2d merged into one conv2d_pool
    op (a clamp right after the pooling folds in too: a clamp commutes with a max)."""
    fused = []
    for op in ops:
        prev = fused[-1] if fused else None
        if isinstance(op, MaxPool2DOp) and type(prev) is Conv2DOp:
            fused[-1] = Conv2DPoolOp.fuse(prev, op)
        elif (op.kind == "clamp" and type(prev) is Conv2DPoolOp
              and max(prev.act_min, op.act_min) <= min(prev.act_max, op.act_max)):
            fused[-1] = replace(prev, name=f"{prev.name} + {op.name}",
                                act_min=max(prev.act_min, op.act_min),
                                act_max=min(prev.act_max, op.act_max))
        else:
            fused.append(op)
    return fused


def _streamed(q, stream):
    if stream is False or stream is None:
        return q
    if stream is True:
        return streaming.stream(q)
    if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)) or stream < 0:
        raise ValueError(f"quantize: stream must be True, False or an arena budget in bytes, "
                         f"got {stream!r}")
    return streaming.stream(q, arena_limit=int(stream))


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"quantize: batch_size must be a positive integer, got {batch_size!r}")


def quantize(model, calibration_data, batch_size=256, fuse=True, frontend=None, stream=True):
    """An int8 QuantizedModel of `model` (a Sequential or a bb.Model graph, see
    graph_quantize.py), with activation ranges from calibration_data.

    calibration_data: a few hundred representative inputs (N, ...) as the model takes them.
    fuse: merge Conv2D (+ ReLU) + MaxPool into one conv2d_pool op (same bytes, far less
    RAM); False keeps one op per layer.
    frontend: a bb.audio.MFCC whose features (as frontend.to_float gives them) the model
    was trained on. calibration_data is then int16 PCM recordings (a list of 1-D arrays or
    an array (N, samples)), and the int8 model takes PCM: the front end is its first op.
    stream: let the memory planner run chains of convolutions in bands of rows
    (streaming.py) wherever that lowers the arena (same bytes). True: the smallest arena;
    a number of bytes: an arena budget the bands may grow into (taller bands, fewer
    ticks), never below the smallest arena; False keeps every op whole.
    """
    if not isinstance(model, (Sequential, Model)):
        raise TypeError(f"quantize expects a Sequential or a bb.Model, got {type(model).__name__}")
    _check_batch_size(batch_size)
    if frontend is not None:
        calibration_data = calibration_features(check_frontend(frontend, model),
                                                calibration_data)
    X = as_features(calibration_data, "quantize (calibration_data)")
    if len(X) == 0:
        raise ValueError("quantize: calibration_data is empty")
    if not np.all(np.isfinite(X)):
        raise ValueError("quantize: calibration_data contains NaN or infinity")
    if len(X) > 1 and np.all(X == X[:1]):
        warnings.warn("quantize: every calibration sample is the same; the activation ranges "
                      "(and so the int8 scales) fit that one input only. Calibrate with a few "
                      "hundred representative samples.", UserWarning, stacklevel=2)
    elif float(X.max()) == float(X.min()):
        warnings.warn("quantize: the calibration data is one constant value; the int8 input "
                      "scale cannot represent any other input.", UserWarning, stacklevel=2)
    model._build_for(X)
    # With a front end the input's quantization is its features' own: they pass unchanged.
    fixed_input_q = features_quantization(frontend) if frontend is not None else None
    if isinstance(model, Model):
        q = quantize_graph(model, X, batch_size, input_q=fixed_input_q)
        q = with_frontend(frontend, q) if frontend is not None else q
        return _streamed(q, stream)
    stages = _stages(model)
    for _, layers, index in stages:
        for param in layers[0].parameters():
            if not np.all(np.isfinite(param.data)):
                raise ValueError(f"quantize: layer {index} ({type(layers[0]).__name__}) has NaN or "
                                 f"infinite weights; int8 cannot represent them")
    if not any(stage[0] in WEIGHTED for stage in stages):
        raise ValueError("quantize: the model has no Conv2D or Linear layer")
    lo, hi = _calibrate(model, stages, X, batch_size)

    shapes = [tuple(model.input_shape)]
    with no_grad():
        x = Tensor(np.zeros((1,) + shapes[0], dtype=np.float32))
        for _, layers, _ in stages:
            for layer in layers:
                x = layer(x)
            shapes.append(tuple(x.shape[1:]))

    input_q = fixed_input_q if frontend is not None else activation_qparams(lo[0], hi[0])
    ops, current_q = [], input_q
    for i, (cls, layers, index) in enumerate(stages):
        if cls is None:
            continue  # NCHW flatten: same bytes, same quantization
        name = f"layer {index} ({' + '.join(type(l).__name__ for l in layers)})"
        if not (math.isfinite(lo[i + 1]) and math.isfinite(hi[i + 1])):
            raise ValueError(f"quantize: {name} produces NaN or infinite values on the "
                             f"calibration data")
        out_q = activation_qparams(lo[i + 1], hi[i + 1])
        op = cls.from_layers(layers, name, shapes[i], shapes[i + 1], current_q, out_q)
        if tuple(op.output_shape(op.in_shape)) != tuple(op.out_shape):
            raise ValueError(f"quantize: {name}: the int8 {op.kind} op computes shape "
                             f"{tuple(op.output_shape(op.in_shape))}, the float layer {op.out_shape}")
        ops.append(op)
        current_q = op.out_q
    if fuse:
        ops = fuse_ops(ops)
    q = QuantizedModel(ops, tuple(model.input_shape), input_q, shapes[-1])
    q = with_frontend(frontend, q) if frontend is not None else q
    return _streamed(q, stream)
