"""TFLite's int8 arithmetic on the Python side: rounding, Q31 multipliers, per-tensor
activation parameters and float -> int8 conversion (the C side is csrc/bb_requantize.h)."""
import math

import numpy as np


def round_half_away(x):
    """Round to nearest, ties away from zero (C's round(), TFLite's choice), as int64."""
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def quantize_multiplier(real):
    """(multiplier, shift) with real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real <= 0:
        return 0, 0
    mantissa, exponent = math.frexp(real)  # real = mantissa * 2^exponent, mantissa in [0.5, 1)
    multiplier = int(round_half_away(mantissa * (1 << 31)))
    if multiplier == 1 << 31:  # mantissa rounded up to 1.0
        multiplier //= 2
        exponent += 1
    if exponent < -31:  # too small to represent: the layer's output is a constant
        return 0, 0
    if exponent > 30:
        raise ValueError(f"requantization multiplier {real:g} is too large for int8 "
                         f"(the layer's output range is tiny compared with its input's)")
    return multiplier, exponent


def activation_qparams(lo, hi):
    """(scale, zero_point) mapping [lo, hi] (widened to include 0) onto int8 [-128, 127]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return 1.0, 0  # a constant-zero tensor: any scale represents it exactly
    scale = float(np.float32((hi - lo) / 255.0))
    zero_point = int(np.clip(round_half_away(-128 - lo / scale), -128, 127))
    return scale, zero_point


def quantize_tensor(x, scale, zero_point):
    """float -> int8 with the given per-tensor parameters."""
    # Clip in float first: past int64's range the cast wraps (to INT64_MIN), which would
    # saturate a huge positive input to -128. The bounds lie one step past both ends, so
    # every value that rounds into [-128, 127] is untouched.
    real = np.clip(np.asarray(x, dtype=np.float64) / scale, -129 - zero_point, 128 - zero_point)
    q = round_half_away(real) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)
