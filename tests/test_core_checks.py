"""Every public wrapper in braininabox._core refuses mismatched buffers before C sees them.

The table below holds, for each wrapper, one good call and bad calls (wrong size, wrong
dtype, non-contiguous, wrong rank) with the message expected. The test enumerates
_core's functions, so a new wrapper without an entry fails `test_every_wrapper_has_cases`.
These calls used to read or write out of bounds (issue 15); each one ran under the
AddressSanitizer build too (tests/asan/run.sh).
"""
import inspect

import numpy as np
import pytest

import braininabox as bb
from braininabox import _core
from braininabox.nn import functional as F

f32 = np.float32


def z(*shape, dtype=f32):
    return np.zeros(shape, dtype=dtype)


def r(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(f32)


def strided(*shape):
    """A float32 array of `shape` that is not C-contiguous (every other column)."""
    big = r(*shape[:-1], 2 * shape[-1])
    return big[..., ::2]


X4, W4 = r(2, 3, 6, 6), r(4, 3, 3, 3)
POOL = ((2, 2), (2, 2))
PAD4 = (0, 0, 0, 0)

# name -> (good call, [(bad call, exception type, message pattern), ...])
CASES = {
    "matmul": (lambda: _core.matmul(r(2, 3), r(3, 4)), [
        (lambda: _core.matmul(np.ones((2, 3), np.int64), np.ones((3, 4), np.int64)), TypeError,
         "float32 or float64"),
        (lambda: _core.matmul(r(2, 3), np.ones((3, 4), np.int32)), TypeError, "float32 or float64"),
        (lambda: _core.matmul(r(2, 3), r(4, 4)), ValueError, "not aligned"),
        (lambda: _core.matmul(r(2, 3, 1), r(3, 4)), ValueError, "2-D"),
        (lambda: _core.matmul([[1.0]], r(1, 1)), TypeError, "numpy array"),
    ]),
    "linear": (lambda: _core.linear(r(2, 6), r(3, 6), r(3)), [
        (lambda: _core.linear(r(2, 6), z(200000, 6, 0)), ValueError, "weight must be"),
        (lambda: _core.linear(r(2, 6), z(3, 6, 2)), ValueError, "weight must be"),
        (lambda: _core.linear(r(2, 6), r(3, 5)), ValueError, "features"),
        (lambda: _core.linear(r(2, 6), r(3, 6), r(4)), ValueError, "bias must have shape"),
        (lambda: _core.linear(r(2, 6), r(3, 6), r(3, 1)), ValueError, "bias must have shape"),
        (lambda: _core.linear(r(6), r(3, 6)), ValueError, "x must be"),
    ]),
    "conv2d": (lambda: _core.conv2d(X4, W4, r(4), (1, 1), (0, 0)), [
        (lambda: _core.conv2d(X4, r(4, 5, 3, 3), None, (1, 1), (0, 0)), ValueError, "channels"),
        (lambda: _core.conv2d(X4, W4, r(7), (1, 1), (0, 0)), ValueError, "bias must have shape"),
        (lambda: _core.conv2d(X4, W4, r(1), (1, 1), (0, 0)), ValueError, "bias must have shape"),
        (lambda: _core.conv2d(X4.astype(np.float64), W4, None, (1, 1), (0, 0)), TypeError,
         "x must be float32"),
        (lambda: _core.conv2d(X4, W4.transpose(0, 1, 3, 2), None, (1, 1), (0, 0)), ValueError,
         "C-contiguous"),
        (lambda: _core.conv2d(X4[0], W4, None, (1, 1), (0, 0)), ValueError, r"\(N, C, H, W\)"),
    ]),
    "conv2d_backward": (lambda: _core.conv2d_backward(X4, W4, r(2, 4, 4, 4), (1, 1), (0, 0)), [
        (lambda: _core.conv2d_backward(X4, W4, r(2, 4, 4, 3), (1, 1), (0, 0)), ValueError,
         "dy must have shape"),
        (lambda: _core.conv2d_backward(X4, W4, r(1, 4, 4, 4), (1, 1), (0, 0)), ValueError,
         "dy must have shape"),
        (lambda: _core.conv2d_backward(X4, W4, r(2, 4, 4, 4).astype(np.float64), (1, 1), (0, 0)),
         TypeError, "dy must be float32"),
        (lambda: _core.conv2d_backward(X4, r(4, 2, 3, 3), r(2, 4, 4, 4), (1, 1), (0, 0)),
         ValueError, "channels"),
    ]),
    "depthwise_conv2d": (lambda: _core.depthwise_conv2d(X4, r(3, 1, 3, 3), r(3), (1, 1), PAD4), [
        (lambda: _core.depthwise_conv2d(X4, r(3, 1, 3, 3), r(4), (1, 1), PAD4), ValueError,
         r"bias: expected shape \(3,\)"),
        (lambda: _core.depthwise_conv2d(X4, r(4, 1, 3, 3), None, (1, 1), PAD4), ValueError,
         "must be \\(channels \\* multiplier"),
        (lambda: _core.depthwise_conv2d(X4.astype(np.float64), r(3, 1, 3, 3), None, (1, 1), PAD4),
         TypeError, "float32"),
    ]),
    "depthwise_conv2d_backward": (
        lambda: _core.depthwise_conv2d_backward(X4, r(3, 1, 3, 3), r(2, 3, 4, 4), (1, 1), PAD4), [
            (lambda: _core.depthwise_conv2d_backward(X4, r(3, 1, 3, 3), r(2, 3, 4, 3), (1, 1),
                                                     PAD4), ValueError, "output gradient: expected"),
            (lambda: _core.depthwise_conv2d_backward(X4, r(3, 1, 3, 3), r(1, 3, 4, 4), (1, 1),
                                                     PAD4), ValueError, "output gradient: expected"),
        ]),
    "batch_norm": (lambda: _core.batch_norm(r(4, 3, 5, 5), r(3), r(3), z(3), z(3) + 1, True, 0.1,
                                            1e-5), [
        (lambda: _core.batch_norm(r(4, 3, 5, 5), r(2), r(3), z(3), z(3) + 1, True, 0.1, 1e-5),
         ValueError, r"weight: expected shape \(3,\)"),
        (lambda: _core.batch_norm(r(4, 3, 5, 5), r(3), r(3), z(3), np.ones(3), True, 0.1, 1e-5),
         TypeError, "float32"),
    ]),
    "batch_norm_backward": (lambda: _core.batch_norm_backward(r(4, 3, 5), r(3), z(3), z(3) + 1, True,
                                                              r(4, 3, 5)), [
        (lambda: _core.batch_norm_backward(r(4, 3, 5), r(3), z(3), z(3) + 1, True, r(4, 3, 4)),
         ValueError, "output gradient: expected"),
        (lambda: _core.batch_norm_backward(r(4, 3, 5), r(3), z(2), z(3) + 1, True, r(4, 3, 5)),
         ValueError, "saved mean: expected"),
    ]),
    "global_avg_pool2d": (lambda: _core.global_avg_pool2d(X4), [
        (lambda: _core.global_avg_pool2d(X4.astype(np.float64)), TypeError, "float32"),
        (lambda: _core.global_avg_pool2d(strided(2, 3, 6, 6)), ValueError, "C-contiguous"),
    ]),
    "global_avg_pool2d_backward": (lambda: _core.global_avg_pool2d_backward(X4.shape, r(2, 3)), [
        (lambda: _core.global_avg_pool2d_backward(X4.shape, r(2, 4)), ValueError, "expected shape"),
        (lambda: _core.global_avg_pool2d_backward(X4.shape, r(6)), ValueError, "expected shape"),
    ]),
    "max_pool2d": (lambda: _core.max_pool2d(X4, *POOL), [
        (lambda: _core.max_pool2d(X4.astype(np.float64), *POOL), TypeError, "float32"),
        (lambda: _core.max_pool2d(strided(2, 3, 6, 6), *POOL), ValueError, "C-contiguous"),
        (lambda: _core.max_pool2d(r(3, 6, 6), *POOL), ValueError, r"\(N, C, H, W\)"),
    ]),
    "max_pool2d_backward": (
        lambda: _core.max_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 3), z(2, 3, 3, 3, dtype=np.int32)), [
            (lambda: _core.max_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 2),
                                               z(2, 3, 3, 3, dtype=np.int32)), ValueError, "dy must"),
            (lambda: _core.max_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 3),
                                               z(2, 3, 3, 2, dtype=np.int32)), ValueError, "argmax must"),
            (lambda: _core.max_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 3),
                                               z(2, 3, 3, 3, dtype=np.int64)), TypeError, "int32"),
            (lambda: _core.max_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 3),
                                               np.full((2, 3, 3, 3), 99, np.int32)), ValueError,
             "out of range"),
            (lambda: _core.max_pool2d_backward((2, 3, 6), *POOL, r(2, 3, 3, 3),
                                               z(2, 3, 3, 3, dtype=np.int32)), ValueError, "N, C, H, W"),
        ]),
    "avg_pool2d": (lambda: _core.avg_pool2d(X4, *POOL), [
        (lambda: _core.avg_pool2d(X4.astype(np.float16), *POOL), TypeError, "float32"),
        (lambda: _core.avg_pool2d(strided(2, 3, 6, 6), *POOL), ValueError, "C-contiguous"),
    ]),
    "avg_pool2d_backward": (lambda: _core.avg_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 3)), [
        (lambda: _core.avg_pool2d_backward(X4.shape, *POOL, r(2, 3, 3, 2)), ValueError, "dy must"),
        (lambda: _core.avg_pool2d_backward(X4.shape, *POOL, r(54)), ValueError, "dy must"),
        (lambda: _core.avg_pool2d_backward(X4.shape, *POOL, strided(2, 3, 3, 3)), ValueError,
         "C-contiguous"),
    ]),
    # x alone defines the call (non-float32 input goes to numpy): nothing can mismatch
    "relu": (lambda: _core.relu(r(5)), []),
    "relu_backward": (lambda: _core.relu_backward(r(5), r(5)), [
        (lambda: _core.relu_backward(r(5), r(2)), ValueError, "dy must have shape"),
        (lambda: _core.relu_backward(r(5), r(500)), ValueError, "dy must have shape"),
        (lambda: _core.relu_backward(r(5).astype(np.float64), r(2)), ValueError, "dy must have shape"),
        (lambda: _core.relu_backward(np.float64(1.0), r(2)), ValueError, "dy must have shape"),
    ]),
    "softmax": (lambda: _core.softmax(r(3, 4)), [
        (lambda: _core.softmax(r(3, 4).astype(np.float64)), TypeError, "float32"),
        (lambda: _core.softmax(strided(3, 4)), ValueError, "C-contiguous"),
    ]),
    "softmax_backward": (lambda: _core.softmax_backward(r(3, 4), r(3, 4), log=True), [
        (lambda: _core.softmax_backward(r(3, 4), r(3, 2)), ValueError, "dy must have shape"),
        (lambda: _core.softmax_backward(r(3, 4), r(1, 4), log=True), ValueError, "dy must have shape"),
        (lambda: _core.softmax_backward(r(3, 4), np.ones((3, 4))), TypeError, "dy must be float32"),
    ]),
    "cross_entropy": (lambda: _core.cross_entropy(r(3, 4), np.array([0, 1, 3], np.int32), r(4) ** 2), [
        (lambda: _core.cross_entropy(r(3, 4), np.array([0, 1, 3], np.int64)), TypeError,
         "labels must be int32"),
        (lambda: _core.cross_entropy(r(3, 4), np.array([0, 1], np.int32)), ValueError,
         "labels must have shape"),
        (lambda: _core.cross_entropy(r(3, 4), np.array([0, 1, 3], np.int32), r(2)), ValueError,
         "class weights must have shape"),
        (lambda: _core.cross_entropy(r(3, 4), np.array([0, 1, 4], np.int32)), ValueError, "label"),
        (lambda: _core.cross_entropy(r(12), np.zeros(12, np.int32)), ValueError, "rows, classes"),
    ]),
    "sgd_step": (lambda: _core.sgd_step(r(5), r(5), r(5), 0.1, 0.9, 0.0, False), [
        (lambda: _core.sgd_step(r(5), r(4), None, 0.1, 0.0, 0.0, False), ValueError, "grad must"),
        (lambda: _core.sgd_step(r(5), r(5), r(3), 0.1, 0.9, 0.0, False), ValueError, "velocity must"),
        (lambda: _core.sgd_step(r(5), r(5).astype(np.float64), None, 0.1, 0, 0, False), TypeError,
         "grad must be float32"),
        (lambda: _core.sgd_step(np.ones(5), r(5), None, 0.1, 0, 0, False), TypeError,
         "param must be float32"),
        (lambda: _core.sgd_step(strided(5), r(5), None, 0.1, 0, 0, False), ValueError, "C-contiguous"),
    ]),
    "adam_step": (lambda: _core.adam_step(r(5), r(5), z(5), z(5), 0.1, 0.9, 0.999, 1e-8, 0, 1), [
        (lambda: _core.adam_step(r(5), r(6), z(5), z(5), 0.1, 0.9, 0.999, 1e-8, 0, 1), ValueError,
         "grad must"),
        (lambda: _core.adam_step(r(5), r(5), z(2), z(5), 0.1, 0.9, 0.999, 1e-8, 0, 1), ValueError,
         "m must"),
        (lambda: _core.adam_step(r(5), r(5), z(5), z(9), 0.1, 0.9, 0.999, 1e-8, 0, 1), ValueError,
         "v must"),
        (lambda: _core.adam_step(r(5), r(5), z(5), z(5, dtype=np.float64), 0.1, 0.9, 0.999, 1e-8,
                                 0, 1), TypeError, "v must be float32"),
    ]),
    "rmsprop_step": (lambda: _core.rmsprop_step(r(5), r(5), z(5), z(5), z(5), 0.1, 0.99, 1e-8, 0,
                                                0.9, True), [
        (lambda: _core.rmsprop_step(r(5), r(6), z(5), None, None, 0.1, 0.99, 1e-8, 0, 0, False),
         ValueError, "grad must"),
        (lambda: _core.rmsprop_step(r(5), r(5), z(4), None, None, 0.1, 0.99, 1e-8, 0, 0, False),
         ValueError, "square_avg must"),
        (lambda: _core.rmsprop_step(r(5), r(5), z(5), z(7), None, 0.1, 0.99, 1e-8, 0, 0, True),
         ValueError, "grad_avg must"),
        (lambda: _core.rmsprop_step(r(5), r(5), z(5), None, None, 0.1, 0.99, 1e-8, 0, 0, True),
         Exception, "RMSprop step"),   # centered without grad_avg: the C check (status)
        (lambda: _core.rmsprop_step(r(5), r(5), z(5), None, z(3), 0.1, 0.99, 1e-8, 0, 0.9, False),
         ValueError, "momentum_buf must"),
    ]),
}

# Public functions that hand no array to a kernel (helpers and settings).
NOT_KERNEL_WRAPPERS = {
    "check", "buffer", "as_f32", "scratch", "set_num_threads", "get_num_threads",
    "conv2d_params", "conv2d_output_hw", "pool2d_params", "pool2d_output_hw",
    "depthwise_params", "depthwise_output_hw",
    "f32", "f32_or_null",  # pointers to arrays a wrapper already checked
}


def public_functions():
    return sorted(name for name, obj in vars(_core).items()
                  if inspect.isfunction(obj) and obj.__module__ == _core.__name__
                  and not name.startswith("_"))


def test_every_wrapper_has_cases():
    missing = [n for n in public_functions() if n not in CASES and n not in NOT_KERNEL_WRAPPERS]
    assert not missing, (f"_core wrappers without a mismatched-input case in {__file__}: "
                         f"{missing} (add good and bad calls to CASES)")
    stale = [n for n in list(CASES) + sorted(NOT_KERNEL_WRAPPERS) if not hasattr(_core, n)]
    assert not stale


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrapper_refuses_mismatched_buffers(name):
    good, bad_calls = CASES[name]
    good()  # the table's good call works, so the bad ones fail for the reason given
    assert bad_calls or name in ("relu",)
    for call, error, pattern in bad_calls:
        with pytest.raises(error, match=pattern):
            call()


def test_buffer_refuses_read_only_output():
    param = r(4)
    param.flags.writeable = False
    with pytest.raises(ValueError, match="param is written by the kernel but the array is read-only"):
        _core.sgd_step(param, r(4), None, 0.1, 0.0, 0.0, False)


# ------------------------------------------------ the public API above _core
@pytest.mark.parametrize("shape", [(200000, 6, 0), (3, 6, 0), (3, 6, 2), (3,)])
def test_functional_linear_checks_the_whole_weight_shape(shape):
    with pytest.raises(ValueError, match="weight must be"):
        F.linear(np.ones((2, 6), f32), np.zeros(shape, f32))


@pytest.mark.parametrize("make", [
    lambda p: bb.optimizers.SGD([p], lr=0.1, momentum=0.9),
    lambda p: bb.optimizers.Adam([p], lr=0.1),
])
def test_optimizer_state_follows_a_replaced_parameter(make):
    p = bb.Tensor(np.ones(300, f32), requires_grad=True)
    opt = make(p)
    p.grad = np.ones(300, f32)
    opt.step()
    p.data = np.ones(3000, np.float64)  # another size (and dtype): the old state cannot be used
    p.grad = np.ones(3000, f32)
    opt.step()  # used to read and write past the 300-element state
    assert p.data.dtype == f32 and p.data.shape == (3000,) and np.all(p.data < 1)
    assert all(s.shape == (3000,) for s in opt.state[0] if isinstance(s, np.ndarray))
    p.grad = np.ones(7, f32)
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(3000,\) but its gradient"):
        opt.step()
