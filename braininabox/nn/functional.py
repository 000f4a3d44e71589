"""Differentiable functions on Tensors: convolution (also depthwise and 1-D), pooling,
batch normalization, activations, softmax and the losses.

The heavy ones run in the C kernels (through _core); each is one graph node whose
backward also calls C. Inputs to C kernels are converted to float32.
"""
import numpy as np

from .. import _core
from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _pair(value, name):
    """(height, width) from an int or a pair of ints; anything else is refused, not truncated."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                   for v in values):
        raise ValueError(f"{name} must be an int or a pair (height, width) of ints, got {value!r}")
    return tuple(int(v) for v in values)


def _check_ndim(x, ndim, what, layout):
    if x.ndim != ndim:
        raise ValueError(f"{what} expects {layout}, got shape {x.shape}")
    _check_not_empty(x, what)


def _check_not_empty(x, what):
    """The C kernels take at least one value on every axis (a batch of 0 samples included)."""
    if x.size == 0:
        raise ValueError(f"{what}: the input is empty (shape {x.shape}); it needs at least one "
                         f"sample and no axis of length 0")


# ------------------------------------------------------------------ dense
def linear(x, weight, bias=None, relu=False):
    """x @ weight.T + bias, with weight (out_features, in_features) as in PyTorch.

    relu=True returns max(., 0) of that, fused into the same C call (float32).
    """
    x, weight = _tensor(x), _tensor(weight)
    if x.ndim != 2:
        raise ValueError(f"linear expects (N, features), got shape {x.shape}")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features), got shape "
                         f"{weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[1]} features but the weight expects "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    bias = None if bias is None else _tensor(bias)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    xd, wd = x.data, weight.data
    bd = None if bias is None else bias.data
    if xd.dtype == wd.dtype == np.float32 and (bd is None or bd.dtype == np.float32):
        out = _core.linear(xd, wd, bd, relu=relu)  # one C call: product, bias, ReLU
    else:  # float64 (gradient checks): numpy
        out = _core.matmul(xd, wd.T)
        if bd is not None:
            out += bd
        if relu:
            out = np.maximum(out, 0)
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        if relu:
            g = _core.relu_backward(out, g)  # out > 0 exactly where the input to ReLU was
        grads = [_core.matmul(g, wd) if x.requires_grad else None,
                 _core.matmul(g.T, xd) if weight.requires_grad else None]
        if bias is not None:
            grads.append(g.sum(axis=0))
        return grads
    return Tensor._result(out, parents, backward, "linear_relu" if relu else "linear")


# ------------------------------------------------------------ convolution
def padding_amounts(padding, kernel, stride, in_hw, what):
    """(top, bottom, left, right) zero padding from an int, a (height, width) pair,
    "valid" (none) or "same" (TensorFlow's: output = ceil(input / stride), the odd row or
    column of padding at the bottom / right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{what}: padding must be 'valid', 'same', an int or a pair, "
                             f"got {padding!r}")
        amounts = []
        for size, k, s in zip(in_hw, kernel, stride):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            amounts += [total // 2, total - total // 2]
        return tuple(amounts)
    ph, pw = _pair(padding, f"{what}: padding")
    if min(ph, pw) < 0:
        raise ValueError(f"{what}: padding >= 0 is required, got {padding!r}")
    return (ph, ph, pw, pw)


def _conv_geometry(x, kernel, stride, padding, what):
    """Checked stride and (top, bottom, left, right) padding for a kernel over x (N, C, H, W)."""
    stride = _pair(stride, f"{what}: stride")
    if min(stride) < 1:
        raise ValueError(f"{what}: stride must be >= 1, got {stride}")
    pads = padding_amounts(padding, kernel, stride, x.shape[2:], what)
    for i, axis in enumerate(("height", "width")):
        if x.shape[2 + i] + pads[2 * i] + pads[2 * i + 1] < kernel[i]:
            a, b = pads[2 * i], pads[2 * i + 1]
            raise ValueError(f"{what}: input {axis} {x.shape[2 + i]} (padding "
                             f"{a if a == b else f'{a} + {b}'}) is smaller than the kernel "
                             f"{axis} {kernel[i]}")
    return stride, pads


def _core_padding(pads):
    """The pair _core.conv2d takes when the padding is symmetric (else all four)."""
    top, bottom, left, right = pads
    return (top, left) if (top, left) == (bottom, right) else pads


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution of x (N, C, H, W) with weight (out, C, kh, kw), zero padding.

    stride: an int or a (height, width) pair; padding: an int, a pair, "valid" or "same".
    """
    x, weight = _tensor(x), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    _check_ndim(x, 4, "conv2d", "(N, C, H, W)")
    _check_ndim(weight, 4, "conv2d weight", "(out_channels, in_channels, kh, kw)")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but the weight expects "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    stride, pads = _conv_geometry(x, weight.shape[2:], stride, padding, "conv2d")
    padding = _core_padding(pads)
    xd, wd = _core.as_f32(x.data), _core.as_f32(weight.data)
    bd = None if bias is None else _core.as_f32(bias.data)
    out = _core.conv2d(xd, wd, bd, stride, padding)
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        dx, dw, db = _core.conv2d_backward(
            xd, wd, _core.as_f32(g), stride, padding, need_dx=x.requires_grad,
            need_dw=weight.requires_grad, need_db=bias is not None and bias.requires_grad)
        return dx, dw, db
    return Tensor._result(out, parents, backward, "conv2d")


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0):
    """Depthwise 2-D convolution: each input channel c convolved with its own
    depth_multiplier kernels (PyTorch's conv2d with groups = channels).

    x (N, C, H, W); weight (C * depth_multiplier, 1, kh, kw); output channel
    c * depth_multiplier + m reads input channel c. stride and padding as in conv2d.
    """
    x, weight = _tensor(x), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    _check_ndim(x, 4, "depthwise_conv2d", "(N, C, H, W)")
    _check_ndim(weight, 4, "depthwise_conv2d weight", "(C * depth_multiplier, 1, kh, kw)")
    channels = x.shape[1]
    if weight.shape[1] != 1 or weight.shape[0] == 0 or weight.shape[0] % channels:
        raise ValueError(f"depthwise_conv2d: weight shape {weight.shape} must be "
                         f"(C * depth_multiplier, 1, kh, kw) for an input with {channels} channels")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"depthwise_conv2d: bias must have shape ({weight.shape[0]},), "
                         f"got {bias.shape}")
    stride, pads = _conv_geometry(x, weight.shape[2:], stride, padding, "depthwise_conv2d")
    xd, wd = _core.as_f32(x.data), _core.as_f32(weight.data)
    bd = None if bias is None else _core.as_f32(bias.data)
    out = _core.depthwise_conv2d(xd, wd, bd, stride, pads)
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        return _core.depthwise_conv2d_backward(
            xd, wd, _core.as_f32(g), stride, pads, need_dx=x.requires_grad,
            need_dw=weight.requires_grad, need_db=bias is not None and bias.requires_grad)
    return Tensor._result(out, parents, backward, "depthwise_conv2d")


def _as_2d_input(x, weight, what):
    """(N, C, L) -> (N, C, 1, L) and weight (O, I, k) -> (O, I, 1, k) for the 2-D kernels."""
    _check_ndim(x, 3, what, "(N, C, L)")
    if weight is not None:
        _check_ndim(weight, 3, f"{what} weight", "(out_channels, in_channels, kernel)")
        weight = weight.reshape(weight.shape[0], weight.shape[1], 1, weight.shape[2])
    return x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]), weight


def _int_or_pair_to_1d(value, name, what):
    """An int (or a 1-tuple) for 1-D arguments: the 2-D pair (1 or 0, value)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what}: {name} must be an int, got {value!r}")
    return int(value)


def conv1d(x, weight, bias=None, stride=1, padding=0):
    """1-D convolution of x (N, C, L) with weight (out, C, k): conv2d with height 1.

    padding: an int, "valid" or "same" (TensorFlow's, the odd one at the end)."""
    x, weight = _tensor(x), _tensor(weight)
    x4, w4 = _as_2d_input(x, weight, "conv1d")
    stride = _int_or_pair_to_1d(stride, "stride", "conv1d")
    if not isinstance(padding, str):
        padding = (0, _int_or_pair_to_1d(padding, "padding", "conv1d"))
    y = conv2d(x4, w4, bias, (1, stride), padding)
    return y.reshape(y.shape[0], y.shape[1], y.shape[3])


# ---------------------------------------------------------------- pooling
def _pool_args(x, kernel, stride, what):
    _check_ndim(x, 4, what, "(N, C, H, W)")
    kernel = _pair(kernel, "kernel")
    stride = kernel if stride is None else _pair(stride, "stride")
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{what}: kernel and stride must be >= 1, got {kernel} and {stride}")
    if x.shape[2] < kernel[0] or x.shape[3] < kernel[1]:
        raise ValueError(f"{what}: input of {x.shape[2]}x{x.shape[3]} is smaller than the "
                         f"{kernel[0]}x{kernel[1]} window")
    return kernel, stride


def max_pool2d(x, kernel, stride=None):
    """Max over kernel windows (stride defaults to the kernel), no padding."""
    x = _tensor(x)
    kernel, stride = _pool_args(x, kernel, stride, "max_pool2d")
    out, argmax = _core.max_pool2d(_core.as_f32(x.data), kernel, stride)
    shape = x.shape
    return Tensor._result(out, (x,), lambda g: (
        _core.max_pool2d_backward(shape, kernel, stride, _core.as_f32(g), argmax),), "max_pool2d")


def avg_pool2d(x, kernel, stride=None):
    """Mean over kernel windows (stride defaults to the kernel), no padding."""
    x = _tensor(x)
    kernel, stride = _pool_args(x, kernel, stride, "avg_pool2d")
    out = _core.avg_pool2d(_core.as_f32(x.data), kernel, stride)
    shape = x.shape
    return Tensor._result(out, (x,), lambda g: (
        _core.avg_pool2d_backward(shape, kernel, stride, _core.as_f32(g)),), "avg_pool2d")


def global_avg_pool2d(x):
    """Mean over each (H, W) plane: (N, C, H, W) -> (N, C)."""
    x = _tensor(x)
    _check_ndim(x, 4, "global_avg_pool2d", "(N, C, H, W)")
    shape = x.shape
    if x.dtype == np.float64:  # gradient checks: numpy
        return Tensor._result(x.data.mean(axis=(2, 3)), (x,), lambda g: (
            np.broadcast_to(g[:, :, None, None] / (shape[2] * shape[3]), shape).copy(),),
            "global_avg_pool2d")
    out = _core.global_avg_pool2d(_core.as_f32(x.data))
    return Tensor._result(out, (x,), lambda g: (
        _core.global_avg_pool2d_backward(shape, _core.as_f32(g)),), "global_avg_pool2d")


def _pool1d(x, kernel, stride, what, pool2d):
    x = _tensor(x)
    x4, _ = _as_2d_input(x, None, what)
    kernel = _int_or_pair_to_1d(kernel, "kernel", what)
    stride = kernel if stride is None else _int_or_pair_to_1d(stride, "stride", what)
    y = pool2d(x4, (1, kernel), (1, stride))
    return y.reshape(y.shape[0], y.shape[1], y.shape[3])


def max_pool1d(x, kernel, stride=None):
    """Max over windows of x (N, C, L) (stride defaults to the kernel), no padding."""
    return _pool1d(x, kernel, stride, "max_pool1d", max_pool2d)


def avg_pool1d(x, kernel, stride=None):
    """Mean over windows of x (N, C, L) (stride defaults to the kernel), no padding."""
    return _pool1d(x, kernel, stride, "avg_pool1d", avg_pool2d)


# ---------------------------------------------------------- normalization
def _running_buffer(array, channels, name):
    if array is None:
        return None
    if not isinstance(array, np.ndarray) or array.shape != (channels,):
        raise ValueError(f"batch_norm: {name} must be a numpy array of shape ({channels},), "
                         f"got {getattr(array, 'shape', type(array).__name__)}")
    return array


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization over (N, C) or (N, C, ...) input, PyTorch's F.batch_norm.

    training: normalize with the batch's mean and biased variance, and update the numpy
    arrays running_mean / running_var in place (running = (1 - momentum) * running +
    momentum * batch, the unbiased variance); they may be None then. Otherwise normalize
    with the running statistics. weight (gamma) and bias (beta) are optional Tensors.
    """
    x = _tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects (N, C) or (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    running_mean = _running_buffer(running_mean, channels, "running_mean")
    running_var = _running_buffer(running_var, channels, "running_var")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: pass both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    count = x.size // channels if channels else 0
    if training and count < 2:
        raise ValueError(f"batch_norm: training needs more than one value per channel, got "
                         f"input shape {x.shape} (use a batch of 2 or more, or eval())")
    if not (eps > 0) or not (0 <= momentum <= 1):
        raise ValueError(f"batch_norm: eps must be > 0 and momentum in [0, 1], got {eps} and {momentum}")
    weight = None if weight is None else _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},), got {t.shape}")
    parents = tuple(t for t in (x, weight, bias) if t is not None)
    if x.dtype == np.float64:
        out, backward = _batch_norm_numpy(x.data, running_mean, running_var, weight, bias,
                                          training, momentum, eps)
        return Tensor._result(out, parents, backward, "batch_norm")

    xd = _core.as_f32(x.data)
    gd = None if weight is None else _core.as_f32(weight.data)
    bd = None if bias is None else _core.as_f32(bias.data)
    # The kernel updates float32 C-contiguous running statistics in place; others go through a copy.
    stats = [None if a is None else _core.as_f32(a) for a in (running_mean, running_var)]
    out, mean, invstd = _core.batch_norm(xd, gd, bd, stats[0], stats[1], training, momentum, eps)
    for original, used in zip((running_mean, running_var), stats):
        if original is not None and used is not original:
            original[...] = used

    def backward(g):
        dx, dgamma, dbeta = _core.batch_norm_backward(
            xd, gd, mean, invstd, training, _core.as_f32(g), need_dx=x.requires_grad,
            need_dgamma=weight is not None and weight.requires_grad,
            need_dbeta=bias is not None and bias.requires_grad)
        return tuple(d for d, t in ((dx, x), (dgamma, weight), (dbeta, bias)) if t is not None)
    return Tensor._result(out, parents, backward, "batch_norm")


def _batch_norm_numpy(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """The float64 path (gradient checks), the same formulas as csrc/bb_batchnorm.c."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    count = x.size // x.shape[1]
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * count / (count - 1)
    else:
        mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    gamma = np.ones(x.shape[1]) if weight is None else weight.data
    out = xhat * gamma.reshape(shape) + (0 if bias is None else bias.data.reshape(shape))

    def backward(g):
        dgamma, dbeta = (g * xhat).sum(axis=axes), g.sum(axis=axes)
        scale = (gamma * invstd).reshape(shape)
        if training:
            dx = scale * (g - dbeta.reshape(shape) / count - xhat * dgamma.reshape(shape) / count)
        else:
            dx = scale * g
        return tuple(d for d, t in ((dx, True), (dgamma, weight), (dbeta, bias)) if t is not None)
    return out, backward


# ---------------------------------------------------------------- softmax
def _softmax(x, axis, log):
    x = _tensor(x)
    _check_not_empty(x, "log_softmax" if log else "softmax")
    moved = _core.as_f32(np.moveaxis(x.data, axis, -1))
    y = _core.softmax(moved, log=log)

    def backward(g):
        g = _core.as_f32(np.moveaxis(g, axis, -1))
        return (np.moveaxis(_core.softmax_backward(y, g, log=log), -1, axis),)
    return Tensor._result(np.moveaxis(y, -1, axis), (x,), backward,
                          "log_softmax" if log else "softmax")


def softmax(x, axis=-1):
    return _softmax(x, axis, log=False)


def log_softmax(x, axis=-1):
    return _softmax(x, axis, log=True)


# ----------------------------------------------------------------- losses
def _class_labels(labels, batch_shape, classes):
    labels = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("class labels must be integers")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"class labels must be integers, got dtype {labels.dtype}")
    if labels.shape != batch_shape:
        raise ValueError(f"labels have shape {labels.shape} but the logits need {batch_shape} "
                         f"(one integer class per row)")
    labels = labels.reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = int(np.flatnonzero((labels < 0) | (labels >= classes))[0])
        raise ValueError(f"labels must be in [0, {classes}) for {classes} classes; got "
                         f"{labels[bad]:g} at index {bad}")
    return np.ascontiguousarray(labels, dtype=np.int32)


def cross_entropy(logits, labels, weight=None):
    """Mean cross-entropy of logits (..., classes) against integer labels (...).

    weight: optional per-class weights (classes,); the mean is then weighted as in PyTorch.
    Fused softmax + negative log-likelihood in C: stable for any logit magnitude.
    """
    logits = _tensor(logits)
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy expects logits (N, classes), got shape {logits.shape}")
    _check_not_empty(logits, "cross_entropy")
    classes = logits.shape[-1]
    flat_labels = _class_labels(labels, logits.shape[:-1], classes)
    flat = _core.as_f32(logits.data.reshape(-1, classes))
    if weight is not None:
        weight = _core.as_f32(weight.data if isinstance(weight, Tensor) else weight)
        if weight.shape != (classes,):
            raise ValueError(f"class weights must have shape ({classes},), got {weight.shape}")
        if not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise ValueError(f"class weights must be finite and >= 0, got {weight.tolist()}")
        if not weight[flat_labels].sum() > 0:
            raise ValueError("the class weights of every label in this batch are 0: the "
                             "weighted mean is undefined (give those classes a weight > 0)")
    loss, dlogits = _core.cross_entropy(flat, flat_labels, weight, need_grad=logits.requires_grad)
    shape = logits.shape
    return Tensor._result(np.asarray(loss), (logits,),
                          lambda g: ((dlogits * g).reshape(shape),), "cross_entropy")


def mse(prediction, target):
    """Mean squared error."""
    prediction, target = _tensor(prediction), _tensor(target)
    if prediction.shape != target.shape:
        raise ValueError(f"mse: prediction shape {prediction.shape} != target shape {target.shape}")
    diff = prediction - target
    return (diff * diff).mean()


def binary_cross_entropy_with_logits(logits, targets, weight=None, pos_weight=None):
    """Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1].

    Written as (1 - t) * x + L * softplus(-x), L = 1 + (pos_weight - 1) * t, which never
    evaluates log(0) or exp(large). weight scales each element; pos_weight the positives.
    """
    logits = _tensor(logits)
    x = logits.data
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets, dtype=x.dtype)
    if t.shape != x.shape:
        raise ValueError(f"binary_cross_entropy: logits shape {x.shape} != targets shape {t.shape}")
    scale = 1 + (np.asarray(pos_weight, dtype=x.dtype) - 1) * t if pos_weight is not None else 1
    softplus_neg = np.logaddexp(0, -x)
    losses = (1 - t) * x + scale * softplus_neg
    w = 1 if weight is None else np.asarray(weight, dtype=x.dtype)
    loss = np.asarray(np.mean(w * losses), dtype=x.dtype)
    sigmoid_neg = np.exp(-np.logaddexp(0, x))  # = 1 / (1 + e^x) = sigmoid(-x)

    def backward(g):
        return (g * w * ((1 - t) - scale * sigmoid_neg) / x.size,)
    return Tensor._result(loss, (logits,), backward, "bce_with_logits")


# ------------------------------------------------------------- the rest
def relu(x):
    return _tensor(x).relu()


def relu6(x):
    """min(max(x, 0), 6); the gradient is 1 strictly inside (0, 6), as in PyTorch."""
    x = _tensor(x)
    xd = x.data
    return Tensor._result(np.clip(xd, 0, 6), (x,),
                          lambda g: (g * ((xd > 0) & (xd < 6)),), "relu6")


def leaky_relu(x, alpha=0.01):
    """x where x > 0, else alpha * x (PyTorch's negative_slope)."""
    x = _tensor(x)
    xd = x.data
    slope = np.where(xd > 0, 1, alpha).astype(xd.dtype)
    return Tensor._result(xd * slope, (x,), lambda g: (g * slope,), "leaky_relu")


def sigmoid(x):
    return _tensor(x).sigmoid()


def tanh(x):
    return _tensor(x).tanh()


def dropout(x, p, training=True, rng=None):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    x = _tensor(x)
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    rng = rng if rng is not None else np.random.default_rng()
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / np.asarray(1 - p, dtype=x.dtype)
    return x * mask
