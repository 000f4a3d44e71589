/* bb_pointwise_conv2d_s8.c: int8 1x1 convolution as a matrix product, a reference path
 * and a fast path with the same bytes.
 *
 * Per image, y (C_out, P) = W (C_out, C_in) . (x (C_in, P) + offset) + bias, P = H * W.
 * In NCHW one position's C_in values lie a plane apart, so the fast path first packs
 * BLOCK = 4 positions into scratch, sign-extended to int16 pairs in the order SXTB16
 * makes of a word of weights; then each output channel's weight row is read once for
 * four outputs (dot_1x4: on a Cortex-M4 two products per SMLAD and no register spills,
 * about 1.3 instructions per MAC in its loop; plain C elsewhere).
 * The input offset hoists out exactly: bias + sum((x + offset) w) = (bias + offset sum(w))
 * + sum(x w); the first term is computed once per output channel into scratch, and the
 * two terms are added last, each below the accumulator bound of bb_int8_graph.h. */
#include <stdint.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"
#include "bb_dsp.h"

enum { BLOCK = 4 }; /* positions packed into scratch at a time */

static bb_status check(const bb_s8_dims *in, int32_t out_channels, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift, const int8_t *x,
                       const int8_t *w, const int8_t *y)
{
    bb_status s = bb_check_dims_s8(in);
    if (s != BB_OK)
        return s;
    if (out_channels <= 0 || (int64_t)in->batch * out_channels * in->height * in->width > INT32_MAX ||
        (int64_t)out_channels * in->channels > INT32_MAX)
        return BB_ERR_SHAPE;
    if ((s = bb_check_quant_out(q)) != BB_OK)
        return s;
    if ((s = bb_check_requant(out_channels, multiplier, shift)) != BB_OK)
        return s;
    return (x == NULL || w == NULL || y == NULL) ? BB_ERR_NULL : BB_OK;
}

/* The fast path's requantization: the same integers as finish, its per-channel work done
 * once per block (bb_requant_step). */
static inline int8_t out_byte(int32_t acc, const bb_requant_step *step, const bb_quant_out *q)
{
    const int32_t r = step->left == 0 ? bb_requantize_step_right(acc, step) : bb_requantize_step(acc, step);
    return bb_graph_out(r, q->output_offset, q->activation_min, q->activation_max);
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

/* The packed block: for each group g of four input channels (C_in / 4 of them), 32 bytes:
 * for each of the BLOCK = 4 positions j, the int16 pairs (x0, x2) and (x1, x3) of that
 * group's values, the pairs SXTB16 makes of a word of four weights. The last C_in % 4
 * channels are read from x directly. */
static size_t packed_bytes(int32_t c_in) { return (size_t)(c_in / 4) * 32u; }

/* The int32 bias terms of the output channels, then the packed block. */
size_t bb_pointwise_conv2d_s8_scratch_size(const bb_s8_dims *in, int32_t out_channels)
{
    if (bb_check_dims_s8(in) != BB_OK || out_channels <= 0)
        return 0;
    const uint64_t bytes = sizeof(int32_t) * (uint64_t)out_channels + packed_bytes(in->channels);
    return bytes > INT32_MAX ? 0 : (size_t)bytes; /* 0: the kernel refuses such a layer */
}

/* acc[j] = weights . (position j's first 4 * groups values), j < 4, over the packed block:
 * one weight word serves four positions, and the loop fits a Cortex-M's registers. */
BB_NOINLINE static void dot_1x4(const int8_t *restrict w, const int16_t *restrict packed, int32_t groups,
                                int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t g = 0; g < groups; g++, w += 4, packed += 16) {
#if BB_DSP
        const uint32_t k = bb_load32(w);
        const int32_t ke = bb_sxtb16(k), ko = bb_sxtb16_ror8(k);
        const int8_t *c = (const int8_t *)packed;
        a0 = bb_smlad(ko, (int32_t)bb_load32(c + 4), bb_smlad(ke, (int32_t)bb_load32(c), a0));
        a1 = bb_smlad(ko, (int32_t)bb_load32(c + 12), bb_smlad(ke, (int32_t)bb_load32(c + 8), a1));
        a2 = bb_smlad(ko, (int32_t)bb_load32(c + 20), bb_smlad(ke, (int32_t)bb_load32(c + 16), a2));
        a3 = bb_smlad(ko, (int32_t)bb_load32(c + 28), bb_smlad(ke, (int32_t)bb_load32(c + 24), a3));
#else
        const int32_t k0 = w[0], k1 = w[1], k2 = w[2], k3 = w[3];
        a0 += k0 * packed[0] + k2 * packed[1] + k1 * packed[2] + k3 * packed[3];
        a1 += k0 * packed[4] + k2 * packed[5] + k1 * packed[6] + k3 * packed[7];
        a2 += k0 * packed[8] + k2 * packed[9] + k1 * packed[10] + k3 * packed[11];
        a3 += k0 * packed[12] + k2 * packed[13] + k1 * packed[14] + k3 * packed[15];
#endif
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
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
    int16_t *packed = (int16_t *)(void *)(scratch + sizeof(int32_t) * (size_t)out_channels);
    const int32_t groups = c_in / 4;

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
            /* Pack: input channel ic = 4 g + r of position j goes to int16 slot
             * 16 g + 4 j + (0, 2, 1, 3)[r]; positions past the last are never read back. */
            for (int32_t ic = 0; ic < 4 * groups; ic++) {
                const int8_t *src = image + (size_t)ic * positions + p0;
                int16_t *dst = packed + 16 * (size_t)(ic >> 2) + (size_t)(((ic & 1) << 1) | ((ic >> 1) & 1));
                for (size_t j = 0; j < cols; j++)
                    dst[4 * j] = src[j];
            }
            for (int32_t oc = 0; oc < out_channels; oc++) {
                const int8_t *row = w + (size_t)oc * (size_t)c_in;
                int32_t acc[4];
                dot_1x4(row, packed, groups, acc);
                for (int32_t ic = 4 * groups; ic < c_in; ic++) { /* the last C_in % 4 channels */
                    const int8_t *src = image + (size_t)ic * positions + p0;
                    for (size_t j = 0; j < cols; j++)
                        acc[j] += (int32_t)row[ic] * (int32_t)src[j];
                }
                const bb_requant_step step = bb_requant_prepare(multiplier[oc], shift[oc]);
                int8_t *o = out + (size_t)oc * positions + p0;
                for (size_t j = 0; j < cols; j++)
                    o[j] = out_byte(acc[j] + base[oc], &step, q);
            }
        }
    }
    return BB_OK;
}
