"""The bridge to the C core (csrc/): array checks, scratch buffers and status codes.

Every function here takes and returns numpy arrays. It checks dtype, layout and shape
before handing raw pointers to C, so no call from Python can make a kernel read or
write out of bounds; the kernels check again and any non-zero status becomes an
exception that says which call failed and why.
"""
import threading

import numpy as np

try:
    from ._bb_c import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "braininabox's C extension (braininabox._bb_c) is not built. Install the package "
        "with `pip install -e .` (or `make install`) from the repository root.") from exc

_INVALID_INPUT = {lib.BB_ERR_SHAPE, lib.BB_ERR_ARGUMENT, lib.BB_ERR_LABEL}


class KernelError(RuntimeError):
    """A C kernel returned an error status."""


def check(status, what):
    """Raise if a kernel status is not BB_OK, naming the call."""
    if status == lib.BB_OK:
        return
    message = ffi.string(lib.bb_status_message(status)).decode()
    error = ValueError if status in _INVALID_INPUT else KernelError
    raise error(f"{what}: {message} (status {status})")


def _pointer(array, ctype):
    if not array.flags.c_contiguous:
        raise ValueError("internal: C kernels need C-contiguous arrays")
    return ffi.from_buffer(ctype, array)


def f32(array):
    if array.dtype != np.float32:
        raise TypeError(f"internal: expected float32, got {array.dtype}")
    return _pointer(array, "float[]")


def f32_or_null(array):
    return ffi.NULL if array is None else f32(array)


def as_f32(array):
    """A C-contiguous float32 view of array (a copy only when needed)."""
    return np.ascontiguousarray(array, dtype=np.float32)


_local = threading.local()


def scratch(nbytes):
    """A reusable per-thread scratch buffer of at least nbytes, as a cffi pointer."""
    buffer = getattr(_local, "scratch", None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = np.empty(max(int(nbytes), 64), dtype=np.uint8)
        _local.scratch = buffer
    return ffi.from_buffer("char[]", buffer), buffer.nbytes


# ------------------------------------------------------------------ threads
def set_num_threads(n):
    """Let the C kernels use up to n threads (OpenMP builds); returns the count in effect."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"number of threads must be a positive integer, got {n!r}")
    return lib.bb_set_num_threads(int(n))


def get_num_threads():
    """Threads the C kernels may use: 1 when built without OpenMP (BB_OPENMP=0)."""
    return lib.bb_get_num_threads()


# ------------------------------------------------------------------- matmul
def _gemm_operand(m):
    """(array, transposed flag, leading dimension) without copying when m is a transpose."""
    if m.flags.c_contiguous:
        return m, 0, m.shape[1]
    if m.flags.f_contiguous:
        return m.T, 1, m.shape[0]
    m = np.ascontiguousarray(m)
    return m, 0, m.shape[1]


def matmul(a, b):
    """2-D a @ b; float32 through the C SGEMM, float64 through numpy (gradient checks)."""
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({a.shape[1]} != {b.shape[0]})")
    if a.dtype != np.float32 or b.dtype != np.float32:
        return a @ b
    m, k = a.shape
    n = b.shape[1]
    out = np.empty((m, n), dtype=np.float32)
    if out.size == 0:
        return out
    a_mem, trans_a, lda = _gemm_operand(a)
    b_mem, trans_b, ldb = _gemm_operand(b)
    buf, size = scratch(lib.bb_sgemm_scratch_size(m, n, k))
    check(lib.bb_sgemm(trans_a, trans_b, m, n, k, 1.0, f32(a_mem), max(lda, 1), f32(b_mem),
                       max(ldb, 1), 0.0, f32(out), n, buf, size), "matmul")
    return out


def linear(x, w, b=None, relu=False):
    """x @ w.T + b (then max(., 0) when relu), float32, in one C call; w is (out, in)."""
    m, k = x.shape
    n = w.shape[0]
    if w.shape[1] != k:
        raise ValueError(f"linear: input has {k} features but the weight expects {w.shape[1]} "
                         f"(weight shape {w.shape})")
    if b is not None and b.shape != (n,):  # the kernel reads n values
        raise ValueError(f"linear: bias must have shape ({n},), got {b.shape}")
    x, w = as_f32(x), as_f32(w)
    y = np.empty((m, n), dtype=np.float32)
    size = lib.bb_linear_f32_scratch_size(m, n, k)
    buf, size = scratch(size) if size else (ffi.NULL, 0)
    check(lib.bb_linear_f32(m, n, k, f32(x), f32(w), f32_or_null(None if b is None else as_f32(b)),
                            int(relu), f32(y), buf, size), "linear")
    return y


# -------------------------------------------------------------- convolution
def _expect(array, shape, what):
    """The exact shape the C kernel will read or write (float32, C-contiguous)."""
    if array.dtype != np.float32:
        raise TypeError(f"{what}: expected float32, got {array.dtype}")
    if tuple(array.shape) != tuple(shape):
        raise ValueError(f"{what}: expected shape {tuple(shape)}, got {array.shape}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{what}: the array must be C-contiguous")


def conv2d_params(x_shape, w_shape, stride, padding):
    """padding: (pad_h, pad_w) on both sides, or (top, bottom, left, right) where bottom and
    right may exceed top and left by any amount (TensorFlow's "same": by at most one)."""
    n, c, h, w = x_shape
    oc, _, kh, kw = w_shape
    p = ffi.new("bb_conv2d_params *")
    p.batch, p.in_channels, p.in_height, p.in_width = n, c, h, w
    p.out_channels, p.kernel_height, p.kernel_width = oc, kh, kw
    p.stride_height, p.stride_width = stride
    if len(padding) == 4:
        top, bottom, left, right = padding
        if bottom < top or right < left:
            raise ValueError(f"conv2d: padding {tuple(padding)} (top, bottom, left, right) may "
                             f"only be larger at the bottom and right")
        p.pad_height, p.pad_width = top, left
        p.extra_pad_bottom, p.extra_pad_right = bottom - top, right - left
    else:
        p.pad_height, p.pad_width = padding
    return p


def conv2d_output_hw(p):
    hw = ffi.new("int[2]")
    check(lib.bb_conv2d_output_hw(p, hw, hw + 1), "conv2d")
    return hw[0], hw[1]


def _check_conv_arrays(x, w, b, what):
    _expect(x, x.shape, f"{what} input")
    _expect(w, w.shape, f"{what} weight")
    if x.ndim != 4 or w.ndim != 4 or w.shape[1] != x.shape[1]:
        raise ValueError(f"{what}: input {x.shape} and weight {w.shape} must be (N, C, H, W) "
                         f"and (out_channels, C, kh, kw)")
    if b is not None:
        _expect(b, (w.shape[0],), f"{what} bias")


def conv2d(x, w, b, stride, padding):
    _check_conv_arrays(x, w, b, "conv2d")
    p = conv2d_params(x.shape, w.shape, stride, padding)
    oh, ow = conv2d_output_hw(p)
    y = np.empty((x.shape[0], w.shape[0], oh, ow), dtype=np.float32)
    buf, size = scratch(lib.bb_conv2d_f32_scratch_size(p))
    check(lib.bb_conv2d_f32(p, f32(x), f32(w), f32_or_null(b), f32(y), buf, size), "conv2d")
    return y


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True, need_db=True):
    _check_conv_arrays(x, w, None, "conv2d backward")
    p = conv2d_params(x.shape, w.shape, stride, padding)
    _expect(dy, (x.shape[0], w.shape[0]) + conv2d_output_hw(p), "conv2d backward output gradient")
    dx = np.empty_like(x) if need_dx else None
    dw = np.empty_like(w) if need_dw else None
    db = np.empty(w.shape[0], dtype=np.float32) if need_db else None
    buf, size = scratch(lib.bb_conv2d_backward_f32_scratch_size(p))
    check(lib.bb_conv2d_backward_f32(p, f32(x), f32(w), f32(dy), f32_or_null(dx), f32_or_null(dw),
                                     f32_or_null(db), buf, size), "conv2d backward")
    return dx, dw, db


# ---------------------------------------------------- depthwise convolution
def depthwise_params(x_shape, w_shape, stride, padding):
    """x (N, C, H, W), w (C * multiplier, 1, kh, kw), padding (top, bottom, left, right)."""
    n, c, h, w = x_shape
    out, one, kh, kw = w_shape
    if one != 1 or out % c:
        raise ValueError(f"depthwise_conv2d: weight shape {tuple(w_shape)} must be "
                         f"(channels * multiplier, 1, kh, kw) for {c} channels")
    p = ffi.new("bb_depthwise_conv2d_params *")
    p.batch, p.channels, p.in_height, p.in_width = n, c, h, w
    p.depth_multiplier, p.kernel_height, p.kernel_width = out // c, kh, kw
    p.stride_height, p.stride_width = stride
    p.pad_top, p.pad_bottom, p.pad_left, p.pad_right = padding
    return p


def depthwise_output_hw(p):
    hw = ffi.new("int[2]")
    check(lib.bb_depthwise_conv2d_output_hw(p, hw, hw + 1), "depthwise_conv2d")
    return hw[0], hw[1]


def depthwise_conv2d(x, w, b, stride, padding):
    p = depthwise_params(x.shape, w.shape, stride, padding)
    oh, ow = depthwise_output_hw(p)
    _expect(x, x.shape, "depthwise_conv2d input")
    _expect(w, w.shape, "depthwise_conv2d weight")
    if b is not None:
        _expect(b, (w.shape[0],), "depthwise_conv2d bias")
    y = np.empty((x.shape[0], w.shape[0], oh, ow), dtype=np.float32)
    check(lib.bb_depthwise_conv2d_f32(p, f32(x), f32(w), f32_or_null(b), f32(y)),
          "depthwise_conv2d")
    return y


def depthwise_conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True,
                              need_db=True):
    p = depthwise_params(x.shape, w.shape, stride, padding)
    oh, ow = depthwise_output_hw(p)
    _expect(x, x.shape, "depthwise_conv2d input")
    _expect(w, w.shape, "depthwise_conv2d weight")
    _expect(dy, (x.shape[0], w.shape[0], oh, ow), "depthwise_conv2d output gradient")
    dx = np.empty_like(x) if need_dx else None
    dw = np.empty_like(w) if need_dw else None
    db = np.empty(w.shape[0], dtype=np.float32) if need_db else None
    check(lib.bb_depthwise_conv2d_backward_f32(p, f32(x), f32(w), f32(dy), f32_or_null(dx),
                                               f32_or_null(dw), f32_or_null(db)),
          "depthwise_conv2d backward")
    return dx, dw, db


# ------------------------------------------------------------ normalization
def _norm_dims(shape):
    """(batch, channels, spatial) of an (N, C) or (N, C, ...) shape."""
    spatial = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[0], shape[1], spatial


def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    """Returns (y, save_mean, save_invstd); running_mean / running_var updated in place
    when training (they may be None then)."""
    n, c, s = _norm_dims(x.shape)
    _expect(x, x.shape, "batch_norm input")
    for array, what in ((gamma, "weight"), (beta, "bias"), (running_mean, "running_mean"),
                        (running_var, "running_var")):
        if array is not None:
            _expect(array, (c,), f"batch_norm {what}")
    y = np.empty_like(x)
    mean = np.empty(c, dtype=np.float32)
    invstd = np.empty(c, dtype=np.float32)
    check(lib.bb_batch_norm_f32(n, c, s, f32(x), f32_or_null(gamma), f32_or_null(beta), eps,
                                int(bool(training)), momentum, f32_or_null(running_mean),
                                f32_or_null(running_var), f32(y), f32(mean), f32(invstd)),
          "batch_norm")
    return y, mean, invstd


def batch_norm_backward(x, gamma, mean, invstd, training, dy, need_dx=True, need_dgamma=True,
                        need_dbeta=True):
    n, c, s = _norm_dims(x.shape)
    _expect(x, x.shape, "batch_norm input")
    _expect(dy, x.shape, "batch_norm output gradient")
    _expect(mean, (c,), "batch_norm saved mean")
    _expect(invstd, (c,), "batch_norm saved invstd")
    if gamma is not None:
        _expect(gamma, (c,), "batch_norm weight")
    dx = np.empty_like(x) if need_dx else None
    dgamma = np.empty(c, dtype=np.float32) if need_dgamma else None
    dbeta = np.empty(c, dtype=np.float32) if need_dbeta else None
    check(lib.bb_batch_norm_backward_f32(n, c, s, f32(x), f32_or_null(gamma), f32(mean),
                                         f32(invstd), int(bool(training)), f32(dy),
                                         f32_or_null(dx), f32_or_null(dgamma),
                                         f32_or_null(dbeta)), "batch_norm backward")
    return dx, dgamma, dbeta


# ------------------------------------------------------------------ pooling
def global_avg_pool2d(x):
    _expect(x, x.shape, "global_avg_pool2d input")
    n, c, h, w = x.shape
    y = np.empty((n, c), dtype=np.float32)
    check(lib.bb_global_avg_pool2d_f32(n, c, h, w, f32(x), f32(y)), "global_avg_pool2d")
    return y


def global_avg_pool2d_backward(x_shape, dy):
    n, c, h, w = x_shape
    _expect(dy, (n, c), "global_avg_pool2d output gradient")
    dx = np.empty(x_shape, dtype=np.float32)
    check(lib.bb_global_avg_pool2d_backward_f32(n, c, h, w, f32(dy), f32(dx)),
          "global_avg_pool2d backward")
    return dx

def pool2d_params(x_shape, kernel, stride):
    p = ffi.new("bb_pool2d_params *")
    p.batch, p.channels, p.in_height, p.in_width = x_shape
    p.kernel_height, p.kernel_width = kernel
    p.stride_height, p.stride_width = stride
    return p


def pool2d_output_hw(p):
    hw = ffi.new("int[2]")
    check(lib.bb_pool2d_output_hw(p, hw, hw + 1), "pool2d")
    return hw[0], hw[1]


def max_pool2d(x, kernel, stride):
    p = pool2d_params(x.shape, kernel, stride)
    oh, ow = pool2d_output_hw(p)
    y = np.empty(x.shape[:2] + (oh, ow), dtype=np.float32)
    argmax = np.empty(y.shape, dtype=np.int32)
    check(lib.bb_max_pool2d_f32(p, f32(x), f32(y), _pointer(argmax, "int32_t[]")), "max_pool2d")
    return y, argmax


def max_pool2d_backward(x_shape, kernel, stride, dy, argmax):
    p = pool2d_params(x_shape, kernel, stride)
    dx = np.empty(x_shape, dtype=np.float32)
    check(lib.bb_max_pool2d_backward_f32(p, f32(dy), _pointer(argmax, "int32_t[]"), f32(dx)),
          "max_pool2d backward")
    return dx


def avg_pool2d(x, kernel, stride):
    p = pool2d_params(x.shape, kernel, stride)
    oh, ow = pool2d_output_hw(p)
    y = np.empty(x.shape[:2] + (oh, ow), dtype=np.float32)
    check(lib.bb_avg_pool2d_f32(p, f32(x), f32(y)), "avg_pool2d")
    return y


def avg_pool2d_backward(x_shape, kernel, stride, dy):
    p = pool2d_params(x_shape, kernel, stride)
    dx = np.empty(x_shape, dtype=np.float32)
    check(lib.bb_avg_pool2d_backward_f32(p, f32(dy), f32(dx)), "avg_pool2d backward")
    return dx


# -------------------------------------------------------------- elementwise
def relu(x):
    """max(x, 0): one C pass for float32 (numpy for float64 gradient checks)."""
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        return np.maximum(x, 0)
    y = np.empty_like(x)
    check(lib.bb_relu_f32(x.size, f32(x), f32(y)), "relu")
    return y


def relu_backward(x, dy):
    """dy where x > 0, else 0."""
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        return dy * (x > 0)
    dy = as_f32(dy)
    dx = np.empty_like(x)
    check(lib.bb_relu_backward_f32(x.size, f32(x), f32(dy), f32(dx)), "relu backward")
    return dx


# ------------------------------------------------------------------ softmax
def _rows_cols(x):
    return int(np.prod(x.shape[:-1], dtype=np.int64)), x.shape[-1]


def softmax(x, log=False):
    """Softmax (or log-softmax) over the last axis of a C-contiguous float32 array."""
    rows, cols = _rows_cols(x)
    y = np.empty_like(x)
    kernel = lib.bb_log_softmax_f32 if log else lib.bb_softmax_f32
    check(kernel(rows, cols, f32(x), f32(y)), "log_softmax" if log else "softmax")
    return y


def softmax_backward(y, dy, log=False):
    rows, cols = _rows_cols(y)
    dx = np.empty_like(y)
    kernel = lib.bb_log_softmax_backward_f32 if log else lib.bb_softmax_backward_f32
    check(kernel(rows, cols, f32(y), f32(dy), f32(dx)), "softmax backward")
    return dx


def cross_entropy(logits, labels, class_weights=None, need_grad=True):
    """Mean cross-entropy of (rows, classes) logits and int32 labels: (loss, dlogits or None)."""
    rows, cols = logits.shape
    loss = ffi.new("float *")
    dlogits = np.empty_like(logits) if need_grad else None
    check(lib.bb_cross_entropy_f32(rows, cols, f32(logits), _pointer(labels, "int32_t[]"),
                                   f32_or_null(class_weights), loss, f32_or_null(dlogits)),
          "cross_entropy")
    return np.float32(loss[0]), dlogits


# --------------------------------------------------------------- optimizers
def sgd_step(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    check(lib.bb_sgd_step_f32(param.size, f32(param), f32(grad), f32_or_null(velocity),
                              lr, momentum, weight_decay, int(nesterov)), "SGD step")


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    check(lib.bb_adam_step_f32(param.size, f32(param), f32(grad), f32(m), f32(v),
                               lr, beta1, beta2, eps, weight_decay, step), "Adam step")
