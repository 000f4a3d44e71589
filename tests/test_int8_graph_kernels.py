"""The int8 kernels of graph models (csrc/bb_int8_graph.h) against numpy integer references.

The references below are written from TensorFlow Lite's definitions in int64 numpy:
SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier
(with the left shift saturated, as bb_requantize.h documents), and TFLite's int8
DepthwiseConv, Conv (1x1), Add, Mean and a requantizing Concatenation. The C kernels must
match them bit for bit, through both their reference and their fast paths, at the
edges: zero points at -128 and 127, saturating outputs, multipliers near 2^31, shifts
at -31 and 30, and odd shapes.
"""
import numpy as np
import pytest

from braininabox._core import ffi, lib

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
I64 = np.int64


# ---------------------------------------------------------------- references (int64)
def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul: high 32 bits of 2ab, ties toward +infinity."""
    a, b = np.asarray(a, I64), np.asarray(b, I64)
    ab = a * b
    nudge = np.where(ab >= 0, I64(1 << 30), I64(1 - (1 << 30)))
    s = ab + nudge
    q = np.where(s >= 0, s // I64(1 << 31), -((-s) // I64(1 << 31)))  # truncation toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), I64(INT32_MAX), q)


def rdbpot(x, exponent):
    """RoundingDivideByPOT: x / 2^exponent to nearest, ties away from zero."""
    x, e = np.asarray(x, I64), np.asarray(exponent, I64)
    mask = (I64(1) << e) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + ((x & mask) > threshold)


def requantize(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier, its left shift saturated to int32."""
    x, shift = np.asarray(x, I64), np.asarray(shift, I64)
    shifted = np.clip(x * (I64(1) << np.maximum(shift, 0)), INT32_MIN, INT32_MAX)
    return rdbpot(srdhm(shifted, multiplier), np.maximum(-shift, 0))


def finish(acc, multiplier, shift, out_offset, lo, hi):
    return np.clip(requantize(acc, multiplier, shift) + out_offset, lo, hi).astype(np.int8)


def ref_depthwise(x, w, bias, mult, shift, dm, window, q):
    kh, kw, sh, sw, pt, pl, pb, pr = window
    in_off, out_off, lo, hi = q
    xo = x.astype(I64) + in_off
    xo = np.pad(xo, ((0, 0), (0, 0), (pt, pb), (pl, pr)))  # padding is real 0
    xo = np.repeat(xo, dm, axis=1)  # output channel o reads input channel o // dm
    n, c, hp, wp = xo.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    acc = np.zeros((n, c, oh, ow), I64) + (0 if bias is None else bias.astype(I64)[None, :, None, None])
    for ky in range(kh):
        for kx in range(kw):
            tap = xo[:, :, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
            acc += tap * w[:, 0, ky, kx].astype(I64)[None, :, None, None]
    assert np.abs(acc).max() < 2**31
    per_c = (slice(None), None, None)
    return finish(acc, mult[per_c], shift[per_c], out_off, lo, hi)


def ref_pointwise(x, w, bias, mult, shift, q):
    in_off, out_off, lo, hi = q
    acc = np.einsum("oc,nchw->nohw", w.astype(I64), x.astype(I64) + in_off)
    if bias is not None:
        acc += bias.astype(I64)[None, :, None, None]
    per_c = (slice(None), None, None)
    return finish(acc, mult[per_c], shift[per_c], out_off, lo, hi)


def ref_add(x1, x2, p):
    a = requantize((x1.astype(I64) + p["input1_offset"]) << 20, p["input1_multiplier"], p["input1_shift"])
    b = requantize((x2.astype(I64) + p["input2_offset"]) << 20, p["input2_multiplier"], p["input2_shift"])
    return finish(a + b, p["output_multiplier"], p["output_shift"], p["output_offset"],
                  p["activation_min"], p["activation_max"])


def ref_global_avg_pool(x, mult, shift, q):
    in_off, out_off, lo, hi = q
    count = x.shape[2] * x.shape[3]
    acc = requantize((x.astype(I64) + in_off).sum(axis=(2, 3)), mult, shift)
    half = count // 2
    acc = np.where(acc > 0, (acc + half) // count, -((-acc + half) // count))  # C truncation
    return np.clip(acc + out_off, lo, hi).astype(np.int8)[:, :, None, None]


def ref_concat(xs, rescales, out_offset):
    parts = [finish(x.astype(I64) + off, m, s, out_offset, -128, 127) for x, (off, m, s) in zip(xs, rescales)]
    return np.concatenate(parts, axis=1)


# ---------------------------------------------------------------- C bindings
def buf(ctype, a):
    assert a.flags.c_contiguous
    return ffi.from_buffer(ctype + "[]", a)


def opt(ctype, a):
    return ffi.NULL if a is None else buf(ctype, a)


def dims(shape):
    return ffi.new("bb_s8_dims *", list(shape))


def quant(q):
    return ffi.new("bb_quant_out *", list(q))


def c_depthwise(x, w, bias, mult, shift, dm, window, q, path="fast", y=None, scratch_bytes=None):
    d, win = dims(x.shape), ffi.new("bb_s8_window *", list(window))
    kh, kw, sh, sw, pt, pl, pb, pr = window
    oh = max((x.shape[2] + pt + pb - kh) // max(sh, 1) + 1, 1)  # any size for a refused window
    ow = max((x.shape[3] + pl + pr - kw) // max(sw, 1) + 1, 1)
    if y is None:
        y = np.full((x.shape[0], x.shape[1] * dm, oh, ow), 99, np.int8)
    args = (d, dm, win, quant(q), buf("int32_t", mult), buf("int32_t", shift), buf("int8_t", x),
            buf("int8_t", w), opt("int32_t", bias), buf("int8_t", y))
    if path == "reference":
        status = lib.bb_depthwise_conv2d_s8_reference(*args)
    else:
        need = lib.bb_depthwise_conv2d_s8_scratch_size(d, win)
        scratch = np.zeros(need if scratch_bytes is None else scratch_bytes, np.int8)
        status = lib.bb_depthwise_conv2d_s8(*args, buf("int8_t", scratch), scratch.size)
    return status, y


def c_pointwise(x, w, bias, mult, shift, q, path="fast", scratch_bytes=None, misalign=False):
    d = dims(x.shape)
    y = np.full((x.shape[0], w.shape[0]) + x.shape[2:], 99, np.int8)
    args = (d, w.shape[0], quant(q), buf("int32_t", mult), buf("int32_t", shift), buf("int8_t", x),
            buf("int8_t", w), opt("int32_t", bias), buf("int8_t", y))
    if path == "reference":
        return lib.bb_pointwise_conv2d_s8_reference(*args), y
    need = lib.bb_pointwise_conv2d_s8_scratch_size(d, w.shape[0])
    words = np.zeros((need if scratch_bytes is None else scratch_bytes) // 4 + 2, np.int32)
    raw = ffi.cast("int8_t *", buf("int32_t", words)) + (1 if misalign else 0)
    return lib.bb_pointwise_conv2d_s8(*args, raw, need if scratch_bytes is None else scratch_bytes), y


def c_add(x1, x2, p, out=None, path="fast", scratch_bytes=None):
    params = ffi.new("bb_add_s8_params *", p)
    y = np.full(x1.shape, 99, np.int8) if out is None else out
    args = (params, x1.size, buf("int8_t", x1), buf("int8_t", x2), buf("int8_t", y))
    if path == "reference":
        return lib.bb_add_s8_reference(*args), y
    need = lib.bb_add_s8_scratch_size(x1.size) if scratch_bytes is None else scratch_bytes
    words = np.zeros(need // 4 + 1, np.int32)  # 4-byte aligned
    return lib.bb_add_s8(*args, ffi.cast("int8_t *", buf("int32_t", words)), need), y


def c_gap(x, mult, shift, q):
    y = np.full(x.shape[:2] + (1, 1), 99, np.int8)
    return lib.bb_global_avg_pool_s8(dims(x.shape), quant(q), mult, shift, buf("int8_t", x), buf("int8_t", y)), y


def c_concat(xs, rescales, out_offset):
    n, _, h, w = xs[0].shape
    total = sum(x.shape[1] for x in xs)
    y = np.full((n, total, h, w), 99, np.int8)
    channels = np.array([x.shape[1] for x in xs], np.int32)
    rs = ffi.new("bb_rescale_s8[]", [list(r) for r in rescales])
    keep = [buf("int8_t", x) for x in xs]
    ptrs = ffi.new("const int8_t *[]", keep)
    status = lib.bb_concat_channels_s8(dims(y.shape), len(xs), buf("int32_t", channels), rs, out_offset, ptrs,
                                       buf("int8_t", y))
    return status, y


# ---------------------------------------------------------------- random cases
def rand_i8(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64).astype(np.int8)


def rand_requant(rng, channels, shifts=(-12, -4)):
    mult = rng.integers(1 << 30, INT32_MAX, size=channels, endpoint=True).astype(np.int32)
    shift = rng.integers(shifts[0], shifts[1], size=channels, endpoint=True).astype(np.int32)
    return mult, shift


def check_depthwise(x, w, bias, mult, shift, dm, window, q):
    want = ref_depthwise(x, w, bias, mult, shift, dm, window, q)
    for path in ("reference", "fast"):
        status, got = c_depthwise(x, w, bias, mult, shift, dm, window, q, path=path)
        assert status == lib.BB_OK, path
        np.testing.assert_array_equal(got, want, err_msg=path)
    return want


def same_pads(size, k, s):
    """TensorFlow 'same': (before, after), the extra one after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


# ---------------------------------------------------------------- depthwise
DW_CASES = [
    # (n, c, h, w, dm, kh, kw, sh, sw, "same" or (pt, pl, pb, pr))
    (1, 8, 25, 5, 1, 3, 3, 1, 1, "same"),     # DS-CNN's layer, small
    (2, 3, 7, 5, 1, 3, 3, 1, 1, "same"),
    (1, 4, 7, 5, 2, 3, 3, 2, 2, "same"),      # multiplier 2, stride 2, odd input
    (1, 2, 8, 8, 1, 3, 3, 2, 2, "same"),      # stride 2, even: asymmetric (0, 1) padding
    (1, 1, 1, 1, 1, 1, 1, 1, 1, (0, 0, 0, 0)),  # 1x1 image, 1 channel
    (1, 1, 1, 1, 3, 3, 3, 1, 1, (1, 1, 1, 1)),  # 1x1 image, 3x3 window of padding
    (1, 3, 9, 11, 1, 3, 3, 1, 1, (0, 0, 0, 0)),  # valid
    (1, 2, 9, 13, 1, 3, 3, 1, 2, (1, 2, 0, 1)),  # strides differ per axis, odd paddings
    (1, 2, 10, 9, 1, 3, 3, 3, 1, (2, 1, 2, 1)),  # stride 3 in height (3x3 rows path)
    (1, 3, 6, 7, 1, 5, 5, 1, 1, "same"),      # 5x5: the generic ring path
    (1, 2, 5, 6, 2, 2, 3, 2, 1, (1, 0, 0, 2)),
    (1, 1, 20, 3, 1, 17, 1, 1, 1, (8, 0, 8, 0)),  # taller than one band of ring rows
    (1, 2, 6, 70, 1, 3, 3, 1, 1, "same"),     # wider than one accumulator chunk
    (1, 2, 9, 9, 1, 2, 2, 4, 4, (0, 0, 0, 0)),  # stride larger than the kernel: rows skipped
]


def window_of(case, h, w):
    _, _, _, _, _, kh, kw, sh, sw, pads = case
    if pads == "same":
        pt, pb = same_pads(h, kh, sh)
        pl, pr = same_pads(w, kw, sw)
    else:
        pt, pl, pb, pr = pads
    return (kh, kw, sh, sw, pt, pl, pb, pr)


@pytest.mark.parametrize("case", DW_CASES, ids=[str(c[:10]) for c in DW_CASES])
def test_depthwise_random_matches_reference(case):
    rng = np.random.default_rng(abs(hash(case[:9])) % 2**32)
    n, c, h, w, dm = case[:5]
    window = window_of(case, h, w)
    oc = c * dm
    x = rand_i8(rng, (n, c, h, w))
    wt = rand_i8(rng, (oc, 1, window[0], window[1]))
    bias = rng.integers(-2**16, 2**16, size=oc).astype(np.int32)
    mult, shift = rand_requant(rng, oc, (-10, -6))
    q = (int(rng.integers(-127, 129)), int(rng.integers(-128, 128)), -128, 127)
    want = check_depthwise(x, wt, bias, mult, shift, dm, window, q)
    assert len(np.unique(want)) > 2 or want.size < 4  # the scale keeps outputs varied


@pytest.mark.parametrize("in_zp", [-128, 127])
@pytest.mark.parametrize("out_zp", [-128, 127])
def test_depthwise_zero_points_at_the_extremes_and_relu_clamp(in_zp, out_zp):
    rng = np.random.default_rng(5)
    x = rand_i8(rng, (1, 4, 7, 5))
    x[0, 0] = in_zp  # a channel of real zeros
    wt = rand_i8(rng, (4, 1, 3, 3))
    mult, shift = rand_requant(rng, 4, (-9, -7))
    q = (-in_zp, out_zp, max(out_zp, -100), 127 if out_zp < 127 else 127)
    want = check_depthwise(x, wt, None, mult, shift, 1, (3, 3, 1, 1, 1, 1, 1, 1), q)
    assert (want[0, 0] == np.clip(out_zp, q[2], q[3])).all()  # zeros in, the zero point out


def test_depthwise_saturates_and_extreme_requantization():
    rng = np.random.default_rng(6)
    x = rand_i8(rng, (1, 6, 5, 7))
    wt = rand_i8(rng, (6, 1, 3, 3))
    # Multipliers near 2^31 and 0, shifts at both extremes: most outputs saturate.
    mult = np.array([INT32_MAX, INT32_MAX, 1 << 30, 0, INT32_MAX - 1, 1], np.int32)
    shift = np.array([30, -31, 0, 5, 1, 30], np.int32)
    want = check_depthwise(x, wt, None, mult, shift, 1, (3, 3, 1, 1, 1, 1, 1, 1), (0, 3, -128, 127))
    assert {-128, 127} <= set(np.unique(want[0, 0]))
    assert (want[0, 3] == 3).all()  # multiplier 0: the output zero point


def test_depthwise_accumulator_at_the_bound():
    """Weights all -128 and inputs all at the far end: the accumulator near 2^31."""
    taps = 9
    budget = INT32_MAX - 255 * 128 * taps  # |bias| + 255 sum|w| < 2^31
    x = np.full((1, 2, 3, 3), -128, np.int8)
    wt = np.full((2, 1, 3, 3), -128, np.int8)
    bias = np.array([budget, -budget], np.int32)
    q = (-127, 0, -128, 127)  # zero point 127: x + offset = -255
    mult, shift = np.array([INT32_MAX, INT32_MAX], np.int32), np.array([-31, -31], np.int32)
    check_depthwise(x, wt, bias, mult, shift, 1, (3, 3, 1, 1, 0, 0, 0, 0), q)


def test_depthwise_in_place_same_padding():
    rng = np.random.default_rng(7)
    x = rand_i8(rng, (2, 5, 9, 6))
    wt = rand_i8(rng, (5, 1, 3, 3))
    mult, shift = rand_requant(rng, 5, (-9, -7))
    window, q = (3, 3, 1, 1, 1, 1, 1, 1), (3, -2, -128, 127)
    want = ref_depthwise(x, wt, None, mult, shift, 1, window, q)
    y = x.copy()
    status, _ = c_depthwise(y, wt, None, mult, shift, 1, window, q, y=y)
    assert status == lib.BB_OK
    np.testing.assert_array_equal(y, want)


def test_depthwise_errors():
    x = np.zeros((1, 2, 5, 5), np.int8)
    wt = np.zeros((2, 1, 3, 3), np.int8)
    m, s = np.full(2, 1 << 30, np.int32), np.zeros(2, np.int32)
    ok = (3, 3, 1, 1, 1, 1, 1, 1)
    q = (0, 0, -128, 127)
    assert c_depthwise(x, wt, None, m, s, 1, ok, q)[0] == lib.BB_OK
    status, _ = c_depthwise(x, wt, None, m, s, 1, ok, q, scratch_bytes=lib.bb_depthwise_conv2d_s8_scratch_size(
        dims(x.shape), ffi.new("bb_s8_window *", list(ok))) - 1)
    assert status == lib.BB_ERR_SCRATCH
    assert c_depthwise(x, wt, None, m, s, 0, ok, q)[0] == lib.BB_ERR_ARGUMENT  # depth multiplier 0
    assert c_depthwise(x, wt, None, m, s, 1, (3, 3, 0, 1, 1, 1, 1, 1), q)[0] == lib.BB_ERR_ARGUMENT
    assert c_depthwise(x, wt, None, m, s, 1, (3, 3, 1, 1, -1, 1, 1, 1), q)[0] == lib.BB_ERR_ARGUMENT
    assert c_depthwise(x, wt, None, m, s, 1, (9, 3, 1, 1, 1, 1, 1, 1), q)[0] == lib.BB_ERR_SHAPE  # kernel > input
    for path in ("reference", "fast"):
        assert c_depthwise(x, wt, None, m, s, 1, ok, (129, 0, -128, 127), path=path)[0] == lib.BB_ERR_ARGUMENT
        assert c_depthwise(x, wt, None, m, s, 1, ok, (0, 0, 5, 4), path=path)[0] == lib.BB_ERR_ARGUMENT
        bad = np.array([1 << 30, -1], np.int32)
        assert c_depthwise(x, wt, None, bad, s, 1, ok, q, path=path)[0] == lib.BB_ERR_ARGUMENT
        assert c_depthwise(x, wt, None, m, np.array([0, 31], np.int32), 1, ok, q, path=path)[0] == \
            lib.BB_ERR_ARGUMENT
    # Narrow and tall: the transposed path, whose padded plane (2^20 x 4100) would pass 2^31.
    tall = (3, 3, 1, 4096, 1 << 20, 2000, 1 << 20, 2000)
    tiny = np.zeros((1, 1, 3, 3), np.int8)
    one = (np.full(1, 1 << 30, np.int32), np.zeros(1, np.int32))
    assert lib.bb_depthwise_conv2d_s8_scratch_size(dims(tiny.shape), ffi.new("bb_s8_window *", list(tall))) == 0
    assert c_depthwise(tiny, wt[:1], None, *one, 1, tall, q)[0] == lib.BB_ERR_SHAPE
    assert lib.bb_depthwise_conv2d_s8(dims((1, 0, 5, 5)), 1, ffi.new("bb_s8_window *", list(ok)), quant(q),
                                      ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL,
                                      ffi.NULL, 0) == lib.BB_ERR_SHAPE
    assert lib.bb_depthwise_conv2d_s8(ffi.NULL, 1, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL,
                                      ffi.NULL, ffi.NULL, ffi.NULL, 0) == lib.BB_ERR_NULL


# ---------------------------------------------------------------- 1x1 conv
PW_CASES = [(1, 64, 25, 5, 64), (2, 3, 7, 5, 5), (1, 1, 1, 1, 1), (1, 7, 3, 3, 3), (1, 13, 1, 7, 2),
            (3, 4, 2, 3, 9), (1, 33, 5, 1, 17), (1, 600, 1, 5, 3)]


@pytest.mark.parametrize("case", PW_CASES, ids=[str(c) for c in PW_CASES])
def test_pointwise_random_matches_reference(case):
    n, c_in, h, w, c_out = case
    rng = np.random.default_rng(sum(case))
    x = rand_i8(rng, (n, c_in, h, w))
    wt = rand_i8(rng, (c_out, c_in))
    bias = rng.integers(-2**16, 2**16, size=c_out).astype(np.int32)
    mult, shift = rand_requant(rng, c_out, (-11, -5))
    q = (int(rng.integers(-127, 129)), int(rng.integers(-128, 128)), -128, 127)
    want = ref_pointwise(x, wt, bias, mult, shift, q)
    for path in ("reference", "fast"):
        status, got = c_pointwise(x, wt, bias, mult, shift, q, path=path)
        assert status == lib.BB_OK
        np.testing.assert_array_equal(got, want, err_msg=path)


@pytest.mark.parametrize("in_zp,out_zp", [(-128, 127), (127, -128), (-128, -128)])
def test_pointwise_edges(in_zp, out_zp):
    rng = np.random.default_rng(9)
    x = rand_i8(rng, (1, 9, 3, 5))
    wt = np.full((4, 9), -128, np.int8)
    wt[1] = 127
    wt[2] = rand_i8(rng, 9)
    mult = np.array([INT32_MAX, INT32_MAX, 1 << 30, 0], np.int32)
    shift = np.array([-31, 30, -8, 0], np.int32)
    bias = np.array([INT32_MAX - 255 * 128 * 9, -(INT32_MAX - 255 * 127 * 9), 0, 5], np.int32)
    q = (-in_zp, out_zp, out_zp, 127)  # a fused ReLU: nothing below the zero point
    want = ref_pointwise(x, wt, bias, mult, shift, q)
    for path in ("reference", "fast"):
        status, got = c_pointwise(x, wt, bias, mult, shift, q, path=path)
        assert status == lib.BB_OK
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("clamp", [(-128, 127), (-20, 127), (-128, 90), (-7, 33)])
def test_pointwise_requantization_edges(clamp):
    """The fast path's one-rounding requantization (csrc/bb_requant_fast.h) holds for a
    multiplier above 2^30 and a right shift of 1..31; the others (2^30 itself, shift 0 or
    a left shift) go the two-rounding way. Both, beside each other in one layer, against
    numpy, with accumulators large and small, ties included (weights of +-1 and +-2 make
    small even and odd sums), every output clamp kind, C_in = 7 (a tail of three) and
    ten positions (a last block of two)."""
    rng = np.random.default_rng(13)
    mult = np.array([1 << 30, (1 << 30) + 1, INT32_MAX, 1518500250, 1 << 30, INT32_MAX, (1 << 30) + 7, 1234567890,
                     INT32_MAX, (1 << 30) + 1, 2 ** 31 - 2, 1 << 30], np.int32)
    shift = np.array([-1, -1, -1, -2, -3, -31, -31, 0, 0, -2, -17, 3], np.int32)
    c_out = len(mult)
    x = rand_i8(rng, (1, 7, 2, 5))
    wt = rng.integers(-2, 3, size=(c_out, 7)).astype(np.int8)
    wt[5:7] = rand_i8(rng, (2, 7))
    bias = rng.integers(-300, 300, size=c_out).astype(np.int32)
    bias[5:7] = [INT32_MAX - 255 * 128 * 7, -(INT32_MAX - 255 * 128 * 7)]
    for in_off in (-127, 0, 128):
        q = (in_off, 3, *clamp)
        want = ref_pointwise(x, wt, bias, mult, shift, q)
        for path in ("reference", "fast"):
            status, got = c_pointwise(x, wt, bias, mult, shift, q, path=path)
            assert status == lib.BB_OK
            np.testing.assert_array_equal(got, want, err_msg=f"{path}, input offset {in_off}")


def test_pointwise_errors():
    x = np.zeros((1, 4, 2, 2), np.int8)
    wt = np.zeros((3, 4), np.int8)
    m, s = np.full(3, 1 << 30, np.int32), np.zeros(3, np.int32)
    q = (0, 0, -128, 127)
    assert c_pointwise(x, wt, None, m, s, q)[0] == lib.BB_OK
    assert c_pointwise(x, wt, None, m, s, q, misalign=True)[0] == lib.BB_ERR_SCRATCH
    need = lib.bb_pointwise_conv2d_s8_scratch_size(dims(x.shape), 3)
    assert need == 4 * 3 + 32  # bias terms, one packed group of four channels by four positions
    assert c_pointwise(x, wt, None, m, s, q, scratch_bytes=need - 1)[0] == lib.BB_ERR_SCRATCH
    assert c_pointwise(x, wt, None, m, s, (0, 0, 1, 0))[0] == lib.BB_ERR_ARGUMENT
    assert c_pointwise(x, wt, None, m, np.array([0, 0, -32], np.int32), q, path="reference")[0] == \
        lib.BB_ERR_ARGUMENT


# ---------------------------------------------------------------- add
def add_params(rng, zp1=None, zp2=None, zpo=None):
    return {
        "input1_offset": -(int(rng.integers(-128, 128)) if zp1 is None else zp1),
        "input1_multiplier": int(rng.integers(1 << 30, INT32_MAX)), "input1_shift": int(rng.integers(-3, 1)),
        "input2_offset": -(int(rng.integers(-128, 128)) if zp2 is None else zp2),
        "input2_multiplier": int(rng.integers(1 << 30, INT32_MAX)), "input2_shift": int(rng.integers(-3, 1)),
        "output_offset": int(rng.integers(-128, 128)) if zpo is None else zpo,
        "output_multiplier": int(rng.integers(1 << 30, INT32_MAX)), "output_shift": int(rng.integers(-21, -17)),
        "activation_min": -128, "activation_max": 127,
    }


@pytest.mark.parametrize("seed", range(6))
def test_add_random_matches_reference(seed):
    rng = np.random.default_rng(seed)
    p = add_params(rng)
    shape = (2, 3, 7, 5) if seed % 2 else (1, 16, 11, 7)  # below and above the table threshold
    x1, x2 = rand_i8(rng, shape), rand_i8(rng, shape)
    want = ref_add(x1, x2, p)
    for path in ("reference", "fast"):
        status, got = c_add(x1, x2, p, path=path)
        assert status == lib.BB_OK
        np.testing.assert_array_equal(got, want, err_msg=path)
    assert len(np.unique(want)) > 20


@pytest.mark.parametrize("zp", [-128, 127])
def test_add_edges_every_int8_pair(zp):
    """All 65536 input pairs, zero points at the extremes, multipliers near 2^31,
    shifts at the extremes of each range, a ReLU6-like clamp."""
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    x1, x2 = a.astype(np.int8).ravel(), b.astype(np.int8).ravel()
    for p in (
        dict(input1_offset=-zp, input1_multiplier=INT32_MAX, input1_shift=0, input2_offset=1 + zp,  # the other extreme
             input2_multiplier=INT32_MAX, input2_shift=-31, output_offset=-1 - zp,
             output_multiplier=INT32_MAX, output_shift=-20, activation_min=-128, activation_max=127),
        dict(input1_offset=-zp, input1_multiplier=1 << 30, input1_shift=-1, input2_offset=-zp,
             input2_multiplier=(1 << 30) + 1, input2_shift=0, output_offset=zp,
             output_multiplier=INT32_MAX, output_shift=30, activation_min=zp if zp < 0 else -128,
             activation_max=100),
        dict(input1_offset=-zp, input1_multiplier=0, input1_shift=-31, input2_offset=-zp,
             input2_multiplier=INT32_MAX - 1, input2_shift=-1, output_offset=-7,
             output_multiplier=1 << 30, output_shift=-19, activation_min=-128, activation_max=127),
    ):
        want = ref_add(x1, x2, p)
        for path in ("reference", "fast"):  # 65536 elements: the fast path's tables
            status, got = c_add(x1, x2, p, path=path)
            assert status == lib.BB_OK
            np.testing.assert_array_equal(got, want, err_msg=path)


def test_add_in_place_and_errors():
    rng = np.random.default_rng(3)
    p = add_params(rng)
    x1, x2 = rand_i8(rng, (1, 4, 3, 3)), rand_i8(rng, (1, 4, 3, 3))
    want = ref_add(x1, x2, p)
    status, _ = c_add(x1, x2, p, out=x1)
    assert status == lib.BB_OK
    np.testing.assert_array_equal(x1, want)
    for key, value in [("input1_shift", 1), ("input2_shift", -32), ("output_shift", 31), ("input1_offset", 129),
                       ("output_offset", 128), ("activation_min", 10), ("input2_multiplier", -1)]:
        bad = dict(p, **{key: value}, activation_max=5 if key == "activation_min" else 127)
        assert c_add(x1, x2, bad)[0] == lib.BB_ERR_ARGUMENT, key
    assert lib.bb_add_s8(ffi.NULL, 1, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, 0) == lib.BB_ERR_NULL
    big = rand_i8(rng, (4096,))
    assert lib.bb_add_s8_scratch_size(4096) == 2048 and lib.bb_add_s8_scratch_size(100) == 0
    assert c_add(big, big, p, scratch_bytes=2047)[0] == lib.BB_ERR_SCRATCH
    other = rand_i8(rng, (4096,))
    inplace = big.copy()
    status, _ = c_add(inplace, other, p, out=inplace)  # in place on the table path too
    assert status == lib.BB_OK
    np.testing.assert_array_equal(inplace, ref_add(big, other, p))


# ---------------------------------------------------------------- global average pooling
GAP_CASES = [((1, 64, 25, 5), 0), ((2, 3, 7, 5), 1), ((1, 1, 1, 1), 2), ((1, 5, 2, 2), 3), ((3, 2, 9, 1), 4)]


@pytest.mark.parametrize("shape,seed", GAP_CASES)
def test_global_avg_pool_matches_reference(shape, seed):
    rng = np.random.default_rng(seed)
    x = rand_i8(rng, shape)
    for mult, shift in [(1 << 30, 1), (int(rng.integers(1 << 30, INT32_MAX)), int(rng.integers(-2, 3)))]:
        q = (int(rng.integers(-127, 129)), int(rng.integers(-128, 128)), -128, 127)
        status, got = c_gap(x, mult, shift, q)
        assert status == lib.BB_OK
        np.testing.assert_array_equal(got, ref_global_avg_pool(x, mult, shift, q))


def test_global_avg_pool_rounds_half_away_from_zero():
    # count 2: sums +-1 and +-3 are exact halves; identity requantization.
    x = np.array([0, 1, 0, -1, 1, 2, -1, -2], np.int8).reshape(1, 4, 1, 2)
    status, got = c_gap(x, 1 << 30, 1, (0, 0, -128, 127))
    assert status == lib.BB_OK
    assert got.ravel().tolist() == [1, -1, 2, -2]
    np.testing.assert_array_equal(got, ref_global_avg_pool(x, 1 << 30, 1, (0, 0, -128, 127)))


@pytest.mark.parametrize("in_zp,out_zp", [(-128, 127), (127, -128)])
def test_global_avg_pool_edges(in_zp, out_zp):
    rng = np.random.default_rng(11)
    x = rand_i8(rng, (1, 6, 7, 5))
    x[0, 0], x[0, 1] = -128, 127
    for mult, shift in [(INT32_MAX, 30), (INT32_MAX, -31), (INT32_MAX, 0), (0, 0), (1 << 30, 1)]:
        q = (-in_zp, out_zp, -128, 127)
        status, got = c_gap(x, mult, shift, q)
        assert status == lib.BB_OK
        np.testing.assert_array_equal(got, ref_global_avg_pool(x, mult, shift, q))


def test_global_avg_pool_errors():
    x = np.zeros((1, 2, 3, 3), np.int8)
    assert c_gap(x, -1, 0, (0, 0, -128, 127))[0] == lib.BB_ERR_ARGUMENT
    assert c_gap(x, 1, 31, (0, 0, -128, 127))[0] == lib.BB_ERR_ARGUMENT
    assert c_gap(x, 1, 0, (-128, 0, -128, 127))[0] == lib.BB_ERR_ARGUMENT
    big = dims((1, 1, 1 << 14, 1 << 10))  # 2^24 values: their sum could pass 2^31
    assert lib.bb_global_avg_pool_s8(big, quant((0, 0, -128, 127)), 1, 0, ffi.NULL, ffi.NULL) == lib.BB_ERR_SHAPE


# ---------------------------------------------------------------- concatenation
def test_concat_requantizes_each_input_and_copies_matching_ones():
    rng = np.random.default_rng(12)
    xs = [rand_i8(rng, (2, c, 7, 5)) for c in (1, 3, 2, 4)]
    out_offset = -5
    rescales = [
        (5, 1 << 30, 1),                    # the output's quantization: a copy
        (128, INT32_MAX, 0),                # zero point -128, scale ~1: shifted by 133, saturating
        (-127, int(rng.integers(1 << 30, INT32_MAX)), -1),  # zero point 127, half the scale
        (0, INT32_MAX, 30),                 # shift 30: everything but zero saturates
    ]
    status, got = c_concat(xs, rescales, out_offset)
    assert status == lib.BB_OK
    want = ref_concat(xs, rescales, out_offset)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[:, :1], xs[0])  # copied as is
    assert {-128, 127} <= set(np.unique(want[:, 1:]))


def test_concat_single_input_and_errors():
    x = rand_i8(np.random.default_rng(1), (1, 1, 1, 1))
    status, got = c_concat([x], [(-3, 1 << 30, 1)], 3)
    assert status == lib.BB_OK and got.tolist() == x.tolist()
    y = np.zeros((1, 3, 1, 1), np.int8)
    channels = np.array([1, 1], np.int32)
    rs = ffi.new("bb_rescale_s8[]", [[0, 1 << 30, 1], [0, 1 << 30, 1]])
    ptrs = ffi.new("const int8_t *[]", [buf("int8_t", x), buf("int8_t", x)])
    call = lambda ch, off=0: lib.bb_concat_channels_s8(dims(y.shape), 2, buf("int32_t", ch), rs, off, ptrs,
                                                        buf("int8_t", y))
    assert call(channels) == lib.BB_ERR_SHAPE  # 1 + 1 != 3
    assert call(np.array([1, 2], np.int32), off=128) == lib.BB_ERR_ARGUMENT
    assert call(np.array([0, 3], np.int32)) == lib.BB_ERR_SHAPE
    rs[1].shift = -32  # checked before any byte is read
    assert call(np.array([1, 2], np.int32)) == lib.BB_ERR_ARGUMENT


# ---------------------------------------------------------------- leaky ReLU
def ref_leaky_relu(x, p):
    v = x.astype(I64) + p["input_offset"]
    r = np.where(v >= 0, requantize(v, p["identity_multiplier"], p["identity_shift"]),
                 requantize(v, p["alpha_multiplier"], p["alpha_shift"]))
    return np.clip(r + p["output_offset"], -128, 127).astype(np.int8)


LEAKY_CASES = [
    dict(input_offset=128, output_offset=-128, identity_multiplier=INT32_MAX, identity_shift=30,
         alpha_multiplier=INT32_MAX, alpha_shift=30),
    dict(input_offset=-127, output_offset=127, identity_multiplier=INT32_MAX, identity_shift=-31,
         alpha_multiplier=0, alpha_shift=0),
    dict(input_offset=7, output_offset=-30, identity_multiplier=1 << 30, identity_shift=1,
         alpha_multiplier=1717986918, alpha_shift=-3),
    dict(input_offset=-90, output_offset=12, identity_multiplier=1518500250, identity_shift=-1,
         alpha_multiplier=INT32_MAX - 1, alpha_shift=2),
]


@pytest.mark.parametrize("p", LEAKY_CASES)
def test_leaky_relu_every_value_matches_reference(p):
    """All 256 values at once (the kernel's table path) and 200 of them (the direct path),
    offsets and multipliers at their extremes."""
    x = np.arange(-128, 128, dtype=np.int64).astype(np.int8)
    want = ref_leaky_relu(x, p)
    params = ffi.new("bb_leaky_relu_s8_params *", p)
    for n in (256, 200):
        y = np.full(n, 99, np.int8)
        assert lib.bb_leaky_relu_s8(params, n, buf("int8_t", x[:n].copy()), buf("int8_t", y)) == lib.BB_OK
        np.testing.assert_array_equal(y, want[:n], err_msg=f"n={n}")
    inplace = np.tile(x, 3)
    assert lib.bb_leaky_relu_s8(params, inplace.size, buf("int8_t", inplace), buf("int8_t", inplace)) == lib.BB_OK
    np.testing.assert_array_equal(inplace, np.tile(want, 3))


def test_leaky_relu_refuses_bad_parameters():
    x = np.zeros(4, np.int8)
    for key, value in [("input_offset", 129), ("input_offset", -128), ("output_offset", 128),
                       ("identity_shift", 31), ("alpha_shift", -32), ("alpha_multiplier", -1)]:
        params = ffi.new("bb_leaky_relu_s8_params *", dict(LEAKY_CASES[2], **{key: value}))
        assert lib.bb_leaky_relu_s8(params, 4, buf("int8_t", x), buf("int8_t", x)) == lib.BB_ERR_ARGUMENT, key
    assert lib.bb_leaky_relu_s8(ffi.NULL, 4, buf("int8_t", x), buf("int8_t", x)) == lib.BB_ERR_NULL
