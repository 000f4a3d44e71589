"""The Layer base class, the registry save/load rebuilds layers from, and the
parameter-initialization helpers every layer file shares."""
import contextlib
import contextvars
import math
import re

import numpy as np

from .. import _rng
from .symbolic import call_symbolic, is_symbolic
from .tensor import Tensor

# class name -> class, for every layer class defined inside braininabox (see Layer).
LAYERS = {}

# how many layers of each kind have been named, for Keras-style names: conv2d, conv2d_1, ...
_NAMES_GIVEN = {}


def _default_name(cls):
    base = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", cls.__name__).lower()
    count = _NAMES_GIVEN.get(base, 0)
    _NAMES_GIVEN[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


class Layer:
    """Base class. Subclasses implement forward(x) and, when they own parameters, build(x)."""

    def __init_subclass__(cls, **kwargs):
        # The library's own layers register by class name, so bb.load can rebuild them.
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("braininabox.") and not cls.__name__.startswith("_"):
            LAYERS[cls.__name__] = cls

    def __init__(self):
        self.training = True
        self.trainable = True  # False: fit leaves its weights and its BatchNorm statistics alone
        self.built = False
        self._name = _default_name(type(self))  # at construction, so names follow the code's order

    @property
    def name(self):
        """A name unique in this process (conv2d, conv2d_1, ...) unless set; graphs show it."""
        if getattr(self, "_name", None) is None:
            self._name = _default_name(type(self))
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    def __call__(self, x):
        if is_symbolic(x):  # building a functional model: record a node (nn/symbolic.py)
            return call_symbolic(self, x)
        x = x if isinstance(x, Tensor) else Tensor(x)
        self.check_input(x)
        if not self.built:
            self.build(x)
            self.built = True
        return self.forward(x)

    def check_input(self, x):
        """Raise a clear error when x cannot be this layer's input."""

    def build(self, x):
        """Create parameters sized for input x."""

    def forward(self, x):
        raise NotImplementedError

    def parameters(self):
        """The trainable Tensors, in a fixed order (weight, then bias)."""
        return [p for p in (getattr(self, "weight", None), getattr(self, "bias", None))
                if p is not None]

    def buffers(self):
        """Non-trainable state saved and loaded with the model, as {name: numpy array}
        (BatchNorm's running statistics); each is also the attribute of that name."""
        return {}

    def load_buffers(self, arrays, where="model file"):
        """Set the buffers from {name: array} (shapes must match the built layer's)."""
        own = self.buffers()
        if set(arrays) != set(own):
            raise ValueError(f"{where}: {type(self).__name__} has buffers {sorted(own)}, "
                             f"got {sorted(arrays)}")
        for name, array in arrays.items():
            if np.shape(array) != own[name].shape:
                raise ValueError(f"{where}: {type(self).__name__}.{name} has shape "
                                 f"{np.shape(array)}, expected {own[name].shape}")
            setattr(self, name, np.array(array, dtype=np.float32, order="C"))

    def macs(self, output_shape):
        """Multiply-accumulates of one sample's forward pass given its output shape (without
        the batch axis). Convolutions, linear and recurrent layers count; the rest (lookups,
        activations, pooling, normalization) have no multiply-accumulates: 0."""
        return 0

    def get_config(self):
        """Constructor arguments that rebuild this layer (for save/load)."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# Parameters a layer may still create in this context (None: no limit). bb.load sets it to
# what the file holds, so a header declaring Linear(20000) x 20000 in a small file is refused
# before 1.6 GB is allocated. Every helper that creates parameters calls reserve() first.
_budget = contextvars.ContextVar("parameter_budget", default=None)


class ParameterBudgetExceeded(ValueError):
    """Creating a parameter would exceed the budget set by parameter_budget()."""


@contextlib.contextmanager
def parameter_budget(elements):
    """Within the block, layers may create at most `elements` parameter values in total."""
    token = _budget.set([int(elements)])
    try:
        yield
    finally:
        _budget.reset(token)


def reserve(shape):
    """Count a parameter of `shape` against the budget (if any) before allocating it."""
    count = 1
    for d in shape:
        count *= int(d)
    left = _budget.get()
    if left is not None:
        if count > left[0]:
            raise ParameterBudgetExceeded(
                f"a parameter of shape {tuple(int(d) for d in shape)} exceeds the "
                f"{left[0]} values left")
        left[0] -= count
    return shape


def _init_uniform(shape, fan_in, fan_out, scheme):
    """He (for ReLU nets) or Glorot uniform initialization."""
    reserve(shape)
    if scheme == "he":
        limit = math.sqrt(6.0 / fan_in)
    elif scheme == "glorot":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
    else:
        raise ValueError(f"init must be 'he' or 'glorot', got {scheme!r}")
    data = _rng.generator().uniform(-limit, limit, size=shape).astype(np.float32)
    return Tensor(data, requires_grad=True)


def _zeros(n):
    reserve((n,))
    return Tensor(np.zeros(n, dtype=np.float32), requires_grad=True)


def _check_init(init, layer):
    if init not in ("he", "glorot"):
        raise ValueError(f"{layer}: init must be 'he' or 'glorot', got {init!r}")
    return init


def _positive_int(value, name, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)
