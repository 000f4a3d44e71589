"""Tensor: a numpy array that remembers how it was computed, so it can be differentiated.

Each operation below computes its result and, right under it, the rule that turns the
gradient of the result into gradients of its inputs. `backward()` orders the graph
topologically (iteratively, so an RNN unrolled over thousands of steps is fine) and
walks it in reverse, accumulating gradients.

Tensors are float32 unless created with dtype=np.float64 (used for gradient checks).
"""
import contextlib
import threading

import numpy as np

_state = threading.local()


def is_grad_enabled():
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad():
    """Within this block, operations record no graph (inference, optimizer updates)."""
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


_FLOAT_DTYPES = (np.float32, np.float64)


def _as_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None:
        dtype = np.float32
    dtype = np.dtype(dtype)
    if dtype.type not in _FLOAT_DTYPES:
        raise TypeError(f"Tensor dtype must be float32 or float64, got {dtype}")
    array = np.asarray(data)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"cannot make a Tensor from data of dtype {array.dtype}")
    # asarray, not ascontiguousarray: the latter turns 0-d data into shape (1,).
    return np.asarray(array, dtype=dtype, order="C") if array.dtype != dtype else array


def _unbroadcast(grad, shape):
    """Sum grad down to `shape`, undoing numpy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class Tensor:
    """A float array with an optional gradient.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4.], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op")
    __array_priority__ = 1000  # numpy defers `ndarray + Tensor` to Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = ""

    # ---------------------------------------------------------------- basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad})"

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def detach(self):
        return Tensor(self.data, dtype=self.data.dtype)

    def zero_grad(self):
        self.grad = None

    # ----------------------------------------------------------- graph plumbing
    def _lift(self, other):
        return other if isinstance(other, Tensor) else Tensor(other, dtype=self.data.dtype)

    @staticmethod
    def _result(data, parents, backward, op):
        """A new node; `backward(g)` returns one gradient (or None) per parent."""
        out = Tensor.__new__(Tensor)
        out.data = data
        out.grad = None
        out._op = op
        if is_grad_enabled() and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = parents
            out._backward = backward
        else:
            out.requires_grad = False
            out._parents = ()
            out._backward = None
        return out

    def _topological_order(self):
        """Nodes that lead to self, each after all of its inputs (iterative DFS, deterministic)."""
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in reversed(node._parents):
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input had requires_grad=True, or it was made under no_grad)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a single-element tensor, "
                                   f"got shape {self.shape}; pass grad= explicitly")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad, dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"grad has shape {grad.shape} but the tensor has shape {self.shape}")

        pending = {id(self): grad}  # gradients flowing into nodes not yet visited
        for node in reversed(self._topological_order()):
            g = pending.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:  # a leaf: its gradient has its dtype (float32 kernels
                g = g.astype(node.data.dtype, copy=False)  # on float64 input, or mixed dtypes)
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                pending[key] = pg if key not in pending else pending[key] + pg

    # --------------------------------------------------------------- arithmetic
    def __add__(self, other):
        other = self._lift(other)
        a, b = self.shape, other.shape
        return self._result(self.data + other.data, (self, other),
                            lambda g: (_unbroadcast(g, a), _unbroadcast(g, b)), "+")

    def __sub__(self, other):
        other = self._lift(other)
        a, b = self.shape, other.shape
        return self._result(self.data - other.data, (self, other),
                            lambda g: (_unbroadcast(g, a), _unbroadcast(-g, b)), "-")

    def __mul__(self, other):
        other = self._lift(other)
        x, y = self.data, other.data
        return self._result(x * y, (self, other),
                            lambda g: (_unbroadcast(g * y, x.shape), _unbroadcast(g * x, y.shape)), "*")

    def __truediv__(self, other):
        other = self._lift(other)
        x, y = self.data, other.data
        return self._result(x / y, (self, other),
                            lambda g: (_unbroadcast(g / y, x.shape),
                                       _unbroadcast(-g * x / (y * y), y.shape)), "/")

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return self._pow_tensor(exponent)
        x, p = self.data, float(exponent)
        # d/dx x**0 is 0 everywhere, also at x = 0 where p * x**(p - 1) would be 0 * inf
        return self._result(x ** p, (self,), lambda g: (
            g * p * x ** (p - 1) if p != 0 else np.zeros_like(g),), f"**{p:g}")

    def _pow_tensor(self, exponent):
        """x ** t elementwise, as torch.pow: a negative x with an integer t is real (NaN
        otherwise), d/dx is 0 where t == 0, d/dt is 0 where x == 0 and t >= 0."""
        x, t = self.data, exponent.data
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.power(x, t)

        def backward(g):
            with np.errstate(divide="ignore", invalid="ignore"):
                dx = np.where(t == 0, 0, g * t * np.power(x, t - 1))
                dt = np.where((x == 0) & (t >= 0), 0, g * out * np.log(x))
            return (_unbroadcast(dx.astype(out.dtype), x.shape),
                    _unbroadcast(dt.astype(out.dtype), t.shape))
        return self._result(out, (self, exponent), backward, "**")

    def __neg__(self):
        return self._result(-self.data, (self,), lambda g: (-g,), "neg")

    def __radd__(self, other):
        return self._lift(other) + self

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rmul__(self, other):
        return self._lift(other) * self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __rpow__(self, base):
        return self._lift(base) ** self

    def __matmul__(self, other):
        from .. import _core  # C kernels; imported late so tensor.py reads on its own
        other = self._lift(other)
        a, b = self.data, other.data
        if a.ndim == 2 and b.ndim == 2:
            def backward(g):
                return (_core.matmul(g, b.T) if self.requires_grad else None,
                        _core.matmul(a.T, g) if other.requires_grad else None)
            return self._result(_core.matmul(a, b), (self, other), backward, "@")
        return self._result(np.matmul(a, b), (self, other), _batched_matmul_backward(a, b), "@")

    def __rmatmul__(self, other):
        return self._lift(other) @ self

    # -------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        shape = self.shape

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, shape).copy(),)
        return self._result(np.asarray(self.data.sum(axis=axis, keepdims=keepdims)),
                            (self,), backward, "sum")

    def mean(self, axis=None, keepdims=False):
        axes = range(self.ndim) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([self.shape[a] for a in axes]))
        if count == 0:
            raise ValueError(f"mean of an empty tensor (shape {self.shape}, axis {axis}): "
                             f"there are no values to average")
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def max(self, axis=None, keepdims=False):
        """Largest entries (torch.amax: tied entries share the gradient equally)."""
        return self._extreme(np.max, axis, keepdims, "max")

    def min(self, axis=None, keepdims=False):
        """Smallest entries (torch.amin: tied entries share the gradient equally)."""
        return self._extreme(np.min, axis, keepdims, "min")

    def _extreme(self, reduce, axis, keepdims, op):
        x = self.data
        top = reduce(x, axis=axis, keepdims=True)

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            winners = (x == top)  # ties share the gradient equally
            share = winners * (g / winners.sum(axis=axis, keepdims=True))
            return (share.astype(x.dtype, copy=False),)
        out = top if keepdims else np.asarray(reduce(x, axis=axis))
        return self._result(out, (self,), backward, op)

    def argmax(self, axis=None):
        """Index of the largest entry (the first among ties), as a numpy array: no gradient."""
        return np.argmax(self.data, axis=axis)

    def argmin(self, axis=None):
        """Index of the smallest entry (the first among ties), as a numpy array: no gradient."""
        return np.argmin(self.data, axis=axis)

    def clip(self, low=None, high=None):
        """Entries limited to [low, high] (either may be None); the gradient flows where
        low <= x <= high, as torch.clamp's."""
        if low is None and high is None:
            raise ValueError("clip: give low, high or both")
        x = self.data
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        y = np.clip(x, low, high).astype(x.dtype, copy=False)
        return self._result(y, (self,), lambda g: (g * inside,), "clip")

    # ------------------------------------------------------------- elementwise
    def exp(self):
        y = np.exp(self.data)
        return self._result(y, (self,), lambda g: (g * y,), "exp")

    def log(self):
        x = self.data
        return self._result(np.log(x), (self,), lambda g: (g / x,), "log")

    def sqrt(self):
        y = np.sqrt(self.data)
        return self._result(y, (self,), lambda g: (g * 0.5 / y,), "sqrt")

    def abs(self):
        x = self.data
        return self._result(np.abs(x), (self,), lambda g: (g * np.sign(x),), "abs")

    def sin(self):
        x = self.data
        return self._result(np.sin(x), (self,), lambda g: (g * np.cos(x),), "sin")

    def cos(self):
        x = self.data
        return self._result(np.cos(x), (self,), lambda g: (-g * np.sin(x),), "cos")

    def relu(self):
        from .. import _core  # float32 runs one fused C pass each way
        x = self.data
        return self._result(_core.relu(x), (self,), lambda g: (_core.relu_backward(x, g),), "relu")

    def sigmoid(self):
        x = self.data
        # Evaluated through exp(-|x|) so large |x| neither overflows nor loses precision.
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return self._result(y, (self,), lambda g: (g * y * (1 - y),), "sigmoid")

    def tanh(self):
        y = np.tanh(self.data)
        return self._result(y, (self,), lambda g: (g * (1 - y * y),), "tanh")

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        old = self.shape
        return self._result(self.data.reshape(shape), (self,), lambda g: (g.reshape(old),), "reshape")

    def flatten(self, start_axis=1):
        return self.reshape(self.shape[:start_axis] + (-1,))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(a + self.ndim if a < 0 else a for a in axes) or tuple(reversed(range(self.ndim)))
        inverse = tuple(np.argsort(axes))
        return self._result(self.data.transpose(axes), (self,),
                            lambda g: (g.transpose(inverse),), "transpose")

    @property
    def T(self):
        return self.transpose()

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data.astype(np.int64)
        x = self.data

        def backward(g):
            full = np.zeros_like(x)
            np.add.at(full, index, g)  # repeated indices accumulate, as they must
            return (full,)
        return self._result(x[index], (self,), backward, "index")


def _batched_matmul_backward(a, b):
    def backward(g):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:  # first, so that 1-D @ 1-D (a 0-d g) becomes (1, 1)
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        da = np.matmul(g2, np.swapaxes(b2, -1, -2))
        db = np.matmul(np.swapaxes(a2, -1, -2), g2)
        if a.ndim == 1:
            da = da[..., 0, :]
        if b.ndim == 1:
            db = db[..., :, 0]
        return _unbroadcast(da, a.shape), _unbroadcast(db, b.shape)
    return backward


def concat(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concat needs at least one tensor")
    sizes = [t.shape[axis] for t in tensors]
    cuts = np.cumsum(sizes)[:-1]
    out = np.concatenate([t.data for t in tensors], axis=axis)
    return Tensor._result(out, tuple(tensors), lambda g: tuple(np.split(g, cuts, axis=axis)), "concat")


def stack(tensors, axis=0):
    """Join tensors along a new axis."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    out = np.stack([t.data for t in tensors], axis=axis)
    return Tensor._result(out, tuple(tensors),
                          lambda g: tuple(np.moveaxis(g, axis, 0)), "stack")
