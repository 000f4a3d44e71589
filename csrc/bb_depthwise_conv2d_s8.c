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
 * two 16-bit products per SMLAD (bb_dsp.h), elsewhere plain C. */
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"
#include "bb_dsp.h"

static bb_status check(const bb_s8_dims *in, int32_t depth_multiplier, const bb_s8_window *conv,
                       const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int8_t *y, int32_t *oh, int32_t *ow)
{
    bb_status s = bb_graph_check_dims(in);
    if (s != BB_OK)
        return s;
    if (conv == NULL)
        return BB_ERR_NULL;
    if (depth_multiplier <= 0)
        return BB_ERR_ARGUMENT;
    if ((s = bb_graph_window_output(in->height, in->width, conv, oh, ow)) != BB_OK)
        return s;
    const int64_t out_channels = (int64_t)in->channels * depth_multiplier;
    /* The fast path's ring (kernel_height padded rows) must fit a 32-bit arena too. */
    const int64_t ring = (int64_t)conv->kernel_height * ((int64_t)in->width + conv->pad_left + conv->pad_right);
    if (out_channels > INT32_MAX || ring > INT32_MAX - 4 || out_channels * in->batch * *oh * *ow > INT32_MAX)
        return BB_ERR_SHAPE;
    if ((s = bb_graph_check_quant(q)) != BB_OK)
        return s;
    if ((s = bb_graph_check_requant((int32_t)out_channels, multiplier, shift)) != BB_OK)
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

size_t bb_depthwise_conv2d_s8_scratch_size(const bb_s8_dims *in, const bb_s8_window *conv)
{
    int32_t oh, ow;
    if (bb_graph_check_dims(in) != BB_OK || bb_graph_window_output(in->height, in->width, conv, &oh, &ow) != BB_OK)
        return 0;
    /* kernel_height rows, and 4 bytes so that a word load at a row's last bytes stays
     * inside the buffer (the bytes past the row it reads are never used). */
    const uint64_t ring = (uint64_t)conv->kernel_height *
                          ((uint64_t)in->width + (uint64_t)conv->pad_left + (uint64_t)conv->pad_right);
    return ring > INT32_MAX - 4 ? 0 : (size_t)ring + 4; /* the kernel refuses such a window */
}

/* Output row of any window over ring rows `rows` (kh of them, in window order), added to
 * acc when `add` (a window taller than one band of rows), else stored. */
static void row_any(const int8_t *const *rows, const int8_t *restrict filter, int32_t kh, int32_t kw,
                    int32_t stride, int32_t ow, int add, int32_t *restrict acc)
{
    for (int32_t ox = 0; ox < ow; ox++) {
        int32_t a = add ? acc[ox] : 0;
        for (int32_t ky = 0; ky < kh; ky++) {
            const int8_t *r = rows[ky] + (size_t)ox * (size_t)stride;
            const int8_t *f = filter + (size_t)ky * (size_t)kw;
            for (int32_t kx = 0; kx < kw; kx++)
                a += (int32_t)r[kx] * (int32_t)f[kx];
        }
        acc[ox] = a;
    }
}

#if BB_DSP
/* 3x3, DSP: each kernel row ky is held as k02 = (w0, w2) and k1 = (w1, -) int16 pairs.
 * A word of four inputs (x0 x1 x2 x3) splits into e = (x0, x2), o = (x1, x3), so that
 *   x0 w0 + x1 w1 + x2 w2 = SMLAD(e, k02) + o.lo w1,   x1 w0 + x2 w1 + x3 w2 = SMLAD(o, k02) + e.hi w1.
 * Stride 1 makes four outputs from the words at columns c and c + 2, stride 2 two. */
static void row_3x3(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int32_t *restrict k,
                    int32_t stride, int32_t ow, int32_t *restrict acc)
{
    const int8_t *r[3] = {r0, r1, r2};
    int32_t ox = 0;
    if (stride == 1) {
        for (; ox + 4 <= ow; ox += 4) {
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (int ky = 0; ky < 3; ky++) {
                const uint32_t lo = bb_load32(r[ky] + ox), hi = bb_load32(r[ky] + ox + 2);
                const int32_t e0 = bb_sxtb16(lo), o0 = bb_sxtb16_ror8(lo);
                const int32_t e2 = bb_sxtb16(hi), o2 = bb_sxtb16_ror8(hi);
                const int32_t k02 = k[2 * ky], k1 = k[2 * ky + 1];
                a0 = bb_smlabb(o0, k1, bb_smlad(e0, k02, a0));
                a1 = bb_smlatb(e0, k1, bb_smlad(o0, k02, a1));
                a2 = bb_smlatb(o0, k1, bb_smlad(e2, k02, a2));
                a3 = bb_smlatb(e2, k1, bb_smlad(o2, k02, a3));
            }
            acc[ox] = a0;
            acc[ox + 1] = a1;
            acc[ox + 2] = a2;
            acc[ox + 3] = a3;
        }
    } else if (stride == 2) {
        for (; ox + 2 <= ow; ox += 2) {
            int32_t a0 = 0, a1 = 0;
            for (int ky = 0; ky < 3; ky++) {
                const int8_t *p = r[ky] + 2 * ox;
                const uint32_t lo = bb_load32(p), hi = bb_load32(p + 2);
                const int32_t e0 = bb_sxtb16(lo), o0 = bb_sxtb16_ror8(lo), e2 = bb_sxtb16(hi);
                const int32_t k02 = k[2 * ky], k1 = k[2 * ky + 1];
                a0 = bb_smlabb(o0, k1, bb_smlad(e0, k02, a0));
                a1 = bb_smlatb(o0, k1, bb_smlad(e2, k02, a1));
            }
            acc[ox] = a0;
            acc[ox + 1] = a1;
        }
    }
    for (; ox < ow; ox++) {
        int32_t a = 0;
        for (int ky = 0; ky < 3; ky++) {
            const uint32_t word = bb_load32(r[ky] + (size_t)ox * (size_t)stride);
            a = bb_smlabb(bb_sxtb16_ror8(word), k[2 * ky + 1], bb_smlad(bb_sxtb16(word), k[2 * ky], a));
        }
        acc[ox] = a;
    }
}

static void pack_3x3(const int8_t *f, int32_t *k)
{
    for (int ky = 0; ky < 3; ky++) {
        k[2 * ky] = bb_pack16(f[3 * ky], f[3 * ky + 2]);
        k[2 * ky + 1] = bb_pack16(f[3 * ky + 1], 0);
    }
}
#else
/* 3x3, plain C: one input value live at a time, each feeding the outputs it touches. */
static void row_3x3(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int32_t *restrict k,
                    int32_t stride, int32_t ow, int32_t *restrict acc)
{
    const int8_t *r[3] = {r0, r1, r2};
    for (int32_t ox = 0; ox < ow; ox++) {
        int32_t a = 0;
        for (int ky = 0; ky < 3; ky++) {
            const int8_t *p = r[ky] + (size_t)ox * (size_t)stride;
            a += p[0] * k[3 * ky] + p[1] * k[3 * ky + 1] + p[2] * k[3 * ky + 2];
        }
        acc[ox] = a;
    }
}

static void pack_3x3(const int8_t *f, int32_t *k)
{
    for (int i = 0; i < 9; i++)
        k[i] = f[i];
}
#endif

/* Copies padded row `row` of `plane` into its ring slot (the padding columns were set once). */
static void fill_row(int8_t *restrict slot, const int8_t *restrict plane, int32_t row, const bb_s8_dims *in,
                     const bb_s8_window *conv, int8_t zero_point)
{
    const int32_t iy = row - conv->pad_top;
    int8_t *dst = slot + conv->pad_left;
    if (iy < 0 || iy >= in->height) {
        for (int32_t i = 0; i < in->width; i++)
            dst[i] = zero_point;
    } else {
        const int8_t *src = plane + (size_t)iy * (size_t)in->width;
        for (int32_t i = 0; i < in->width; i++)
            dst[i] = src[i];
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
    if (scratch == NULL || scratch_bytes < bb_depthwise_conv2d_s8_scratch_size(in, conv))
        return BB_ERR_SCRATCH;
    const int32_t kh = conv->kernel_height, kw = conv->kernel_width, sh = conv->stride_height;
    const int32_t pw = in->width + conv->pad_left + conv->pad_right, taps = kh * kw;
    const int32_t out_channels = in->channels * depth_multiplier;
    const int8_t zero_point = (int8_t)-q->input_offset; /* in [-128, 127] */
    const size_t plane_bytes = (size_t)in->height * (size_t)in->width, out_plane = (size_t)oh * (size_t)ow;
    const int three = kh == 3 && kw == 3 && (conv->stride_width == 1 || conv->stride_width == 2);

    /* Padding columns and the slack never change: set them once. */
    for (size_t i = 0; i < (size_t)kh * (size_t)pw + 4; i++)
        scratch[i] = zero_point;
    /* The accumulators of CHUNK outputs of a row, and the ring rows of a window band. */
    enum { CHUNK = 32, BAND = 16 };
    int32_t acc[CHUNK];
    const int8_t *rows[BAND];

    for (int32_t n = 0; n < in->batch; n++) {
        for (int32_t oc = 0; oc < out_channels; oc++) {
            const int8_t *plane = x + ((size_t)n * (size_t)in->channels + (size_t)(oc / depth_multiplier)) *
                                          plane_bytes;
            int8_t *out = y + ((size_t)n * (size_t)out_channels + (size_t)oc) * out_plane;
            const int8_t *filter = w + (size_t)oc * (size_t)taps;
            int32_t sum_w = 0;
            for (int32_t i = 0; i < taps; i++)
                sum_w += filter[i];
            const int32_t base = (bias != NULL ? bias[oc] : 0) + q->input_offset * sum_w;
            int32_t k[9];
            if (three)
                pack_3x3(filter, k);
            int32_t next = 0; /* the next padded row to copy into the ring */
            for (int32_t oy = 0; oy < oh; oy++) {
                const int32_t top = oy * sh;
                if (next < top)
                    next = top; /* rows a stride larger than the kernel skips */
                for (; next < top + kh; next++)
                    fill_row(scratch + (size_t)(next % kh) * (size_t)pw, plane, next, in, conv, zero_point);
                for (int32_t ox0 = 0; ox0 < ow; ox0 += CHUNK) {
                    const int32_t count = ow - ox0 < CHUNK ? ow - ox0 : CHUNK;
                    const size_t col = (size_t)ox0 * (size_t)conv->stride_width;
                    if (three) {
                        row_3x3(scratch + (size_t)(top % 3) * (size_t)pw + col,
                                scratch + (size_t)((top + 1) % 3) * (size_t)pw + col,
                                scratch + (size_t)((top + 2) % 3) * (size_t)pw + col, k,
                                conv->stride_width, count, acc);
                    } else {
                        for (int32_t ky0 = 0; ky0 < kh; ky0 += BAND) {
                            const int32_t band = kh - ky0 < BAND ? kh - ky0 : BAND;
                            for (int32_t ky = 0; ky < band; ky++)
                                rows[ky] = scratch + (size_t)((top + ky0 + ky) % kh) * (size_t)pw + col;
                            row_any(rows, filter + (size_t)ky0 * (size_t)kw, band, kw, conv->stride_width,
                                    count, ky0 > 0, acc);
                        }
                    }
                    for (int32_t i = 0; i < count; i++)
                        out[(size_t)oy * (size_t)ow + (size_t)(ox0 + i)] =
                            finish(acc[i] + base, q, multiplier[oc], shift[oc]);
                }
            }
        }
    }
    return BB_OK;
}
