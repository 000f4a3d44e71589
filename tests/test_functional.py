"""Tests for braininabox.functional (float32 C kernels) against float64 numpy references.

Every op is checked without torch (independent numpy references, finite differences via
tests/gradcheck.py); when torch is installed, the same ops are also compared with
torch.nn.functional.
"""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import braininabox as bb
import braininabox.nn.functional as F
from braininabox.nn.tensor import Tensor
from gradcheck import assert_close, check_grad, check_grad_against, numerical_grad


def rand(*shape, seed=0, scale=1.0):
    return scale * np.random.default_rng(seed).standard_normal(shape)


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ------------------------------------------------------------- numpy references
def conv2d_loop_ref(x, w, b, stride, padding):
    """The definition, written as plain loops (float64); only for tiny inputs."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, o, oh, ow))
    for ni in range(n):
        for oc in range(o):
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0 if b is None else b[oc]
                    for ci in range(c):
                        for di in range(kh):
                            for dj in range(kw):
                                r, s = i * sh + di - ph, j * sw + dj - pw
                                if 0 <= r < h and 0 <= s < wd:
                                    acc += x[ni, ci, r, s] * w[oc, ci, di, dj]
                    y[ni, oc, i, j] = acc
    return y


def conv2d_ref(x, w, b=None, stride=1, padding=0):
    """Cross-correlation with zero padding, float64, via sliding windows + einsum."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    y = np.einsum("nchwij,ocij->nohw", windows, w)
    return y if b is None else y + b[None, :, None, None]


def pool_ref(x, kernel, stride, reduce):
    kernel = pair(kernel)
    stride = kernel if stride is None else pair(stride)
    windows = sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return reduce(windows, axis=(-2, -1))


def log_softmax_ref(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def softmax_ref(x, axis=-1):
    return np.exp(log_softmax_ref(x, axis))


def cross_entropy_ref(logits, labels, weight=None):
    """Weighted mean as in PyTorch: sum_i w[y_i] * nll_i / sum_i w[y_i]."""
    c = logits.shape[-1]
    z = logits.reshape(-1, c)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    nll = -log_softmax_ref(z)[np.arange(len(y)), y]
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)[y]
    return np.sum(w * nll) / np.sum(w)


def bce_with_logits_ref(x, t, weight=None, pos_weight=None):
    """-w * (pw * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))), mean."""
    log_sig = -np.logaddexp(0, -x)
    log_one_minus_sig = -np.logaddexp(0, x)
    pw = 1.0 if pos_weight is None else pos_weight
    w = 1.0 if weight is None else weight
    return np.mean(-w * (pw * t * log_sig + (1 - t) * log_one_minus_sig))


def test_conv2d_reference_matches_loop_definition():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    for stride, padding in [(1, 0), (2, 1), ((1, 2), (2, 0))]:
        np.testing.assert_allclose(conv2d_ref(x, w, b, stride, padding),
                                   conv2d_loop_ref(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- conv2d
CONV_CASES = [
    # (N, C, H, W), (O, kh, kw), stride, padding, bias
    ((1, 1, 5, 5), (2, 3, 3), 1, 0, True),
    ((2, 3, 6, 5), (4, 3, 3), 1, 1, True),
    ((2, 3, 7, 7), (2, 3, 3), 2, 0, False),
    ((2, 3, 7, 6), (3, 3, 3), 2, 1, True),
    ((1, 3, 5, 6), (2, 2, 3), 1, 2, True),          # non-square kernel, padding 2
    ((3, 1, 6, 7), (2, 3, 2), (2, 1), (1, 0), False),  # per-axis stride and padding
    ((2, 3, 4, 5), (4, 1, 1), 1, 0, True),          # 1x1, the direct (no im2col) path
    ((2, 3, 5, 5), (4, 1, 1), 2, 0, False),         # 1x1 strided
    ((2, 2, 4, 4), (3, 1, 1), 1, 1, True),          # 1x1 padded
    ((1, 3, 3, 3), (2, 3, 3), 1, 0, True),          # kernel covers the input: 1x1 output
    ((2, 3, 9, 8), (2, 5, 5), 2, 2, True),
    ((2, 1, 8, 3), (2, 4, 1), 2, 0, True),
    ((1, 2, 2, 2), (1, 3, 3), 1, 1, False),         # input smaller than kernel, padded
    ((2, 8, 4, 4), (32, 1, 1), 1, 0, False),        # W^T packs larger than W (dx scratch)
    ((2, 1, 6, 6), (6, 3, 3), 1, 0, True),          # the same with one input channel
]


@pytest.mark.parametrize("xshape, wshape, stride, padding, bias", CONV_CASES)
def test_conv2d_forward_and_backward(xshape, wshape, stride, padding, bias):
    x = rand(*xshape, seed=1)
    w = rand(wshape[0], xshape[1], *wshape[1:], seed=2, scale=0.5)
    b = rand(wshape[0], seed=3)
    scale = np.sqrt(w[0].size)
    if bias:
        out = check_grad_against(lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride, padding),
                                 lambda x_, w_, b_: conv2d_ref(x_, w_, b_, stride, padding),
                                 x, w, b, atol=2e-5 * scale, rtol=1e-4)
    else:
        out = check_grad_against(lambda x_, w_: F.conv2d(x_, w_, None, stride, padding),
                                 lambda x_, w_: conv2d_ref(x_, w_, None, stride, padding),
                                 x, w, atol=2e-5 * scale, rtol=1e-4)
    assert out.dtype == np.float32


def _conv_grads(x, w, b, stride, padding, x_requires_grad, seed=7):
    tx = Tensor(x, requires_grad=x_requires_grad)
    tw, tb = Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
    out = F.conv2d(tx, tw, tb, stride, padding)
    out.backward(grad=rand(*out.shape, seed=seed).astype(np.float32))
    return tx, tw, tb


def test_conv2d_without_input_grad_still_gives_weight_and_bias_grads():
    x, w, b = rand(2, 3, 6, 6, seed=4), rand(4, 3, 3, 3, seed=5), rand(4, seed=6)
    full = _conv_grads(x, w, b, 2, 1, True)
    part = _conv_grads(x, w, b, 2, 1, False)
    assert part[0].grad is None and full[0].grad is not None
    np.testing.assert_array_equal(part[1].grad, full[1].grad)
    np.testing.assert_array_equal(part[2].grad, full[2].grad)
    # and the values are right: dw, db against the float64 reference
    g = rand(2, 4, 3, 3, seed=7)
    dw = numerical_grad(lambda w_: np.sum(conv2d_ref(x, w_, b, 2, 1) * g), [w], 0)
    assert_close(part[1].grad, dw, 1e-4, 1e-4, "dw")
    assert_close(part[2].grad, g.sum(axis=(0, 2, 3)), 1e-5, 1e-5, "db")


def test_conv2d_only_bias_requires_grad():
    x, w = Tensor(rand(2, 3, 5, 5, seed=8)), Tensor(rand(2, 3, 3, 3, seed=9))
    b = Tensor(np.zeros(2), requires_grad=True)
    out = F.conv2d(x, w, b, padding=1)
    g = rand(*out.shape, seed=10)
    out.backward(grad=g)
    assert x.grad is None and w.grad is None
    assert_close(b.grad, g.sum(axis=(0, 2, 3)), 1e-5, 1e-5, "db")


def test_conv2d_accepts_numpy_arrays_and_float64():
    x, w, b = rand(1, 2, 4, 4, seed=11), rand(3, 2, 2, 2, seed=12), rand(3, seed=13)
    expected = conv2d_ref(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32))
    for args in [(x, w, b), (Tensor(x, dtype=np.float64), Tensor(w, dtype=np.float64), b)]:
        out = F.conv2d(*args)
        assert_close(out.data, expected, 1e-5, 1e-5)
    tw = Tensor(w, requires_grad=True)
    F.conv2d(x, tw, b).sum().backward()   # numpy bias is a constant
    assert tw.grad.shape == w.shape


@pytest.mark.parametrize("kwargs, xshape, wshape, message", [
    ({}, (3, 5, 5), (2, 3, 3, 3), r"conv2d expects \(N, C, H, W\), got shape \(3, 5, 5\)"),
    ({}, (1, 3, 5, 5), (2, 3, 3), r"conv2d weight expects"),
    ({}, (1, 3, 5, 5), (2, 2, 3, 3), r"input has 3 channels but the weight expects 2"),
    ({}, (1, 3, 4, 8), (2, 3, 5, 3), r"input height 4 \(padding 0\) is smaller than the kernel height 5"),
    ({"padding": 1}, (1, 3, 8, 2), (2, 3, 3, 5), r"input width 2 \(padding 1\) is smaller than the kernel width 5"),
    ({"stride": 0}, (1, 3, 5, 5), (2, 3, 3, 3), r"stride must be >= 1"),
    ({"stride": (1, -1)}, (1, 3, 5, 5), (2, 3, 3, 3), r"stride must be >= 1"),
    ({"padding": -1}, (1, 3, 5, 5), (2, 3, 3, 3), r"padding >= 0"),
    ({"stride": (1, 2, 3)}, (1, 3, 5, 5), (2, 3, 3, 3), r"stride must be an int or a pair"),
    ({"bias": np.zeros(3)}, (1, 3, 5, 5), (2, 3, 3, 3), r"bias must have shape \(2,\)"),
])
def test_conv2d_errors(kwargs, xshape, wshape, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(np.zeros(xshape), np.zeros(wshape), **kwargs)


# --------------------------------------------------------------------- pooling
POOL_CASES = [
    ((2, 3, 4, 4), 2, None),
    ((2, 2, 7, 7), 3, 2),          # overlapping windows
    ((1, 2, 6, 9), (2, 3), None),  # non-square kernel
    ((2, 1, 7, 8), (3, 2), (2, 1)),  # non-square kernel and stride, overlapping in width
    ((1, 1, 5, 5), 2, None),       # floor: last row/column unused
    ((1, 2, 3, 3), 3, 1),          # one window
    ((1, 1, 5, 6), 1, 2),          # 1x1 window with stride
]


@pytest.mark.parametrize("xshape, kernel, stride", POOL_CASES)
def test_max_pool2d_forward_and_backward(xshape, kernel, stride):
    x = rand(*xshape, seed=20)
    out = check_grad_against(lambda t: F.max_pool2d(t, kernel, stride),
                             lambda a: pool_ref(a, kernel, stride, np.max), x, atol=1e-6)
    assert out.dtype == np.float32


@pytest.mark.parametrize("xshape, kernel, stride", POOL_CASES)
def test_avg_pool2d_forward_and_backward(xshape, kernel, stride):
    x = rand(*xshape, seed=21)
    out = check_grad_against(lambda t: F.avg_pool2d(t, kernel, stride),
                             lambda a: pool_ref(a, kernel, stride, np.mean), x, atol=1e-6)
    assert out.dtype == np.float32


def test_max_pool2d_ties_route_the_whole_gradient_to_one_input():
    x = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(grad=np.arange(1.0, 5.0).reshape(1, 1, 2, 2))
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(x.grad[0, 0], expected)   # first (top-left) maximum, as torch


def test_max_pool2d_overlapping_windows_accumulate_at_a_shared_max():
    x = np.zeros((1, 1, 3, 5))
    x[0, 0, 1, 2] = 5.0   # in both 3x3 windows (stride 2)
    t = Tensor(x, requires_grad=True)
    out = F.max_pool2d(t, 3, 2)
    np.testing.assert_array_equal(out.data, [[[[5.0, 5.0]]]])
    out.backward(grad=np.array([[[[1.5, 2.0]]]]))
    assert t.grad[0, 0, 1, 2] == 3.5 and t.grad.sum() == 3.5


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pool_errors(pool):
    with pytest.raises(ValueError, match=r"expects \(N, C, H, W\)"):
        pool(np.zeros((2, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"input of 2x5 is smaller than the 3x3 window"):
        pool(np.zeros((1, 1, 2, 5)), 3)
    with pytest.raises(ValueError, match=r"kernel and stride must be >= 1"):
        pool(np.zeros((1, 1, 4, 4)), 2, 0)
    with pytest.raises(ValueError, match=r"kernel and stride must be >= 1"):
        pool(np.zeros((1, 1, 4, 4)), (0, 2))


# --------------------------------------------------------------------- softmax
@pytest.mark.parametrize("shape, axis", [((4, 7), -1), ((2, 5, 3), -1), ((2, 5, 3), 1),
                                         ((2, 5, 3), 0), ((3, 1), -1), ((6,), 0)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_and_log_softmax(shape, axis, log):
    x = rand(*shape, seed=30, scale=3.0)
    op = F.log_softmax if log else F.softmax
    ref = log_softmax_ref if log else softmax_ref
    out = check_grad_against(lambda t: op(t, axis=axis), lambda a: ref(a, axis), x,
                             atol=2e-6, rtol=1e-5)
    if not log:
        np.testing.assert_allclose(out.data.sum(axis=axis), 1.0, rtol=1e-6)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_large_logits_stable(log):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 9999.0], [88.0, 89.0, 90.0], [1e6, 1e6, 1e6],
                  [3e38, -3e38, 3e38], [-3e38, -3e38, -3e38]])
    op = F.log_softmax if log else F.softmax
    t = Tensor(x, requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        out = op(t)
        out.backward(grad=rand(*x.shape, seed=31))
    assert np.all(np.isfinite(t.grad)) and not np.any(np.isnan(out.data))
    if log:   # rows 0-3 (|x| <= 1e6) must be exact to float32 precision
        np.testing.assert_allclose(out.data[:4], log_softmax_ref(x[:4]), rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(out.data, softmax_ref(x), atol=1e-7)


# C bug (csrc/bb_softmax.c, log_sum_exp): it returns max + log(sum) in double and the caller
# subtracts x from that, so for |max| >~ 1e10 the log(sum) term is rounded away:
# log_softmax([3e38, -3e38, 3e38]) gives [0, -inf, 0] and cross_entropy([[1e17, 1e17]], [0])
# gives 0 instead of log 2 (PyTorch: -0.6931 / 0.6931). Computing (x - max) - log(sum) fixes it.


def test_log_softmax_huge_logits_precise():
    x = np.array([[3e38, -3e38, 3e38], [-3e38, -3e38, -3e38], [1e17, 1e17, 0.0]])
    out = F.log_softmax(x).data
    np.testing.assert_allclose(out[:, 0], [-np.log(2), -np.log(3), -np.log(2)], rtol=1e-6)


def test_cross_entropy_huge_logits_precise():
    for row, label, expected in [([3e38, -3e38, 3e38], 0, np.log(2)),
                                 ([-3e38, -3e38, -3e38], 2, np.log(3)),
                                 ([1e12, 1e12, 0.0], 1, np.log(2))]:
        np.testing.assert_allclose(F.cross_entropy([row], [label]).item(), expected, rtol=1e-6)


# --------------------------------------------------------------- cross entropy
@pytest.mark.parametrize("label_kind", ["int64", "int32", "list", "uint8", "float_integral",
                                        "tensor"])
def test_cross_entropy_label_types(label_kind):
    logits = rand(6, 5, seed=40, scale=2.0)
    labels = np.array([0, 4, 2, 2, 1, 3])
    given = {"int64": labels.astype(np.int64), "int32": labels.astype(np.int32),
             "list": labels.tolist(), "uint8": labels.astype(np.uint8),
             "float_integral": labels.astype(np.float64), "tensor": Tensor(labels)}[label_kind]
    check_grad_against(lambda t: F.cross_entropy(t, given), lambda z: cross_entropy_ref(z, labels),
                       logits, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (8, 3), (2, 4, 6), (2, 3, 2, 4)])
def test_cross_entropy_value_and_grad(shape):
    logits = rand(*shape, seed=41, scale=3.0)
    labels = np.random.default_rng(42).integers(0, shape[-1], size=shape[:-1])
    out = check_grad_against(lambda t: F.cross_entropy(t, labels),
                             lambda z: cross_entropy_ref(z, labels), logits, atol=1e-6, rtol=1e-5)
    assert out.shape == () and out.dtype == np.float32


def test_cross_entropy_class_weights_weighted_mean():
    logits = rand(10, 4, seed=43)
    labels = np.random.default_rng(44).integers(0, 4, size=10)
    weight = np.array([0.5, 2.0, 0.0, 1.25])
    for w in (weight, weight.tolist(), Tensor(weight)):
        check_grad_against(lambda t: F.cross_entropy(t, labels, weight=w),
                           lambda z: cross_entropy_ref(z, labels, weight), logits, atol=1e-6, rtol=1e-5)
    # By hand: two rows with weights 1 and 3.
    z = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    loss = F.cross_entropy(z, [0, 1], weight=[1.0, 3.0])
    np.testing.assert_allclose(loss.item(), (np.log(2) + 3 * -np.log(0.75)) / 4, rtol=1e-6)


def test_cross_entropy_huge_logits_finite():
    logits = np.array([[1e4, -1e4, 0.0],
                       [-1e4, 1e4, 5e3],
                       [3e38, -3e38, 3e38],
                       [-3e38, -3e38, -3e38],
                       [3e38, 1e38, -3e38],
                       [1e-3, 3e38, -1e4]])
    labels = np.array([1, 2, 0, 2, 1, 1])
    t = Tensor(logits, requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        loss = F.cross_entropy(t, labels)
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(t.grad))
    expected = cross_entropy_ref(logits, labels)   # float64: 2e4, 5e3, log 2, log 3, 2e38, 0
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    p = softmax_ref(logits)
    p[np.arange(6), labels] -= 1
    np.testing.assert_allclose(t.grad, p / 6, atol=1e-7)


def test_cross_entropy_no_grad_when_logits_constant():
    loss = F.cross_entropy(rand(3, 4, seed=45), [0, 1, 2])
    assert not loss.requires_grad
    np.testing.assert_allclose(loss.item(), cross_entropy_ref(
        rand(3, 4, seed=45).astype(np.float32).astype(np.float64), [0, 1, 2]), rtol=1e-6)


@pytest.mark.parametrize("labels, message", [
    ([0, 5, 1], r"labels must be in \[0, 5\) for 5 classes; got 5 at index 1"),
    ([0, 1, -1], r"labels must be in \[0, 5\) for 5 classes; got -1 at index 2"),
    ([7, 1, 9], r"\[0, 5\).*got 7 at index 0"),
    (np.array([0, 2**40, 1]), r"\[0, 5\).*at index 1"),
    (np.array([0.0, 6.0, 1.0]), r"\[0, 5\).*got 6 at index 1"),
])
def test_cross_entropy_label_out_of_range(labels, message):
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(rand(3, 5, seed=46), labels)


def test_cross_entropy_bad_labels():
    logits = rand(3, 5, seed=47)
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(logits, np.array([0.0, 1.5, 2.0]))
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(logits, np.array([0.0, np.nan, 2.0]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(logits, np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"labels have shape \(2,\) but the logits need \(3,\)"):
        F.cross_entropy(logits, [0, 1])
    with pytest.raises(ValueError, match=r"labels have shape \(3, 1\)"):
        F.cross_entropy(logits, np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"logits \(N, classes\)"):
        F.cross_entropy(rand(5, seed=48), 1)
    with pytest.raises(ValueError, match=r"class weights must have shape \(5,\)"):
        F.cross_entropy(logits, [0, 1, 2], weight=np.ones(4))


# -------------------------------------------------------------- mse and linear
def test_mse():
    p, t = rand(4, 3, seed=50), rand(4, 3, seed=51)
    out = check_grad_against(lambda a, b: F.mse(a, b), lambda a, b: np.mean((a - b) ** 2), p, t,
                             atol=1e-6, rtol=1e-5)
    assert out.shape == ()
    target = Tensor(t)
    pred = Tensor(p, requires_grad=True)
    F.mse(pred, target).backward()
    assert target.grad is None
    with pytest.raises(ValueError, match=r"mse: prediction shape \(4, 3\) != target shape \(3, 4\)"):
        F.mse(p, t.T)


def test_linear():
    x, w, b = rand(5, 4, seed=52), rand(3, 4, seed=53), rand(3, seed=54)
    check_grad_against(F.linear, lambda x_, w_, b_: x_ @ w_.T + b_, x, w, b, atol=1e-5)
    check_grad_against(F.linear, lambda x_, w_: x_ @ w_.T, x, w, atol=1e-5)
    # numpy bias is a constant
    tx = Tensor(x, requires_grad=True)
    out = F.linear(tx, Tensor(w), b)
    assert_close(out.data, x @ w.T + b, 1e-5, 1e-5)
    out.sum().backward()
    assert_close(tx.grad, np.tile(w.sum(axis=0), (5, 1)), 1e-5, 1e-5)
    with pytest.raises(ValueError, match=r"input has 4 features but the weight expects 3"):
        F.linear(x, rand(3, 3, seed=55))
    with pytest.raises(ValueError, match=r"linear expects \(N, features\)"):
        F.linear(rand(4, seed=56), w)
    for bad_bias in (rand(1, seed=57), rand(4, seed=58), rand(1, 3, seed=59)):
        with pytest.raises(ValueError, match=r"linear: bias must have shape \(3,\), got"):
            F.linear(x, w, bad_bias)


def test_linear_fused_relu():
    # Values on both sides of 0 with a margin: finite differences never cross the kink.
    x, w, b = rand(6, 5, seed=57), rand(4, 5, seed=58), rand(4, seed=59)
    pre = x.astype(np.float32).astype(np.float64) @ w.astype(np.float32).astype(np.float64).T
    assert np.min(np.abs(pre + b)) > 1e-3 and (pre + b < 0).any() and (pre + b > 0).any()

    def relu_linear(x_, w_, b_):
        return F.linear(x_, w_, b_, relu=True)
    check_grad_against(relu_linear, lambda x_, w_, b_: np.maximum(x_ @ w_.T + b_, 0), x, w, b,
                       atol=1e-5)
    # float64 (numpy path) against its own finite differences
    check_grad(relu_linear, x, w, b)
    # batch 1 (the C kernel's unpacked path) and 3-D input through the layer
    layer = bb.layers.Linear(4)
    seq = Tensor(rand(2, 3, 5, seed=60))
    unfused = layer(seq).data  # builds the layer
    fused = layer.forward(seq, relu=True).data
    assert_close(fused, np.maximum(unfused, 0), 1e-6, 1e-6, "3-D fused vs unfused")
    one = Tensor(rand(1, 5, seed=61))
    assert_close(F.linear(one, layer.weight, layer.bias, relu=True).data,
                 np.maximum(one.data @ layer.weight.data.T + layer.bias.data, 0), 1e-6, 1e-6)


def _parameter_grads(model, out):
    """The gradients of out.sum() for every parameter of model (fresh, not accumulated)."""
    for p in model.parameters():
        p.grad = None
    out.sum().backward()
    return [p.grad.copy() for p in model.parameters()]


def test_sequential_pools_before_relu_with_the_same_values_and_gradients():
    model = bb.Sequential([bb.layers.Conv2D(3, 2), bb.layers.ReLU(), bb.layers.MaxPool(2),
                           bb.layers.Flatten(), bb.layers.Linear(2)])
    x = rand(4, 1, 9, 9, seed=63).astype(np.float32)
    out = model(Tensor(x))
    # Windows that are all negative, or tie at 0 after the ReLU, take the gradient-free path.
    conv_out = model.layers[0](Tensor(x)).data
    windows = conv_out[:, :, :8, :8].reshape(4, 3, 4, 2, 4, 2).max(axis=(3, 5))
    assert (windows < 0).any() and (windows > 0).any()
    assert out._parents[0]._parents[0]._op == "relu"  # the ReLU now runs after the pooling
    ref = Tensor(x)
    for layer in model.layers:
        ref = layer(ref)
    np.testing.assert_array_equal(out.data, ref.data)
    for g_swapped, g_ref in zip(_parameter_grads(model, out), _parameter_grads(model, ref)):
        np.testing.assert_array_equal(g_swapped, g_ref)


def test_sequential_fuses_linear_relu_with_the_same_values_and_gradients():
    model = bb.Sequential([bb.layers.Linear(8), bb.layers.ReLU(), bb.layers.Linear(3)])
    x = rand(5, 6, seed=62).astype(np.float32)
    model(Tensor(x))  # builds the layers (the first call runs them one by one)
    out = model(Tensor(x))
    assert out._parents[0]._op == "linear_relu"  # fused on a built model
    # the same computation, layer by layer
    lin1, relu, lin2 = model.layers
    ref = lin2(relu(lin1(Tensor(x))))
    assert_close(out.data, ref.data, 1e-6, 1e-6, "fused forward")
    for g_fused, g_ref in zip(_parameter_grads(model, out), _parameter_grads(model, ref)):
        assert_close(g_fused, g_ref, 1e-6, 1e-6, "fused gradient")


# ------------------------------------------------------------ BCE with logits
@pytest.mark.parametrize("use_weight, use_pos_weight", [(False, False), (True, False),
                                                        (False, True), (True, True)])
def test_bce_with_logits(use_weight, use_pos_weight):
    x = rand(6, 4, seed=60, scale=3.0)
    t = np.random.default_rng(61).uniform(0, 1, (6, 4))
    t[:2] = np.round(t[:2])
    weight = np.random.default_rng(62).uniform(0.2, 2.0, (6, 4)) if use_weight else None
    pos_weight = np.array([0.5, 1.0, 3.0, 10.0]) if use_pos_weight else None
    out = check_grad_against(
        lambda a: F.binary_cross_entropy_with_logits(a, t, weight=weight, pos_weight=pos_weight),
        lambda a: bce_with_logits_ref(a, t, weight, pos_weight), x, atol=1e-6, rtol=1e-5)
    assert out.shape == ()


def test_bce_with_logits_extreme_logits_stable():
    x = np.array([100.0, -100.0, 100.0, -100.0, 1e4, -1e4, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5])
    for dtype in (np.float32, np.float64):
        tx = Tensor(x, requires_grad=True, dtype=dtype)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss = F.binary_cross_entropy_with_logits(tx, Tensor(t), pos_weight=2.0)
            loss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(tx.grad))
        # per element: 0, 0, 100, 2*100, 0, 2*1e4, log 2 * 1.5
        expected = (100 + 200 + 2e4 + 1.5 * np.log(2)) / 7
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
        # d/dx = (1 - t) - L * sigmoid(-x), over n
        sig_neg = 1 / (1 + np.exp(np.clip(x, -700, 700)))
        grad = ((1 - t) - (1 + t) * sig_neg) / 7
        np.testing.assert_allclose(tx.grad, grad, atol=1e-7)
    with pytest.raises(ValueError, match=r"logits shape \(7,\) != targets shape \(3,\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros(3))


# -------------------------------------------------------- elementwise wrappers
def test_functional_activations_match_tensor_methods():
    x = rand(3, 4, seed=63)
    for name in ("relu", "sigmoid", "tanh"):
        np.testing.assert_array_equal(getattr(F, name)(x).data, getattr(Tensor(x), name)().data)


# --------------------------------------------------------------------- dropout
def test_dropout_training_scale_and_mask_gradient():
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    out = F.dropout(x, 0.3, training=True, rng=np.random.default_rng(0))
    assert out.dtype == np.float32
    kept = out.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(out.data.mean() - 1.0) < 0.02      # inverted dropout keeps the expectation
    g = rand(200, 100, seed=64)
    out.backward(grad=g)
    np.testing.assert_array_equal(x.grad[~kept], 0.0)
    np.testing.assert_allclose(x.grad[kept], g[kept].astype(np.float32) / np.float32(0.7), rtol=1e-6)


def test_dropout_eval_and_p0_are_identity_and_seeded_is_deterministic():
    x = Tensor(rand(4, 5, seed=65), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    a = F.dropout(x, 0.5, rng=np.random.default_rng(3)).data
    b = F.dropout(x, 0.5, rng=np.random.default_rng(3)).data
    np.testing.assert_array_equal(a, b)
    assert np.any(a == 0) and np.any(a != 0)
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
            F.dropout(x, p)


# ------------------------------------------------------------ against PyTorch
def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("xshape, wshape, stride, padding, bias", CONV_CASES)
def test_conv2d_matches_torch(xshape, wshape, stride, padding, bias):
    torch = _torch()
    rng = np.random.default_rng(70)
    x = rng.standard_normal(xshape).astype(np.float32)
    w = rng.standard_normal((wshape[0], xshape[1]) + wshape[1:]).astype(np.float32)
    b = rng.standard_normal(wshape[0]).astype(np.float32) if bias else None
    tx, tw = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    tb = Tensor(b, requires_grad=True) if bias else None
    out = F.conv2d(tx, tw, tb, stride, padding)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(grad=g)

    px = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    pw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    pb = torch.tensor(b, dtype=torch.float64, requires_grad=True) if bias else None
    py = torch.nn.functional.conv2d(px, pw, pb, stride=pair(stride), padding=pair(padding))
    py.backward(torch.tensor(g, dtype=torch.float64))
    scale = np.sqrt(w[0].size)
    assert_close(out.data, py.detach().numpy(), 1e-5 * scale, 1e-5, "y")
    assert_close(tx.grad, px.grad.numpy(), 1e-5 * np.sqrt(wshape[0] * w[0, 0].size), 1e-5, "dx")
    assert_close(tw.grad, pw.grad.numpy(), 1e-5 * np.sqrt(g[:, 0].size), 1e-5, "dw")
    if bias:
        assert_close(tb.grad, pb.grad.numpy(), 1e-5 * np.sqrt(g[:, 0].size), 1e-5, "db")


@pytest.mark.parametrize("xshape, kernel, stride", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_matches_torch(xshape, kernel, stride, kind):
    torch = _torch()
    rng = np.random.default_rng(71)
    x = rng.standard_normal(xshape).astype(np.float32)
    x[..., 0, :2] = x[..., 0, :1]   # a tie: both must pick the first maximum
    ours = F.max_pool2d if kind == "max" else F.avg_pool2d
    theirs = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tx = Tensor(x, requires_grad=True)
    out = ours(tx, kernel, stride)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(grad=g)
    px = torch.tensor(x, requires_grad=True)
    py = theirs(px, kernel, stride)
    py.backward(torch.tensor(g))
    assert_close(out.data, py.detach().numpy(), 1e-6, 1e-6, "y")
    assert_close(tx.grad, px.grad.numpy(), 1e-6, 1e-6, "dx")


@pytest.mark.parametrize("shape, axis", [((5, 7), -1), ((2, 5, 3), 1), ((2, 5, 3), -1)])
def test_log_softmax_and_softmax_match_torch(shape, axis):
    torch = _torch()
    rng = np.random.default_rng(72)
    x = (5 * rng.standard_normal(shape)).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    for ours, theirs in ((F.log_softmax, torch.log_softmax), (F.softmax, torch.softmax)):
        tx = Tensor(x, requires_grad=True)
        out = ours(tx, axis=axis)
        out.backward(grad=g)
        px = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        py = theirs(px, dim=axis)
        py.backward(torch.tensor(g, dtype=torch.float64))
        assert_close(out.data, py.detach().numpy(), 1e-5, 1e-5, ours.__name__)
        assert_close(tx.grad, px.grad.numpy(), 1e-5, 1e-5, ours.__name__ + " grad")


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_torch(weighted):
    torch = _torch()
    rng = np.random.default_rng(73)
    logits = (3 * rng.standard_normal((32, 7))).astype(np.float32)
    labels = rng.integers(0, 7, size=32)
    weight = rng.uniform(0.1, 3.0, 7).astype(np.float32) if weighted else None
    t = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(t, labels, weight=weight)
    loss.backward()
    pl = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    pw = torch.tensor(weight, dtype=torch.float64) if weighted else None
    ploss = torch.nn.functional.cross_entropy(pl, torch.tensor(labels), weight=pw)
    ploss.backward()
    np.testing.assert_allclose(loss.item(), ploss.item(), rtol=1e-5)
    assert_close(t.grad, pl.grad.numpy(), 1e-6, 1e-5, "dlogits")


@pytest.mark.parametrize("use_weight", [False, True])
def test_bce_with_logits_matches_torch(use_weight):
    torch = _torch()
    rng = np.random.default_rng(74)
    x = (4 * rng.standard_normal((16, 5))).astype(np.float32)
    x[0, :2] = [100.0, -100.0]
    t = rng.integers(0, 2, size=(16, 5)).astype(np.float32)
    pos_weight = rng.uniform(0.5, 4.0, 5).astype(np.float32)
    weight = rng.uniform(0.1, 2.0, (16, 5)).astype(np.float32) if use_weight else None
    tx = Tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(tx, t, weight=weight, pos_weight=pos_weight)
    loss.backward()
    px = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ploss = torch.nn.functional.binary_cross_entropy_with_logits(
        px, torch.tensor(t, dtype=torch.float64),
        weight=None if weight is None else torch.tensor(weight, dtype=torch.float64),
        pos_weight=torch.tensor(pos_weight, dtype=torch.float64))
    ploss.backward()
    np.testing.assert_allclose(loss.item(), ploss.item(), rtol=1e-5)
    assert_close(tx.grad, px.grad.numpy(), 1e-7, 1e-5, "dlogits")


def test_max_pool_2x2_fast_path_ties_and_nan_match_the_general_rule():
    # Ties everywhere (first maximum in row-major order wins) and NaN windows (NaN wins).
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(2, 3, 6, 8)).astype(np.float32)
    x[0, 0, 0, 1] = np.nan
    x[1, 2, 5, 6] = np.nan
    t = Tensor(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    windows = x.reshape(2, 3, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 4, 4)
    first = np.where(np.isnan(windows).any(-1), np.argmax(np.isnan(windows), -1),
                     np.argmax(windows, -1))  # np.argmax returns the first maximum
    np.testing.assert_array_equal(np.isnan(y.data), np.isnan(windows).any(-1))
    finite = ~np.isnan(y.data)
    np.testing.assert_array_equal(y.data[finite], np.nanmax(windows, -1)[finite])
    y.backward(np.ones_like(y.data))
    expected = np.zeros(windows.shape, np.float32)
    np.put_along_axis(expected, first[..., None], 1.0, axis=-1)
    expected = expected.reshape(2, 3, 3, 4, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
    np.testing.assert_array_equal(t.grad, expected)


def test_conv2d_gives_the_same_results_on_one_and_two_threads():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 9, 9)).astype(np.float32)  # odd batch: uneven split
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    g = rng.standard_normal((5, 4, 9, 9)).astype(np.float32)
    results = []
    previous = bb.get_num_threads()
    try:
        for threads in (1, 2):
            bb.set_num_threads(threads)
            xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
            y = F.conv2d(xt, wt, bt, stride=1, padding=1)
            y.backward(g)
            results.append((y.data, xt.grad, wt.grad, bt.grad))
    finally:
        bb.set_num_threads(previous)
    (y1, dx1, dw1, db1), (y2, dx2, dw2, db2) = results
    np.testing.assert_array_equal(y1, y2)  # each image is computed the same way
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(db1, db2)
    np.testing.assert_allclose(dw1, dw2, rtol=1e-5, atol=1e-5)  # partial sums reduced in another order


def test_set_num_threads_rejects_non_positive_counts():
    with pytest.raises(ValueError, match="positive integer"):
        bb.set_num_threads(0)
    assert bb.get_num_threads() >= 1


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_few_rows_path_matches_numpy(m, trans_a, trans_b):
    # Fewer than 4 rows skip packing (a separate code path in bb_sgemm); k = 37 leaves a
    # tail after the 8-wide partial sums.
    from braininabox import _core
    rng = np.random.default_rng(m)
    a = rng.standard_normal((37, m) if trans_a else (m, 37)).astype(np.float32)
    b = rng.standard_normal((19, 37) if trans_b else (37, 19)).astype(np.float32)
    a_op, b_op = (a.T if trans_a else a), (b.T if trans_b else b)
    np.testing.assert_allclose(_core.matmul(a_op, b_op), a_op.astype(np.float64) @ b_op,
                               rtol=1e-5, atol=1e-5)


def test_matmul_is_identical_on_one_and_two_threads():
    # 256^3 is above the threading threshold: two threads take disjoint column ranges,
    # each computed by the same serial code, so the bytes must not change.
    from braininabox import _core
    rng = np.random.default_rng(11)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    b = rng.standard_normal((256, 250)).astype(np.float32)  # a partial last panel
    bt = np.ascontiguousarray(b.T).T  # the same values, read through the transposed path
    previous = bb.get_num_threads()
    try:
        bb.set_num_threads(1)
        one, one_t = _core.matmul(a, b), _core.matmul(a, bt)
        bb.set_num_threads(2)
        two, two_t = _core.matmul(a, b), _core.matmul(a, bt)
    finally:
        bb.set_num_threads(previous)
    np.testing.assert_allclose(one, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one_t, two_t)
