"""Layers: callable building blocks that own their parameters.

Sizes that depend on the input (a Conv2D's input channels, a Linear's input features)
are learned at the first call, so `Linear(10)` is all a user writes. Parameters are
`.weight` and `.bias` Tensors, laid out as in PyTorch: Linear (out, in), Conv2D
(out, in, kh, kw).
"""
import numpy as np

from .. import _rng
from . import functional as F
from .layer import Layer, _check_init, _init_uniform, _positive_int, _zeros
from .recurrent import GRU, LSTM, RNN, Embedding  # noqa: F401 (bb.layers shows them too)


class Linear(Layer):
    """Fully connected: y = x @ weight.T + bias. Glorot-uniform init by default."""

    def __init__(self, units, use_bias=True, init="glorot", in_features=None):
        super().__init__()
        self.units = _positive_int(units, "units", "Linear")
        self.use_bias = use_bias
        self.init = _check_init(init, "Linear")
        self.in_features = in_features
        self.weight = self.bias = None
        if in_features is not None:
            self._create(in_features)
            self.built = True

    def _create(self, in_features):
        self.in_features = int(in_features)
        self.weight = _init_uniform((self.units, self.in_features), self.in_features,
                                    self.units, self.init)
        self.bias = _zeros(self.units) if self.use_bias else None

    def check_input(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"Linear expects (N, features) or a sequence (N, T, features), got "
                             f"shape {x.shape}; put a Flatten() before it")
        if self.built and x.shape[-1] != self.in_features:
            raise ValueError(f"Linear was built for {self.in_features} input features, "
                             f"got {x.shape[-1]} (input shape {x.shape})")

    def build(self, x):
        self._create(x.shape[-1])

    def forward(self, x, relu=False):
        """relu=True: max(., 0) fused into the same C call (Sequential uses it for Linear, ReLU)."""
        if x.ndim == 3:  # a sequence: the same layer at every step
            n, t, _ = x.shape
            return F.linear(x.reshape(n * t, -1), self.weight, self.bias,
                            relu=relu).reshape(n, t, -1)
        return F.linear(x, self.weight, self.bias, relu=relu)

    def get_config(self):
        return {"units": self.units, "use_bias": self.use_bias, "init": self.init,
                "in_features": self.in_features}


class Conv2D(Layer):
    """2-D convolution over NCHW input. He-uniform init by default.

    padding: an int, a (height, width) pair, "valid" (0) or "same" (stride 1, odd kernel).
    """

    def __init__(self, filters, kernel, stride=1, padding=0, use_bias=True, init="he",
                 in_channels=None):
        super().__init__()
        self.filters = _positive_int(filters, "filters", "Conv2D")
        self.kernel = F._pair(kernel, "kernel")
        self.stride = F._pair(stride, "stride")
        if min(self.kernel) < 1 or min(self.stride) < 1:
            raise ValueError(f"Conv2D: kernel and stride must be >= 1, got {kernel} and {stride}")
        self.padding = self._resolve_padding(padding)
        self.use_bias = use_bias
        self.init = _check_init(init, "Conv2D")
        self.in_channels = in_channels
        self.weight = self.bias = None
        if in_channels is not None:
            self._create(in_channels)
            self.built = True

    def _resolve_padding(self, padding):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            if self.stride != (1, 1) or self.kernel[0] % 2 == 0 or self.kernel[1] % 2 == 0:
                raise ValueError("Conv2D: padding='same' needs stride 1 and an odd kernel")
            return (self.kernel[0] // 2, self.kernel[1] // 2)
        if isinstance(padding, str):
            raise ValueError(f"Conv2D: padding must be 'valid', 'same', an int or a pair, "
                             f"got {padding!r}")
        pad = F._pair(padding, "padding")
        if min(pad) < 0:
            raise ValueError(f"Conv2D: padding must be >= 0, got {padding}")
        return pad

    def _create(self, in_channels):
        self.in_channels = int(in_channels)
        kh, kw = self.kernel
        fan_in = self.in_channels * kh * kw
        self.weight = _init_uniform((self.filters, self.in_channels, kh, kw), fan_in,
                                    self.filters * kh * kw, self.init)
        self.bias = _zeros(self.filters) if self.use_bias else None

    def check_input(self, x):
        if x.ndim != 4:
            got = "(N, " + ", ".join(str(d) for d in x.shape[1:]) + ")" if x.ndim > 1 else str(x.shape)
            raise ValueError(f"Conv2D expects (N, C, H, W), got {got}"
                             + ("; add a channel axis, e.g. X[:, None]" if x.ndim == 3 else ""))
        if self.built and x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D was built for {self.in_channels} input channels, "
                             f"got {x.shape[1]} (input shape {x.shape})")

    def build(self, x):
        self._create(x.shape[1])

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def get_config(self):
        return {"filters": self.filters, "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "use_bias": self.use_bias, "init": self.init,
                "in_channels": self.in_channels}


class _Pool(Layer):
    def __init__(self, size, stride=None):
        super().__init__()
        self.size = F._pair(size, "size")
        self.stride = self.size if stride is None else F._pair(stride, "stride")
        if min(self.size) < 1 or min(self.stride) < 1:
            raise ValueError(f"{type(self).__name__}: size and stride must be >= 1, "
                             f"got {size} and {stride}")

    def check_input(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects (N, C, H, W), got shape {x.shape}")

    def get_config(self):
        return {"size": list(self.size), "stride": list(self.stride)}


class MaxPool(_Pool):
    """Max over size x size windows (stride defaults to size)."""

    def forward(self, x):
        return F.max_pool2d(x, self.size, self.stride)


class AvgPool(_Pool):
    """Mean over size x size windows (stride defaults to size)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.size, self.stride)


class Flatten(Layer):
    """(N, ...) -> (N, features)."""

    def check_input(self, x):
        if x.ndim < 1:
            raise ValueError("Flatten expects a batch (N, ...), got a scalar")

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class ReLU(Layer):
    def forward(self, x):
        return x.relu()


class Sigmoid(Layer):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Layer):
    def forward(self, x):
        return x.tanh()


class Softmax(Layer):
    """Probabilities over `axis`. For training with CrossEntropy, leave it out: the loss
    applies log-softmax itself, more stably."""

    def __init__(self, axis=-1):
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Softmax: axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def check_input(self, x):
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"Softmax: axis {self.axis} is out of range for input of shape "
                             f"{x.shape}")

    def forward(self, x):
        return F.softmax(x, self.axis)

    def get_config(self):
        return {"axis": self.axis}


class Dropout(Layer):
    """Zeroes a fraction p of activations while training; identity in evaluation."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training, _rng.generator())

    def get_config(self):
        return {"p": self.p}

