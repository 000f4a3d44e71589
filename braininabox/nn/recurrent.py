"""Recurrent networks: Embedding, RNN, LSTM, GRU, and gradient clipping.

Each recurrent layer runs a whole sequence as ONE graph node whose backward is
backpropagation through time written out in numpy: the input projection of every
step is one matrix product (x @ weight_ih.T for all N*T positions at once), and only
the recurrence h_{t-1} @ weight_hh.T loops over t. The weight gradients are again
single matrix products over the whole sequence after the backward loop. This is
far faster than unrolling hundreds of small Tensor operations.

Equations and parameter layouts are PyTorch's (batch_first=True), so weights copy
over from torch.nn.RNN / LSTM / GRU (for RNN and LSTM: bias = bias_ih + bias_hh):

    RNN   h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b)
    LSTM  [i f g o] = x_t W_ih^T + h_{t-1} W_hh^T + b      (weight_ih (4H, I), gates in that order)
          i, f, o = sigmoid(.), g = tanh(.);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)
    GRU   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z likewise,
          n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),  h_t = (1 - z) n + z h_{t-1}

Truncated BPTT: `out = layer(x, initial_state=state)`; afterwards `layer.last_state`
holds the final state (a detached Tensor, or an (h, c) pair for LSTM) to pass as the
next chunk's initial_state. Gradients flow into initial_state when it requires grad.
"""
import math

import numpy as np

from .. import _rng
from .layer import Layer, _positive_int, reserve
from .symbolic import call_symbolic, is_symbolic
from .tensor import Tensor

# ------------------------------------------------------------------ helpers

def _sigmoid(a):
    # 0.5 (1 + tanh(a / 2)): equal to 1 / (1 + exp(-a)) but never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _tensor(x, dtype=None):
    return x if isinstance(x, Tensor) else Tensor(x, dtype=dtype)


def _state(state, n, hidden, dtype, what):
    """An initial state as a Tensor (N, hidden) of dtype, or None."""
    if state is None:
        return None
    state = _tensor(state, dtype)
    if state.shape != (n, hidden):
        raise ValueError(f"{what}: initial state must have shape ({n}, {hidden}) "
                         f"(batch, hidden), got {state.shape}")
    return state


def _gated_hidden_size(weight_ih, weight_hh, gates, what):
    """H for weights stacked `gates` deep: weight_hh (gates*H, H), weight_ih (gates*H, I)."""
    hidden = weight_hh.shape[1]
    if weight_hh.shape != (gates * hidden, hidden) or weight_ih.shape[0] != gates * hidden:
        raise ValueError(f"{what}: weight_hh must be ({gates}H, H) and weight_ih ({gates}H, I), "
                         f"got {weight_hh.shape} and {weight_ih.shape}")
    return hidden


def _check_bias(bias, size, what, name="bias"):
    """A bias must be exactly (size,): a (1,) bias would broadcast forward and get back a
    gradient of shape (size,)."""
    if bias is not None and bias.shape != (size,):
        raise ValueError(f"{what}: {name} must have shape ({size},), got {bias.shape}")


def _check_sequence(x, what):
    if x.ndim != 3:
        raise ValueError(f"{what} expects a batch of sequences (N, T, features), got shape "
                         f"{x.shape}" + ("; for integer tokens put an Embedding first"
                                         if x.ndim == 2 else ""))
    if x.shape[1] == 0:
        raise ValueError(f"{what}: the sequences are empty (T = 0)")


def _project(x, weight_ih, bias):
    """x (N, T, I) -> x_t W_ih^T + b for every step, time-major (T, N, G)."""
    n, t, i = x.shape
    xt = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, i)
    out = xt @ weight_ih.T
    if bias is not None:
        out += bias
    return out.reshape(t, n, -1), xt


def _weight_grads(dpre, inputs, prev_h, hidden_weight_shape):
    """dW_ih, dW_hh, dbias from time-major pre-activation gradients (T, N, G)."""
    t, n, g = dpre.shape
    flat = dpre.reshape(t * n, g)
    dw_ih = flat.T @ inputs
    dw_hh = flat.T @ prev_h.reshape(t * n, -1)
    return dw_ih, dw_hh.reshape(hidden_weight_shape), flat.sum(axis=0)


def _finish(out, parents, backward, op):
    """Wrap the time-major output (T, N, H) as a batch-first Tensor node."""
    batch_first = np.ascontiguousarray(out.transpose(1, 0, 2))
    return Tensor._result(batch_first, parents, backward, op)


def _grads(parents, values):
    """Gradients for the node's parents: None where a parent does not need one."""
    return tuple(v if p.requires_grad else None for p, v in zip(parents, values))


# ------------------------------------------------------------- functional ops

def rnn(x, weight_ih, weight_hh, bias=None, h0=None):
    """Vanilla tanh RNN over x (N, T, I); returns (outputs (N, T, H) Tensor, h_T array).

    weight_ih (H, I), weight_hh (H, H), bias (H,), h0 (N, H) or None (zeros).
    """
    x = _tensor(x)
    dtype = x.dtype
    weight_ih, weight_hh = _tensor(weight_ih, dtype), _tensor(weight_hh, dtype)
    bias = None if bias is None else _tensor(bias, dtype)
    _check_sequence(x, "rnn")
    n, steps, _ = x.shape
    hidden = _gated_hidden_size(weight_ih, weight_hh, 1, "rnn")
    _check_bias(bias, hidden, "rnn")
    h0 = _state(h0, n, hidden, dtype, "rnn")
    w_ih, w_hh = weight_ih.data.astype(dtype, copy=False), weight_hh.data.astype(dtype, copy=False)
    b = None if bias is None else bias.data.astype(dtype, copy=False)

    xp, xt = _project(x.data, w_ih, b)
    hs = np.empty((steps + 1, n, hidden), dtype=dtype)  # hs[0] = h0, hs[t+1] = h_t
    hs[0] = 0 if h0 is None else h0.data
    w_hh_t = w_hh.T
    for t in range(steps):
        np.tanh(xp[t] + hs[t] @ w_hh_t, out=hs[t + 1])

    parents = tuple(p for p in (x, weight_ih, weight_hh, bias, h0) if p is not None)

    def backward(g):
        gt = np.ascontiguousarray(g.transpose(1, 0, 2), dtype=dtype)
        dpre = np.empty_like(gt)
        dh = np.zeros((n, hidden), dtype=dtype)
        for t in range(steps - 1, -1, -1):
            h = hs[t + 1]
            da = (gt[t] + dh) * (1.0 - h * h)
            dpre[t] = da
            dh = da @ w_hh
        dw_ih, dw_hh, db = _weight_grads(dpre, xt, hs[:-1], w_hh.shape)
        dx = (dpre.reshape(steps * n, hidden) @ w_ih).reshape(steps, n, -1).transpose(1, 0, 2)
        values = [dx, dw_ih, dw_hh] + ([db] if bias is not None else []) + \
                 ([dh] if h0 is not None else [])
        return _grads(parents, values)

    out = _finish(hs[1:], parents, backward, "rnn")
    return out, hs[-1].copy()


def lstm(x, weight_ih, weight_hh, bias=None, h0=None, c0=None):
    """LSTM over x (N, T, I); returns (outputs (N, T, H) Tensor, (h_T, c_T) arrays).

    weight_ih (4H, I), weight_hh (4H, H), bias (4H,), gates i, f, g, o (PyTorch's order).
    h0, c0: (N, H) or None (zeros).
    """
    x = _tensor(x)
    dtype = x.dtype
    weight_ih, weight_hh = _tensor(weight_ih, dtype), _tensor(weight_hh, dtype)
    bias = None if bias is None else _tensor(bias, dtype)
    _check_sequence(x, "lstm")
    n, steps, _ = x.shape
    hidden = _gated_hidden_size(weight_ih, weight_hh, 4, "lstm")
    _check_bias(bias, 4 * hidden, "lstm")
    h0 = _state(h0, n, hidden, dtype, "lstm")
    c0 = _state(c0, n, hidden, dtype, "lstm")
    w_ih, w_hh = weight_ih.data.astype(dtype, copy=False), weight_hh.data.astype(dtype, copy=False)
    b = None if bias is None else bias.data.astype(dtype, copy=False)
    H = hidden

    gates, xt = _project(x.data, w_ih, b)   # (T, N, 4H): pre-activations, then activations
    hs = np.empty((steps + 1, n, H), dtype=dtype)
    cs = np.empty((steps + 1, n, H), dtype=dtype)
    tanh_c = np.empty((steps, n, H), dtype=dtype)
    hs[0] = 0 if h0 is None else h0.data
    cs[0] = 0 if c0 is None else c0.data
    w_hh_t = w_hh.T
    for t in range(steps):
        a = gates[t]
        a += hs[t] @ w_hh_t
        a[:, :2 * H] = _sigmoid(a[:, :2 * H])
        np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
        a[:, 3 * H:] = _sigmoid(a[:, 3 * H:])
        i, f, gg, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += i * gg
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])

    parents = tuple(p for p in (x, weight_ih, weight_hh, bias, h0, c0) if p is not None)

    def backward(g):
        gt = np.ascontiguousarray(g.transpose(1, 0, 2), dtype=dtype)
        dpre = np.empty_like(gates)
        dh = np.zeros((n, H), dtype=dtype)
        dc = np.zeros((n, H), dtype=dtype)
        for t in range(steps - 1, -1, -1):
            a = gates[t]
            i, f, gg, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dh + gt[t]
            tc = tanh_c[t]
            dc = dc + dh * o * (1.0 - tc * tc)
            d = dpre[t]
            d[:, :H] = dc * gg * i * (1.0 - i)                 # input gate
            d[:, H:2 * H] = dc * cs[t] * f * (1.0 - f)         # forget gate
            d[:, 2 * H:3 * H] = dc * i * (1.0 - gg * gg)       # cell candidate
            d[:, 3 * H:] = dh * tc * o * (1.0 - o)             # output gate
            dc = dc * f
            dh = d @ w_hh
        dw_ih, dw_hh, db = _weight_grads(dpre, xt, hs[:-1], w_hh.shape)
        dx = (dpre.reshape(steps * n, 4 * H) @ w_ih).reshape(steps, n, -1).transpose(1, 0, 2)
        values = [dx, dw_ih, dw_hh] + ([db] if bias is not None else []) + \
                 ([dh] if h0 is not None else []) + ([dc] if c0 is not None else [])
        return _grads(parents, values)

    out = _finish(hs[1:], parents, backward, "lstm")
    return out, (hs[-1].copy(), cs[-1].copy())


def gru(x, weight_ih, weight_hh, bias_ih=None, bias_hh=None, h0=None):
    """GRU over x (N, T, I); returns (outputs (N, T, H) Tensor, h_T array).

    weight_ih (3H, I), weight_hh (3H, H), bias_ih and bias_hh (3H,), gates r, z, n
    (PyTorch's order; the two biases stay apart because b_hn sits inside r * (...)).
    """
    x = _tensor(x)
    dtype = x.dtype
    weight_ih, weight_hh = _tensor(weight_ih, dtype), _tensor(weight_hh, dtype)
    bias_ih = None if bias_ih is None else _tensor(bias_ih, dtype)
    bias_hh = None if bias_hh is None else _tensor(bias_hh, dtype)
    _check_sequence(x, "gru")
    n, steps, _ = x.shape
    H = _gated_hidden_size(weight_ih, weight_hh, 3, "gru")
    _check_bias(bias_ih, 3 * H, "gru", "bias_ih")
    _check_bias(bias_hh, 3 * H, "gru", "bias_hh")
    h0 = _state(h0, n, H, dtype, "gru")
    w_ih, w_hh = weight_ih.data.astype(dtype, copy=False), weight_hh.data.astype(dtype, copy=False)
    b_ih = None if bias_ih is None else bias_ih.data.astype(dtype, copy=False)
    b_hh = None if bias_hh is None else bias_hh.data.astype(dtype, copy=False)

    xp, xt = _project(x.data, w_ih, b_ih)   # (T, N, 3H)
    hs = np.empty((steps + 1, n, H), dtype=dtype)
    rz = np.empty((steps, n, 2 * H), dtype=dtype)
    nn = np.empty((steps, n, H), dtype=dtype)
    hn = np.empty((steps, n, H), dtype=dtype)   # h W_hn^T + b_hn, needed for dr
    hs[0] = 0 if h0 is None else h0.data
    w_hh_t = w_hh.T
    for t in range(steps):
        hp = hs[t] @ w_hh_t
        if b_hh is not None:
            hp += b_hh
        rz[t] = _sigmoid(xp[t, :, :2 * H] + hp[:, :2 * H])
        hn[t] = hp[:, 2 * H:]
        r, z = rz[t, :, :H], rz[t, :, H:]
        np.tanh(xp[t, :, 2 * H:] + r * hn[t], out=nn[t])
        hs[t + 1] = nn[t] + z * (hs[t] - nn[t])

    parents = tuple(p for p in (x, weight_ih, weight_hh, bias_ih, bias_hh, h0) if p is not None)

    def backward(g):
        gt = np.ascontiguousarray(g.transpose(1, 0, 2), dtype=dtype)
        dxp = np.empty_like(xp)
        dhp = np.empty_like(xp)
        dh = np.zeros((n, H), dtype=dtype)
        for t in range(steps - 1, -1, -1):
            r, z, nt = rz[t, :, :H], rz[t, :, H:], nn[t]
            dh = dh + gt[t]
            dn = dh * (1.0 - z) * (1.0 - nt * nt)
            dz = dh * (hs[t] - nt) * z * (1.0 - z)
            dr = dn * hn[t] * r * (1.0 - r)
            dxp[t, :, :H] = dr
            dxp[t, :, H:2 * H] = dz
            dxp[t, :, 2 * H:] = dn
            dhp[t, :, :2 * H] = dxp[t, :, :2 * H]
            dhp[t, :, 2 * H:] = dn * r
            dh = dh * z + dhp[t] @ w_hh
        flat_x = dxp.reshape(steps * n, 3 * H)
        flat_h = dhp.reshape(steps * n, 3 * H)
        dw_ih = flat_x.T @ xt
        dw_hh = flat_h.T @ hs[:-1].reshape(steps * n, H)
        dx = (flat_x @ w_ih).reshape(steps, n, -1).transpose(1, 0, 2)
        values = [dx, dw_ih, dw_hh] + ([flat_x.sum(axis=0)] if bias_ih is not None else []) + \
                 ([flat_h.sum(axis=0)] if bias_hh is not None else []) + \
                 ([dh] if h0 is not None else [])
        return _grads(parents, values)

    out = _finish(hs[1:], parents, backward, "gru")
    return out, hs[-1].copy()


def embedding(indices, weight):
    """Rows of weight (vocab, dim) picked by integer indices (any shape) -> (..., dim)."""
    weight = _tensor(weight)
    idx = _check_indices(indices, weight.shape[0], "embedding")

    def backward(g):
        grad = np.zeros_like(weight.data)
        np.add.at(grad, idx.reshape(-1), g.reshape(-1, weight.shape[1]))  # repeats accumulate
        return (grad,)
    return Tensor._result(weight.data[idx], (weight,), backward, "embedding")


def _check_indices(indices, vocab_size, what):
    """Integer indices in [0, vocab_size) as int64; floats must hold whole numbers."""
    data = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
            raise ValueError(f"{what}: indices must be integers in [0, {vocab_size}), "
                             f"got non-integer values")
    elif data.dtype.kind not in "iub":
        raise TypeError(f"{what}: indices must be integers in [0, {vocab_size}), "
                        f"got dtype {data.dtype}")
    idx = data.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= vocab_size):
        flat = idx.reshape(-1)
        bad = int(np.flatnonzero((flat < 0) | (flat >= vocab_size))[0])
        raise ValueError(f"{what}: indices must be in [0, {vocab_size}) for vocab_size "
                         f"{vocab_size}; got {flat[bad]} at flat position {bad}")
    return idx


def clip_grad_norm(params, max_norm):
    """Scale the gradients of params so their global L2 norm is at most max_norm.

    Returns the norm before clipping (as torch.nn.utils.clip_grad_norm_ does).
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * np.asarray(scale, dtype=p.grad.dtype)
    return total


# -------------------------------------------------------------------- layers

def _orthogonal(rows, cols):
    reserve((rows, cols))
    rng = _rng.generator()
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return (q if rows >= cols else q.T)[:rows, :cols]


def _glorot(rows, cols):
    reserve((rows, cols))
    limit = math.sqrt(6.0 / (rows + cols))
    return _rng.generator().uniform(-limit, limit, size=(rows, cols))


def _param(array):
    return Tensor(np.asarray(array, dtype=np.float32), requires_grad=True)


class Embedding(Layer):
    """Integer tokens (N, ...) -> vectors (N, ..., dim); weight (vocab_size, dim), N(0, 1) init.

    Indices may come as integers or as floats holding whole numbers (Sequential passes
    float32 arrays); anything else, or an index outside [0, vocab_size), is refused.
    """

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.vocab_size = _positive_int(vocab_size, "vocab_size", "Embedding")
        self.dim = _positive_int(dim, "dim", "Embedding")
        self.weight = _param(_rng.generator().standard_normal(
            reserve((self.vocab_size, self.dim))))
        self.built = True

    def __call__(self, x):
        if is_symbolic(x):
            return call_symbolic(self, x)
        return embedding(x, self.weight)

    def parameters(self):
        return [self.weight]

    def get_config(self):
        return {"vocab_size": self.vocab_size, "dim": self.dim}


class _Recurrent(Layer):
    """Shared plumbing: input checks, build, initial_state / last_state."""

    gates = 1

    def __init__(self, hidden, return_sequences=True, input_size=None, use_bias=True):
        super().__init__()
        self.hidden = _positive_int(hidden, "hidden", type(self).__name__)
        self.return_sequences = bool(return_sequences)
        self.use_bias = bool(use_bias)
        self.input_size = None
        self.weight_ih = self.weight_hh = None
        self.last_state = None
        if input_size is not None:
            self._create(_positive_int(input_size, "input_size", type(self).__name__))
            self.built = True

    def __call__(self, x, initial_state=None):
        if is_symbolic(x) and initial_state is None:
            return call_symbolic(self, x)
        x = x if isinstance(x, Tensor) else Tensor(x)
        self.check_input(x)
        if not self.built:
            self.build(x)
            self.built = True
        out, last = self._run(x, initial_state)
        self._steps = x.shape[1]  # for macs() when only the last step is returned
        self.last_state = (tuple(Tensor(s, dtype=s.dtype) for s in last)
                           if isinstance(last, tuple) else Tensor(last, dtype=last.dtype))
        return out if self.return_sequences else out[:, -1]

    def check_input(self, x):
        name = type(self).__name__
        _check_sequence(x, name)
        if self.built and x.shape[2] != self.input_size:
            raise ValueError(f"{name} was built for {self.input_size} input features, "
                             f"got {x.shape[2]} (input shape {x.shape})")

    def build(self, x):
        self._create(x.shape[2])

    def _create(self, input_size):
        self.input_size = int(input_size)
        H, G = self.hidden, self.gates
        # Glorot uniform for the input weights and orthogonal recurrent weights, per gate.
        self.weight_ih = _param(np.concatenate([_glorot(H, self.input_size) for _ in range(G)]))
        self.weight_hh = _param(np.concatenate([_orthogonal(H, H) for _ in range(G)]))
        self._create_biases()

    def _create_biases(self):
        self.bias = (_param(np.zeros(reserve((self.gates * self.hidden,))))
                     if self.use_bias else None)

    def parameters(self):
        return [p for p in (self.weight_ih, self.weight_hh, getattr(self, "bias", None))
                if p is not None]

    def macs(self, output_shape):
        # every step multiplies the input by weight_ih and the state by weight_hh
        steps = output_shape[0] if self.return_sequences else getattr(self, "_steps", 0)
        return (self.weight_ih.size + self.weight_hh.size) * int(steps)

    def get_config(self):
        return {"hidden": self.hidden, "return_sequences": self.return_sequences,
                "input_size": self.input_size, "use_bias": self.use_bias}


class RNN(_Recurrent):
    """Vanilla tanh RNN: (N, T, features) -> (N, T, hidden), or (N, hidden) for the last
    step with return_sequences=False. layer(x, initial_state=h) continues from h (N, hidden);
    layer.last_state is the final h, detached."""

    def _run(self, x, initial_state):
        return rnn(x, self.weight_ih, self.weight_hh, self.bias, initial_state)


class LSTM(_Recurrent):
    """LSTM with PyTorch's gates and layout (i, f, g, o; bias = bias_ih + bias_hh).

    initial_state and last_state are (h, c) pairs of (N, hidden). forget_bias (default 1)
    initializes the forget gate's bias, so the cell remembers from the start.
    """

    gates = 4

    def __init__(self, hidden, return_sequences=True, input_size=None, use_bias=True,
                 forget_bias=1.0):
        self.forget_bias = float(forget_bias)
        super().__init__(hidden, return_sequences, input_size, use_bias)

    def _create_biases(self):
        super()._create_biases()
        if self.bias is not None:
            self.bias.data[self.hidden:2 * self.hidden] = self.forget_bias

    def _run(self, x, initial_state):
        h0 = c0 = None
        if initial_state is not None:
            if not (isinstance(initial_state, (tuple, list)) and len(initial_state) == 2):
                raise ValueError("LSTM: initial_state must be a pair (h, c), each (N, hidden)")
            h0, c0 = initial_state
        return lstm(x, self.weight_ih, self.weight_hh, self.bias, h0, c0)

    def get_config(self):
        return {**super().get_config(), "forget_bias": self.forget_bias}


class GRU(_Recurrent):
    """GRU with PyTorch's gates and layout (r, z, n; separate bias_ih and bias_hh)."""

    gates = 3

    def _create_biases(self):
        self.bias = None
        self.bias_ih = _param(np.zeros(reserve((3 * self.hidden,)))) if self.use_bias else None
        self.bias_hh = _param(np.zeros(reserve((3 * self.hidden,)))) if self.use_bias else None

    def parameters(self):
        return [p for p in (self.weight_ih, self.weight_hh, getattr(self, "bias_ih", None),
                            getattr(self, "bias_hh", None)) if p is not None]

    def _run(self, x, initial_state):
        return gru(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, initial_state)
