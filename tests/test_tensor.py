"""Tests for braininabox.tensor: every op's value and gradient, and the autograd engine.

Gradients of numpy-backed ops are checked against float64 central differences
(tests/gradcheck.py); 2-D float32 matmul (the C SGEMM) against float64 numpy.
"""
import numpy as np
import pytest

from braininabox import _core
from braininabox.nn.tensor import Tensor, concat, is_grad_enabled, no_grad, stack
from gradcheck import assert_close, check_grad, numerical_grad


def rand(*shape, seed=0, low=None):
    """Standard normal float64 data; with low, magnitudes are at least `low` (away from kinks)."""
    x = np.random.default_rng(seed).standard_normal(shape)
    if low is not None:
        x = np.sign(x) * (np.abs(x) + low)
    return x


def positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def t64(x, requires_grad=True):
    return Tensor(x, requires_grad=requires_grad, dtype=np.float64)


# ------------------------------------------------------------------ construction
def test_default_dtype_is_float32_and_float64_is_kept():
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor(np.arange(3.0)).dtype == np.float32
    assert t64([1.0]).dtype == np.float64


def test_rejects_non_float_dtypes():
    with pytest.raises(TypeError, match="float32 or float64"):
        Tensor([1, 2], dtype=np.int32)
    with pytest.raises(TypeError, match="dtype"):
        Tensor(np.array(["a", "b"]))


# -------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("name, op", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
])
def test_binary_ops_value_and_grad(name, op):
    a, b = rand(3, 4, seed=1), positive(3, 4, seed=2)
    out = check_grad(op, a, b)
    assert_close(out.data, op(a, b), 0, 1e-15, name)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.0, -2.5])
def test_pow_scalar_exponent(exponent):
    x = positive(2, 5, seed=3)
    out = check_grad(lambda a: a ** exponent, x)
    assert_close(out.data, x ** exponent, 0, 1e-14)


def test_pow_tensor_exponent_and_rpow():
    x, p = positive(4, seed=4), rand(4, seed=5)
    out = check_grad(lambda a, b: a ** b, x, p)
    assert_close(out.data, x ** p, 0, 1e-12)
    out = check_grad(lambda b: 2.0 ** b, p)
    assert_close(out.data, 2.0 ** p, 0, 1e-12)


def test_neg():
    x = rand(3, seed=6)
    out = check_grad(lambda a: -a, x)
    np.testing.assert_array_equal(out.data, -x)


@pytest.mark.parametrize("name, op, expected", [
    ("radd", lambda t: 2.0 + t, lambda x: 2.0 + x),
    ("rsub", lambda t: 2.0 - t, lambda x: 2.0 - x),
    ("rmul", lambda t: 3 * t, lambda x: 3 * x),
    ("rtruediv", lambda t: 2.0 / t, lambda x: 2.0 / x),
    ("rpow", lambda t: 3 ** t, lambda x: 3.0 ** x),
    ("np_radd", lambda t: np.arange(4.0) + t, lambda x: np.arange(4.0) + x),
    ("np_rsub", lambda t: np.arange(4.0) - t, lambda x: np.arange(4.0) - x),
    ("np_rmul", lambda t: np.arange(4.0) * t, lambda x: np.arange(4.0) * x),
    ("np_rtruediv", lambda t: np.arange(1.0, 5.0) / t, lambda x: np.arange(1.0, 5.0) / x),
    ("np_scalar_radd", lambda t: np.float64(1.5) + t, lambda x: 1.5 + x),
    ("np_scalar_rsub", lambda t: np.float64(1.5) - t, lambda x: 1.5 - x),
    ("np_rmatmul", lambda t: np.ones((2, 4)) @ t.reshape(4, 1), lambda x: np.ones((2, 4)) @ x[:, None]),
])
def test_reflected_ops(name, op, expected):
    x = positive(4, seed=7)
    out = op(t64(x, requires_grad=False))
    assert isinstance(out, Tensor), f"{name} returned {type(out).__name__}: numpy did not defer"
    assert_close(out.data, expected(x), 0, 1e-14, name)
    check_grad(op, x)


def test_ops_with_python_scalar_keep_dtype():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for out in (x + 1, 1 + x, x * 2.5, 2.5 * x, x / 3, 3 / x, x - 1, 1 - x, x ** 2, -x):
        assert out.dtype == np.float32
        assert out.requires_grad


# ------------------------------------------------------------------ broadcasting
@pytest.mark.parametrize("shape_a, shape_b", [
    ((3, 1, 4), (5, 4)),
    ((5, 4), (3, 1, 4)),
    ((2, 3), ()),
    ((), (2, 3)),
    ((4, 1), (1, 3)),
    ((2, 1, 3), (2, 4, 1)),
    ((1,), (3, 2)),
])
@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b,
                                lambda a, b: a * b, lambda a, b: a / b])
def test_broadcasting_grads_reduce_to_input_shapes(shape_a, shape_b, op):
    a, b = rand(*shape_a, seed=8), positive(*shape_b, seed=9)
    out = check_grad(op, a, b)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)


def test_broadcast_grad_values_with_ones():
    a = Tensor(np.zeros((3, 1, 4)), requires_grad=True)
    b = Tensor(np.zeros((5, 4)), requires_grad=True)
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1, 4), 5.0))
    np.testing.assert_array_equal(b.grad, np.full((5, 4), 3.0))
    s = Tensor(2.0, requires_grad=True)
    (s * Tensor(np.ones((2, 3)))).sum().backward()
    assert s.grad.shape == () and s.grad == 6.0


# ------------------------------------------------------------------------ matmul
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (3, 5, 2), (17, 33, 9), (70, 130, 90)])
def test_matmul_2d_float32_value_and_grad(m, k, n):
    rng = np.random.default_rng(m * 1000 + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    g = rng.standard_normal((m, n)).astype(np.float32)
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = ta @ tb
    assert out.dtype == np.float32 and out.shape == (m, n)
    a64, b64, g64 = a.astype(np.float64), b.astype(np.float64), g.astype(np.float64)
    scale = np.sqrt(k)
    assert_close(out.data, a64 @ b64, 1e-5 * scale, 1e-5, "a @ b")
    out.backward(grad=g)
    assert ta.grad.dtype == np.float32 and tb.grad.dtype == np.float32
    assert_close(ta.grad, g64 @ b64.T, 1e-5 * np.sqrt(n), 1e-5, "da")
    assert_close(tb.grad, a64.T @ g64, 1e-5 * np.sqrt(m), 1e-5, "db")


def test_matmul_2d_float32_goes_through_c_sgemm(monkeypatch):
    calls = []
    real = _core.matmul

    def spy(a, b):
        calls.append((a.dtype, a.shape, b.shape))
        return real(a, b)
    monkeypatch.setattr(_core, "matmul", spy)
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((3, 4)), requires_grad=True)
    (a @ b).sum().backward()
    assert calls == [(np.float32, (2, 3), (3, 4)), (np.float32, (2, 4), (4, 3)),
                     (np.float32, (3, 2), (2, 4))]
    np.testing.assert_array_equal(a.grad, np.full((2, 3), 4.0))
    np.testing.assert_array_equal(b.grad, np.full((3, 4), 2.0))


def test_matmul_2d_non_contiguous_operands():
    rng = np.random.default_rng(11)
    base_a = rng.standard_normal((8, 6)).astype(np.float32)
    base_b = rng.standard_normal((20, 12)).astype(np.float32)
    for a in (base_a.T, base_a[::2, :].T, base_a[:, 1:5].T[:, ::2]):
        for b in (base_b[:a.shape[1], :5], base_b[:5, :a.shape[1]].T, base_b[::2][:a.shape[1]]):
            expected = a.astype(np.float64) @ b.astype(np.float64)
            assert_close(_core.matmul(a, b), expected, 1e-5, 1e-5, f"{a.strides} @ {b.strides}")
            assert_close((Tensor(a) @ Tensor(b)).data, expected, 1e-5, 1e-5)


def test_matmul_shape_mismatch_raises():
    with pytest.raises(ValueError, match="not aligned"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 2)))


@pytest.mark.parametrize("shape_a, shape_b", [
    ((2, 3), (3, 4)),          # float64 2-D: numpy path
    ((4,), (4, 3)),            # 1-D @ 2-D
    ((3, 4), (4,)),            # 2-D @ 1-D
    ((4,), (4,)),              # 1-D @ 1-D: a scalar
    ((2, 3, 4), (2, 4, 5)),    # batched
    ((2, 3, 4), (4, 5)),       # batched @ broadcast matrix
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
])
def test_matmul_numpy_paths_value_and_grad(shape_a, shape_b):
    a, b = rand(*shape_a, seed=12), rand(*shape_b, seed=13)
    out = check_grad(lambda x, y: x @ y, a, b)
    assert_close(out.data, np.matmul(a, b), 1e-12, 1e-12)


def test_matmul_batched_float32_value():
    a = rand(3, 2, 5, seed=14).astype(np.float32)
    b = rand(5, 4, seed=15).astype(np.float32)
    out = Tensor(a) @ Tensor(b)
    assert out.shape == (3, 2, 4)
    assert_close(out.data, a.astype(np.float64) @ b, 1e-5, 1e-5)


# -------------------------------------------------------------------- reductions
AXES = [None, 0, 1, -1, (0, 2), (-1, 0)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reductions_value_and_grad(name, axis, keepdims):
    x = rand(2, 3, 4, seed=16)
    out = check_grad(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), x)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    assert_close(out.data, expected, 1e-14, 1e-14)


def test_reductions_default_to_all_axes():
    x = t64(rand(3, 2, seed=17))
    for name in ("sum", "mean", "max"):
        out = getattr(x, name)()
        assert out.shape == ()
        assert_close(out.data, getattr(np, name)(x.data), 1e-14, 1e-14, name)


def test_mean_grad_is_one_over_count():
    x = Tensor(np.zeros((4, 5)), requires_grad=True)
    x.mean(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((4, 5), 0.2), rtol=1e-7)


def test_max_ties_split_gradient_equally():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])

    y = Tensor([[5.0, 5.0, 5.0], [0.0, 7.0, 1.0]], requires_grad=True)
    y.max(axis=1).backward(grad=np.array([3.0, 2.0]))
    np.testing.assert_allclose(y.grad, [[1.0, 1.0, 1.0], [0.0, 2.0, 0.0]])

    z = Tensor([[4.0, 1.0], [4.0, 4.0]], requires_grad=True)
    z.max(axis=0, keepdims=True).sum().backward()
    np.testing.assert_allclose(z.grad, [[0.5, 0.0], [0.5, 1.0]])


def test_grads_keep_the_tensor_dtype():
    for dtype in (np.float32, np.float64):
        for f in (lambda t: t.max(), lambda t: t.max(axis=0), lambda t: t.mean(axis=1),
                  lambda t: t.sum(), lambda t: (t * t).sum(), lambda t: t[[0, 0]].sum()):
            x = Tensor([[1.0, 2.0], [2.0, 0.5]], requires_grad=True, dtype=dtype)
            out = f(x)
            assert out.dtype == dtype
            out.sum().backward()
            assert x.grad.dtype == dtype


# ------------------------------------------------------------------- elementwise
@pytest.mark.parametrize("name, ref, data", [
    ("exp", np.exp, lambda: rand(3, 4, seed=18)),
    ("log", np.log, lambda: positive(3, 4, seed=19)),
    ("sqrt", np.sqrt, lambda: positive(3, 4, seed=20)),
    ("abs", np.abs, lambda: rand(3, 4, seed=21, low=0.05)),
    ("sin", np.sin, lambda: rand(3, 4, seed=22)),
    ("cos", np.cos, lambda: rand(3, 4, seed=23)),
    ("relu", lambda x: np.maximum(x, 0), lambda: rand(3, 4, seed=24, low=0.05)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda: 3 * rand(3, 4, seed=25)),
    ("tanh", np.tanh, lambda: rand(3, 4, seed=26)),
])
def test_elementwise_value_and_grad(name, ref, data):
    x = data()
    out = check_grad(lambda t: getattr(t, name)(), x)
    assert_close(out.data, ref(x), 1e-15, 1e-14, name)
    # float32 keeps float32
    out32 = getattr(Tensor(x), name)()
    assert out32.dtype == np.float32
    assert_close(out32.data, ref(x), 1e-6, 1e-6, name)


def test_relu_and_abs_grad_at_zero_is_zero():
    x = Tensor([0.0, -1.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])
    y = Tensor([0.0, -1.0, 2.0], requires_grad=True)
    y.abs().sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, -1.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_large_inputs_no_overflow(dtype):
    x = Tensor([-1e4, -800.0, -100.0, -30.0, 0.0, 30.0, 100.0, 800.0, 1e4, 3e38, -3e38],
               requires_grad=True, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = x.sigmoid()
        y.sum().backward()
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    assert np.all((y.data >= 0) & (y.data <= 1))
    np.testing.assert_array_equal(y.data[[0, 1, 8, 9, 10]], [0, 0, 1, 1, 0])
    assert y.data[4] == 0.5
    # sigmoid(-30) = 9.357623e-14: tiny, but not flushed to zero
    np.testing.assert_allclose(y.data[3], 9.357622968840175e-14, rtol=1e-5)
    np.testing.assert_allclose(x.grad[3], 9.357622968840175e-14, rtol=1e-5)
    assert x.grad[0] == 0 and x.grad[8] == 0


# ------------------------------------------------------------------------- shape
def test_reshape_value_and_grad():
    x = rand(2, 3, 4, seed=27)
    for args in [((6, 4),), (6, 4), ([4, -1],), (24,), (2, 12, 1)]:
        out = check_grad(lambda t: t.reshape(*args), x)
        np.testing.assert_array_equal(out.data, x.reshape(*args))


@pytest.mark.parametrize("axes", [(), ((1, 0, 2),), (2, 0, 1), (0, 2, 1), (-1, 0, 1),
                                  (1, -1, 0), ((-2, -1, -3),)])
def test_transpose_value_and_grad(axes):
    x = rand(2, 3, 4, seed=28)
    out = check_grad(lambda t: t.transpose(*axes), x)
    np.testing.assert_array_equal(out.data, x.transpose(*axes))


def test_T_and_flatten():
    x = rand(3, 5, seed=29)
    out = check_grad(lambda t: t.T, x)
    np.testing.assert_array_equal(out.data, x.T)
    y = rand(2, 3, 4, 5, seed=30)
    out = check_grad(lambda t: t.flatten(), y)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out.data, y.reshape(2, 60))
    assert Tensor(y).flatten(0).shape == (120,)
    assert Tensor(y).flatten(2).shape == (2, 3, 20)


# ---------------------------------------------------------------------- indexing
@pytest.mark.parametrize("index", [
    1,
    -1,
    slice(1, 3),
    (slice(None), slice(None, None, 2)),
    (Ellipsis, 0),
    (slice(None, None, -1), 1),
    np.array([0, 2, 0, 0]),
    [3, 1, 3],
    (np.array([0, 0, 1]), np.array([2, 2, 2])),
    (slice(0, 2), np.array([1, 1, 4])),
    np.array([[0, 1], [1, 1]]),
])
def test_indexing_value_and_grad(index):
    x = rand(4, 5, seed=31)
    out = check_grad(lambda t: t[index], x)
    np.testing.assert_array_equal(out.data, x[index])


def test_repeated_indices_accumulate():
    x = Tensor(np.zeros(4), requires_grad=True)
    x[np.array([1, 1, 1, 3, 0, 3])].backward(grad=np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0]))
    np.testing.assert_array_equal(x.grad, [16.0, 7.0, 0.0, 40.0])


def test_tensor_as_index():
    x = Tensor(np.arange(5.0), requires_grad=True)
    out = x[Tensor([4.0, 4.0, 0.0])]
    np.testing.assert_array_equal(out.data, [4.0, 4.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 0.0, 0.0, 2.0])


# ------------------------------------------------------------------ concat/stack
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_value_and_grad(axis):
    shapes = {0: [(1, 3), (2, 3), (4, 3)], 1: [(2, 1), (2, 3), (2, 2)], -1: [(2, 2), (2, 1)]}[axis]
    arrays = [rand(*s, seed=32 + i) for i, s in enumerate(shapes)]
    out = check_grad(lambda *ts: concat(ts, axis=axis), *arrays)
    np.testing.assert_array_equal(out.data, np.concatenate(arrays, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_value_and_grad(axis):
    arrays = [rand(2, 3, seed=40 + i) for i in range(3)]
    out = check_grad(lambda *ts: stack(ts, axis=axis), *arrays)
    np.testing.assert_array_equal(out.data, np.stack(arrays, axis=axis))


def test_concat_stack_with_constants_and_errors():
    a = Tensor([1.0, 2.0], requires_grad=True)
    out = concat([a, np.array([3.0])])
    np.testing.assert_array_equal(out.data, [1.0, 2.0, 3.0])
    (out * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 2.0])
    b = Tensor([1.0, 2.0], requires_grad=True)
    s = stack([np.zeros(2), b], axis=1)
    assert s.shape == (2, 2)
    s[:, 1].sum().backward()
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        concat([])
    with pytest.raises(ValueError, match="at least one"):
        stack([])


# -------------------------------------------------------------- autograd engine
def test_gradient_accumulates_across_backward_calls():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0, 9.0])
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])


def test_same_graph_backward_twice_doubles():
    x = Tensor([1.0, -2.0], requires_grad=True)
    loss = (x * x * x).sum()
    loss.backward()
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * first)


def test_leaf_grad_is_not_aliased_to_upstream_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x + 0
    g = np.array([1.0, 1.0], dtype=np.float32)
    y.backward(grad=g)
    x.grad[0] = 100.0
    assert g[0] == 1.0
    y.backward(grad=g)
    np.testing.assert_array_equal(x.grad, [101.0, 2.0])


def test_backward_on_non_scalar_without_grad_raises():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"single-element.*\(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="grad has shape"):
        (x * 2).backward(grad=np.ones(3))
    (x * 2).backward(grad=np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_backward_single_element_non_scalar_ok():
    x = Tensor([[3.0]], requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [[6.0]])


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0]) * 2).sum().backward()


def test_no_grad_records_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp().sum()
        z = x @ Tensor(np.ones((2, 2)))
    assert is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t._parents == () and t._backward is None
    with pytest.raises(RuntimeError):
        y.backward()
    assert x.grad is None
    np.testing.assert_allclose(y.data, np.exp(2.0) + np.exp(4.0), rtol=1e-6)


def test_no_grad_restores_state_after_exception():
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_requires_grad_propagation():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    assert (a + b).requires_grad and (b * a).requires_grad
    assert not (b * 2).requires_grad and not b.exp().requires_grad
    c = a * b
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    assert b.grad is None
    d = a.detach()
    assert not d.requires_grad and not (d * 2).requires_grad
    np.testing.assert_array_equal(d.data, a.data)


def test_deep_chain_backward_has_no_recursion_error():
    steps = 20_000
    x = Tensor([0.5], requires_grad=True, dtype=np.float64)
    w = Tensor([0.9999], requires_grad=True, dtype=np.float64)
    h = x
    for _ in range(steps):   # an RNN unrolled: h = h * w + x
        h = h * w + x * 1e-4
    h.sum().backward()
    # h_T = x * (w^T + 1e-4 * sum_{k<T} w^k)
    wv = 0.9999
    geo = (1 - wv ** steps) / (1 - wv)
    np.testing.assert_allclose(x.grad, [wv ** steps + 1e-4 * geo], rtol=1e-9)
    dgeo = sum(k * wv ** (k - 1) for k in range(1, steps))
    np.testing.assert_allclose(w.grad, [0.5 * (steps * wv ** (steps - 1) + 1e-4 * dgeo)], rtol=1e-9)
    del h  # freeing a 20k-deep graph must not overflow the C stack either


def test_diamond_graph_sums_both_paths():
    x = Tensor([0.3, -1.2], requires_grad=True, dtype=np.float64)
    y = x * 2.0
    z = (y * x + y.sin()).sum()    # z = 2x^2 + sin(2x)
    z.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data + 2 * np.cos(2 * x.data), rtol=1e-14)
    u = Tensor([1.5, 2.0], requires_grad=True, dtype=np.float64)
    (u * u).sum().backward()        # same tensor as both parents of one node
    np.testing.assert_array_equal(u.grad, [3.0, 4.0])


def test_composite_expression_gradcheck():
    a, b, c = rand(3, 4, seed=50), rand(4, seed=51), positive(3, 1, seed=52)
    check_grad(lambda x, y, z: ((x * y).tanh() @ y + (z.log() * x).sum(axis=1)).max()
               + (x / z).relu().mean() + x.T[1:3].abs().sum(), a, b, c)


def _build_and_backward(seed):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((16, 32)), requires_grad=True)
    w1 = Tensor(rng.standard_normal((32, 64)) * 0.1, requires_grad=True)
    w2 = Tensor(rng.standard_normal((64, 10)) * 0.1, requires_grad=True)
    h = (x @ w1).relu()
    loss = ((h @ w2).sigmoid() * h.mean(axis=1, keepdims=True)).sum() + (w1 * w1).sum()
    loss.backward()
    return [t.grad for t in (x, w1, w2)]


def test_determinism_bit_identical_grads():
    first, second = _build_and_backward(3), _build_and_backward(3)
    for g1, g2 in zip(first, second):
        assert g1.dtype == g2.dtype and g1.tobytes() == g2.tobytes()


def test_numerical_grad_helper_is_correct():
    # The helper itself: d/dx sum(x^3) = 3x^2.
    x = rand(5, seed=60)
    np.testing.assert_allclose(numerical_grad(lambda a: np.sum(a ** 3), [x], 0), 3 * x ** 2,
                               rtol=1e-7, atol=1e-9)
    # ... and check_grad catches a wrong backward.
    wrong = lambda t: Tensor._result(t.data ** 2, (t,), lambda g: (g * t.data,), "bad")  # noqa: E731
    with pytest.raises(AssertionError):
        check_grad(wrong, x)


def test_transpose_bad_axes_raise():
    x = Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError):
        x.transpose(0, 1, 5)
    with pytest.raises(ValueError):
        x.transpose(0, 0, 1)


def test_scalar_tensors_stay_0d():
    s = Tensor(2.0, requires_grad=True)
    assert s.shape == () and Tensor(np.float64(1.0)).shape == ()
    assert (s * 3).shape == () and (1 - s).shape == ()
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    for loss in (x.mean(), x.sum() * 0.5, x.max() + 1.0):
        assert loss.shape == ()


def test_relu_float32_c_kernel_matches_numpy_including_zero_and_nan():
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.5, np.nan]], dtype=np.float32)
    t = Tensor(x, requires_grad=True)
    y = t.relu()
    np.testing.assert_array_equal(y.data, np.maximum(x, 0))  # NaN stays NaN
    g = np.arange(1, 7, dtype=np.float32).reshape(1, 6)
    y.backward(g)
    np.testing.assert_array_equal(t.grad, g * (x > 0))  # zero subgradient at 0 and NaN
    assert y.data.dtype == np.float32 and t.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["min", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_min_and_max_match_torch_amin_amax_with_ties(name, axis):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(3, 4))
    x[0, 1] = x[0, 2] = x[0].min() - 1     # a tie for the smallest entry of row 0
    x[2, 0] = x[2, 3] = x[2].max() + 1     # and for the largest of row 2
    a, t = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    y = getattr(a, name)(axis=axis)
    (y * y).sum().backward()
    reduce = getattr(torch, "a" + name)
    ty = reduce(t) if axis is None else reduce(t, dim=axis)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy())
    np.testing.assert_allclose(a.grad, t.grad.numpy())


def test_clip_and_argmax_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0], [0.3, -0.7, 1.0, -1.0, 0.1]])
    for low, high in ((-0.5, 0.5), (None, 0.2), (-0.6, None)):
        a, t = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
        y = a.clip(low, high)
        (y * np.arange(5)).sum().backward()
        ty = t.clamp(low, high)
        (ty * torch.arange(5)).sum().backward()
        np.testing.assert_allclose(y.data, ty.detach().numpy())
        np.testing.assert_allclose(a.grad, t.grad.numpy())   # flows at the bounds too
    np.testing.assert_array_equal(Tensor(x).argmax(axis=1), torch.tensor(x).argmax(dim=1).numpy())
    np.testing.assert_array_equal(Tensor(x).argmin(axis=0), torch.tensor(x).argmin(dim=0).numpy())
    with pytest.raises(ValueError, match="clip: give low, high or both"):
        Tensor(x).clip()
