/* bb_conv2d_gemm_s8.c: int8 convolution (any kernel, stride and four paddings) as bands
 * of matrix products on the 1x1 kernel (bb_pointwise_conv2d_s8).
 *
 * A band of output rows is unrolled into scratch as im2col columns: row k = (input
 * channel, ky, kx) of the (channels * kh * kw, band positions) matrix holds the input
 * value each band position reads through tap k, a padded one as the input zero point
 * (it then adds (zero point + input_offset) * w = 0, as a real 0 should). The band is
 * then a 1x1 convolution of those rows, whose weights are the conv's (out, in, kh, kw)
 * read as (out, in * kh * kw): the same integers as the direct loops of
 * bb_conv2d_pool_s8, through the 1x1 kernel's matrix product (bb_gemm_s8.h: packed
 * four-position blocks, two 16-bit MACs per instruction on a Cortex-M4), which writes
 * the band's rows of each output plane in place. Scratch, from
 * bb_conv2d_gemm_s8_scratch_size: the product's (bias terms and one packed block) and the
 * columns. Not in place. */
#include <string.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_gemm_s8.h"

enum { BAND_POSITIONS = 32 }; /* output positions per band, at least (one row at least) */

static size_t aligned4(size_t n) { return (n + 3u) & ~(size_t)3u; }

static int32_t band_rows(int32_t oh, int32_t ow)
{
    const int32_t rows = (BAND_POSITIONS + ow - 1) / ow;
    return rows < oh ? rows : oh;
}

size_t bb_conv2d_gemm_s8_scratch_size(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv)
{
    int32_t oh, ow;
    if (conv == NULL || out_channels <= 0 || bb_check_conv_s8(in, out_channels, conv, &oh, &ow) != BB_OK)
        return 0;
    const int64_t taps = (int64_t)in->channels * conv->kernel_height * conv->kernel_width;
    if (taps > INT32_MAX)
        return 0;
    const size_t gemm = bb_gemm_s8_scratch_size((int32_t)taps, out_channels);
    const uint64_t positions = (uint64_t)band_rows(oh, ow) * (uint64_t)ow;
    /* a multiple of 4, as the arena places scratch */
    const uint64_t bytes = (uint64_t)aligned4(gemm) + (((uint64_t)taps * positions + 3u) & ~(uint64_t)3u);
    return gemm == 0 || bytes > INT32_MAX ? 0 : (size_t)bytes;
}

/* Columns of output rows [oy0, oy0 + rows): cols[k * positions + r * ow + ox]. */
static void im2col(const bb_s8_dims *in, const bb_s8_window *c, const int8_t *image, int32_t oy0,
                   int32_t rows, int32_t ow, int8_t zero_point, int8_t *cols)
{
    const int32_t h = in->height, wd = in->width, kh = c->kernel_height, kw = c->kernel_width;
    const int32_t sw = c->stride_width;
    const size_t positions = (size_t)rows * (size_t)ow;
    for (int32_t ic = 0; ic < in->channels; ic++) {
        const int8_t *plane = image + (size_t)ic * (size_t)h * (size_t)wd;
        for (int32_t ky = 0; ky < kh; ky++) {
            for (int32_t kx = 0; kx < kw; kx++, cols += positions) {
                for (int32_t r = 0; r < rows; r++) {
                    int8_t *dst = cols + (size_t)r * (size_t)ow;
                    const int32_t iy = (oy0 + r) * c->stride_height - c->pad_top + ky;
                    if (iy < 0 || iy >= h) {
                        memset(dst, zero_point, (size_t)ow);
                        continue;
                    }
                    const int8_t *src = plane + (size_t)iy * (size_t)wd;
                    /* ox reads ix = ox * sw - pad_left + kx: in range for ox in [lo, hi) */
                    const int32_t x0 = kx - c->pad_left;
                    int32_t lo = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
                    int32_t hi = wd - x0 <= 0 ? 0 : (wd - x0 + sw - 1) / sw;
                    lo = lo < ow ? lo : ow;
                    hi = hi < ow ? hi : ow;
                    hi = hi > lo ? hi : lo;
                    memset(dst, zero_point, (size_t)lo);
                    if (sw == 1) {
                        memcpy(dst + lo, src + lo + x0, (size_t)(hi - lo));
                    } else {
                        for (int32_t ox = lo; ox < hi; ox++)
                            dst[ox] = src[ox * sw + x0];
                    }
                    memset(dst + hi, zero_point, (size_t)(ow - hi));
                }
            }
        }
    }
}

bb_status bb_conv2d_gemm_s8(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv,
                            const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                            const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                            int8_t *scratch, size_t scratch_bytes)
{
    int32_t oh, ow;
    bb_status s = bb_check_conv_s8(in, out_channels, conv, &oh, &ow);
    if (s != BB_OK)
        return s;
    if ((s = bb_check_quant_out(q)) != BB_OK)
        return s;
    if ((s = bb_check_requant(out_channels, multiplier, shift)) != BB_OK)
        return s;
    if (x == NULL || w == NULL || y == NULL)
        return BB_ERR_NULL;
    const size_t need = bb_conv2d_gemm_s8_scratch_size(in, out_channels, conv);
    if (need == 0)
        return BB_ERR_SHAPE;
    if (scratch == NULL || scratch_bytes < need || ((uintptr_t)scratch & 3u) != 0)
        return BB_ERR_SCRATCH;
    const int32_t taps = in->channels * conv->kernel_height * conv->kernel_width;
    const int32_t rows = band_rows(oh, ow);
    bb_gemm_s8 g;
    bb_gemm_s8_prepare(&g, taps, out_channels, q, multiplier, shift, w, bias, scratch);
    int8_t *cols = scratch + aligned4(bb_gemm_s8_scratch_size(taps, out_channels));
    const size_t in_image = (size_t)in->channels * (size_t)in->height * (size_t)in->width;
    const size_t out_plane = (size_t)oh * (size_t)ow;
    const int8_t zero_point = (int8_t)(-q->input_offset);
    for (int32_t n = 0; n < in->batch; n++) {
        const int8_t *image = x + (size_t)n * in_image;
        int8_t *out = y + (size_t)n * (size_t)out_channels * out_plane;
        for (int32_t oy0 = 0; oy0 < oh; oy0 += rows) {
            const int32_t here = oh - oy0 < rows ? oh - oy0 : rows;
            const size_t positions = (size_t)here * (size_t)ow;
            im2col(in, conv, image, oy0, here, ow, zero_point, cols);
            bb_gemm_s8_columns(&g, cols, positions, (int32_t)positions, out + (size_t)oy0 * (size_t)ow, out_plane);
        }
    }
    return BB_OK;
}
