/* bb_pointwise_conv2d_s8.c: int8 1x1 convolution as a matrix product, a reference path
 * and a fast path with the same bytes.
 *
 * Per image, y (C_out, P) = W (C_out, C_in) . (x (C_in, P) + offset) + bias, P = H * W.
 * In NCHW one position's C_in values lie a plane apart, so the fast path first copies
 * BLOCK positions into scratch as contiguous columns; then each output is a dot product
 * of two contiguous int8 rows, computed two output channels by two columns at a time so
 * that each loaded word serves two products. On a Cortex-M4 each word of four int8 values
 * splits into two int16 pairs and SMLAD makes two products per instruction (bb_dsp.h).
 * The input offset hoists out exactly: bias + sum((x + offset) w) = (bias + offset sum(w))
 * + sum(x w); the first term is computed once per output channel into scratch, and the
 * two terms are added last, each below the accumulator bound of bb_int8_graph.h. */
#include <stdint.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"
#include "bb_dsp.h"

enum { BLOCK = 4 }; /* positions copied into scratch at a time */

static bb_status check(const bb_s8_dims *in, int32_t out_channels, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift, const int8_t *x,
                       const int8_t *w, const int8_t *y)
{
    bb_status s = bb_graph_check_dims(in);
    if (s != BB_OK)
        return s;
    if (out_channels <= 0 || (int64_t)in->batch * out_channels * in->height * in->width > INT32_MAX ||
        (int64_t)out_channels * in->channels > INT32_MAX)
        return BB_ERR_SHAPE;
    if ((s = bb_graph_check_quant(q)) != BB_OK)
        return s;
    if ((s = bb_graph_check_requant(out_channels, multiplier, shift)) != BB_OK)
        return s;
    return (x == NULL || w == NULL || y == NULL) ? BB_ERR_NULL : BB_OK;
}

static int8_t finish(int32_t acc, const bb_quant_out *q, int32_t multiplier, int32_t shift)
{
    return bb_graph_out(bb_requantize_inline(acc, multiplier, shift), q->output_offset, q->activation_min,
                        q->activation_max);
}

bb_status bb_pointwise_conv2d_s8_reference(const bb_s8_dims *in, int32_t out_channels,
                                           const bb_quant_out *q, const int32_t *multiplier,
                                           const int32_t *shift, const int8_t *x, const int8_t *w,
                                           const int32_t *bias, int8_t *y)
{
    bb_status s = check(in, out_channels, q, multiplier, shift, x, w, y);
    if (s != BB_OK)
        return s;
    const size_t positions = (size_t)in->height * (size_t)in->width;
    for (int32_t n = 0; n < in->batch; n++) {
        const int8_t *image = x + (size_t)n * (size_t)in->channels * positions;
        for (int32_t oc = 0; oc < out_channels; oc++) {
            const int8_t *row = w + (size_t)oc * (size_t)in->channels;
            for (size_t p = 0; p < positions; p++) {
                int32_t acc = bias != NULL ? bias[oc] : 0;
                for (int32_t ic = 0; ic < in->channels; ic++)
                    acc += ((int32_t)image[(size_t)ic * positions + p] + q->input_offset) * (int32_t)row[ic];
                *y++ = finish(acc, q, multiplier[oc], shift[oc]);
            }
        }
    }
    return BB_OK;
}

/* The int32 bias terms of the output channels, then BLOCK columns of C_in bytes. */
size_t bb_pointwise_conv2d_s8_scratch_size(const bb_s8_dims *in, int32_t out_channels)
{
    if (bb_graph_check_dims(in) != BB_OK || out_channels <= 0)
        return 0;
    const uint64_t bytes = sizeof(int32_t) * (uint64_t)out_channels + (uint64_t)BLOCK * (uint64_t)in->channels;
    return bytes > INT32_MAX ? 0 : (size_t)bytes; /* 0: the kernel refuses such a layer */
}

/* acc[2 i + j] = row_i . column_j over n values, for rows w0, w1 and columns c0, c1. */
static void dot_2x2(const int8_t *restrict w0, const int8_t *restrict w1, const int8_t *restrict c0,
                    const int8_t *restrict c1, int32_t n, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    int32_t i = 0;
#if BB_DSP
    for (; i + 4 <= n; i += 4) {
        /* (v0, v2) and (v1, v3) of each word: the pairs of rows and columns line up. */
        const uint32_t x0 = bb_load32(c0 + i), x1 = bb_load32(c1 + i);
        const int32_t x0e = bb_sxtb16(x0), x0o = bb_sxtb16_ror8(x0);
        const int32_t x1e = bb_sxtb16(x1), x1o = bb_sxtb16_ror8(x1);
        uint32_t k = bb_load32(w0 + i);
        int32_t ke = bb_sxtb16(k), ko = bb_sxtb16_ror8(k);
        a00 = bb_smlad(ko, x0o, bb_smlad(ke, x0e, a00));
        a01 = bb_smlad(ko, x1o, bb_smlad(ke, x1e, a01));
        k = bb_load32(w1 + i);
        ke = bb_sxtb16(k);
        ko = bb_sxtb16_ror8(k);
        a10 = bb_smlad(ko, x0o, bb_smlad(ke, x0e, a10));
        a11 = bb_smlad(ko, x1o, bb_smlad(ke, x1e, a11));
    }
#endif
    for (; i < n; i++) {
        const int32_t v0 = c0[i], v1 = c1[i], k0 = w0[i], k1 = w1[i];
        a00 += k0 * v0;
        a01 += k0 * v1;
        a10 += k1 * v0;
        a11 += k1 * v1;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

bb_status bb_pointwise_conv2d_s8(const bb_s8_dims *in, int32_t out_channels, const bb_quant_out *q,
                                 const int32_t *multiplier, const int32_t *shift,
                                 const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                                 int8_t *scratch, size_t scratch_bytes)
{
    bb_status s = check(in, out_channels, q, multiplier, shift, x, w, y);
    if (s != BB_OK)
        return s;
    const size_t need = bb_pointwise_conv2d_s8_scratch_size(in, out_channels);
    if (need == 0)
        return BB_ERR_SHAPE;
    if (scratch == NULL || scratch_bytes < need || ((uintptr_t)scratch & 3u) != 0)
        return BB_ERR_SCRATCH;
    const int32_t c_in = in->channels;
    const size_t positions = (size_t)in->height * (size_t)in->width;
    int32_t *base = (int32_t *)(void *)scratch; /* 4-byte aligned, checked above */
    int8_t *columns = scratch + sizeof(int32_t) * (size_t)out_channels;

    for (int32_t oc = 0; oc < out_channels; oc++) {
        const int8_t *row = w + (size_t)oc * (size_t)c_in;
        int32_t sum_w = 0;
        for (int32_t ic = 0; ic < c_in; ic++)
            sum_w += row[ic];
        base[oc] = (bias != NULL ? bias[oc] : 0) + q->input_offset * sum_w;
    }
    for (int32_t n = 0; n < in->batch; n++) {
        const int8_t *image = x + (size_t)n * (size_t)c_in * positions;
        int8_t *out = y + (size_t)n * (size_t)out_channels * positions;
        for (size_t p0 = 0; p0 < positions; p0 += BLOCK) {
            const size_t cols = positions - p0 < BLOCK ? positions - p0 : BLOCK;
            /* Transpose: column j holds position p0 + j's C_in values. */
            for (int32_t ic = 0; ic < c_in; ic++) {
                const int8_t *src = image + (size_t)ic * positions + p0;
                for (size_t j = 0; j < cols; j++)
                    columns[j * (size_t)c_in + (size_t)ic] = src[j];
            }
            for (int32_t oc = 0; oc < out_channels; oc += 2) {
                /* An odd last channel pairs with itself; its second results are dropped. */
                const int32_t oc1 = oc + 1 < out_channels ? oc + 1 : oc;
                const int8_t *w0 = w + (size_t)oc * (size_t)c_in, *w1 = w + (size_t)oc1 * (size_t)c_in;
                for (size_t j = 0; j < cols; j += 2) {
                    const size_t j1 = j + 1 < cols ? j + 1 : j;
                    int32_t acc[4];
                    dot_2x2(w0, w1, columns + j * (size_t)c_in, columns + j1 * (size_t)c_in, c_in, acc);
                    int8_t *o0 = out + (size_t)oc * positions + p0, *o1 = out + (size_t)oc1 * positions + p0;
                    o0[j] = finish(acc[0] + base[oc], q, multiplier[oc], shift[oc]);
                    o0[j1] = finish(acc[1] + base[oc], q, multiplier[oc], shift[oc]);
                    o1[j] = finish(acc[2] + base[oc1], q, multiplier[oc1], shift[oc1]);
                    o1[j1] = finish(acc[3] + base[oc1], q, multiplier[oc1], shift[oc1]);
                }
            }
        }
    }
    return BB_OK;
}
