"""The int8 ops: one class per op kind, the one Python place that knows an op.

Each class says
- how it is built: from one float layer alone (`layer`, `from_layers`; quantize.py
  reads them from the table OPS), or, for the weighted ops, from the arrays of a stage
  (`from_arrays`: the weights with any BatchNorm folded in, the fused activation),
- its output shape for an input shape (`output_shape`) and whether its output may be its
  input's bytes (`in_place`; the memory plan reads it),
- the working memory its kernel needs (`scratch_bytes`: a kernel that needs some has a
  bb_<op>_s8_scratch_size function in csrc/, asked through cffi: the MFCC front end),
- the C fields it exports: its bb_op_kind (`c_kind`), its member of bb_op_params in
  embedded/bb_model.h (`params_member`, `c_params`) and its constant arrays in data-slot
  order (`data_arrays`). runtime.py turns these into the bb_model the host runs and
  export.py writes, so the two are the same struct by construction.
Shapes are per sample: (C, H, W) for images, (F,) for vectors. The C runtime checks every
field again at init (lengths, shapes, ranges): these classes are the description, the
runtime is the guard.
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from .._core import ffi, lib
from ..nn.layers import AvgPool, GlobalAvgPool, LeakyReLU, MaxPool, ReLU, Softmax
from .arithmetic import quantize_multiplier, round_half_away

INT32_MAX = 2**31 - 1
EXP_TABLE_ONE = 1 << 20  # exp(0) in the softmax table's fixed point
# |x - input zero point| <= 255: the factor of sum|w| in the accumulator bound
# (csrc/bb_accumulate_s8.c, which the runtime checks at init).
ACCUMULATOR_INPUT_MAX = 255


def chw(shape):
    """(C, H, W) of a per-sample shape; a vector of F features is (F, 1, 1)."""
    return tuple(int(s) for s in shape) + (1,) * (3 - len(shape))


def pads4(padding):
    """(top, bottom, left, right) of a symmetric (height, width) pair or of a 4-tuple
    (TensorFlow's "same" may pad the bottom / right one more)."""
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return padding


def window(kernel, stride, padding=(0, 0)):
    """A bb_s8_window initializer; padding a (height, width) pair or (top, bottom, left, right)."""
    top, bottom, left, right = pads4(padding)
    return {"kernel_height": int(kernel[0]), "kernel_width": int(kernel[1]),
            "stride_height": int(stride[0]), "stride_width": int(stride[1]),
            "pad_top": top, "pad_left": left, "pad_bottom": bottom, "pad_right": right}


def window_count(size, kernel, stride, pad, pad_after=None):
    pad_after = pad if pad_after is None else pad_after
    return (size + pad + pad_after - kernel) // stride + 1


def window_output(in_shape, kernel, stride, padding):
    """(out_height, out_width) of a window over a (C, H, W) input."""
    _, h, w = chw(in_shape)
    top, bottom, left, right = pads4(padding)
    return (window_count(h, kernel[0], stride[0], top, bottom),
            window_count(w, kernel[1], stride[1], left, right))


def clamp_range(out_q, activation):
    """The int8 clamp of a fused activation (None, "relu" or "relu6") at the output's scale."""
    scale, zero_point = out_q
    if activation is None:
        return -128, 127
    if activation == "relu":
        return zero_point, 127
    if activation == "relu6":
        return zero_point, int(min(127, zero_point + round_half_away(6.0 / scale)))
    raise ValueError(f"unknown fused activation {activation!r}")


def _dims(shape):
    c, h, w = chw(shape)
    return ffi.new("bb_s8_dims *", {"batch": 1, "channels": c, "height": h, "width": w})


@dataclass
class Int8Op:
    """One int8 operation; the subclasses below are the kinds."""
    name: str
    in_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]
    in_q: Tuple[float, int]  # (scale, zero_point) of the input
    out_q: Tuple[float, int]

    kind = None  # the name used in summaries and tests
    c_kind = None  # the bb_op_kind, a lib.BB_OP_* value
    params_member = None  # its member of bb_op_params, or None
    layer = None  # the float layer class a stage of that layer alone becomes, or None
    in_place = False

    def runs_in_place(self):
        """Whether this op's output may be its first input's bytes (when that input dies here)."""
        return self.in_place

    @property
    def in_size(self):
        return int(np.prod(self.in_shape))

    @property
    def out_size(self):
        return int(np.prod(self.out_shape))

    @property
    def chw_in(self):
        return chw(self.in_shape)

    @property
    def chw_out(self):
        return chw(self.out_shape)

    def output_shape(self, in_shape):
        """The per-sample output shape for in_shape (the kernel's own arithmetic)."""
        return tuple(in_shape)

    def scratch_bytes(self):
        return 0

    def c_params(self):
        """The initializer of this kind's bb_op_params member (a dict), or None."""
        return None

    def data_arrays(self):
        """(field, array or None, dtype) in the op's data-slot order."""
        return []

    def flash_bytes(self):
        return sum(a.nbytes for _, a, _ in self.data_arrays() if a is not None)

    def quant_out(self, act_min, act_max):
        return {"input_offset": -int(self.in_q[1]), "output_offset": int(self.out_q[1]),
                "activation_min": int(act_min), "activation_max": int(act_max)}


@dataclass
class _WeightedOp(Int8Op):
    """Conv2D or Linear: per-channel int8 weights, int32 bias, Q31 requantization."""
    weights: Optional[np.ndarray] = None  # int8, (out, ...) as the float layer's weight
    bias: Optional[np.ndarray] = None  # int32 (out,)
    multiplier: Optional[np.ndarray] = None  # int32 (out,), Q31
    shift: Optional[np.ndarray] = None  # int32 (out,)
    act_min: int = -128
    act_max: int = 127
    weight_scales: Optional[np.ndarray] = field(default=None, repr=False)

    def data_arrays(self):
        return [("weights", self.weights, np.int8), ("bias", self.bias, np.int32),
                ("multiplier", self.multiplier, np.int32), ("shift", self.shift, np.int32)]

    @classmethod
    def from_arrays(cls, name, weight, bias, in_shape, out_shape, in_q, out_q, activation, **extra):
        """TFLite's scheme: symmetric per-channel weights, bias at input_scale * weight_scale.

        A weight scale is raised where needed so that |bias| + 255 * sum|w| < 2^31 holds for
        every channel: the int32 accumulators of the kernels then cannot overflow (the
        runtime refuses any model where it fails). A bias too large for int32 at the plain
        scale (a tiny weight beside a huge bias) thus costs weight precision, not a wrong
        sign; a layer where even that cannot work is refused by name."""
        weight = np.asarray(weight, dtype=np.float64)
        channels = weight.shape[0]
        flat = weight.reshape(channels, -1)
        taps = flat.shape[1]
        w_scale = np.abs(flat).max(axis=1) / 127.0
        w_scale = np.where(w_scale > 0, w_scale, 1.0)
        bias_real = None if bias is None else np.asarray(bias, dtype=np.float64)
        if bias_real is not None:
            headroom = INT32_MAX - ACCUMULATOR_INPUT_MAX * 127 * taps
            if headroom <= 0:
                raise ValueError(f"quantize: {name} has {taps} weights per output; the int32 "
                                 f"accumulator cannot hold them for every input")
            # |bias| / (in_scale * w_scale) <= headroom, with 1 % to spare for rounding.
            w_scale = np.maximum(w_scale, np.abs(bias_real) / (in_q[0] * headroom) * 1.01)
        w_scale = w_scale.astype(np.float32).astype(np.float64)
        weights = np.clip(round_half_away(flat / w_scale[:, None]), -127, 127).astype(np.int8)
        bias = None
        if bias_real is not None:
            bias = round_half_away(bias_real / (in_q[0] * w_scale))
            bound = np.abs(bias) + ACCUMULATOR_INPUT_MAX * np.abs(weights.astype(np.int64)).sum(axis=1)
            if bound.max() > INT32_MAX:
                raise ValueError(f"quantize: {name}: its bias does not fit the int32 accumulator "
                                 f"(channel {int(bound.argmax())})")
            bias = bias.astype(np.int32)
        pairs = [quantize_multiplier(in_q[0] * s / out_q[0]) for s in w_scale]
        act_min, act_max = clamp_range(out_q, activation)
        return cls(name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q, out_q=out_q,
                   weights=weights.reshape(weight.shape), bias=bias,
                   multiplier=np.array([m for m, _ in pairs], dtype=np.int32),
                   shift=np.array([s for _, s in pairs], dtype=np.int32),
                   act_min=act_min, act_max=act_max, weight_scales=w_scale, **extra)


@dataclass
class Conv2DOp(_WeightedOp):
    kernel: Tuple[int, int] = (1, 1)
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)

    kind = "conv2d"
    c_kind = lib.BB_OP_CONV2D
    params_member = "conv"

    def output_shape(self, in_shape):
        return (int(self.weights.shape[0]),) + window_output(in_shape, self.kernel, self.stride,
                                                             self.padding)

    def c_params(self):
        return {"quant": self.quant_out(self.act_min, self.act_max),
                "conv": window(self.kernel, self.stride, self.padding)}


@dataclass
class Conv2DPoolOp(Conv2DOp):
    """Conv2D (+ ReLU) + MaxPool in one kernel that never stores the conv output (made by
    quantize's fusion, not from one layer)."""
    pool_kernel: Tuple[int, int] = (1, 1)
    pool_stride: Tuple[int, int] = (1, 1)

    kind = "conv2d_pool"
    c_kind = lib.BB_OP_CONV2D_POOL
    params_member = "conv_pool"
    layer = None

    @classmethod
    def fuse(cls, conv, pool):
        """conv (a Conv2DOp) followed by pool (a MaxPool2DOp) as one op."""
        fields = {f: getattr(conv, f) for f in conv.__dataclass_fields__}
        fields.update(name=f"{conv.name} + {pool.name}", out_shape=pool.out_shape,
                      pool_kernel=tuple(pool.kernel), pool_stride=tuple(pool.stride))
        return cls(**fields)

    def output_shape(self, in_shape):
        c, h, w = super().output_shape(in_shape)
        return (c, window_count(h, self.pool_kernel[0], self.pool_stride[0], 0),
                window_count(w, self.pool_kernel[1], self.pool_stride[1], 0))

    def c_params(self):
        params = super().c_params()
        params["pool"] = window(self.pool_kernel, self.pool_stride)
        return params


@dataclass
class LinearOp(_WeightedOp):
    kind = "linear"
    c_kind = lib.BB_OP_LINEAR
    params_member = "linear"

    def output_shape(self, in_shape):
        return (int(self.weights.shape[0]),)

    def c_params(self):
        return {"quant": self.quant_out(self.act_min, self.act_max)}


@dataclass
class _PoolOp(Int8Op):
    kernel: Tuple[int, int] = (1, 1)
    stride: Tuple[int, int] = (1, 1)

    params_member = "pool"

    @classmethod
    def from_layers(cls, layers, name, in_shape, out_shape, in_q, out_q):
        return cls(name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q, out_q=in_q,
                   kernel=tuple(layers[0].size), stride=tuple(layers[0].stride))

    def output_shape(self, in_shape):
        c, h, w = chw(in_shape)
        return (c, window_count(h, self.kernel[0], self.stride[0], 0),
                window_count(w, self.kernel[1], self.stride[1], 0))

    def c_params(self):
        return {"pool": window(self.kernel, self.stride)}


@dataclass
class MaxPool2DOp(_PoolOp):
    kind = "max_pool2d"
    c_kind = lib.BB_OP_MAX_POOL2D
    layer = MaxPool


@dataclass
class AvgPool2DOp(_PoolOp):
    kind = "avg_pool2d"
    c_kind = lib.BB_OP_AVG_POOL2D
    layer = AvgPool


@dataclass
class ClampOp(Int8Op):
    """A ReLU that could not be fused into the layer before it."""
    act_min: int = -128
    act_max: int = 127

    kind = "clamp"
    c_kind = lib.BB_OP_CLAMP
    params_member = "clamp"
    layer = ReLU
    in_place = True

    @classmethod
    def from_layers(cls, layers, name, in_shape, out_shape, in_q, out_q):
        return cls(name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q, out_q=in_q,
                   act_min=in_q[1], act_max=127)

    def c_params(self):
        return {"activation_min": int(self.act_min), "activation_max": int(self.act_max)}


@dataclass
class SoftmaxOp(Int8Op):
    """Output scale 1/256, zero point -128; exp_table[d] = round(2^20 exp(-d * input_scale))."""
    exp_table: Optional[np.ndarray] = None  # int32 (256,)

    kind = "softmax"
    c_kind = lib.BB_OP_SOFTMAX
    layer = Softmax
    # The kernel could run in place (the runtime's table allows it), but the plan gives
    # the few output bytes their own buffer, as format 2 did: a chain's peak is elsewhere.
    in_place = False

    @classmethod
    def from_layers(cls, layers, name, in_shape, out_shape, in_q, out_q):
        if len(in_shape) != 1:
            raise ValueError(f"quantize: {name} gets per-sample shape {in_shape}; int8 softmax "
                             f"runs over a feature vector (put a Flatten before it)")
        axis = layers[0].axis
        if axis not in (-1, 1):
            raise ValueError(f"quantize: {name} normalizes over axis {axis}; int8 softmax runs "
                             f"over the class axis only (axis=-1 or 1)")
        distances = np.arange(256, dtype=np.float64) * in_q[0]
        table = round_half_away(EXP_TABLE_ONE * np.exp(-distances)).astype(np.int32)
        return cls(name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q,
                   out_q=(1.0 / 256.0, -128), exp_table=table)

    def data_arrays(self):
        return [("exp_table", self.exp_table, np.int32)]


@dataclass
class DepthwiseConv2DOp(_WeightedOp):
    """Depthwise conv (TFLite's, per channel); weights (C * multiplier, 1, kh, kw).
    padding (top, bottom, left, right): TensorFlow's "same" at stride 2 pads one more at
    the bottom / right."""
    kernel: Tuple[int, int] = (1, 1)
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, ...] = (0, 0, 0, 0)
    depth_multiplier: int = 1

    kind = "depthwise_conv2d"
    c_kind = lib.BB_OP_DEPTHWISE_CONV2D
    params_member = "depthwise"

    def output_shape(self, in_shape):
        return (int(self.weights.shape[0]),) + window_output(in_shape, self.kernel, self.stride,
                                                             self.padding)

    def runs_in_place(self):
        # the kernel's row ring lets it overwrite its input when each output channel is
        # its input channel's plane at the same size
        return self.depth_multiplier == 1 and chw(self.out_shape)[1:] == chw(self.in_shape)[1:]

    def scratch_bytes(self):
        conv = ffi.new("bb_s8_window *", window(self.kernel, self.stride, self.padding))
        return int(lib.bb_depthwise_conv2d_s8_scratch_size(_dims(self.in_shape), conv))

    def c_params(self):
        return {"quant": self.quant_out(self.act_min, self.act_max),
                "conv": window(self.kernel, self.stride, self.padding),
                "depth_multiplier": int(self.depth_multiplier)}


@dataclass
class Conv2DGemmOp(Conv2DOp):
    """A Conv2D computed as bands of im2col columns times the 1x1 kernel (the same integers
    as conv2d, far fewer instructions per MAC; csrc/bb_conv2d_gemm_s8.c), with scratch.
    padding: a (height, width) pair or (top, bottom, left, right)."""
    kind = "conv2d_gemm"
    c_kind = lib.BB_OP_CONV2D_GEMM
    layer = None

    def scratch_bytes(self):
        conv = ffi.new("bb_s8_window *", window(self.kernel, self.stride, self.padding))
        return int(lib.bb_conv2d_gemm_s8_scratch_size(_dims(self.in_shape), int(self.weights.shape[0]),
                                                      conv))


@dataclass
class PointwiseConv2DOp(_WeightedOp):
    """A 1x1 conv of stride 1 without padding: a matrix product per image (the GEMM-like
    kernel of csrc/bb_pointwise_conv2d_s8.c); weights (out, in, 1, 1)."""
    kind = "pointwise_conv2d"
    c_kind = lib.BB_OP_POINTWISE_CONV2D
    params_member = "pointwise"

    def output_shape(self, in_shape):
        _, h, w = chw(in_shape)
        return (int(self.weights.shape[0]), h, w)

    def scratch_bytes(self):
        return int(lib.bb_pointwise_conv2d_s8_scratch_size(_dims(self.in_shape),
                                                          int(self.weights.shape[0])))

    def c_params(self):
        return {"quant": self.quant_out(self.act_min, self.act_max)}


@dataclass
class AddOp(Int8Op):
    """TFLite's int8 Add: both inputs shifted left 20 bits and scaled to twice the larger
    input scale, summed, then requantized to the output's own scale (+ fused ReLU)."""
    in2_q: Tuple[float, int] = (1.0, 0)
    act_min: int = -128
    act_max: int = 127

    kind = "add"
    c_kind = lib.BB_OP_ADD
    params_member = "add"
    in_place = True

    @classmethod
    def from_quant(cls, name, shape, in_q, in2_q, out_q, activation):
        act_min, act_max = clamp_range(out_q, activation)
        return cls(name=name, in_shape=shape, out_shape=shape, in_q=in_q, out_q=out_q,
                   in2_q=in2_q, act_min=act_min, act_max=act_max)

    def scratch_bytes(self):
        return int(lib.bb_add_s8_scratch_size(self.out_size))

    def c_params(self):
        twice_max = 2.0 * max(self.in_q[0], self.in2_q[0])
        m1, s1 = quantize_multiplier(self.in_q[0] / twice_max)
        m2, s2 = quantize_multiplier(self.in2_q[0] / twice_max)
        mo, so = quantize_multiplier(twice_max / ((1 << 20) * self.out_q[0]))
        return {"input1_offset": -int(self.in_q[1]), "input1_multiplier": m1, "input1_shift": s1,
                "input2_offset": -int(self.in2_q[1]), "input2_multiplier": m2, "input2_shift": s2,
                "output_offset": int(self.out_q[1]), "output_multiplier": mo, "output_shift": so,
                "activation_min": int(self.act_min), "activation_max": int(self.act_max)}


@dataclass
class LeakyReLUOp(Int8Op):
    """TFLite's int8 LeakyRelu: the centred input requantized by input_scale / output_scale
    where it is >= 0, by alpha * input_scale / output_scale below; its own output scale."""
    alpha: float = 0.01

    kind = "leaky_relu"
    c_kind = lib.BB_OP_LEAKY_RELU
    params_member = "leaky_relu"
    layer = LeakyReLU
    in_place = True

    @classmethod
    def from_layers(cls, layers, name, in_shape, out_shape, in_q, out_q):
        alpha = layers[0].alpha
        if alpha < 0:
            raise ValueError(f"quantize: {name} has alpha {alpha}; int8 LeakyReLU takes alpha "
                             f">= 0 (its multipliers are non-negative)")
        return cls(name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q, out_q=out_q,
                   alpha=float(alpha))

    def c_params(self):
        ratio = self.in_q[0] / self.out_q[0]
        mi, si = quantize_multiplier(ratio)
        ma, sa = quantize_multiplier(self.alpha * ratio)
        return {"input_offset": -int(self.in_q[1]), "output_offset": int(self.out_q[1]),
                "identity_multiplier": mi, "identity_shift": si,
                "alpha_multiplier": ma, "alpha_shift": sa}


@dataclass
class GlobalAvgPoolOp(Int8Op):
    """TFLite's int8 Mean over height and width: (C, H, W) -> (C,)."""
    kind = "global_avg_pool"
    c_kind = lib.BB_OP_GLOBAL_AVG_POOL
    params_member = "global_avg_pool"
    layer = GlobalAvgPool

    @classmethod
    def from_layers(cls, layers, name, in_shape, out_shape, in_q, out_q):
        return cls(name=name, in_shape=in_shape, out_shape=out_shape, in_q=in_q, out_q=out_q)

    def output_shape(self, in_shape):
        return (chw(in_shape)[0],)

    def c_params(self):
        multiplier, shift = quantize_multiplier(self.in_q[0] / self.out_q[0])
        return {"quant": self.quant_out(-128, 127), "multiplier": multiplier, "shift": shift}


@dataclass
class ConcatOp(Int8Op):
    """Channel concatenation (of (C, H, W), (C, L) or (F,) inputs: the same bytes); every input requantized to the output's scale (an input
    already at it is copied)."""
    in_qs: Tuple = ()
    in_shapes: Tuple = ()

    kind = "concat"
    c_kind = lib.BB_OP_CONCAT
    params_member = "concat"

    def output_shape(self, in_shape):
        c = sum(chw(s)[0] for s in self.in_shapes)
        return (c,) + tuple(in_shape)[1:]  # (F,), (C, L) or (C, H, W), as its inputs

    def c_params(self):
        rescale = []
        for scale, zero_point in self.in_qs:
            multiplier, shift = quantize_multiplier(scale / self.out_q[0])
            rescale.append({"input_offset": -int(zero_point), "multiplier": multiplier, "shift": shift})
        rescale += [{"input_offset": 0, "multiplier": 0, "shift": 0}] * (4 - len(rescale))
        return {"output_offset": int(self.out_q[1]), "inputs": rescale}


@dataclass
class MFCCOp(Int8Op):
    """The audio front end (csrc/bb_audio.h) as a model's first op: int16 PCM in, the int8
    (1, 49, 10) MFCC map out. Its input is the PCM's bytes (in_shape (2 * samples,),
    little-endian; in_q (1.0, 0): the samples as they are); its output quantization is
    the front end's fixed one, as bb.audio.MFCC.to_float reads it (made by quantize's
    `frontend`, not from a layer)."""
    sample_rate: int = 8000

    kind = "mfcc"
    c_kind = lib.BB_OP_MFCC
    params_member = "mfcc"
    layer = None

    @classmethod
    def of(cls, frontend, out_q):
        """The op of a bb.audio.MFCC front end whose features mean out_q (scale, zero point)."""
        samples = frontend.window_samples
        return cls(name=f"front end (MFCC, {frontend.sample_rate} Hz)", in_shape=(2 * samples,),
                   out_shape=(1,) + tuple(frontend.shape), in_q=(1.0, 0), out_q=out_q,
                   sample_rate=frontend.sample_rate)

    def output_shape(self, in_shape):
        return (1, int(lib.BB_MFCC_FRAMES), int(lib.BB_MFCC_COEFFICIENTS))

    def scratch_bytes(self):
        return int(lib.bb_mfcc_s8_scratch_size(self.sample_rate))

    def c_params(self):
        return {"sample_rate": int(self.sample_rate)}


def _chain_stage(op):
    """The bb_chain_stage initializer of a depthwise, pointwise or conv op."""
    if isinstance(op, DepthwiseConv2DOp):
        if op.depth_multiplier != 1:
            raise ValueError(f"band chain: {op.name} has depth multiplier {op.depth_multiplier}; "
                             f"a chain's depthwise stage has 1")
        kind, conv = lib.BB_STAGE_DEPTHWISE, window(op.kernel, op.stride, op.padding)
    elif isinstance(op, PointwiseConv2DOp):
        kind, conv = lib.BB_STAGE_POINTWISE, window((1, 1), (1, 1))
    elif isinstance(op, Conv2DOp) and not isinstance(op, Conv2DPoolOp):
        kind, conv = lib.BB_STAGE_CONV, window(op.kernel, op.stride, op.padding)
    else:
        raise ValueError(f"band chain: {op.name} is a {op.kind}; a chain's stages are "
                         f"depthwise, pointwise or conv2d ops")
    return {"type": kind, "out_channels": int(op.weights.shape[0]),
            "quant": op.quant_out(op.act_min, op.act_max), "conv": conv}


@dataclass
class BandChainOp(Int8Op):
    """Consecutive convolutions (depthwise, pointwise, a first conv) computed in bands of
    `band_rows` output rows, each intermediate kept only as the rows still needed
    (csrc/bb_band_chain_s8.h): the same bytes as its stages run one after another, with
    none of the intermediates whole (made by the memory planner's streaming, not from a
    layer). In place when every stage keeps the shape (and none is a conv)."""
    stages: Tuple = ()
    band_rows: int = 1

    kind = "band_chain"
    c_kind = lib.BB_OP_BAND_CHAIN
    params_member = "band_chain"
    layer = None

    @classmethod
    def of(cls, stages, band_rows):
        stages = tuple(stages)
        if not 1 <= len(stages) <= lib.BB_CHAIN_MAX_STAGES:
            raise ValueError(f"band chain: {len(stages)} stages; a chain has 1 to "
                             f"{lib.BB_CHAIN_MAX_STAGES}")
        for s in stages:
            _chain_stage(s)  # refuses a stage the chain cannot run
        return cls(name=" -> ".join(s.name for s in stages), in_shape=stages[0].in_shape,
                   out_shape=stages[-1].out_shape, in_q=stages[0].in_q, out_q=stages[-1].out_q,
                   stages=stages, band_rows=int(band_rows))

    def _c_stages(self):
        return ffi.new("bb_chain_stage[]", [_chain_stage(s) for s in self.stages])

    def output_shape(self, in_shape):
        shape = tuple(in_shape)
        for s in self.stages:
            shape = s.output_shape(shape)
        return shape

    def runs_in_place(self):
        return bool(lib.bb_band_chain_s8_in_place_ok(_dims(self.in_shape), len(self.stages),
                                                     self._c_stages()))

    def scratch_bytes(self):
        need = int(lib.bb_band_chain_s8_scratch_size(_dims(self.in_shape), len(self.stages),
                                                     self._c_stages(), self.band_rows))
        if need == 0:
            raise ValueError(f"band chain {self.name}: the C kernel refuses it with "
                             f"{self.band_rows} rows per band")
        return need

    def c_params(self):
        stages = [_chain_stage(s) for s in self.stages]
        return {"stage_count": len(stages), "band_rows": self.band_rows, "stages": stages}

    def data_arrays(self):
        return [(f"stage {k} {field}", values, dtype) for k, s in enumerate(self.stages)
                for field, values, dtype in s.data_arrays()]


# The table every deploy module reads: op kind -> class.
OPS = {cls.kind: cls for cls in (Conv2DOp, Conv2DPoolOp, LinearOp, MaxPool2DOp, AvgPool2DOp,
                                 ClampOp, SoftmaxOp, DepthwiseConv2DOp, PointwiseConv2DOp, AddOp, Conv2DGemmOp,
                                 GlobalAvgPoolOp, ConcatOp, LeakyReLUOp, MFCCOp,
                                 BandChainOp)}


def int8_op(kind, **fields):
    """An op of `kind` (a key of OPS) with the given fields."""
    if kind not in OPS:
        raise ValueError(f"unknown int8 op kind {kind!r}; known: {', '.join(OPS)}")
    return OPS[kind](**fields)
