"""Optimizers: update parameters in place from their .grad, in the C core.

An optimizer made without params is bound to the model's parameters by fit(). One made
with params (some of the model's parameters: the others stay frozen) keeps them; fit binds
an optimizer afresh (new state) when it holds anything that is not the model's, or when fit
itself bound it to an earlier set (another model, or before Sequential.add).
"""
import numpy as np

from .. import _core
from ..nn.tensor import Tensor
from . import schedules  # noqa: F401 (bb.optimizers.schedules.CosineDecay, StepDecay)


class Optimizer:
    def __init__(self, params=None, lr=0.01):
        name = type(self).__name__
        if isinstance(params, (int, float)) and not isinstance(params, bool):
            raise TypeError(f"{name}: the first argument is the parameters; pass "
                            f"the learning rate by name, e.g. {name}(lr={params})")
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name}: lr must be a number, got {lr!r}")
        if not lr >= 0:  # also refuses NaN
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = lr
        self.params = []
        self.state = {}
        self.bound_by_fit = False  # True when fit chose the parameters, not the user
        if params is not None:
            self.bind(params)

    def bind(self, params):
        """Attach the parameters this optimizer updates."""
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, not a Tensor (pass model.parameters())")
        self.params = params
        self.bound_by_fit = False
        for p in self.params:
            if p.dtype != np.float32 or not p.data.flags.c_contiguous:
                p.data = np.ascontiguousarray(p.data, dtype=np.float32)
        self.state = {}
        return self

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        if not self.params:
            raise RuntimeError(f"{type(self).__name__} has no parameters: pass params= or "
                               f"use it through model.compile()")
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if p.dtype != np.float32 or not p.data.flags.c_contiguous:  # p.data was replaced
                p.data = np.ascontiguousarray(p.data, dtype=np.float32)
            grad = _core.as_f32(p.grad)
            if grad.size != p.size:
                raise ValueError(f"{type(self).__name__}: parameter {i} has shape {p.shape} but "
                                 f"its gradient has shape {grad.shape}")
            self._update(i, p.data, grad.reshape(p.shape))

    def _state_for(self, index, param, make):
        """This parameter's state, made afresh when missing or when p.data was replaced by
        an array of another shape (the old state would not fit: the C step would run past it)."""
        state = self.state.get(index)
        if state is None or state[0].shape != param.shape:
            state = self.state[index] = make()
        return state

    def _update(self, index, param, grad):
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    def __init__(self, params=None, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False):
        if not (momentum >= 0 and weight_decay >= 0):
            raise ValueError("momentum and weight_decay must be >= 0")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        super().__init__(params, lr)

    def _update(self, index, param, grad):
        velocity = None
        if self.momentum:
            velocity = self._state_for(index, param, lambda: [np.zeros_like(param)])[0]
        _core.sgd_step(param, grad, velocity, self.lr, self.momentum, self.weight_decay,
                       self.nesterov)


class Adam(Optimizer):
    """Adam, with the same update as torch.optim.Adam (L2 weight_decay, not AdamW)."""

    def __init__(self, params=None, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if len(betas) != 2 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Adam betas must be a pair in [0, 1), got {betas}")
        if not (eps >= 0 and weight_decay >= 0):
            raise ValueError("eps and weight_decay must be >= 0")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        super().__init__(params, lr)

    def _update(self, index, param, grad):
        state = self._state_for(index, param,
                                lambda: [np.zeros_like(param), np.zeros_like(param), 0])
        state[2] += 1
        _core.adam_step(param, grad, state[0], state[1], self.lr, self.betas[0], self.betas[1],
                        self.eps, self.weight_decay, state[2])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:
    each step first shrinks the parameters, param *= 1 - lr * weight_decay, then takes the
    Adam step without any L2 term in the gradient."""

    def __init__(self, params=None, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, index, param, grad):
        if index not in self.state:
            self.state[index] = [np.zeros_like(param), np.zeros_like(param), 0]
        state = self.state[index]
        state[2] += 1
        if self.weight_decay:
            param *= np.float32(1.0 - self.lr * self.weight_decay)
        _core.adam_step(param, grad, state[0], state[1], self.lr, self.betas[0], self.betas[1],
                        self.eps, 0.0, state[2])


class RMSprop(Optimizer):
    """RMSprop, with the same update as torch.optim.RMSprop: each step divides the gradient
    by the root of a running mean of its squares (alpha: how slowly that mean moves);
    centered=True subtracts the square of the gradient's running mean first; momentum and
    L2 weight_decay as in SGD. (Keras's RMSprop defaults to alpha 0.9, eps 1e-7.)"""

    def __init__(self, params=None, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False):
        if not 0 <= alpha <= 1:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {alpha}")
        if not (eps >= 0 and weight_decay >= 0 and momentum >= 0):
            raise ValueError("RMSprop: eps, weight_decay and momentum must be >= 0")
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, bool(centered)
        super().__init__(params, lr)

    def _update(self, index, param, grad):
        square_avg, grad_avg, buf = self._state_for(index, param, lambda: [
            np.zeros_like(param), np.zeros_like(param) if self.centered else None,
            np.zeros_like(param) if self.momentum else None])
        _core.rmsprop_step(param, grad, square_avg, grad_avg, buf, self.lr, self.alpha,
                           self.eps, self.weight_decay, self.momentum, self.centered)
