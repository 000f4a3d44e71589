/* bb_depthwise_conv2d_s8.c: int8 depthwise convolution (TFLite's DepthwiseConv2D, per
 * channel), a reference path and a fast path with the same bytes.
 *
 * Fast path. Output channel by output channel, the input plane's rows go through a
 * ring of kernel_height padded rows in scratch: each row copied once, its padding
 * columns (and padding rows) holding the input zero point. Then every output reads
 * a full window and no output is a border case, which on a narrow DS-CNN plane (width 5,
 * "same" padding) would be two columns in five. With a padded value reading as the zero
 * point the input offset hoists out exactly:
 *   bias + sum over in-range taps (x + offset) w = (bias + offset sum(w)) + sum(x_padded w)
 * since a padded tap adds (zero point + offset) w = 0. The two terms are summed
 * separately and added last, so each stays below the accumulator bound of
 * bb_int8_graph.h. A 3x3 window of stride 1 or 2 has its own row loops: on a Cortex-M4
 * two 16-bit products per SMLAD (bb_dsp.h), elsewhere plain C.
 *
 * A narrow plane (DS-CNN's are 25 x 5) would spend more on each short row's setup than
 * on its multiplies, so a 3x3 window over an output narrower than NARROW columns and
 * taller than wide runs transposed: the whole padded plane is copied transposed into
 * scratch once per input channel (its rows are then the long columns), the kernel is
 * transposed, and each output row of the transposed problem is stored as a column. */
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"
#include "bb_dsp.h"
#include "bb_requant_fast.h"
#include <string.h>

static bb_status check(const bb_s8_dims *in, int32_t depth_multiplier, const bb_s8_window *conv,
                       const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int8_t *y, int32_t *oh, int32_t *ow)
{
    bb_status s = bb_check_dims_s8(in);
    if (s != BB_OK)
        return s;
    if (conv == NULL)
        return BB_ERR_NULL;
    if (depth_multiplier <= 0)
        return BB_ERR_ARGUMENT;
    if ((s = bb_window_output(in->height, in->width, conv, oh, ow)) != BB_OK)
        return s;
    const int64_t out_channels = (int64_t)in->channels * depth_multiplier;
    /* The fast path's ring (kernel_height padded rows) must fit a 32-bit arena too. */
    const int64_t ring = (int64_t)conv->kernel_height * ((int64_t)in->width + conv->pad_left + conv->pad_right);
    if (out_channels > INT32_MAX || ring > INT32_MAX - 4 || out_channels * in->batch * *oh * *ow > INT32_MAX)
        return BB_ERR_SHAPE;
    if ((s = bb_check_quant_out(q)) != BB_OK)
        return s;
    if ((s = bb_check_requant((int32_t)out_channels, multiplier, shift)) != BB_OK)
        return s;
    return (x == NULL || w == NULL || y == NULL) ? BB_ERR_NULL : BB_OK;
}

static int8_t finish(int32_t acc, const bb_quant_out *q, int32_t multiplier, int32_t shift)
{
    return bb_graph_out(bb_requantize_inline(acc, multiplier, shift), q->output_offset, q->activation_min,
                        q->activation_max);
}

/* ---- reference ------------------------------------------------------------------- */

bb_status bb_depthwise_conv2d_s8_reference(const bb_s8_dims *in, int32_t depth_multiplier,
                                           const bb_s8_window *conv, const bb_quant_out *q,
                                           const int32_t *multiplier, const int32_t *shift,
                                           const int8_t *x, const int8_t *w, const int32_t *bias,
                                           int8_t *y)
{
    int32_t oh, ow;
    bb_status s = check(in, depth_multiplier, conv, q, multiplier, shift, x, w, y, &oh, &ow);
    if (s != BB_OK)
        return s;
    const int32_t h = in->height, wd = in->width, kh = conv->kernel_height, kw = conv->kernel_width;
    const int32_t out_channels = in->channels * depth_multiplier;
    for (int32_t n = 0; n < in->batch; n++) {
        for (int32_t oc = 0; oc < out_channels; oc++) {
            const int8_t *plane = x + ((size_t)n * (size_t)in->channels + (size_t)(oc / depth_multiplier)) *
                                          (size_t)h * (size_t)wd;
            const int8_t *filter = w + (size_t)oc * (size_t)kh * (size_t)kw;
            for (int32_t oy = 0; oy < oh; oy++) {
                for (int32_t ox = 0; ox < ow; ox++) {
                    int32_t acc = bias != NULL ? bias[oc] : 0;
                    for (int32_t ky = 0; ky < kh; ky++) {
                        const int32_t iy = oy * conv->stride_height - conv->pad_top + ky;
                        for (int32_t kx = 0; kx < kw; kx++) {
                            const int32_t ix = ox * conv->stride_width - conv->pad_left + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                continue; /* padding: real 0 */
                            acc += ((int32_t)plane[(size_t)iy * (size_t)wd + (size_t)ix] + q->input_offset) *
                                   (int32_t)filter[ky * kw + kx];
                        }
                    }
                    *y++ = finish(acc, q, multiplier[oc], shift[oc]);
                }
            }
        }
    }
    return BB_OK;
}

/* ---- fast path ------------------------------------------------------------------- */

enum { NARROW = 8, CHUNK = 64 };

/* Whether the fast path runs this window transposed (see the top of the file). */
static int transposed(const bb_s8_window *conv, int32_t oh, int32_t ow)
{
    return conv->kernel_height == 3 && conv->kernel_width == 3 && ow < NARROW && oh > ow &&
           (conv->stride_height == 1 || conv->stride_height == 2);
}

size_t bb_depthwise_conv2d_s8_scratch_size(const bb_s8_dims *in, const bb_s8_window *conv)
{
    int32_t oh, ow;
    if (bb_check_dims_s8(in) != BB_OK || bb_window_output(in->height, in->width, conv, &oh, &ow) != BB_OK)
        return 0;
    const uint64_t pw = (uint64_t)in->width + (uint64_t)conv->pad_left + (uint64_t)conv->pad_right;
    const uint64_t ph = (uint64_t)in->height + (uint64_t)conv->pad_top + (uint64_t)conv->pad_bottom;
    /* The whole padded plane when transposed, else a ring of kernel_height padded rows;
     * and 4 bytes so that a word load at the last row's end stays inside the buffer (the
     * bytes past a row it reads are never used). */
    const uint64_t bytes = (transposed(conv, oh, ow) ? ph : (uint64_t)conv->kernel_height) * pw;
    return bytes > INT32_MAX - 4 ? 0 : (size_t)bytes + 4; /* 0: the kernel refuses such a window */
}

/* One output channel's requantization, with the clamp moved before the offset
 * (bb_graph_out) and its bounds computed once. */
typedef struct out_channel {
    int32_t base; /* bias + input_offset * sum(w) */
    bb_requant_step step;
    int32_t offset, lo, hi;
} out_channel;

/* out[i * stride] for a row's n accumulators. A loop of its own, apart from the
 * multiply-accumulates: each has its constants in registers (on a Cortex-M, with both
 * in one loop they spill to the stack), and no int8 store can alias a constant. */
BB_NOINLINE static void requantize_row(const int32_t *restrict acc, int32_t n, const out_channel *o,
                                       int8_t *restrict out, size_t stride)
{
    const bb_requant_step step = o->step;
    const int32_t base = o->base, lo = o->lo, hi = o->hi, offset = o->offset;
    if (step.left == 0 && bb_requant_fast_ok(step.multiplier, -step.right)) {
        /* the usual channel: one rounding step (bb_requant_fast.h), then SSAT when the
         * clamp's top is int8's (no fused clamp, or a ReLU) */
        const bb_requant_fast f = bb_requant_fast_prepare(step.multiplier, -step.right);
        const int32_t min = lo + offset, max = hi + offset; /* the clamp after the offset */
        if (max == 127 && min == -128) { /* SSAT alone */
            for (int32_t i = 0; i < n; i++, out += stride)
                *out = (int8_t)bb_ssat8(bb_requant_fast_apply(acc[i] + base, &f) + offset);
            return;
        }
        if (max == 127) {
            for (int32_t i = 0; i < n; i++, out += stride) {
                const int32_t v = bb_ssat8(bb_requant_fast_apply(acc[i] + base, &f) + offset);
                *out = (int8_t)(v < min ? min : v);
            }
            return;
        }
        for (int32_t i = 0; i < n; i++, out += stride) {
            const int32_t v = bb_requant_fast_apply(acc[i] + base, &f) + offset; /* no overflow: see there */
            *out = (int8_t)(v < min ? min : (v > max ? max : v));
        }
        return;
    }
    if (step.left == 0) { /* one SMULL, no saturating shift */
        for (int32_t i = 0; i < n; i++, out += stride) {
            const int32_t r = bb_requantize_step_right(acc[i] + base, &step);
            *out = (int8_t)((r < lo ? lo : (r > hi ? hi : r)) + offset);
        }
        return;
    }
    for (int32_t i = 0; i < n; i++, out += stride) {
        const int32_t r = bb_requantize_step(acc[i] + base, &step);
        *out = (int8_t)((r < lo ? lo : (r > hi ? hi : r)) + offset);
    }
}

/* Accumulators of an output row of any window over the ring: rows slot, slot + 1, ...
 * (mod kh). */
BB_NOINLINE static void row_any(const int8_t *restrict ring, int32_t pw, int32_t slot,
                                const int8_t *restrict filter, int32_t kh, int32_t kw, int32_t stride,
                                int32_t ow, int32_t *restrict acc)
{
    for (int32_t ox = 0; ox < ow; ox++) {
        int32_t a = 0, s = slot;
        for (int32_t ky = 0; ky < kh; ky++) {
            const int8_t *r = ring + (size_t)s * (size_t)pw + (size_t)ox * (size_t)stride;
            const int8_t *f = filter + (size_t)ky * (size_t)kw;
            for (int32_t kx = 0; kx < kw; kx++)
                a += (int32_t)r[kx] * (int32_t)f[kx];
            s = s + 1 == kh ? 0 : s + 1;
        }
        acc[ox] = a;
    }
}

#if BB_DSP
/* 3x3, DSP: kernel row ky is held as k[2 ky] = (w0, w2) and k[2 ky + 1] = (w1, 0), int16
 * pairs. A word of four inputs (x0 x1 x2 x3) splits into e = (x0, x2), o = (x1, x3):
 *   x0 w0 + x1 w1 + x2 w2 = SMLAD(e, k02) + o.lo w1,
 *   x1 w0 + x2 w1 + x3 w2 = SMLAD(o, k02) + e.hi w1.
 * Stride 1 makes four outputs from the words at columns c and c + 2, stride 2 two. */
static inline void taps4(const int8_t *p, int32_t k02, int32_t k1, int32_t a[4])
{
    const uint32_t lo = bb_load32(p), hi = bb_load32(p + 2);
    const int32_t e0 = bb_sxtb16(lo), o0 = bb_sxtb16_ror8(lo), e2 = bb_sxtb16(hi), o2 = bb_sxtb16_ror8(hi);
    a[0] = bb_smlabb(o0, k1, bb_smlad(e0, k02, a[0]));
    a[1] = bb_smlatb(e0, k1, bb_smlad(o0, k02, a[1]));
    a[2] = bb_smlatb(o0, k1, bb_smlad(e2, k02, a[2]));
    a[3] = bb_smlatb(e2, k1, bb_smlad(o2, k02, a[3]));
}

static inline void taps2_stride2(const int8_t *p, int32_t k02, int32_t k1, int32_t a[2])
{
    const uint32_t lo = bb_load32(p), hi = bb_load32(p + 2);
    const int32_t e0 = bb_sxtb16(lo), o0 = bb_sxtb16_ror8(lo), e2 = bb_sxtb16(hi);
    a[0] = bb_smlabb(o0, k1, bb_smlad(e0, k02, a[0]));
    a[1] = bb_smlatb(o0, k1, bb_smlad(e2, k02, a[1]));
}

static inline int32_t taps1(const int8_t *p, int32_t k02, int32_t k1, int32_t a)
{
    const uint32_t word = bb_load32(p);
    return bb_smlabb(bb_sxtb16_ror8(word), k1, bb_smlad(bb_sxtb16(word), k02, a));
}

BB_NOINLINE static void row_3x3(const int8_t *restrict r0, const int8_t *restrict r1,
                                const int8_t *restrict r2, const int32_t *restrict k, int32_t stride,
                                int32_t ow, int32_t *restrict acc)
{
    const int32_t k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5];
    int32_t ox = 0;
    if (stride == 1) {
        for (; ox + 4 <= ow; ox += 4) {
            int32_t a[4] = {0, 0, 0, 0};
            taps4(r0 + ox, k0, k1, a);
            taps4(r1 + ox, k2, k3, a);
            taps4(r2 + ox, k4, k5, a);
            acc[ox] = a[0];
            acc[ox + 1] = a[1];
            acc[ox + 2] = a[2];
            acc[ox + 3] = a[3];
        }
    } else {
        for (; ox + 2 <= ow; ox += 2) {
            int32_t a[2] = {0, 0};
            taps2_stride2(r0 + 2 * ox, k0, k1, a);
            taps2_stride2(r1 + 2 * ox, k2, k3, a);
            taps2_stride2(r2 + 2 * ox, k4, k5, a);
            acc[ox] = a[0];
            acc[ox + 1] = a[1];
        }
    }
    for (; ox < ow; ox++) {
        const size_t c = (size_t)ox * (size_t)stride;
        acc[ox] = taps1(r2 + c, k4, k5, taps1(r1 + c, k2, k3, taps1(r0 + c, k0, k1, 0)));
    }
}

/* f is the 3x3 filter read with steps (row, column): (3, 1), or (1, 3) transposed. */
static void pack_3x3(const int8_t *f, int row, int col, int32_t *k)
{
    for (int ky = 0; ky < 3; ky++) {
        k[2 * ky] = bb_pack16(f[ky * row], f[ky * row + 2 * col]);
        k[2 * ky + 1] = bb_pack16(f[ky * row + col], 0);
    }
}
#else
/* 3x3, plain C: three taps of a row at a time. */
static inline int32_t taps3(const int8_t *p, const int32_t *k)
{
    return p[0] * k[0] + p[1] * k[1] + p[2] * k[2];
}

/* Stride 1, one kernel row (a, b, c) over row r into acc[0, n), added to it unless
 * `first`: the three weights stay in registers and each input is loaded once for the
 * outputs it feeds, two outputs a turn (a Cortex-M3's registers hold no more beside
 * the pointers). */
static inline void row_taps_s1(const int8_t *restrict r, int32_t a, int32_t b, int32_t c, int32_t n,
                               int32_t *restrict acc, int first)
{
    int32_t x0 = r[0], x1 = r[1], i = 0;
    for (; i + 2 <= n; i += 2) {
        const int32_t x2 = r[i + 2], x3 = r[i + 3];
        const int32_t s0 = first ? 0 : acc[i], s1 = first ? 0 : acc[i + 1];
        acc[i] = s0 + x0 * a + x1 * b + x2 * c;
        acc[i + 1] = s1 + x1 * a + x2 * b + x3 * c;
        x0 = x2;
        x1 = x3;
    }
    if (i < n)
        acc[i] = (first ? 0 : acc[i]) + x0 * a + x1 * b + r[i + 2] * c;
}

BB_NOINLINE static void row_3x3(const int8_t *restrict r0, const int8_t *restrict r1,
                                const int8_t *restrict r2, const int32_t *restrict k, int32_t stride,
                                int32_t ow, int32_t *restrict acc)
{
    if (stride == 1) {
        row_taps_s1(r0, k[0], k[1], k[2], ow, acc, 1);
        row_taps_s1(r1, k[3], k[4], k[5], ow, acc, 0);
        row_taps_s1(r2, k[6], k[7], k[8], ow, acc, 0);
        return;
    }
    for (int32_t ox = 0; ox < ow; ox++) {
        const size_t c = (size_t)ox * (size_t)stride;
        acc[ox] = taps3(r0 + c, k) + taps3(r1 + c, k + 3) + taps3(r2 + c, k + 6);
    }
}

static void pack_3x3(const int8_t *f, int row, int col, int32_t *k)
{
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            k[3 * ky + kx] = f[ky * row + kx * col];
}
#endif

/* Copies padded row `row` of `plane` into its ring slot (the padding columns were set
 * once). Word copies: a library call would cost more than a DS-CNN row of 5 bytes. */
static void fill_row(int8_t *restrict slot, const int8_t *restrict plane, int32_t row, const bb_s8_dims *in,
                     const bb_s8_window *conv, int8_t zero_point)
{
    const int32_t iy = row - conv->pad_top, n = in->width;
    int8_t *dst = slot + conv->pad_left;
    if (iy < 0 || iy >= in->height) {
        memset(dst, zero_point, (size_t)n);
        return;
    }
    const int8_t *src = plane + (size_t)iy * (size_t)n;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t v;
        memcpy(&v, src + i, sizeof v);
        memcpy(dst + i, &v, sizeof v);
    }
    if (i < n)
        dst[i] = src[i];
    if (i + 1 < n)
        dst[i + 1] = src[i + 1];
    if (i + 2 < n)
        dst[i + 2] = src[i + 2];
}

/* Copies `plane` transposed into t (padded width rows of ph bytes): t[(ix + pad_left) ph
 * + iy + pad_top] = plane[iy][ix]; the padding around was set once. Four rows at a time
 * become one word store. */
static void fill_transposed(int8_t *restrict t, const int8_t *restrict plane, const bb_s8_dims *in,
                            const bb_s8_window *conv, int32_t ph)
{
    const size_t wd = (size_t)in->width;
    for (int32_t ix = 0; ix < in->width; ix++) {
        int8_t *dst = t + (size_t)(ix + conv->pad_left) * (size_t)ph + (size_t)conv->pad_top;
        const uint8_t *src = (const uint8_t *)plane + ix;
        int32_t iy = 0;
        for (; BB_LITTLE_ENDIAN && iy + 4 <= in->height; iy += 4, src += 4 * wd) {
            const uint32_t word = (uint32_t)src[0] | (uint32_t)src[wd] << 8 | (uint32_t)src[2 * wd] << 16 |
                                  (uint32_t)src[3 * wd] << 24; /* little-endian: byte 0 first */
            memcpy(dst + iy, &word, sizeof word);
        }
        for (; iy < in->height; iy++, src += wd)
            dst[iy] = (int8_t)*src;
    }
}

bb_status bb_depthwise_conv2d_s8(const bb_s8_dims *in, int32_t depth_multiplier,
                                 const bb_s8_window *conv, const bb_quant_out *q,
                                 const int32_t *multiplier, const int32_t *shift,
                                 const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                                 int8_t *scratch, size_t scratch_bytes)
{
    int32_t oh, ow;
    bb_status s = check(in, depth_multiplier, conv, q, multiplier, shift, x, w, y, &oh, &ow);
    if (s != BB_OK)
        return s;
    const size_t need = bb_depthwise_conv2d_s8_scratch_size(in, conv);
    if (need == 0)
        return BB_ERR_SHAPE; /* a padded plane past a 32-bit arena */
    if (scratch == NULL || scratch_bytes < need)
        return BB_ERR_SCRATCH;
    const int32_t kh = conv->kernel_height, kw = conv->kernel_width, sh = conv->stride_height;
    const int32_t pw = in->width + conv->pad_left + conv->pad_right, taps = kh * kw;
    const int32_t ph = in->height + conv->pad_top + conv->pad_bottom;
    const int32_t out_channels = in->channels * depth_multiplier;
    const int8_t zero_point = (int8_t)-q->input_offset; /* in [-128, 127] */
    const size_t plane_bytes = (size_t)in->height * (size_t)in->width, out_plane = (size_t)oh * (size_t)ow;
    const int flip = transposed(conv, oh, ow);
    const int three = kh == 3 && kw == 3 && (conv->stride_width == 1 || conv->stride_width == 2);
    int32_t acc[CHUNK]; /* the accumulators of CHUNK outputs of a row */

    memset(scratch, zero_point, need); /* the padding, never overwritten after this */
    for (int32_t n = 0; n < in->batch; n++) {
        for (int32_t oc = 0; oc < out_channels; oc++) {
            const int8_t *plane = x + ((size_t)n * (size_t)in->channels + (size_t)(oc / depth_multiplier)) *
                                          plane_bytes;
            int8_t *out = y + ((size_t)n * (size_t)out_channels + (size_t)oc) * out_plane;
            const int8_t *filter = w + (size_t)oc * (size_t)taps;
            int32_t sum_w = 0;
            for (int32_t i = 0; i < taps; i++)
                sum_w += filter[i];
            const out_channel o = {(bias != NULL ? bias[oc] : 0) + q->input_offset * sum_w,
                                   bb_requant_prepare(multiplier[oc], shift[oc]), q->output_offset,
                                   q->activation_min - q->output_offset, q->activation_max - q->output_offset};
            int32_t k[9];
            if (flip) {
                /* Output column ox is row ox of the transposed problem: its window
                 * starts at transposed row ox * stride_width, column 0. */
                if (oc % depth_multiplier == 0)
                    fill_transposed(scratch, plane, in, conv, ph);
                pack_3x3(filter, 1, 3, k);
                for (int32_t ox = 0; ox < ow; ox++) {
                    const int8_t *r0 = scratch + (size_t)(ox * conv->stride_width) * (size_t)ph;
                    for (int32_t oy0 = 0; oy0 < oh; oy0 += CHUNK) {
                        const int32_t count = oh - oy0 < CHUNK ? oh - oy0 : CHUNK;
                        const size_t col = (size_t)oy0 * (size_t)sh;
                        row_3x3(r0 + col, r0 + ph + col, r0 + 2 * (size_t)ph + col, k, sh, count, acc);
                        requantize_row(acc, count, &o, out + (size_t)oy0 * (size_t)ow + (size_t)ox, (size_t)ow);
                    }
                }
                continue;
            }
            if (three)
                pack_3x3(filter, 3, 1, k);
            /* Padded row r lives in ring slot r % kh; `next` is the next row to copy. */
            int32_t next = 0;
            for (int32_t oy = 0; oy < oh; oy++, out += ow) {
                const int32_t top = oy * sh;
                if (next < top)
                    next = top; /* rows a stride larger than the kernel skips */
                for (; next < top + kh; next++)
                    fill_row(scratch + (size_t)(next % kh) * (size_t)pw, plane, next, in, conv, zero_point);
                const int32_t s0 = top % kh, s1 = s0 + 1 == kh ? 0 : s0 + 1, s2 = s1 + 1 == kh ? 0 : s1 + 1;
                for (int32_t ox0 = 0; ox0 < ow; ox0 += CHUNK) {
                    const int32_t count = ow - ox0 < CHUNK ? ow - ox0 : CHUNK;
                    const size_t col = (size_t)ox0 * (size_t)conv->stride_width;
                    if (three)
                        row_3x3(scratch + (size_t)s0 * (size_t)pw + col, scratch + (size_t)s1 * (size_t)pw + col,
                                scratch + (size_t)s2 * (size_t)pw + col, k, conv->stride_width, count, acc);
                    else
                        row_any(scratch + col, pw, s0, filter, kh, kw, conv->stride_width, count, acc);
                    requantize_row(acc, count, &o, out + ox0, 1);
                }
            }
        }
    }
    return BB_OK;
}
