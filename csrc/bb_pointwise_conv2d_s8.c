/* bb_pointwise_conv2d_s8.c: int8 1x1 convolution as a matrix product, a reference path
 * and a fast path with the same bytes; the fast path's product (bb_gemm_s8.h) also runs
 * bb_conv2d_gemm_s8's im2col bands.
 *
 * Per image, y (C_out, P) = W (C_out, C_in) . (x (C_in, P) + offset) + bias, P = H * W.
 * In NCHW one position's C_in values lie a plane apart, so the fast path copies BLOCK = 4
 * positions (columns) at a time into scratch, then reads each weight row once for the
 * four of them:
 *   - Cortex-M4 (bb_dsp.h): the block as int16 pairs in the order SXTB16 makes of a word of
 *     four weights (a transpose of four words by PKHBT / PKHTB and SXTB16), one output
 *     channel at a time: per four weights one word load, two SXTB16, four LDRD and eight
 *     SMLAD for sixteen MACs;
 *   - elsewhere (Cortex-M3: no SIMD): the block as bytes, two output channels at a time,
 *     so that each of the six values loaded per input channel feeds two or four of its
 *     eight multiply-accumulates (eight accumulators: the most a Cortex-M3 holds beside the
 *     loop's pointers).
 * The input offset hoists out exactly: bias + sum((x + offset) w) = (bias + offset sum(w))
 * + sum(x w); the first term is computed once per output channel into scratch, and the
 * two terms are added last, each below the accumulator bound of bb_int8_graph.h. The
 * requantization of most channels is bb_requant_fast.h's single rounding step. */
#include <stdint.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"
#include "bb_dsp.h"
#include "bb_requant_fast.h"
#include "bb_gemm_s8.h"
#include <string.h>

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

/* ---- the matrix product (bb_gemm_s8.h) ------------------------------------------- */

/* Scratch: the int32 bias terms of the output channels, then one packed block: 8 bytes
 * per tap, the taps rounded up to a multiple of four (the M4's int16 pairs; the portable
 * block takes 4 bytes per tap). One formula on every target: the memory plan is made on
 * the host. */
size_t bb_gemm_s8_scratch_size(int32_t taps, int32_t out_channels)
{
    if (taps <= 0 || out_channels <= 0)
        return 0;
    const uint64_t bytes = sizeof(int32_t) * (uint64_t)out_channels + 8u * (((uint64_t)taps + 3u) & ~(uint64_t)3u);
    return bytes > INT32_MAX ? 0 : (size_t)bytes;
}

/* The sum of n int8 weights, four a word. The M4 adds the pairs SXTAB16 makes into two
 * int16 lanes (|lane| <= 256 a word: 127 words a chunk); plain C adds the bytes as
 * unsigned w + 128 (XOR 0x80) in two 16-bit lanes of byte pairs (<= 510 a word: 128 words
 * a chunk) and takes 128 per byte back. About 1.3 and 2 instructions a weight instead of
 * 4: on a layer of few positions (VWW's last 1x1, 3 x 3 x 256 -> 256) this sum is a fifth
 * of the work. */
static int32_t sum_weights(const int8_t *w, int32_t n)
{
    int32_t sum = 0, i = 0;
    while (n - i >= 4) {
        const int32_t words = (n - i) / 4 < 127 ? (n - i) / 4 : 127, end = i + 4 * words;
#if BB_DSP
        int32_t lanes = 0;
        for (; i < end; i += 4) {
            const uint32_t v = bb_load32(w + i);
            lanes = bb_sxtab16_ror8(bb_sxtab16(lanes, v), v);
        }
        sum = bb_smlad(lanes, 0x00010001, sum);
#else
        uint32_t lanes = 0;
        for (; i < end; i += 4) {
            uint32_t v;
            memcpy(&v, w + i, sizeof v);
            v ^= 0x80808080u;
            lanes += (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
        }
        sum += (int32_t)((lanes & 0xFFFFu) + (lanes >> 16)) - 512 * words;
#endif
    }
    for (; i < n; i++)
        sum += w[i];
    return sum;
}

void bb_gemm_s8_prepare(bb_gemm_s8 *g, int32_t taps, int32_t out_channels, const bb_quant_out *q,
                        const int32_t *multiplier, const int32_t *shift, const int8_t *w, const int32_t *bias,
                        int8_t *scratch)
{
    g->taps = taps;
    g->out_channels = out_channels;
    g->w = w;
    g->multiplier = multiplier;
    g->shift = shift;
    g->q = q;
    g->base = (int32_t *)(void *)scratch; /* 4-byte aligned: the callers check */
    g->packed = scratch + sizeof(int32_t) * (size_t)out_channels;
    for (int32_t oc = 0; oc < out_channels; oc++) {
        const int32_t sum_w = sum_weights(w + (size_t)oc * (size_t)taps, taps);
        g->base[oc] = (bias != NULL ? bias[oc] : 0) + q->input_offset * sum_w;
    }
}

/* out[j] for the block's n accumulators of output channel oc. A function of its own:
 * the requantization's constants then stay in registers. */
BB_NOINLINE static void store_block(const bb_gemm_s8 *g, int32_t oc, const int32_t *restrict acc, int32_t n,
                                    int8_t *restrict out)
{
    const int32_t base = g->base[oc], m = g->multiplier[oc], s = g->shift[oc];
    const bb_quant_out *q = g->q;
    const int32_t lo = q->activation_min, hi = q->activation_max;
    if (bb_requant_fast_ok(m, s)) {
        const bb_requant_fast f = bb_requant_fast_prepare(m, s);
        const int32_t offset = q->output_offset; /* + requantized: no overflow (bb_requant_fast.h) */
        if (hi == 127 && lo == -128 && n == BLOCK) { /* no clamp but int8's: SSAT alone, unrolled */
            out[0] = (int8_t)bb_ssat8(bb_requant_fast_apply(acc[0] + base, &f) + offset);
            out[1] = (int8_t)bb_ssat8(bb_requant_fast_apply(acc[1] + base, &f) + offset);
            out[2] = (int8_t)bb_ssat8(bb_requant_fast_apply(acc[2] + base, &f) + offset);
            out[3] = (int8_t)bb_ssat8(bb_requant_fast_apply(acc[3] + base, &f) + offset);
            return;
        }
        if (hi == 127) { /* a ReLU (lo = the output zero point): SSAT, then lo */
            for (int32_t j = 0; j < n; j++) {
                const int32_t v = bb_ssat8(bb_requant_fast_apply(acc[j] + base, &f) + offset);
                out[j] = (int8_t)(v < lo ? lo : v);
            }
            return;
        }
        for (int32_t j = 0; j < n; j++) {
            const int32_t v = bb_requant_fast_apply(acc[j] + base, &f) + offset;
            out[j] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
        }
        return;
    }
    const bb_requant_step step = bb_requant_prepare(m, s);
    for (int32_t j = 0; j < n; j++)
        out[j] = bb_graph_out(bb_requantize_step(acc[j] + base, &step), q->output_offset, lo, hi);
}

/* Column j < n of tap row s as a word's byte j, zero past n. */
static inline uint32_t gather(const int8_t *s, int32_t n)
{
    uint32_t v = 0;
    if (n == BLOCK) {
        memcpy(&v, s, sizeof v); /* one unaligned word load on a Cortex-M3 or M4 */
        return v;
    }
    for (int32_t j = 0; j < n; j++)
        v |= (uint32_t)(uint8_t)s[j] << (8 * j);
    return v; /* little-endian: byte j is column j */
}

#if BB_DSP
/* The block: for each group of four taps (the last zero-padded), for each column j,
 * the words (x0, x2) and (x1, x3) of its int16 values, x_r the group's tap r. */
static void pack_block(const int8_t *src, size_t stride, int32_t taps, int32_t n, int32_t *restrict p)
{
    for (int32_t k = 0; k < taps; k += 4, p += 8, src += 4 * stride) {
        const uint32_t a0 = gather(src, n);
        const uint32_t a1 = k + 1 < taps ? gather(src + stride, n) : 0u;
        const uint32_t a2 = k + 2 < taps ? gather(src + 2 * stride, n) : 0u;
        const uint32_t a3 = k + 3 < taps ? gather(src + 3 * stride, n) : 0u;
        /* bytes (a0 j, a0 j+1, a2 j, a2 j+1) for j = 0, 2: SXTB16 picks the pairs of j,
         * SXTB16 ROR 8 those of j + 1 */
        const uint32_t lo02 = bb_pack_lo16(a0, a2), hi02 = bb_pack_hi16(a0, a2);
        const uint32_t lo13 = bb_pack_lo16(a1, a3), hi13 = bb_pack_hi16(a1, a3);
        p[0] = bb_sxtb16(lo02);
        p[1] = bb_sxtb16(lo13);
        p[2] = bb_sxtb16_ror8(lo02);
        p[3] = bb_sxtb16_ror8(lo13);
        p[4] = bb_sxtb16(hi02);
        p[5] = bb_sxtb16(hi13);
        p[6] = bb_sxtb16_ror8(hi02);
        p[7] = bb_sxtb16_ror8(hi13);
    }
}

/* One group: weights k = (w0 w1 w2 w3) against the four columns' pairs at q (a column's
 * two words in one LDRD). */
#define GROUP(k, q)                                                                                          \
    do {                                                                                                     \
        const int32_t ke = bb_sxtb16(k), ko = bb_sxtb16_ror8(k);                                             \
        int32_t e, o;                                                                                        \
        bb_load_pair((q), &e, &o);                                                                           \
        a0 = bb_smlad(ko, o, bb_smlad(ke, e, a0));                                                           \
        bb_load_pair((q) + 2, &e, &o);                                                                       \
        a1 = bb_smlad(ko, o, bb_smlad(ke, e, a1));                                                           \
        bb_load_pair((q) + 4, &e, &o);                                                                       \
        a2 = bb_smlad(ko, o, bb_smlad(ke, e, a2));                                                           \
        bb_load_pair((q) + 6, &e, &o);                                                                       \
        a3 = bb_smlad(ko, o, bb_smlad(ke, e, a3));                                                           \
    } while (0)

/* acc[j] = row . column j over the packed block; `tail` holds the last taps % 4 weights
 * (zero above them), read past the whole groups. */
BB_NOINLINE static void dot_1x4(const int8_t *restrict w, const int32_t *restrict p, int32_t groups, uint32_t tail,
                                int32_t *restrict acc)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; groups >= 2; groups -= 2, w += 8, p += 16) { /* two groups a turn: half the loop overhead */
        const uint32_t k0 = bb_load32(w), k1 = bb_load32(w + 4);
        GROUP(k0, p);
        GROUP(k1, p + 8);
    }
    if (groups > 0) {
        const uint32_t k0 = bb_load32(w);
        GROUP(k0, p);
        p += 8;
    }
    if (tail != 0)
        GROUP(tail, p);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#undef GROUP

/* The last taps % 4 weights of a row (little-endian bytes, zero above): from the row's
 * last word when there is one, shifted down. */
static uint32_t tail_word(const int8_t *row, int32_t taps)
{
    const int32_t t = taps & 3;
    if (t == 0)
        return 0;
    if (taps >= 4)
        return bb_load32(row + taps - 4) >> (8 * (4 - t));
    return gather(row, t);
}

void bb_gemm_s8_columns(const bb_gemm_s8 *g, const int8_t *src, size_t src_stride, int32_t n, int8_t *y,
                        size_t y_stride)
{
    int32_t *packed = (int32_t *)g->packed;
    const int32_t taps = g->taps, groups = taps / 4;
    for (int32_t p0 = 0; p0 < n; p0 += BLOCK) {
        const int32_t cols = n - p0 < BLOCK ? n - p0 : BLOCK;
        pack_block(src + p0, src_stride, taps, cols, packed);
        const int8_t *row = g->w;
        int8_t *out = y + p0;
        for (int32_t oc = 0; oc < g->out_channels; oc++, row += taps, out += y_stride) {
            int32_t acc[BLOCK];
            dot_1x4(row, packed, groups, tail_word(row, taps), acc);
            store_block(g, oc, acc, cols, out);
        }
    }
}
#else
/* The block: tap k's four columns at bytes 4 k .. 4 k + 3 (zero past n). */
static void pack_block(const int8_t *src, size_t stride, int32_t taps, int32_t n, int8_t *restrict p)
{
    for (int32_t k = 0; k < taps; k++, src += stride, p += BLOCK) {
        const uint32_t v = gather(src, n);
        memcpy(p, &v, sizeof v);
    }
}

/* One input channel of two rows: weights u and v against the four columns at q. */
#define STEP(u, v, q)                                                                                        \
    do {                                                                                                     \
        int32_t x = (q)[0];                                                                                  \
        a0 += (u) * x;                                                                                       \
        b0 += (v) * x;                                                                                       \
        x = (q)[1];                                                                                          \
        a1 += (u) * x;                                                                                       \
        b1 += (v) * x;                                                                                       \
        x = (q)[2];                                                                                          \
        a2 += (u) * x;                                                                                       \
        b2 += (v) * x;                                                                                       \
        x = (q)[3];                                                                                          \
        a3 += (u) * x;                                                                                       \
        b3 += (v) * x;                                                                                       \
    } while (0)

/* acc[4 r + j] = row r . column j for rows w and w + taps (r = 0, 1) over the block. One
 * input channel a turn and the second row read at an offset from the first: unrolled
 * further, or with a pointer of its own, the loop no longer fits a Cortex-M3's registers
 * (gcc 12 -O2: 18 instructions per 8 MACs here, 36-38 per 16 unrolled). */
BB_NOINLINE static void dot_2x4(const int8_t *restrict w, int32_t taps, const int8_t *restrict p,
                                int32_t *restrict acc)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (const int8_t *end = w + taps; w != end; w++, p += BLOCK)
        STEP(w[0], w[taps], p);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = b0;
    acc[5] = b1;
    acc[6] = b2;
    acc[7] = b3;
}
#undef STEP

BB_NOINLINE static void dot_1x4(const int8_t *restrict w, const int8_t *restrict p, int32_t taps,
                                int32_t *restrict acc)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (const int8_t *end = w + taps; w != end; w++, p += BLOCK) {
        const int32_t u = *w;
        a0 += u * p[0];
        a1 += u * p[1];
        a2 += u * p[2];
        a3 += u * p[3];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void bb_gemm_s8_columns(const bb_gemm_s8 *g, const int8_t *src, size_t src_stride, int32_t n, int8_t *y,
                        size_t y_stride)
{
    int8_t *packed = (int8_t *)g->packed;
    const int32_t taps = g->taps;
    for (int32_t p0 = 0; p0 < n; p0 += BLOCK) {
        const int32_t cols = n - p0 < BLOCK ? n - p0 : BLOCK;
        pack_block(src + p0, src_stride, taps, cols, packed);
        const int8_t *row = g->w;
        int8_t *out = y + p0;
        int32_t oc = 0;
        for (; oc + 2 <= g->out_channels; oc += 2, row += 2 * (size_t)taps, out += 2 * y_stride) {
            int32_t acc[2 * BLOCK];
            dot_2x4(row, taps, packed, acc);
            store_block(g, oc, acc, cols, out);
            store_block(g, oc + 1, acc + BLOCK, cols, out + y_stride);
        }
        if (oc < g->out_channels) {
            int32_t acc[BLOCK];
            dot_1x4(row, packed, taps, acc);
            store_block(g, oc, acc, cols, out);
        }
    }
}
#endif

/* ---- the 1x1 convolution's fast path ---------------------------------------------- */

size_t bb_pointwise_conv2d_s8_scratch_size(const bb_s8_dims *in, int32_t out_channels)
{
    if (bb_check_dims_s8(in) != BB_OK || out_channels <= 0)
        return 0;
    return bb_gemm_s8_scratch_size(in->channels, out_channels); /* 0: the kernel refuses such a layer */
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
    const size_t positions = (size_t)in->height * (size_t)in->width;
    bb_gemm_s8 g;
    bb_gemm_s8_prepare(&g, in->channels, out_channels, q, multiplier, shift, w, bias, scratch);
    for (int32_t n = 0; n < in->batch; n++)
        bb_gemm_s8_columns(&g, x + (size_t)n * (size_t)in->channels * positions, positions, (int32_t)positions,
                           y + (size_t)n * (size_t)out_channels * positions, positions);
    return BB_OK;
}
