"""Gradient checking for braininabox tests: central finite differences in float64.

    check_grad(op, *arrays)            op on float64 Tensors; its backward() vs. finite
                                       differences of op itself (numpy-backed ops).
    check_grad_against(op, ref, *arrays)
                                       op on float32 Tensors (C kernels); its backward() vs.
                                       finite differences of `ref`, an independent float64
                                       numpy reference; also checks the forward value.

Both contract a non-scalar output with a fixed random cotangent R (loss = sum(out * R)),
so they exercise backward(grad=...) with a full gradient, not just ones.
"""
import numpy as np

from braininabox.nn.tensor import Tensor


def numerical_grad(f, arrays, index, eps=1e-6):
    """d f(*arrays) / d arrays[index] by central differences; f returns a float, float64."""
    arrays = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    x = arrays[index]
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = float(f(*arrays))
        flat[i] = old - eps
        down = float(f(*arrays))
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def assert_close(actual, expected, atol, rtol, what="value"):
    """Like np.testing.assert_allclose, plus shape equality and finiteness, with a label."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: non-finite entries {actual}"
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                               atol=atol, rtol=rtol, err_msg=what)


def _cotangent(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _analytic(op, arrays, dtype, wrt, seed):
    tensors = [Tensor(a, requires_grad=(i in wrt), dtype=dtype) for i, a in enumerate(arrays)]
    out = op(*tensors)
    assert isinstance(out, Tensor), f"op returned {type(out).__name__}, not a Tensor"
    assert out.requires_grad, "output of an op on tensors requiring grad does not require grad"
    cot = _cotangent(out.shape, seed)
    out.backward(grad=cot.astype(out.dtype))
    for i in wrt:
        t = tensors[i]
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.shape == t.shape, f"input {i}: grad shape {t.grad.shape} != {t.shape}"
    return out, cot, [tensors[i].grad for i in wrt]


def check_grad(op, *arrays, wrt=None, eps=1e-6, atol=1e-7, rtol=1e-6, seed=0):
    """Analytic gradient of op (float64 Tensors) against finite differences of op itself.

    wrt: indices of the inputs to differentiate (default: all). Returns the output Tensor.
    """
    wrt = tuple(range(len(arrays))) if wrt is None else tuple(wrt)
    out, cot, grads = _analytic(op, arrays, np.float64, wrt, seed)
    assert out.dtype == np.float64, f"float64 op produced {out.dtype}"

    def scalar(*xs):
        return np.sum(op(*[Tensor(x, dtype=np.float64) for x in xs]).data * cot)
    for i, g in zip(wrt, grads):
        assert_close(g, numerical_grad(scalar, arrays, i, eps), atol, rtol, f"grad of input {i}")
    return out


def check_grad_against(op, ref, *arrays, wrt=None, eps=1e-6, atol=1e-5, rtol=1e-4,
                       value_atol=None, value_rtol=None, seed=0):
    """op on float32 Tensors vs. a float64 numpy reference: forward value and gradients.

    ref(*float64 arrays) -> float64 array of op's output shape. Gradients of op come from
    its backward(); expected ones from central differences of ref. Returns the output.
    """
    wrt = tuple(range(len(arrays))) if wrt is None else tuple(wrt)
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    out, cot, grads = _analytic(op, arrays, np.float32, wrt, seed)
    # The reference sees exactly the float32 values op saw.
    arrays32 = [a.astype(np.float32).astype(np.float64) for a in arrays]
    expected = np.asarray(ref(*arrays32), dtype=np.float64)
    assert_close(out.data, expected, atol if value_atol is None else value_atol,
                 rtol if value_rtol is None else value_rtol, "forward value")

    def scalar(*xs):
        return np.sum(np.asarray(ref(*xs)) * cot)
    for i, g in zip(wrt, grads):
        assert_close(g, numerical_grad(scalar, arrays32, i, eps), atol, rtol, f"grad of input {i}")
    return out
