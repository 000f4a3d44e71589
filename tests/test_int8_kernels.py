"""The int8 kernels (csrc/*_s8.c, csrc/bb_requantize.c) against plain numpy integer references.

Everything here is integer arithmetic in int64 (or exact Python ints): the C kernels
must match bit for bit. The references are written from TensorFlow Lite's definitions
(SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier)
and, independently, from closed forms of the same roundings; both must agree with C.

test_quantize.py imports the ref_* functions to re-run whole quantized models.
"""
import numpy as np
import pytest

from braininabox import _core
from braininabox._core import KernelError, ffi, lib
from braininabox.deploy.ops import int8_op
from braininabox.deploy.quantized import QuantizedModel

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


# ---------------------------------------------------------------- references
def ref_srdhm(a, b):
    """TFLite's SaturatingRoundingDoublingHighMul, vectorized in int64."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b  # |ab| <= 2^62
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    s = ab + nudge
    q = np.sign(s) * (np.abs(s) // np.int64(1 << 31))  # C division truncates toward zero
    return np.where(overflow, np.int64(INT32_MAX), q)


def ref_rdbpot(x, exponent):
    """TFLite's RoundingDivideByPOT (mask / threshold rule), vectorized in int64."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def ref_requantize(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier with the left shift saturated to int32 (bb_requantize.h)."""
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = np.clip(x * (np.int64(1) << left), INT32_MIN, INT32_MAX)  # |x| 2^left <= 2^61
    return ref_rdbpot(ref_srdhm(shifted, multiplier), right)


def exact_requantize(x, multiplier, shift):
    """The same value from closed forms, in exact Python ints: the doubling high multiply
    is floor(x m / 2^31 + 1/2) (half towards +infinity), the divide by 2^right rounds
    half away from zero."""
    x, multiplier, shift = int(x), int(multiplier), int(shift)
    if shift > 0:
        x = max(INT32_MIN, min(INT32_MAX, x * 2**shift))
    if x == INT32_MIN and multiplier == INT32_MIN:
        y = INT32_MAX
    else:
        y = (x * multiplier + 2**30) >> 31  # Python >> is floor division
    right = max(-shift, 0)
    if right:
        sign = -1 if y < 0 else 1
        y = sign * ((abs(y) + 2 ** (right - 1)) >> right)
    return y


def ref_conv2d_s8(x, w, bias, multiplier, shift, in_zp, out_zp, act_min, act_max, stride, padding):
    """x int8 (N, C, H, W), w int8 (O, C, KH, KW) -> int8 (N, O, OH, OW)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    # x + input_offset; padding is real 0, i.e. the zero point, i.e. 0 after the offset
    xp = np.pad(x.astype(np.int64) - in_zp, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    acc = np.zeros((n, o, oh, ow), dtype=np.int64)
    w64 = w.astype(np.int64)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
            acc += np.einsum("nchw,oc->nohw", patch, w64[:, :, ky, kx])
    if bias is not None:
        acc += np.asarray(bias, dtype=np.int64)[None, :, None, None]
    assert acc.min() >= INT32_MIN and acc.max() <= INT32_MAX, "test bug: accumulator overflows int32"
    r = ref_requantize(acc, np.asarray(multiplier)[None, :, None, None],
                       np.asarray(shift)[None, :, None, None])
    return np.clip(r + out_zp, act_min, act_max).astype(np.int8)


def ref_linear_s8(x, w, bias, multiplier, shift, in_zp, out_zp, act_min, act_max):
    """x int8 (N, I), w int8 (O, I) -> int8 (N, O)."""
    acc = (x.astype(np.int64) - in_zp) @ w.astype(np.int64).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)[None, :]
    assert acc.min() >= INT32_MIN and acc.max() <= INT32_MAX, "test bug: accumulator overflows int32"
    r = ref_requantize(acc, np.asarray(multiplier)[None, :], np.asarray(shift)[None, :])
    return np.clip(r + out_zp, act_min, act_max).astype(np.int8)


def _windows(x, kernel, stride):
    """(N, C, OH, OW, KH*KW) int64 windows of x (N, C, H, W), no padding."""
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, oh, ow, kh * kw), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            out[..., ky * kw + kx] = x[:, :, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
    return out


def ref_max_pool2d_s8(x, kernel, stride):
    return _windows(x, kernel, stride).max(axis=-1).astype(np.int8)


def ref_avg_pool2d_s8(x, kernel, stride):
    """Mean rounded half away from zero: sign(s) * floor(|s| / count + 1/2)."""
    s = _windows(x, kernel, stride).sum(axis=-1)
    count = kernel[0] * kernel[1]
    return (np.sign(s) * ((2 * np.abs(s) + count) // (2 * count))).astype(np.int8)


def ref_softmax_s8(x, exp_table):
    """x int8 (rows, cols): -128 + round(256 e / sum e) (ties up), clamped to 127."""
    x = x.astype(np.int64)
    table = np.asarray(exp_table, dtype=np.int64)
    e = table[x.max(axis=1, keepdims=True) - x]
    total = e.sum(axis=1, keepdims=True)
    v = (512 * e + total) // (2 * total) - 128
    return np.minimum(v, 127).astype(np.int8)


def exp_table_for(scale):
    d = np.arange(256, dtype=np.float64)
    return np.floor((1 << 20) * np.exp(-d * scale) + 0.5).astype(np.int32)


# ------------------------------------------------------ calling the kernels
def c_requantize(xs, ms, ss):
    f = lib.bb_requantize
    return np.array([f(x, m, s) for x, m, s in zip(np.asarray(xs).tolist(), np.asarray(ms).tolist(),
                                                   np.asarray(ss).tolist())], dtype=np.int64)


def conv_op(w, bias, multiplier, shift, in_hw, in_zp, out_zp, stride=(1, 1), padding=(0, 0),
            act_min=-128, act_max=127):
    o, c, kh, kw = w.shape
    h, wd = in_hw
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (wd + 2 * padding[1] - kw) // stride[1] + 1
    return int8_op(kind="conv2d", name="test conv", in_shape=(c, h, wd), out_shape=(o, oh, ow),
                  in_q=(1.0, in_zp), out_q=(1.0, out_zp), weights=w, bias=bias,
                  multiplier=np.asarray(multiplier, dtype=np.int32),
                  shift=np.asarray(shift, dtype=np.int32), act_min=act_min, act_max=act_max,
                  kernel=(kh, kw), stride=tuple(stride), padding=tuple(padding))


def linear_op(w, bias, multiplier, shift, in_zp, out_zp, act_min=-128, act_max=127):
    o, i = w.shape
    return int8_op(kind="linear", name="test linear", in_shape=(i,), out_shape=(o,),
                  in_q=(1.0, in_zp), out_q=(1.0, out_zp), weights=w, bias=bias,
                  multiplier=np.asarray(multiplier, dtype=np.int32),
                  shift=np.asarray(shift, dtype=np.int32), act_min=act_min, act_max=act_max)


def pool_op(kind, in_shape, kernel, stride):
    c, h, w = in_shape
    oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    return int8_op(kind=kind, name=f"test {kind}", in_shape=in_shape, out_shape=(c, oh, ow),
                  in_q=(1.0, 0), out_q=(1.0, 0), kernel=kernel, stride=stride)


def run_op(op, x):
    """int8 (N, in_size) -> (N, out_size): op alone, through the C runtime (the executor
    the host and the boards share)."""
    return QuantizedModel([op], op.in_shape, op.in_q, op.out_shape).run_int8(x)


def quant_out(op):
    return ffi.new("bb_quant_out *", op.quant_out(op.act_min, op.act_max))


def s8_dims(shape):
    return ffi.new("bb_s8_dims *", list(shape))


def s8_window(kernel, stride, padding=(0, 0)):
    return ffi.new("bb_s8_window *", [kernel[0], kernel[1], stride[0], stride[1],
                                      padding[0], padding[1], padding[0], padding[1]])


def rand_i8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)


def rand_requant(rng, channels, lo=-10, hi=-6):
    """Per-channel Q31 multipliers in [2^30, 2^31) and shifts in [lo, hi], all distinct-ish."""
    multiplier = rng.integers(1 << 30, 1 << 31, size=channels, dtype=np.int64).astype(np.int32)
    shift = rng.integers(lo, hi + 1, size=channels).astype(np.int32)
    return multiplier, shift


# ------------------------------------------------- the reference arithmetic
EDGE_X = [INT32_MIN, INT32_MIN + 1, -(2**30), -(2**30) - 1, -65536, -3, -2, -1, 0, 1, 2, 3, 65535,
          2**30, 2**30 + 1, INT32_MAX - 1, INT32_MAX]
EDGE_M = [INT32_MAX, INT32_MAX - 1, 2**30, 2**30 + 1, 3 * 2**29, 2**29, 12345, 3, 1, 0]


def test_references_agree_with_each_other():
    # The TFLite-literal reference and the closed form describe the same function.
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 3000, endpoint=True), EDGE_X])
    ms = np.concatenate([rng.integers(0, 2**31, 3000), np.resize(EDGE_M, len(EDGE_X))])
    ss = np.concatenate([rng.integers(-31, 31, 3000), np.resize([-31, 0, 30, -1, 1], len(EDGE_X))])
    ref = ref_requantize(xs, ms, ss)
    assert ref.tolist() == [exact_requantize(*t) for t in zip(xs, ms, ss)]


def test_saturating_rounding_doubling_high_mul_edges():
    values = EDGE_X + [-(2**31) + 2, 2**16, -(2**16)]
    a, b = np.meshgrid(values, values)
    a, b = a.ravel(), b.ravel()
    got = np.array([lib.bb_saturating_rounding_doubling_high_mul(int(p), int(q))
                    for p, q in zip(a, b)], dtype=np.int64)
    np.testing.assert_array_equal(got, ref_srdhm(a, b))
    # the one saturating product, and the ties: +0.5 -> 1 but -0.5 -> 0 (nudge + truncation)
    assert lib.bb_saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert lib.bb_saturating_rounding_doubling_high_mul(1, 2**30) == 1
    assert lib.bb_saturating_rounding_doubling_high_mul(-1, 2**30) == 0
    assert lib.bb_saturating_rounding_doubling_high_mul(3, 2**30) == 2  # 1.5 -> 2
    assert lib.bb_saturating_rounding_doubling_high_mul(-3, 2**30) == -1  # -1.5 -> -1
    assert lib.bb_saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX) == -INT32_MAX


def test_rounding_divide_by_pot_edges():
    xs, es = [], []
    for e in range(0, 32):
        half = 2 ** (e - 1) if e else 0
        for base in (0, 1, 2, 3, 7, 2**e, 3 * 2**e):
            for x in (base * 2**e + half, base * 2**e + half + 1, base * 2**e + half - 1,
                      base * 2**e, base * 2**e + 1):
                for v in (x, -x):
                    if INT32_MIN <= v <= INT32_MAX:
                        xs.append(v)
                        es.append(e)
        for v in EDGE_X:
            xs.append(v)
            es.append(e)
    got = np.array([lib.bb_rounding_divide_by_pot(x, e) for x, e in zip(xs, es)], dtype=np.int64)
    np.testing.assert_array_equal(got, ref_rdbpot(xs, es))
    # ties round half away from zero
    assert lib.bb_rounding_divide_by_pot(1, 1) == 1
    assert lib.bb_rounding_divide_by_pot(-1, 1) == -1
    assert lib.bb_rounding_divide_by_pot(-3, 1) == -2
    assert lib.bb_rounding_divide_by_pot(-6, 2) == -2
    assert lib.bb_rounding_divide_by_pot(-5, 2) == -1
    assert lib.bb_rounding_divide_by_pot(INT32_MIN, 31) == -1
    assert lib.bb_rounding_divide_by_pot(INT32_MAX, 31) == 1
    assert lib.bb_rounding_divide_by_pot(-(2**30), 31) == -1  # exactly -0.5
    assert lib.bb_rounding_divide_by_pot(2**30 - 1, 31) == 0


def test_requantize_edge_grid():
    grid = np.array([(x, m, s) for x in EDGE_X for m in EDGE_M for s in range(-31, 31)],
                    dtype=np.int64)
    xs, ms, ss = grid.T
    np.testing.assert_array_equal(c_requantize(xs, ms, ss), ref_requantize(xs, ms, ss))


@pytest.mark.parametrize("x, multiplier, shift, expected", [
    (1, 2**30, 0, 1),          # 0.5 -> 1 in the high multiply
    (-1, 2**30, 0, 0),         # -0.5 -> 0 (TFLite's nudge: half towards +infinity)
    (2, 2**30, -1, 1),         # 0.5 exactly in the divide: away from zero
    (-2, 2**30, -1, -1),
    (6, 2**30, -1, 2),         # 1.5 -> 2
    (-6, 2**30, -1, -2),       # -1.5 -> -2
    (5, 2**30, -1, 2),         # 1.25: double rounding (2.5 -> 3, then 1.5 -> 2)
    (-5, 2**30, -1, -1),       # -1.25: -2.5 -> -2, then -1 -> -1
    (3, 2**30, 1, 3),          # M = 1: left shift then halving
    (2**20, 2**30, 30, 2**30),     # left shift saturates to INT32_MAX, then * 0.5
    (-(2**20), 2**30, 30, -(2**30)),  # ... and to INT32_MIN
    (INT32_MIN, INT32_MIN, 0, INT32_MAX),  # the saturating product
    (INT32_MAX, INT32_MAX, 0, INT32_MAX - 1),
    (INT32_MIN, INT32_MAX, -31, -1),
    (100, 0, 5, 0),            # multiplier 0: a constant layer
    (12345, 1, 0, 0),          # a tiny multiplier
    (INT32_MAX, 1, 0, 1),      # 2^31-1 * 2^-31 = 1 - 2^-31 -> 1
])
def test_requantize_known_values(x, multiplier, shift, expected):
    assert lib.bb_requantize(x, multiplier, shift) == expected
    assert int(ref_requantize(x, multiplier, shift)) == expected
    assert exact_requantize(x, multiplier, shift) == expected


def test_requantize_random_100k():
    rng = np.random.default_rng(2024)
    n = 100_000
    k = n // 4
    xs = np.concatenate([
        rng.integers(INT32_MIN, INT32_MAX, k, endpoint=True),          # anything
        rng.integers(-(2**16), 2**16, k),                              # typical accumulators
        rng.integers(-(2**8), 2**8, k) << rng.integers(0, 23, k),     # many ties
        rng.choice(EDGE_X, n - 3 * k)])
    ms = np.concatenate([
        rng.integers(1 << 30, 1 << 31, n // 2),                        # normalized Q31
        rng.integers(INT32_MIN, INT32_MAX, n - n // 2, endpoint=True)])  # any int32
    ms = rng.permutation(ms)
    ss = rng.integers(-31, 31, n)
    got = c_requantize(xs, ms, ss)
    ref = ref_requantize(xs, ms, ss)
    bad = np.flatnonzero(got != ref)
    assert bad.size == 0, (f"{bad.size} mismatches, first: x={xs[bad[0]]} m={ms[bad[0]]} "
                           f"s={ss[bad[0]]}: C {got[bad[0]]} ref {ref[bad[0]]}")
    assert np.all((ref >= INT32_MIN) & (ref <= INT32_MAX))


def test_requantize_through_linear_kernel_per_channel():
    # 20000 output channels, each with its own multiplier / shift, the accumulator = the
    # bias (x - zero point = 0): bb_linear_s8 must requantize channel c with params[c].
    rng = np.random.default_rng(5)
    n = 20_000
    multiplier = rng.integers(1 << 30, 1 << 31, n).astype(np.int64)
    shift = rng.integers(-31, 2, n)
    real = multiplier * 2.0 ** (shift - 31)
    target = rng.integers(-140, 140, n)
    acc = np.clip(np.round(target / real) + rng.integers(-3, 4, n), INT32_MIN, INT32_MAX).astype(np.int64)
    # The kernel itself: biases this close to 2^31 are past the accumulator bound the
    # runtime enforces (|bias| + 255 * sum|w| < 2^31), which no quantized model reaches.
    op = linear_op(np.ones((n, 1), np.int8), acc.astype(np.int32), multiplier, shift, in_zp=-7, out_zp=0)
    x, got = np.array([-7], dtype=np.int8), np.empty(n, dtype=np.int8)
    _core.check(lib.bb_linear_s8(1, 1, n, quant_out(op), ffi.from_buffer("int32_t[]", op.multiplier),
                                 ffi.from_buffer("int32_t[]", op.shift), ffi.from_buffer("int8_t[]", x),
                                 ffi.from_buffer("int8_t[]", op.weights),
                                 ffi.from_buffer("int32_t[]", op.bias), ffi.from_buffer("int8_t[]", got)),
                "linear")
    expected = np.clip(ref_requantize(acc, multiplier, shift), -128, 127)
    np.testing.assert_array_equal(got, expected)
    assert 0 < np.count_nonzero(np.abs(expected) < 127)  # mostly informative, not all clamped


# ---------------------------------------------------------------- conv2d
CONV_CASES = [
    # (batch, in_c, h, w, out_c, kernel, stride, padding)
    (1, 1, 5, 5, 2, (3, 3), (1, 1), (0, 0)),
    (2, 3, 7, 6, 4, (3, 3), (2, 2), (1, 1)),
    (3, 2, 9, 8, 3, (2, 3), (2, 1), (2, 2)),
    (2, 4, 6, 9, 5, (3, 1), (1, 2), (1, 2)),
    (1, 3, 5, 5, 2, (5, 5), (2, 2), (2, 2)),
    (2, 2, 8, 8, 3, (1, 1), (2, 2), (1, 0)),
]
ZERO_POINTS = [(-128, 127), (127, -128), (0, 0), (37, -9)]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("in_zp, out_zp", ZERO_POINTS)
def test_conv2d_s8_matches_reference(case, in_zp, out_zp):
    n, c, h, w, o, kernel, stride, padding = case
    rng = np.random.default_rng(hash((case, in_zp, out_zp)) % 2**32)
    x = rand_i8(rng, (n, c, h, w))
    wt = rand_i8(rng, (o,) + (c,) + kernel)
    wt[wt == -128] = -127  # symmetric weights, as quantize makes them
    bias = rng.integers(-5000, 5000, o).astype(np.int32)
    k = c * kernel[0] * kernel[1]
    multiplier, shift = rand_requant(rng, o, lo=-9 - int(np.log2(k)) // 2, hi=-5 - int(np.log2(k)) // 2)
    op = conv_op(wt, bias, multiplier, shift, (h, w), in_zp, out_zp, stride, padding)
    got = run_op(op, x.reshape(n, -1))
    expected = ref_conv2d_s8(x, wt, bias, multiplier, shift, in_zp, out_zp, -128, 127, stride, padding)
    assert got.dtype == np.int8 and got.shape == (n, expected[0].size)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    assert len(np.unique(got)) > 5  # not a degenerate all-clamped output


@pytest.mark.parametrize("in_zp", [-128, 127, 11])
def test_conv2d_s8_padding_is_the_input_zero_point(in_zp):
    # An input of real zeros: every output, border ones included, is requantize(bias).
    n, c, h, w, o = 2, 2, 4, 5, 3
    x = np.full((n, c, h, w), in_zp, dtype=np.int8)
    rng = np.random.default_rng(3)
    wt = rand_i8(rng, (o, c, 3, 3))
    bias = np.array([1000, -777, 0], dtype=np.int32)
    multiplier, shift = np.full(o, 2**30, np.int32), np.full(o, -4, np.int32)  # M = 1/32
    op = conv_op(wt, bias, multiplier, shift, (h, w), in_zp, -3, (2, 2), (2, 2))
    got = run_op(op, x.reshape(n, -1)).reshape(n, o, -1)
    per_channel = np.clip(ref_requantize(bias, multiplier, shift) - 3, -128, 127)
    assert per_channel.tolist() == [28, -27, -3]  # 1000/32 = 31.25, -777/32 = -24.28
    np.testing.assert_array_equal(got, np.broadcast_to(per_channel[None, :, None], got.shape))


def test_conv2d_s8_saturation_and_per_channel_params():
    rng = np.random.default_rng(4)
    n, c, h, w, o = 2, 3, 6, 6, 4
    x = rand_i8(rng, (n, c, h, w))
    wt = rand_i8(rng, (o, c, 3, 3))
    bias = np.array([2**29, -(2**29), 0, 0], dtype=np.int32)  # channels 0, 1 clamp
    multiplier = np.array([2**30, 2**30, 2**31 - 1, 2**30 + 12345], dtype=np.int32)
    shift = np.array([-8, -8, -9, 1], dtype=np.int32)  # channel 3: M = 1, mostly saturated
    op = conv_op(wt, bias, multiplier, shift, (h, w), -5, 9, (1, 1), (1, 1))
    got = run_op(op, x.reshape(n, -1)).reshape(n, o, h, w)
    np.testing.assert_array_equal(
        got, ref_conv2d_s8(x, wt, bias, multiplier, shift, -5, 9, -128, 127, (1, 1), (1, 1)))
    assert np.all(got[:, 0] == 127) and np.all(got[:, 1] == -128)
    assert np.any(got[:, 3] == 127) and np.any(got[:, 3] == -128)
    assert len(np.unique(got[:, 2])) > 10
    # Swapping channel 2's and 3's parameters changes the result: they are per channel.
    swapped = run_op(conv_op(wt, bias, multiplier[[0, 1, 3, 2]], shift[[0, 1, 3, 2]], (h, w), -5, 9,
                             (1, 1), (1, 1)), x.reshape(n, -1)).reshape(n, o, h, w)
    assert not np.array_equal(swapped[:, 2:], got[:, 2:])


@pytest.mark.parametrize("out_zp", [-128, -20, 60])
def test_conv2d_s8_fused_relu_clamp(out_zp):
    rng = np.random.default_rng(6)
    n, c, h, w, o = 2, 2, 5, 7, 3
    x = rand_i8(rng, (n, c, h, w))
    wt = rand_i8(rng, (o, c, 3, 2))
    bias = rng.integers(-300, 300, o).astype(np.int32)
    multiplier, shift = rand_requant(rng, o, -8, -7)
    op = conv_op(wt, bias, multiplier, shift, (h, w), 3, out_zp, (1, 2), (1, 0),
                 act_min=out_zp, act_max=127)
    got = run_op(op, x.reshape(n, -1))
    ref = ref_conv2d_s8(x, wt, bias, multiplier, shift, 3, out_zp, out_zp, 127, (1, 2), (1, 0))
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)
    unclamped = ref_conv2d_s8(x, wt, bias, multiplier, shift, 3, out_zp, -128, 127, (1, 2), (1, 0))
    assert got.min() == out_zp
    assert out_zp == -128 or np.any(unclamped < out_zp)  # the clamp did cut something


def test_conv2d_s8_without_bias_and_narrow_clamp():
    rng = np.random.default_rng(7)
    x = rand_i8(rng, (1, 2, 4, 4))
    wt = rand_i8(rng, (2, 2, 2, 2))
    multiplier, shift = rand_requant(rng, 2, -7, -6)
    op = conv_op(wt, None, multiplier, shift, (4, 4), 0, 0, act_min=-10, act_max=10)
    got = run_op(op, x.reshape(1, -1))
    ref = ref_conv2d_s8(x, wt, None, multiplier, shift, 0, 0, -10, 10, (1, 1), (0, 0))
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)
    assert got.min() == -10 and got.max() == 10


# ------------------------------------------------ conv2d + clamp + max pool, fused
CONV_POOL_CASES = [
    # (batch, in_c, h, w, out_c, kernel, stride, padding, pool kernel, pool stride)
    (1, 1, 8, 8, 3, (3, 3), (1, 1), (0, 0), (2, 2), (2, 2)),    # the 3x3 fast path, one channel
    (2, 3, 11, 9, 4, (3, 3), (1, 1), (0, 0), (2, 2), (2, 2)),   # odd: a conv row/column unpooled
    (2, 2, 9, 10, 3, (3, 3), (1, 1), (1, 1), (2, 2), (2, 2)),   # padded borders on the slow path
    (1, 5, 7, 7, 2, (3, 3), (1, 1), (2, 0), (2, 2), (2, 2)),
    (2, 2, 9, 11, 3, (3, 5), (1, 1), (2, 2), (3, 3), (2, 2)),   # overlapping windows
    (1, 3, 10, 8, 2, (2, 2), (2, 1), (1, 0), (2, 3), (1, 2)),
    (2, 2, 6, 6, 3, (3, 3), (1, 1), (0, 0), (1, 1), (1, 1)),    # a 1x1 window: plain conv2d
]


@pytest.mark.parametrize("case", CONV_POOL_CASES)
@pytest.mark.parametrize("in_zp, out_zp", ZERO_POINTS)
@pytest.mark.parametrize("relu", [False, True])
def test_conv2d_pool_s8_equals_conv_then_max_pool(case, in_zp, out_zp, relu):
    """Byte for byte what bb_conv2d_s8 then bb_max_pool2d_s8 give (and the numpy reference)."""
    n, c, h, w, o, kernel, stride, padding, pool_k, pool_s = case
    rng = np.random.default_rng(hash((case, in_zp, out_zp, relu)) % 2**32)
    x = rand_i8(rng, (n, c, h, w))
    wt = rand_i8(rng, (o, c) + kernel)
    wt[wt == -128] = -127
    bias = rng.integers(-5000, 5000, o).astype(np.int32)
    k = c * kernel[0] * kernel[1]
    multiplier, shift = rand_requant(rng, o, lo=-9 - int(np.log2(k)) // 2, hi=-5 - int(np.log2(k)) // 2)
    act_min = out_zp if relu else -128
    conv = conv_op(wt, bias, multiplier, shift, (h, w), in_zp, out_zp, stride, padding,
                   act_min=act_min)
    conv_out = run_op(conv, x.reshape(n, -1)).reshape((n,) + conv.out_shape)
    expected = ref_max_pool2d_s8(conv_out, pool_k, pool_s)
    np.testing.assert_array_equal(
        expected, ref_max_pool2d_s8(ref_conv2d_s8(x, wt, bias, multiplier, shift, in_zp, out_zp,
                                                  act_min, 127, stride, padding), pool_k, pool_s))
    fused = int8_op(kind="conv2d_pool", name="test conv pool", in_shape=(c, h, w),
                   out_shape=expected.shape[1:], in_q=(1.0, in_zp), out_q=(1.0, out_zp),
                   weights=wt, bias=bias, multiplier=multiplier, shift=shift, act_min=act_min,
                   kernel=kernel, stride=stride, padding=padding, pool_kernel=pool_k,
                   pool_stride=pool_s)
    got = run_op(fused, x.reshape(n, -1))
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    assert len(np.unique(got)) > 3 or out_zp == 127  # maxima at zero point 127 saturate


def test_conv2d_pool_s8_refuses_bad_windows():
    rng = np.random.default_rng(0)
    wt = rand_i8(rng, (2, 1, 3, 3))
    op = conv_op(wt, None, [2**30] * 2, [-6] * 2, (5, 5), 0, 0)  # conv output 3x3
    p = (s8_dims((1, 1, 5, 5)), 2, s8_window((3, 3), (1, 1)))
    x, y = np.zeros(25, np.int8), np.zeros(64, np.int8)
    args = (quant_out(op), ffi.from_buffer("int32_t[]", op.multiplier),
            ffi.from_buffer("int32_t[]", op.shift), ffi.from_buffer("int8_t[]", x),
            ffi.from_buffer("int8_t[]", wt), ffi.NULL, ffi.from_buffer("int8_t[]", y))
    pool = s8_window((2, 2), (2, 2))
    assert lib.bb_conv2d_pool_s8(*p, pool, *args) == lib.BB_OK
    assert lib.bb_conv2d_pool_s8(*p, ffi.NULL, *args) == lib.BB_ERR_NULL
    for bad, status in [([4, 2, 1, 1], lib.BB_ERR_SHAPE), ([2, 2, 0, 1], lib.BB_ERR_ARGUMENT),
                        ([0, 2, 1, 1], lib.BB_ERR_ARGUMENT), ([2, 2, 2, 2, 1, 0, 0, 0], lib.BB_ERR_ARGUMENT)]:
        assert lib.bb_conv2d_pool_s8(*p, ffi.new("bb_s8_window *", bad), *args) == status


# ---------------------------------------------------------------- linear
@pytest.mark.parametrize("batch, fin, fout", [(1, 1, 1), (4, 17, 9), (7, 64, 10), (3, 300, 5)])
@pytest.mark.parametrize("in_zp, out_zp", ZERO_POINTS)
def test_linear_s8_matches_reference(batch, fin, fout, in_zp, out_zp):
    rng = np.random.default_rng(batch * 1000 + fin + fout + in_zp * 7 + out_zp)
    x = rand_i8(rng, (batch, fin))
    w = rand_i8(rng, (fout, fin))
    bias = rng.integers(-20000, 20000, fout).astype(np.int32)
    lg = int(np.log2(fin)) // 2
    multiplier, shift = rand_requant(rng, fout, -9 - lg, -6 - lg)
    got = run_op(linear_op(w, bias, multiplier, shift, in_zp, out_zp), x)
    np.testing.assert_array_equal(got, ref_linear_s8(x, w, bias, multiplier, shift, in_zp, out_zp, -128, 127))


def test_linear_s8_saturation_relu_and_no_bias():
    rng = np.random.default_rng(8)
    x = rand_i8(rng, (5, 20))
    w = rand_i8(rng, (4, 20))
    bias = np.array([2**30, -(2**30), 0, 0], dtype=np.int32)
    multiplier, shift = rand_requant(rng, 4, -9, -8)
    got = run_op(linear_op(w, bias, multiplier, shift, -128, -40, act_min=-40), x)
    np.testing.assert_array_equal(got, ref_linear_s8(x, w, bias, multiplier, shift, -128, -40, -40, 127))
    assert np.all(got[:, 0] == 127) and np.all(got[:, 1] == -40) and got.min() == -40
    got = run_op(linear_op(w, None, multiplier, shift, 127, 127), x)
    np.testing.assert_array_equal(got, ref_linear_s8(x, w, None, multiplier, shift, 127, 127, -128, 127))


# ---------------------------------------------------------------- pooling
POOL_CASES = [
    # (batch, channels, h, w, kernel, stride)
    (1, 1, 4, 4, (2, 2), (2, 2)),
    (2, 3, 7, 6, (2, 2), (2, 2)),    # odd size: the last row is dropped
    (2, 2, 7, 9, (2, 3), (1, 2)),    # non-square, overlapping
    (3, 4, 6, 6, (3, 3), (3, 3)),    # count 9
    (1, 2, 5, 8, (1, 4), (2, 1)),
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_s8_matches_reference(case):
    n, c, h, w, kernel, stride = case
    rng = np.random.default_rng(sum(case[:4]))
    x = rand_i8(rng, (n, c, h, w))
    x[0, 0] = -128  # a plane of minima
    op = pool_op("max_pool2d", (c, h, w), kernel, stride)
    got = run_op(op, x.reshape(n, -1))
    ref = ref_max_pool2d_s8(x, kernel, stride)
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)


@pytest.mark.parametrize("case", POOL_CASES)
def test_avg_pool2d_s8_matches_reference(case):
    n, c, h, w, kernel, stride = case
    rng = np.random.default_rng(sum(case[:4]) + 1)
    x = rand_i8(rng, (n, c, h, w))
    op = pool_op("avg_pool2d", (c, h, w), kernel, stride)
    got = run_op(op, x.reshape(n, -1))
    ref = ref_avg_pool2d_s8(x, kernel, stride)
    np.testing.assert_array_equal(got.reshape(ref.shape), ref)
    # and it is the mean rounded half away from zero, checked in floats
    mean = _windows(x, kernel, stride).mean(axis=-1)
    np.testing.assert_array_equal(ref, np.sign(mean) * np.floor(np.abs(mean) + 0.5))


def test_avg_pool2d_s8_rounds_ties_away_from_zero():
    # 2x2 windows (count 4) laid side by side: sums -2, -6, 2, 6, -1, -3, 1, -127*4
    windows = [[-2, 0, 0, 0], [-6, 0, 0, 0], [2, 0, 0, 0], [6, 0, 0, 0], [-1, 0, 0, 0],
               [-3, 0, 0, 0], [1, 0, 0, 0], [-128, -128, -128, -128], [127, 127, 127, 127],
               [-128, -127, -127, -127]]
    x = np.zeros((1, 1, 2, 2 * len(windows)), dtype=np.int8)
    for i, (a, b, c, d) in enumerate(windows):
        x[0, 0, :, 2 * i:2 * i + 2] = [[a, b], [c, d]]
    got = run_op(pool_op("avg_pool2d", (1, 2, 2 * len(windows)), (2, 2), (2, 2)), x.reshape(1, -1))
    # -0.5 -> -1, -1.5 -> -2, 0.5 -> 1, 1.5 -> 2, -0.25 -> 0, -0.75 -> -1, 0.25 -> 0,
    # -128, 127, -127.25 -> -127
    assert got.ravel().tolist() == [-1, -2, 1, 2, 0, -1, 0, -128, 127, -127]


# ---------------------------------------------------------------- clamp
def test_clamp_s8():
    rng = np.random.default_rng(9)
    x = rand_i8(rng, (3, 50))
    for lo, hi in [(-128, 127), (-128, -128), (127, 127), (-20, 40), (0, 0)]:
        op = int8_op(kind="clamp", name="relu", in_shape=(50,), out_shape=(50,), in_q=(1.0, lo),
                    out_q=(1.0, lo), act_min=lo, act_max=hi)
        np.testing.assert_array_equal(run_op(op, x), np.clip(x, lo, hi))
    # in place (x == y), as the runtime runs it
    y = x.copy()
    p = ffi.from_buffer("int8_t[]", y)
    _core.check(lib.bb_clamp_s8(y.size, -5, 127, p, p), "clamp")
    np.testing.assert_array_equal(y, np.maximum(x, -5))
    # n == 0 needs no buffers
    _core.check(lib.bb_clamp_s8(0, -5, 5, ffi.NULL, ffi.NULL), "clamp")


# ---------------------------------------------------------------- softmax
def run_softmax(x, table):
    x = np.ascontiguousarray(x, dtype=np.int8)
    y = np.empty_like(x)
    _core.check(lib.bb_softmax_s8(x.shape[0], x.shape[1], ffi.from_buffer("int32_t[]", table),
                                  ffi.from_buffer("int8_t[]", x), ffi.from_buffer("int8_t[]", y)),
                "softmax")
    return y


@pytest.mark.parametrize("scale", [0.01, 0.0625, 0.2, 1.5])
@pytest.mark.parametrize("cols", [1, 2, 10, 37])
def test_softmax_s8_matches_reference(scale, cols):
    rng = np.random.default_rng(int(scale * 1000) + cols)
    table = exp_table_for(scale)
    x = rand_i8(rng, (20, cols))
    x[0] = 5  # a row of ties
    x[1, 0], x[1, 1:] = 127, -128  # a dominant value
    op = int8_op(kind="softmax", name="softmax", in_shape=(cols,), out_shape=(cols,),
                in_q=(scale, 0), out_q=(1 / 256, -128), exp_table=table)
    got = run_op(op, x)
    np.testing.assert_array_equal(got, ref_softmax_s8(x, table))
    # close to the float softmax, in steps of 1/256
    z = x.astype(np.float64) * scale
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.abs((got.astype(np.float64) + 128) / 256 - p).max() <= 3 / 256
    assert np.all(got[0] == min(127, int(np.floor(256 / cols + 0.5)) - 128))  # ties: equal shares


def test_softmax_s8_known_values():
    table = exp_table_for(0.1)
    assert table[0] == 1 << 20 and table[255] == 0
    # a winner with all the mass: 256 - 128 = 128 clamps to 127
    assert run_softmax(np.array([[127, -128, -128]]), table).tolist() == [[127, -128, -128]]
    # ten equal values: 25.6 -> 26
    assert run_softmax(np.zeros((1, 10)), table).tolist() == [[26 - 128] * 10]
    # two equal values: 256 / 2 = 128 -> 0
    assert run_softmax(np.zeros((1, 2)), table).tolist() == [[0, 0]]


# ---------------------------------------------------------------- errors
def _conv_args(op, x, y):
    return (s8_dims((x.shape[0],) + op.chw_in), op.weights.shape[0],
            s8_window(op.kernel, op.stride, op.padding), quant_out(op), ffi.from_buffer("int32_t[]", op.multiplier),
            ffi.from_buffer("int32_t[]", op.shift), ffi.from_buffer("int8_t[]", x),
            ffi.from_buffer("int8_t[]", op.weights), ffi.from_buffer("int32_t[]", op.bias),
            ffi.from_buffer("int8_t[]", y))


def _small_conv(**changes):
    w = np.ones((2, 1, 3, 3), np.int8)
    params = dict(multiplier=[2**30, 2**30], shift=[-3, -3], in_zp=0, out_zp=0)
    params.update(changes)
    return conv_op(w, np.zeros(2, np.int32), params["multiplier"], params["shift"], (5, 5),
                   params["in_zp"], params["out_zp"], act_min=params.get("act_min", -128),
                   act_max=params.get("act_max", 127))


@pytest.mark.parametrize("changes", [
    dict(in_zp=-129),               # input_offset 129
    dict(in_zp=128),                # input_offset -128
    dict(out_zp=128),
    dict(out_zp=-129),
    dict(act_min=10, act_max=9),
    dict(act_min=-129),
    dict(act_max=128),
    dict(shift=[-3, 31]),
    dict(shift=[-32, -3]),
    dict(multiplier=[2**30, -1]),
])
@pytest.mark.parametrize("kind", ["conv2d", "linear"])
def test_bad_quant_params_are_value_errors(changes, kind):
    op = _small_conv(**changes)
    if kind == "linear":
        op = linear_op(op.weights.reshape(2, 9), op.bias, op.multiplier, op.shift, op.in_q[1],
                       op.out_q[1], op.act_min, op.act_max)
        x = np.zeros((1, 9), np.int8)
    else:
        x = np.zeros((1, 25), np.int8)
    with pytest.raises(ValueError, match=r"op 0 \(test (conv|linear)\): BB_ERR_ARGUMENT -3: argument out of range"):
        run_op(op, x)


def test_valid_extremes_are_accepted():
    op = _small_conv(in_zp=-128, out_zp=127, shift=[-31, 30], act_min=127, act_max=127)
    assert np.all(run_op(op, np.zeros((1, 25), np.int8)) == 127)
    op = _small_conv(in_zp=127, out_zp=-128, multiplier=[0, 2**31 - 1], act_min=-128, act_max=-128)
    assert np.all(run_op(op, np.zeros((1, 25), np.int8)) == -128)


def test_null_pointers_are_kernel_errors():
    op = _small_conv()
    x, y = np.zeros((1, 1, 5, 5), np.int8), np.zeros((1, 2, 3, 3), np.int8)
    args = _conv_args(op, x, y)
    _core.check(lib.bb_conv2d_s8(*args), "conv ok")
    for i in (0, 2, 3, 4, 5, 6, 7, 9):  # dims, window, q, multiplier, shift, x, w, y
        bad = list(args)
        bad[i] = ffi.NULL
        with pytest.raises(KernelError, match="NULL"):
            _core.check(lib.bb_conv2d_s8(*bad), "conv2d")
    bad = list(args)
    bad[8] = ffi.NULL  # bias is optional
    _core.check(lib.bb_conv2d_s8(*bad), "conv2d")

    q = quant_out(op)
    m, s = ffi.from_buffer("int32_t[]", op.multiplier), ffi.from_buffer("int32_t[]", op.shift)
    xb, wb = ffi.from_buffer("int8_t[]", x), ffi.from_buffer("int8_t[]", op.weights)
    yb = ffi.from_buffer("int8_t[]", y)
    for args in [(1, 9, 2, ffi.NULL, m, s, xb, wb, ffi.NULL, yb),
                 (1, 9, 2, q, ffi.NULL, s, xb, wb, ffi.NULL, yb),
                 (1, 9, 2, q, m, ffi.NULL, xb, wb, ffi.NULL, yb),
                 (1, 9, 2, q, m, s, ffi.NULL, wb, ffi.NULL, yb),
                 (1, 9, 2, q, m, s, xb, ffi.NULL, ffi.NULL, yb),
                 (1, 9, 2, q, m, s, xb, wb, ffi.NULL, ffi.NULL)]:
        with pytest.raises(KernelError, match=r"NULL \(status -1\)"):
            _core.check(lib.bb_linear_s8(*args), "linear")
    with pytest.raises(ValueError, match="shape"):
        _core.check(lib.bb_linear_s8(0, 9, 2, q, m, s, xb, wb, ffi.NULL, yb), "linear")

    dims, pool = s8_dims((1, 1, 5, 5)), s8_window((2, 2), (2, 2))
    for kernel in (lib.bb_max_pool2d_s8, lib.bb_avg_pool2d_s8):
        with pytest.raises(KernelError):
            _core.check(kernel(dims, pool, ffi.NULL, yb), "pool")
        with pytest.raises(KernelError):
            _core.check(kernel(dims, pool, xb, ffi.NULL), "pool")
        with pytest.raises(ValueError):  # a window larger than the input
            _core.check(kernel(s8_dims((1, 1, 2, 2)), s8_window((3, 3), (1, 1)), xb, yb), "pool")
    with pytest.raises(KernelError):
        _core.check(lib.bb_clamp_s8(4, -1, 1, ffi.NULL, yb), "clamp")
    for lo, hi in [(2, 1), (-129, 0), (0, 128)]:
        with pytest.raises(ValueError):
            _core.check(lib.bb_clamp_s8(4, lo, hi, xb, yb), "clamp")
    with pytest.raises(KernelError):
        _core.check(lib.bb_softmax_s8(1, 4, ffi.NULL, xb, yb), "softmax")


def test_softmax_s8_rejects_bad_tables_and_shapes():
    x = np.zeros((2, 4), np.int8)
    good = exp_table_for(0.1)
    for bad_value, at in [((1 << 20) + 1, 3), (-1, 200), (0, 0)]:
        table = good.copy()
        table[at] = bad_value
        with pytest.raises(ValueError, match="out of range"):
            run_softmax(x, table)
    y = np.empty_like(x)
    with pytest.raises(ValueError, match="shape"):
        _core.check(lib.bb_softmax_s8(0, 4, ffi.from_buffer("int32_t[]", good),
                                      ffi.from_buffer("int8_t[]", x), ffi.from_buffer("int8_t[]", y)),
                    "softmax")


def test_runtime_checks_the_input_width():
    op = linear_op(np.ones((2, 9), np.int8), None, [2**30, 2**30], [0, 0], 0, 0)
    backing = np.zeros(64, dtype=np.int8)  # the kernel's overread stays inside this buffer
    x = backing[:8].reshape(1, 8)  # 8 values, the op needs 9
    with pytest.raises(ValueError):
        run_op(op, x)
