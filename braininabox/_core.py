"""The bridge to the C core (csrc/): array checks, scratch buffers and status codes.

Every function here takes and returns numpy arrays. It checks dtype, layout and shape
before handing raw pointers to C, so no call from Python can make a kernel read or
write out of bounds; the kernels check again and any non-zero status becomes an
exception that says which call failed and why.

The rule for a new wrapper: every array handed to C goes through `buffer(array, what,
name, shape, dtype)` with the exact shape the kernel will touch, computed from the same
numbers passed to C (`_ndim` first for arrays whose shape is unpacked).
tests/test_core_checks.py enumerates this module's functions and fails for a wrapper
without a mismatched-input case.
"""
import os
import threading

import numpy as np

# Idle OpenMP workers sleep instead of spinning. libgomp by default spins ~300,000
# iterations after each parallel region; on a machine shared with one busy process the
# spinning workers took CPU from it and from our own main thread (training 1.45x slower
# than with 1 thread; bench/bench_threads.py). libgomp reads this once, when _bb_c loads
# it just below; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "passive"

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


_CTYPES = {np.dtype(np.float32): "float[]", np.dtype(np.int32): "int32_t[]",
           np.dtype(np.int8): "int8_t[]", np.dtype(np.uint8): "uint8_t[]"}


def buffer(array, what, name, shape=None, dtype=np.float32, optional=False, written=False):
    """A cffi pointer to `array` after checking everything C will assume about it.

    Every wrapper passes each buffer through here with the exact shape the kernel will
    read or write (computed from the same numbers it passes to C): the array must be a
    numpy array of `dtype`, C-contiguous, of that shape, and writable when the kernel
    writes it (`written=True`). `shape=None` checks only dtype and layout (for the array
    whose shape defines the call). `optional=True` maps None to NULL. Errors name the
    call (`what`) and the argument (`name`).
    """
    # the common case in one test (this runs several times per layer call); any failure
    # goes through the checks below, one by one, for the message
    if (type(array) is np.ndarray and array.dtype == dtype and (shape is None or array.shape == shape)
            and array.flags.c_contiguous and (not written or array.flags.writeable)):
        return ffi.from_buffer(_CTYPES[array.dtype], array)
    if array is None:
        if optional:
            return ffi.NULL
        raise TypeError(f"{what}: {name} is required, got None")
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what}: {name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != np.dtype(dtype):
        raise TypeError(f"{what}: {name} must be {np.dtype(dtype).name}, got {array.dtype}")
    if shape is not None and array.shape != tuple(int(d) for d in shape):
        raise ValueError(f"{what}: {name} must have shape {tuple(int(d) for d in shape)}, "
                         f"got {array.shape}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{what}: {name} must be C-contiguous")
    if written and not array.flags.writeable:
        raise ValueError(f"{what}: {name} is written by the kernel but the array is read-only")
    return ffi.from_buffer(_CTYPES[array.dtype], array)


def _pointer(array, ctype):
    if not array.flags.c_contiguous:
        raise ValueError("internal: C kernels need C-contiguous arrays")
    return ffi.from_buffer(ctype, array)


def f32(array):
    """A float32 pointer to an array already checked (by `_expect` or `buffer`)."""
    if array.dtype != np.float32:
        raise TypeError(f"internal: expected float32, got {array.dtype}")
    return _pointer(array, "float[]")


def f32_or_null(array):
    return ffi.NULL if array is None else f32(array)


def _ndim(array, ndim, what, name, layout):
    """Refuse a non-array or an array of the wrong rank before its shape is unpacked."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what}: {name} must be a numpy array, got {type(array).__name__}")
    if array.ndim != ndim:
        raise ValueError(f"{what}: {name} must be {layout}, got shape {array.shape}")


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


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(a, b):
    """2-D a @ b; float32 through the C SGEMM, float64 through numpy (gradient checks)."""
    _ndim(a, 2, "matmul", "a", "2-D")
    _ndim(b, 2, "matmul", "b", "2-D")
    if a.dtype not in _FLOATS or b.dtype not in _FLOATS:
        raise TypeError(f"matmul: operands must be float32 or float64, got {a.dtype} and {b.dtype}")
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
    check(lib.bb_sgemm(trans_a, trans_b, m, n, k, 1.0,
                       buffer(a_mem, "matmul", "a", (k, m) if trans_a else (m, k)), max(lda, 1),
                       buffer(b_mem, "matmul", "b", (n, k) if trans_b else (k, n)), max(ldb, 1),
                       0.0, buffer(out, "matmul", "out", (m, n)), n, buf, size), "matmul")
    return out


def linear(x, w, b=None, relu=False):
    """x @ w.T + b (then max(., 0) when relu), float32, in one C call; w is (out, in)."""
    _ndim(x, 2, "linear", "x", "(N, in_features)")
    _ndim(w, 2, "linear", "weight", "(out_features, in_features)")
    m, k = x.shape
    n = w.shape[0]
    if w.shape[1] != k:
        raise ValueError(f"linear: input has {k} features but the weight expects {w.shape[1]} "
                         f"(weight shape {w.shape})")
    x, w = as_f32(x), as_f32(w)
    b = None if b is None else as_f32(b)
    y = np.empty((m, n), dtype=np.float32)
    size = lib.bb_linear_f32_scratch_size(m, n, k)
    buf, size = scratch(size) if size else (ffi.NULL, 0)
    check(lib.bb_linear_f32(m, n, k, buffer(x, "linear", "x", (m, k)),
                            buffer(w, "linear", "weight", (n, k)),
                            buffer(b, "linear", "bias", (n,), optional=True),
                            int(relu), buffer(y, "linear", "y", (m, n)), buf, size), "linear")
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


def _conv2d_checked(what, x, w):
    """The params of a conv2d of x (N, C, H, W) with w (out, C, kh, kw), after the rank checks."""
    _ndim(x, 4, what, "x", "(N, C, H, W)")
    _ndim(w, 4, what, "weight", "(out_channels, in_channels, kh, kw)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"{what}: input has {x.shape[1]} channels but the weight expects "
                         f"{w.shape[1]} (weight shape {w.shape})")
    return w.shape[0]


def conv2d(x, w, b, stride, padding):
    oc = _conv2d_checked("conv2d", x, w)
    p = conv2d_params(x.shape, w.shape, stride, padding)
    oh, ow = conv2d_output_hw(p)
    y = np.empty((x.shape[0], oc, oh, ow), dtype=np.float32)
    buf, size = scratch(lib.bb_conv2d_f32_scratch_size(p))
    check(lib.bb_conv2d_f32(p, buffer(x, "conv2d", "x"), buffer(w, "conv2d", "weight"),
                            buffer(b, "conv2d", "bias", (oc,), optional=True),
                            buffer(y, "conv2d", "y"), buf, size), "conv2d")
    return y


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True, need_db=True):
    what = "conv2d backward"
    oc = _conv2d_checked(what, x, w)
    p = conv2d_params(x.shape, w.shape, stride, padding)
    oh, ow = conv2d_output_hw(p)
    dx = np.empty(x.shape, dtype=np.float32) if need_dx else None
    dw = np.empty(w.shape, dtype=np.float32) if need_dw else None
    db = np.empty(oc, dtype=np.float32) if need_db else None
    buf, size = scratch(lib.bb_conv2d_backward_f32_scratch_size(p))
    check(lib.bb_conv2d_backward_f32(
        p, buffer(x, what, "x"), buffer(w, what, "weight"),
        buffer(dy, what, "dy", (x.shape[0], oc, oh, ow)), buffer(dx, what, "dx", optional=True),
        buffer(dw, what, "dw", optional=True), buffer(db, what, "db", optional=True),
        buf, size), what)
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


def _pool_shapes(what, x_shape, kernel, stride):
    """(params, output shape) for pooling an input of x_shape (N, C, H, W)."""
    x_shape = tuple(x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"{what}: input must be (N, C, H, W), got shape {x_shape}")
    p = pool2d_params(x_shape, kernel, stride)
    oh, ow = pool2d_output_hw(p)
    return p, x_shape[:2] + (oh, ow)


def max_pool2d(x, kernel, stride):
    _ndim(x, 4, "max_pool2d", "x", "(N, C, H, W)")
    p, y_shape = _pool_shapes("max_pool2d", x.shape, kernel, stride)
    y = np.empty(y_shape, dtype=np.float32)
    argmax = np.empty(y_shape, dtype=np.int32)
    check(lib.bb_max_pool2d_f32(p, buffer(x, "max_pool2d", "x"), buffer(y, "max_pool2d", "y"),
                                buffer(argmax, "max_pool2d", "argmax", dtype=np.int32)),
          "max_pool2d")
    return y, argmax


def max_pool2d_backward(x_shape, kernel, stride, dy, argmax):
    what = "max_pool2d backward"
    p, y_shape = _pool_shapes(what, x_shape, kernel, stride)
    dx = np.empty(tuple(x_shape), dtype=np.float32)
    check(lib.bb_max_pool2d_backward_f32(p, buffer(dy, what, "dy", y_shape),
                                         buffer(argmax, what, "argmax", y_shape, dtype=np.int32),
                                         buffer(dx, what, "dx")), what)
    return dx


def avg_pool2d(x, kernel, stride):
    _ndim(x, 4, "avg_pool2d", "x", "(N, C, H, W)")
    p, y_shape = _pool_shapes("avg_pool2d", x.shape, kernel, stride)
    y = np.empty(y_shape, dtype=np.float32)
    check(lib.bb_avg_pool2d_f32(p, buffer(x, "avg_pool2d", "x"), buffer(y, "avg_pool2d", "y")),
          "avg_pool2d")
    return y


def avg_pool2d_backward(x_shape, kernel, stride, dy):
    what = "avg_pool2d backward"
    p, y_shape = _pool_shapes(what, x_shape, kernel, stride)
    dx = np.empty(tuple(x_shape), dtype=np.float32)
    check(lib.bb_avg_pool2d_backward_f32(p, buffer(dy, what, "dy", y_shape),
                                         buffer(dx, what, "dx")), what)
    return dx


# -------------------------------------------------------------- elementwise
def relu(x):
    """max(x, 0): one C pass for float32 (numpy for float64 gradient checks)."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous:
        return np.maximum(x, 0)  # numpy scalars, float64, strided views: no C call
    y = np.empty_like(x)
    check(lib.bb_relu_f32(x.size, buffer(x, "relu", "x"), buffer(y, "relu", "y")), "relu")
    return y


def relu_backward(x, dy):
    """dy where x > 0, else 0."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous:
        if np.shape(dy) != np.shape(x):
            raise ValueError(f"relu backward: dy must have shape {np.shape(x)}, got "
                             f"{np.shape(dy)}")
        return dy * (x > 0)
    dy = as_f32(dy)
    dx = np.empty_like(x)
    check(lib.bb_relu_backward_f32(x.size, buffer(x, "relu backward", "x"),
                                   buffer(dy, "relu backward", "dy", x.shape),
                                   buffer(dx, "relu backward", "dx")), "relu backward")
    return dx


# ------------------------------------------------------------------ softmax
def _rows_cols(x, what):
    if not isinstance(x, np.ndarray) or x.ndim < 1:
        raise ValueError(f"{what}: input must be an array of at least one axis")
    return int(np.prod(x.shape[:-1], dtype=np.int64)), x.shape[-1]


def softmax(x, log=False):
    """Softmax (or log-softmax) over the last axis of a C-contiguous float32 array."""
    what = "log_softmax" if log else "softmax"
    rows, cols = _rows_cols(x, what)
    y = np.empty(x.shape, dtype=np.float32)
    kernel = lib.bb_log_softmax_f32 if log else lib.bb_softmax_f32
    check(kernel(rows, cols, buffer(x, what, "x"), buffer(y, what, "y")), what)
    return y


def softmax_backward(y, dy, log=False):
    what = "log_softmax backward" if log else "softmax backward"
    rows, cols = _rows_cols(y, what)
    dx = np.empty(y.shape, dtype=np.float32)
    kernel = lib.bb_log_softmax_backward_f32 if log else lib.bb_softmax_backward_f32
    check(kernel(rows, cols, buffer(y, what, "y"), buffer(dy, what, "dy", y.shape),
                 buffer(dx, what, "dx")), what)
    return dx


def cross_entropy(logits, labels, class_weights=None, need_grad=True):
    """Mean cross-entropy of (rows, classes) logits and int32 labels: (loss, dlogits or None)."""
    what = "cross_entropy"
    _ndim(logits, 2, what, "logits", "(rows, classes)")
    rows, cols = logits.shape
    loss = ffi.new("float *")
    dlogits = np.empty(logits.shape, dtype=np.float32) if need_grad else None
    check(lib.bb_cross_entropy_f32(rows, cols, buffer(logits, what, "logits"),
                                   buffer(labels, what, "labels", (rows,), dtype=np.int32),
                                   buffer(class_weights, what, "class weights", (cols,),
                                          optional=True),
                                   loss, buffer(dlogits, what, "dlogits", optional=True)), what)
    return np.float32(loss[0]), dlogits


# --------------------------------------------------------------- optimizers
def _step_param(param, what):
    """The parameter an optimizer step updates in place: a numpy array (a Tensor's .data)."""
    if not isinstance(param, np.ndarray):
        raise TypeError(f"{what}: param must be a numpy array, got {type(param).__name__}")
    return buffer(param, what, "param", written=True)


def sgd_step(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    """One SGD update of param in place (velocity too, when given)."""
    what = "SGD step"
    target = _step_param(param, what)  # checked first: the others take its shape
    check(lib.bb_sgd_step_f32(param.size, target,
                              buffer(grad, what, "grad", param.shape),
                              buffer(velocity, what, "velocity", param.shape, optional=True,
                                     written=True),
                              lr, momentum, weight_decay, int(nesterov)), what)


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buf, lr, alpha, eps,
                 weight_decay, momentum, centered):
    """One RMSprop update of param and its buffers in place (grad_avg only when centered,
    momentum_buf only with momentum)."""
    what = "RMSprop step"
    target = _step_param(param, what)  # checked first: the others take its shape
    check(lib.bb_rmsprop_step_f32(param.size, target,
                                  buffer(grad, what, "grad", param.shape),
                                  buffer(square_avg, what, "square_avg", param.shape, written=True),
                                  buffer(grad_avg, what, "grad_avg", param.shape, optional=True,
                                         written=True),
                                  buffer(momentum_buf, what, "momentum_buf", param.shape,
                                         optional=True, written=True),
                                  lr, alpha, eps, weight_decay, momentum, int(centered)), what)


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One Adam update of param, m and v in place."""
    what = "Adam step"
    target = _step_param(param, what)  # checked first: the others take its shape
    check(lib.bb_adam_step_f32(param.size, target,
                               buffer(grad, what, "grad", param.shape),
                               buffer(m, what, "m", param.shape, written=True),
                               buffer(v, what, "v", param.shape, written=True),
                               lr, beta1, beta2, eps, weight_decay, step), what)
