/* bb_conv2d_pool_s8.c: int8 convolution + clamp (fused ReLU) + max pooling in one pass.
 *
 * The full convolution output never exists: each pooling window's convolution
 * outputs are computed into int32 accumulators and only their maximum is requantized
 * and stored. Requantization, the output offset and the clamp are non-decreasing in
 * the accumulator, so max(requantize(a_i)) == requantize(max(a_i)): the bytes equal
 * bb_conv2d_s8 followed by bb_max_pool2d_s8, with a quarter of the requantizations
 * (2x2 pooling) and no buffer in between. Conv outputs no pooling window covers
 * (an odd edge) are never computed.
 *
 * The input offset is hoisted out of the loops by exact integer algebra:
 *   bias + sum((x + offset) * w) = (bias + offset * sum(w)) + sum(x * w),
 * where a padded tap reads the input zero point (-offset), i.e. real 0. The int32
 * arithmetic cannot overflow when bb_check_accumulator_s8 holds for w and bias (the
 * embedded runtime checks it at init): every partial sum is bounded by
 * |bias| + 255 * sum|w| < 2^31. */
#include "bb_int8.h"
#include "bb_int8_checks.h"
#include "bb_requantize.h"

/* One conv output without the offset (any kernel, stride and padding). */
static int32_t conv_at(const bb_s8_dims *in, const bb_s8_window *c, const int8_t *image,
                       const int8_t *filter, int oy, int ox, int32_t zero_point)
{
    const int h = in->height, wd = in->width, kh = c->kernel_height, kw = c->kernel_width;
    const int y0 = oy * c->stride_height - c->pad_top, x0 = ox * c->stride_width - c->pad_left;
    int32_t acc = 0;
    for (int ic = 0; ic < in->channels; ic++) {
        const int8_t *plane = image + (size_t)ic * (size_t)h * (size_t)wd;
        for (int ky = 0; ky < kh; ky++) {
            const int iy = y0 + ky;
            for (int kx = 0; kx < kw; kx++) {
                const int ix = x0 + kx;
                const int32_t v = (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                      ? zero_point : plane[(size_t)iy * (size_t)wd + (size_t)ix];
                acc += v * (int32_t)*filter++;
            }
        }
    }
    return acc;
}

/* The fast path: a 3x3, stride-1 convolution under 2x2 pooling of stride 2, i.e. four
 * conv outputs over one 4x4 input patch per channel. Two versions give the same
 * integers: SIMD on a Cortex-M4, plain C elsewhere. */
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#include <string.h>

static inline uint32_t load32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* one (unaligned) load */
    return v;
}

/* Input rows x (top pair) and x + wd (bottom pair), four values each, times kernel row
 * k = (k0, k1, k2) packed as int16 pairs ke = (k0, k2), ko = (k1, *). With a row split
 * into (x0, x2) and (x1, x3): left = x0 k0 + x2 k2 + x1 k1, right = x1 k0 + x3 k2 + x2 k1. */
static inline void rows3(const int8_t *x, size_t wd, int32_t ke, int32_t ko, int32_t acc[4])
{
    for (int r = 0; r < 2; r++, x += wd) {
        const uint32_t word = load32(x);
        const int32_t even = __sxtb16((int32_t)word), odd = __sxtb16((int32_t)((word >> 8) | (word << 24)));
        acc[2 * r] = __smlabb(odd, ko, __smlad(even, ke, acc[2 * r]));
        acc[2 * r + 1] = __smlatb(even, ko, __smlad(odd, ke, acc[2 * r + 1]));
    }
}

static int32_t window_3x3(const int8_t *x, const int8_t *f, int c_in, size_t plane, size_t wd)
{
    int32_t acc[4] = {0, 0, 0, 0};
    for (int ic = 0; ic < c_in; ic++, x += plane, f += 9) {
        /* Kernel rows as words: bytes k0 k1 k2 (next). The last row is read from one byte
         * earlier and shifted, so no load passes the end of the weights. */
        const uint32_t k_0 = load32(f), k_1 = load32(f + 3), k_2 = load32(f + 5) >> 8;
        rows3(x, wd, __sxtb16((int32_t)k_0), __sxtb16((int32_t)(k_0 >> 8)), acc);
        rows3(x + wd, wd, __sxtb16((int32_t)k_1), __sxtb16((int32_t)(k_1 >> 8)), acc);
        rows3(x + 2 * wd, wd, __sxtb16((int32_t)k_2), __sxtb16((int32_t)(k_2 >> 8)), acc);
    }
    const int32_t top = acc[0] > acc[1] ? acc[0] : acc[1], bottom = acc[2] > acc[3] ? acc[2] : acc[3];
    return top > bottom ? top : bottom;
}
#else
/* Input row x[0..3] times kernel row k[0..2] into two horizontally adjacent outputs: *l
 * takes x0..x2, *r x1..x3. Streamed, one input value live at a time: a Cortex-M3 has
 * few registers, and spills cost loads and stores. */
static inline void row3(const int8_t *x, const int8_t *k, int32_t *l, int32_t *r)
{
    const int32_t k0 = k[0], k1 = k[1], k2 = k[2];
    int32_t v = x[0];
    *l += v * k0;
    v = x[1];
    *l += v * k1;
    *r += v * k0;
    v = x[2];
    *l += v * k2;
    *r += v * k1;
    v = x[3];
    *r += v * k2;
}

/* Two horizontally adjacent outputs of one 3x3 band (rows x, x + wd, x + 2 wd): *left
 * takes columns 0..2, the return value 1..3. Two accumulators keep the registers free. */
static int32_t pair_3x3(const int8_t *x, const int8_t *f, int c_in, size_t plane, size_t wd,
                        int32_t *left)
{
    int32_t l = 0, r = 0;
    for (int ic = 0; ic < c_in; ic++, x += plane, f += 9) {
        row3(x, f, &l, &r);
        row3(x + wd, f + 3, &l, &r);
        row3(x + 2 * wd, f + 6, &l, &r);
    }
    *left = l;
    return r;
}

static int32_t window_3x3(const int8_t *x, const int8_t *f, int c_in, size_t plane, size_t wd)
{
    int32_t a00, a10;
    const int32_t a01 = pair_3x3(x, f, c_in, plane, wd, &a00);
    const int32_t a11 = pair_3x3(x + wd, f, c_in, plane, wd, &a10);
    const int32_t top = a00 > a01 ? a00 : a01, bottom = a10 > a11 ? a10 : a11;
    return top > bottom ? top : bottom;
}
#endif

bb_status bb_conv2d_pool_s8(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv,
                            const bb_s8_window *pool, const bb_quant_out *q,
                            const int32_t *multiplier, const int32_t *shift,
                            const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    int32_t oh, ow, ph, pw;
    bb_status s = bb_check_conv_s8(in, out_channels, conv, &oh, &ow);
    if (s != BB_OK)
        return s;
    const bb_s8_dims conv_out = {in->batch, out_channels, oh, ow};
    if ((s = bb_check_pool_s8(&conv_out, pool, &ph, &pw)) != BB_OK)
        return s;
    if ((s = bb_check_quant_out(q)) != BB_OK)
        return s;
    if ((s = bb_check_requant(out_channels, multiplier, shift)) != BB_OK)
        return s;
    if (x == NULL || w == NULL || y == NULL)
        return BB_ERR_NULL;

    /* Locals: the int8 stores through y may alias any memory as far as the compiler
     * knows, so fields read through a pointer would be reloaded after every store. */
    const int c_in = in->channels, h = in->height, wd = in->width;
    const int pad_top = conv->pad_top, pad_left = conv->pad_left;
    const int pool_kh = pool->kernel_height, pool_kw = pool->kernel_width;
    const int pool_sh = pool->stride_height, pool_sw = pool->stride_width;
    const size_t plane = (size_t)h * (size_t)wd, in_image = (size_t)c_in * plane;
    const int taps = c_in * conv->kernel_height * conv->kernel_width;
    const int32_t input_offset = q->input_offset, output_offset = q->output_offset;
    const int32_t act_min = q->activation_min, act_max = q->activation_max;
    const int32_t zero_point = -input_offset;
    const int fast = conv->kernel_height == 3 && conv->kernel_width == 3 && conv->stride_height == 1 &&
                     conv->stride_width == 1 && pool_kh == 2 && pool_kw == 2 && pool_sh == 2 && pool_sw == 2;
    for (int n = 0; n < in->batch; n++) {
        const int8_t *image = x + (size_t)n * in_image;
        for (int oc = 0; oc < out_channels; oc++) {
            const int8_t *filter = w + (size_t)oc * (size_t)taps;
            int32_t base = bias != NULL ? bias[oc] : 0;
            for (int i = 0; i < taps; i++)
                base += input_offset * (int32_t)filter[i];
            const int32_t m = multiplier[oc], sh = shift[oc];
            for (int py = 0; py < ph; py++) {
                const int oy0 = py * pool_sh;
                const int iy = oy0 - pad_top; /* fast path: top row of the 4x4 patch */
                for (int px = 0; px < pw; px++) {
                    const int ox0 = px * pool_sw;
                    const int ix = ox0 - pad_left;
                    int32_t best;
                    if (fast && iy >= 0 && iy + 4 <= h && ix >= 0 && ix + 4 <= wd) {
                        best = window_3x3(image + (size_t)iy * (size_t)wd + (size_t)ix, filter, c_in,
                                          plane, (size_t)wd);
                    } else { /* borders with padding, other kernels and windows */
                        best = INT32_MIN;
                        for (int ky = 0; ky < pool_kh; ky++) {
                            for (int kx = 0; kx < pool_kw; kx++) {
                                const int32_t a = conv_at(in, conv, image, filter, oy0 + ky, ox0 + kx,
                                                          zero_point);
                                best = a > best ? a : best;
                            }
                        }
                    }
                    *y++ = bb_offset_clamp_s8(bb_requantize(best + base, m, sh), output_offset, act_min,
                                              act_max);
                }
            }
        }
    }
    return BB_OK;
}
