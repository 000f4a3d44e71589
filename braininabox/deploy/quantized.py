"""QuantizedModel: an int8 model and its host reference, on the same C kernels as the board.

predict_int8 runs csrc/'s int8 kernels through cffi, op by op: these bytes are what
the embedded runtime must produce, on the host build and on the Cortex-M board.
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from .. import _core
from .._core import ffi, lib
from .arithmetic import quantize_tensor
from .export import export_c
from .memory_plan import plan_memory


@dataclass
class Int8Op:
    """One int8 operation. Shapes are per sample: (C, H, W) for images, (F,) for vectors."""
    kind: str  # conv2d | conv2d_pool | linear | max_pool2d | avg_pool2d | clamp | softmax
    name: str
    in_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]
    in_q: Tuple[float, int]  # (scale, zero_point) of the input
    out_q: Tuple[float, int]
    weights: Optional[np.ndarray] = None  # int8, (out, ...) as the float layer's weight
    bias: Optional[np.ndarray] = None  # int32 (out,)
    multiplier: Optional[np.ndarray] = None  # int32 (out,), Q31
    shift: Optional[np.ndarray] = None  # int32 (out,)
    act_min: int = -128
    act_max: int = 127
    kernel: Tuple[int, int] = (1, 1)
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)
    exp_table: Optional[np.ndarray] = None  # int32 (256,), softmax only
    # conv2d_pool only: the max pooling fused after the conv (and its clamp).
    pool_kernel: Tuple[int, int] = (1, 1)
    pool_stride: Tuple[int, int] = (1, 1)
    weight_scales: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def in_size(self):
        return int(np.prod(self.in_shape))

    @property
    def out_size(self):
        return int(np.prod(self.out_shape))

    @property
    def chw_in(self):
        return tuple(self.in_shape) + (1,) * (3 - len(self.in_shape))

    @property
    def chw_out(self):
        return tuple(self.out_shape) + (1,) * (3 - len(self.out_shape))

    def quant_out(self):
        q = ffi.new("bb_quant_out *")
        q.input_offset = -self.in_q[1]
        q.output_offset = self.out_q[1]
        q.activation_min, q.activation_max = self.act_min, self.act_max
        return q

    def run(self, x):
        """x: int8 (N, in_size) -> int8 (N, out_size), through the C kernel."""
        if x.ndim != 2 or x.shape[1] != self.in_size:
            raise ValueError(f"int8 {self.name} expects (N, {self.in_size}) inputs, got {x.shape}")
        self._check_shapes()
        n = x.shape[0]
        x = np.ascontiguousarray(x, dtype=np.int8)
        y = np.empty((n, self.out_size), dtype=np.int8)
        px, py = ffi.from_buffer("int8_t[]", x), ffi.from_buffer("int8_t[]", y)
        if self.kind in ("conv2d", "conv2d_pool", "linear"):
            args = (self.quant_out(), ffi.from_buffer("int32_t[]", self.multiplier),
                    ffi.from_buffer("int32_t[]", self.shift), px,
                    ffi.from_buffer("int8_t[]", self.weights),
                    ffi.NULL if self.bias is None else ffi.from_buffer("int32_t[]", self.bias), py)
            if self.kind == "conv2d":
                p = _core.conv2d_params((n,) + self.chw_in, self.weights.shape, self.stride,
                                        self.padding)
                status = lib.bb_conv2d_s8(p, *args)
            elif self.kind == "conv2d_pool":
                p = _core.conv2d_params((n,) + self.chw_in, self.weights.shape, self.stride,
                                        self.padding)
                status = lib.bb_conv2d_pool_s8(p, self._pool_window(), *args)
            else:
                status = lib.bb_linear_s8(n, self.in_size, self.out_size, *args)
        elif self.kind in ("max_pool2d", "avg_pool2d"):
            p = _core.pool2d_params((n,) + self.chw_in, self.kernel, self.stride)
            kernel = lib.bb_max_pool2d_s8 if self.kind == "max_pool2d" else lib.bb_avg_pool2d_s8
            status = kernel(p, px, py)
        elif self.kind == "clamp":
            status = lib.bb_clamp_s8(x.size, self.act_min, self.act_max, px, py)
        elif self.kind == "softmax":
            status = lib.bb_softmax_s8(n, self.out_size, ffi.from_buffer("int32_t[]", self.exp_table),
                                       px, py)
        else:
            raise ValueError(f"unknown int8 op kind {self.kind!r}")
        _core.check(status, f"int8 {self.name}")
        return y

    def _pool_window(self):
        pool = ffi.new("bb_pool_window *")
        pool.kernel_height, pool.kernel_width = self.pool_kernel
        pool.stride_height, pool.stride_width = self.pool_stride
        return pool

    def _check_shapes(self):
        """The output the kernel will write must be exactly out_shape (no C overrun)."""
        if self.kind == "conv2d":
            p = _core.conv2d_params((1,) + self.chw_in, self.weights.shape, self.stride, self.padding)
            expected = (self.weights.shape[0],) + _core.conv2d_output_hw(p)
        elif self.kind == "conv2d_pool":
            p = _core.conv2d_params((1,) + self.chw_in, self.weights.shape, self.stride, self.padding)
            conv_hw = _core.conv2d_output_hw(p)
            pool = _core.pool2d_params((1, self.weights.shape[0]) + conv_hw, self.pool_kernel,
                                       self.pool_stride)
            expected = (self.weights.shape[0],) + _core.pool2d_output_hw(pool)
        elif self.kind == "linear":
            if self.weights.shape != (self.out_size, self.in_size):
                raise ValueError(f"int8 {self.name}: weights {self.weights.shape} do not map "
                                 f"{self.in_size} inputs to {self.out_size} outputs")
            expected = (self.out_size,)
        elif self.kind in ("max_pool2d", "avg_pool2d"):
            p = _core.pool2d_params((1,) + self.chw_in, self.kernel, self.stride)
            expected = (self.chw_in[0],) + _core.pool2d_output_hw(p)
        else:
            expected = tuple(self.in_shape)
        if int(np.prod(expected)) != self.out_size:
            raise ValueError(f"int8 {self.name}: out_shape {self.out_shape} but the kernel "
                             f"produces {expected}")
        for name in ("bias", "multiplier", "shift"):
            values = getattr(self, name)
            if values is not None and values.shape != (expected[0],):
                raise ValueError(f"int8 {self.name}: {name} must have {expected[0]} values, "
                                 f"got {values.shape}")
        if self.exp_table is not None and self.exp_table.shape != (256,):
            raise ValueError(f"int8 {self.name}: exp_table must have 256 entries")

    def flash_bytes(self):
        arrays = (self.weights, self.bias, self.multiplier, self.shift, self.exp_table)
        return sum(a.nbytes for a in arrays if a is not None)


class QuantizedModel:
    """An int8 model made by braininabox.quantize(model, calibration_data)."""

    def __init__(self, ops, input_shape, input_q, output_shape):
        self.ops = list(ops)
        self.input_shape = tuple(input_shape)
        self.input_q = input_q
        self.output_shape = tuple(output_shape)

    @property
    def output_q(self):
        return self.ops[-1].out_q

    @property
    def input_size(self):
        return int(np.prod(self.input_shape))

    @property
    def output_size(self):
        return int(np.prod(self.output_shape))

    def quantize_input(self, X):
        """float inputs (N, *input_shape) -> int8 (N, input_size) with the input's scale."""
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape:
            raise ValueError(f"quantized model expects inputs of shape (N, "
                             f"{', '.join(map(str, self.input_shape))}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("inputs contain NaN or infinity")
        return quantize_tensor(X.reshape(len(X), -1), *self.input_q)

    def predict_int8(self, X, batch_size=256):
        """Raw int8 outputs (N, outputs): the bytes the board must reproduce."""
        q = self.quantize_input(X)
        outputs = []
        for start in range(0, len(q), batch_size):
            x = q[start:start + batch_size]
            for op in self.ops:
                x = op.run(x)
            outputs.append(x)
        return np.concatenate(outputs) if outputs else np.empty((0, self.output_size), np.int8)

    def predict(self, X, batch_size=256):
        """Dequantized float outputs (N, outputs)."""
        scale, zero_point = self.output_q
        return (self.predict_int8(X, batch_size).astype(np.float32) - zero_point) * np.float32(scale)

    def memory_plan(self):
        """Where every activation lives in the arena (see braininabox.memory_plan)."""
        return plan_memory(self)

    def export_c(self, path, name="model", ram_budget=128 * 1024):
        """Write a self-contained C header for the embedded runtime (see braininabox.export)."""
        return export_c(self, path, name=name, ram_budget=ram_budget)

    def summary(self, print_fn=print):
        lines = [f"int8 model: input {self.input_shape} scale {self.input_q[0]:.6g} "
                 f"zero point {self.input_q[1]}"]
        for op in self.ops:
            lines.append(f"  {op.name:<36} {str(op.in_shape):>14} -> {str(op.out_shape):<14} "
                         f"scale {op.out_q[0]:.6g} zp {op.out_q[1]:>4}  {op.flash_bytes():>7,} B")
        text = "\n".join(lines)
        print_fn(text)
        return text

    def __repr__(self):
        return f"QuantizedModel({len(self.ops)} int8 ops, input {self.input_shape}, output {self.output_shape})"
