"""Differentiable functions on Tensors: convolution, pooling, softmax and the losses.

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
def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution of x (N, C, H, W) with weight (out, C, kh, kw), zero padding."""
    x, weight = _tensor(x), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    _check_ndim(x, 4, "conv2d", "(N, C, H, W)")
    _check_ndim(weight, 4, "conv2d weight", "(out_channels, in_channels, kh, kw)")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but the weight expects "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride} and {padding}")
    for i, axis in enumerate(("height", "width")):
        if x.shape[2 + i] + 2 * padding[i] < weight.shape[2 + i]:
            raise ValueError(f"conv2d: input {axis} {x.shape[2 + i]} (padding {padding[i]}) is "
                             f"smaller than the kernel {axis} {weight.shape[2 + i]}")
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


# ---------------------------------------------------------------- softmax
def _softmax(x, axis, log):
    x = _tensor(x)
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
