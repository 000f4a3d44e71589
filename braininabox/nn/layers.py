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
from .merge import Add, Concatenate  # noqa: F401 (bb.layers shows them too)
from .tensor import Tensor
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

    def macs(self, output_shape):
        # one weight row per output feature, at every step of a sequence
        return self.weight.size * int(np.prod(output_shape[:-1], dtype=np.int64))

    def get_config(self):
        return {"units": self.units, "use_bias": self.use_bias, "init": self.init,
                "in_features": self.in_features}


def _padding_spec(padding, kernel, stride, layer):
    """A layer's padding: a (height, width) pair, or "same" when it depends on the input size.

    "valid" is (0, 0); "same" at stride 1 with an odd kernel is the symmetric pair
    (kernel // 2), which the int8 deployment path understands; any other "same" stays a
    string, resolved per input by F.padding_amounts (TensorFlow's, extra at bottom/right)."""
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        if stride == (1, 1) and kernel[0] % 2 == 1 and kernel[1] % 2 == 1:
            return (kernel[0] // 2, kernel[1] // 2)
        return "same"
    if isinstance(padding, str):
        raise ValueError(f"{layer}: padding must be 'valid', 'same', an int or a pair, "
                         f"got {padding!r}")
    pad = F._pair(padding, f"{layer}: padding")
    if min(pad) < 0:
        raise ValueError(f"{layer}: padding must be >= 0, got {padding}")
    return pad


def _kernel_and_stride(kernel, stride, layer):
    kernel = F._pair(kernel, f"{layer}: kernel")
    stride = F._pair(stride, f"{layer}: stride")
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{layer}: kernel and stride must be >= 1, got {kernel} and {stride}")
    return kernel, stride


def _check_image_input(layer, x, built_channels):
    if x.ndim != 4:
        got = "(N, " + ", ".join(str(d) for d in x.shape[1:]) + ")" if x.ndim > 1 else str(x.shape)
        raise ValueError(f"{layer} expects (N, C, H, W), got {got}"
                         + ("; for a batch of one-channel images add the channel axis, "
                            "X[:, None]; for one image (C, H, W) add the batch axis, X[None]"
                            if x.ndim == 3 else ""))
    if built_channels is not None and x.shape[1] != built_channels:
        raise ValueError(f"{layer} was built for {built_channels} input channels, "
                         f"got {x.shape[1]} (input shape {x.shape})")


def _conv_macs(weights, output_shape):
    """A convolution's MACs per sample: each output position of each output channel reads
    one weight row (in_channels / groups * kernel values), so weight size * positions."""
    positions = int(np.prod(output_shape[1:], dtype=np.int64))
    return sum(w.size for w in weights) * positions


class Conv2D(Layer):
    """2-D convolution over NCHW input. He-uniform init by default.

    kernel and stride: an int or a (height, width) pair. padding: an int, a pair,
    "valid" (none) or "same" (TensorFlow's: output = ceil(input / stride), the odd row or
    column of padding at the bottom / right).
    """

    def __init__(self, filters, kernel, stride=1, padding=0, use_bias=True, init="he",
                 in_channels=None):
        super().__init__()
        self.filters = _positive_int(filters, "filters", "Conv2D")
        self.kernel, self.stride = _kernel_and_stride(kernel, stride, "Conv2D")
        self.padding = _padding_spec(padding, self.kernel, self.stride, "Conv2D")
        self.use_bias = use_bias
        self.init = _check_init(init, "Conv2D")
        self.in_channels = in_channels
        self.weight = self.bias = None
        if in_channels is not None:
            self._create(in_channels)
            self.built = True

    def _create(self, in_channels):
        self.in_channels = int(in_channels)
        kh, kw = self.kernel
        fan_in = self.in_channels * kh * kw
        self.weight = _init_uniform((self.filters, self.in_channels, kh, kw), fan_in,
                                    self.filters * kh * kw, self.init)
        self.bias = _zeros(self.filters) if self.use_bias else None

    def check_input(self, x):
        _check_image_input("Conv2D", x, self.in_channels if self.built else None)

    def build(self, x):
        self._create(x.shape[1])

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def macs(self, output_shape):
        return _conv_macs([self.weight], output_shape)

    def get_config(self):
        return {"filters": self.filters, "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "use_bias": self.use_bias, "init": self.init, "in_channels": self.in_channels}


class DepthwiseConv2D(Layer):
    """Depthwise 2-D convolution: every input channel filtered by its own depth_multiplier
    kernels (PyTorch's Conv2d with groups = in_channels). He-uniform init by default.

    weight (in_channels * depth_multiplier, 1, kh, kw), bias (in_channels * depth_multiplier,);
    kernel, stride and padding as in Conv2D.
    """

    def __init__(self, kernel, stride=1, padding=0, depth_multiplier=1, use_bias=True,
                 init="he", in_channels=None):
        super().__init__()
        self.kernel, self.stride = _kernel_and_stride(kernel, stride, "DepthwiseConv2D")
        self.padding = _padding_spec(padding, self.kernel, self.stride, "DepthwiseConv2D")
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier",
                                              "DepthwiseConv2D")
        self.use_bias = use_bias
        self.init = _check_init(init, "DepthwiseConv2D")
        self.in_channels = in_channels
        self.weight = self.bias = None
        if in_channels is not None:
            self._create(in_channels)
            self.built = True

    def _create(self, in_channels):
        self.in_channels = int(in_channels)
        kh, kw = self.kernel
        out = self.in_channels * self.depth_multiplier
        self.weight = _init_uniform((out, 1, kh, kw), kh * kw, self.depth_multiplier * kh * kw,
                                    self.init)
        self.bias = _zeros(out) if self.use_bias else None

    def check_input(self, x):
        _check_image_input("DepthwiseConv2D", x, self.in_channels if self.built else None)

    def build(self, x):
        self._create(x.shape[1])

    def forward(self, x):
        return F.depthwise_conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def macs(self, output_shape):
        return _conv_macs([self.weight], output_shape)

    def get_config(self):
        return {"kernel": list(self.kernel), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "depth_multiplier": self.depth_multiplier, "use_bias": self.use_bias,
                "init": self.init, "in_channels": self.in_channels}


class SeparableConv2D(Layer):
    """A depthwise convolution (no bias) followed by a 1x1 convolution to `filters`
    channels (Keras's SeparableConv2D). Its parameters are those of .depthwise (weight)
    and .pointwise (weight, bias), in that order."""

    def __init__(self, filters, kernel, stride=1, padding=0, depth_multiplier=1, use_bias=True,
                 init="he", in_channels=None):
        super().__init__()
        self.filters = _positive_int(filters, "filters", "SeparableConv2D")
        self.depthwise = DepthwiseConv2D(kernel, stride, padding, depth_multiplier,
                                         use_bias=False, init=init, in_channels=in_channels)
        self.pointwise = Conv2D(filters, 1, use_bias=use_bias, init=init,
                                in_channels=None if in_channels is None
                                else in_channels * self.depthwise.depth_multiplier)
        self.built = in_channels is not None

    def check_input(self, x):
        _check_image_input("SeparableConv2D", x,
                           self.depthwise.in_channels if self.built else None)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))

    def parameters(self):
        return self.depthwise.parameters() + self.pointwise.parameters()

    def macs(self, output_shape):
        # the 1x1 convolution runs at the depthwise output's size, which is the output's
        return _conv_macs([self.depthwise.weight, self.pointwise.weight], output_shape)

    def get_config(self):
        d = self.depthwise
        return {"filters": self.filters, "kernel": list(d.kernel), "stride": list(d.stride),
                "padding": d.padding if isinstance(d.padding, str) else list(d.padding),
                "depth_multiplier": d.depth_multiplier, "use_bias": self.pointwise.use_bias,
                "init": d.init, "in_channels": d.in_channels}


class BatchNorm(Layer):
    """Batch normalization with PyTorch's semantics (BatchNorm1d / BatchNorm2d).

    Normalizes each channel over N (input (N, C)) or over N and the spatial axes (input
    (N, C, L) or (N, C, H, W)). In training mode it uses the batch's mean and biased
    variance and updates running_mean and running_var (numpy arrays):
    running = (1 - momentum) * running + momentum * batch, the unbiased variance for
    running_var. In eval mode (and in predict / evaluate) it uses the running statistics.
    .weight (gamma, ones) and .bias (beta, zeros) are trainable Tensors; the running
    statistics are buffers, saved and loaded with the model.
    """

    def __init__(self, momentum=0.1, eps=1e-5, in_channels=None):
        super().__init__()
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.in_channels = in_channels
        self.weight = self.bias = self.running_mean = self.running_var = None
        if in_channels is not None:
            self._create(in_channels)
            self.built = True

    def _create(self, channels):
        self.in_channels = int(channels)
        self.weight = Tensor(np.ones(channels, dtype=np.float32), requires_grad=True)
        self.bias = _zeros(channels)
        self.running_mean = np.zeros(channels, dtype=np.float32)
        self.running_var = np.ones(channels, dtype=np.float32)

    def check_input(self, x):
        if x.ndim not in (2, 3, 4):
            raise ValueError(f"BatchNorm expects (N, C), (N, C, L) or (N, C, H, W), got shape "
                             f"{x.shape}")
        if self.built and x.shape[1] != self.in_channels:
            raise ValueError(f"BatchNorm was built for {self.in_channels} channels, got "
                             f"{x.shape[1]} (input shape {x.shape})")
        if self.training and x.shape[0] * int(np.prod(x.shape[2:])) < 2:
            raise ValueError(f"BatchNorm in training mode needs more than one value per channel, "
                             f"got input shape {x.shape}: use a batch of 2 or more (in fit, a "
                             f"batch_size that leaves no final batch of one sample), or call "
                             f"eval() to use the running statistics")

    def build(self, x):
        self._create(x.shape[1])

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=self.momentum, eps=self.eps)

    def buffers(self):
        if self.running_mean is None:
            return {}
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def load_buffers(self, arrays, where="model file"):
        var = np.asarray(arrays.get("running_var", 0.0))
        if var.dtype.kind in "biuf" and np.any(var < 0):  # a variance: every output NaN
            raise ValueError(f"{where}: BatchNorm.running_var holds negative values (the "
                             f"smallest is {var.min():g}); a variance is >= 0")
        super().load_buffers(arrays, where)

    def get_config(self):
        return {"momentum": self.momentum, "eps": self.eps, "in_channels": self.in_channels}


class GlobalAvgPool(Layer):
    """The mean of each channel's plane: (N, C, H, W) -> (N, C)."""

    def check_input(self, x):
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool expects (N, C, H, W), got shape {x.shape}")

    def forward(self, x):
        return F.global_avg_pool2d(x)


class Conv1D(Layer):
    """1-D convolution over (N, C, L) input (time series, audio): weight (filters, C, kernel).
    padding: an int, "valid" or "same" (TensorFlow's). He-uniform init by default."""

    def __init__(self, filters, kernel, stride=1, padding=0, use_bias=True, init="he",
                 in_channels=None):
        super().__init__()
        self.filters = _positive_int(filters, "filters", "Conv1D")
        self.kernel = _positive_int(kernel, "kernel", "Conv1D")
        self.stride = _positive_int(stride, "stride", "Conv1D")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv1D: padding must be 'valid', 'same' or an int, got {padding!r}")
            self.padding = 0 if padding == "valid" else padding
        elif isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"Conv1D: padding must be 'valid', 'same' or an int >= 0, got {padding!r}")
        else:
            self.padding = int(padding)
        self.use_bias = use_bias
        self.init = _check_init(init, "Conv1D")
        self.in_channels = in_channels
        self.weight = self.bias = None
        if in_channels is not None:
            self._create(in_channels)
            self.built = True

    def _create(self, in_channels):
        self.in_channels = int(in_channels)
        k = self.kernel
        self.weight = _init_uniform((self.filters, self.in_channels, k), self.in_channels * k,
                                    self.filters * k, self.init)
        self.bias = _zeros(self.filters) if self.use_bias else None

    def check_input(self, x):
        if x.ndim != 3:
            raise ValueError(f"Conv1D expects (N, C, L), got shape {x.shape}"
                             + ("; add a channel axis, e.g. X[:, None]" if x.ndim == 2 else ""))
        if self.built and x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1D was built for {self.in_channels} input channels, "
                             f"got {x.shape[1]} (input shape {x.shape})")

    def build(self, x):
        self._create(x.shape[1])

    def forward(self, x):
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding)

    def macs(self, output_shape):
        return _conv_macs([self.weight], output_shape)

    def get_config(self):
        return {"filters": self.filters, "kernel": self.kernel, "stride": self.stride,
                "padding": self.padding, "use_bias": self.use_bias, "init": self.init,
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
    """Max over size windows (an int or a (height, width) pair; stride defaults to size)."""

    def forward(self, x):
        return F.max_pool2d(x, self.size, self.stride)


class AvgPool(_Pool):
    """Mean over size windows (an int or a (height, width) pair; stride defaults to size)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.size, self.stride)


class _Pool1D(Layer):
    def __init__(self, size, stride=None):
        super().__init__()
        name = type(self).__name__
        self.size = _positive_int(size, "size", name)
        self.stride = self.size if stride is None else _positive_int(stride, "stride", name)

    def check_input(self, x):
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} expects (N, C, L), got shape {x.shape}")

    def get_config(self):
        return {"size": self.size, "stride": self.stride}


class MaxPool1D(_Pool1D):
    """Max over windows of `size` steps of (N, C, L) input (stride defaults to size)."""

    def forward(self, x):
        return F.max_pool1d(x, self.size, self.stride)


class AvgPool1D(_Pool1D):
    """Mean over windows of `size` steps of (N, C, L) input (stride defaults to size)."""

    def forward(self, x):
        return F.avg_pool1d(x, self.size, self.stride)


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


class ReLU6(Layer):
    """min(max(x, 0), 6) (MobileNet's activation)."""

    def forward(self, x):
        return F.relu6(x)


class LeakyReLU(Layer):
    """x where x > 0, else alpha * x."""

    def __init__(self, alpha=0.01):
        super().__init__()
        if not np.isfinite(alpha):
            raise ValueError(f"LeakyReLU: alpha must be a finite number, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x):
        return F.leaky_relu(x, self.alpha)

    def get_config(self):
        return {"alpha": self.alpha}


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

