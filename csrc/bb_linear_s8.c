/* bb_linear_s8.c: int8 fully connected layer. */
#include "bb_int8.h"
#include "bb_int8_checks.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"
#include "bb_requant_fast.h"
#include "bb_dsp.h"

#include <stddef.h>

/* gcc's scheduler, run before register allocation, hoists dot4's four weight loads
 * ahead of their uses and the loop then spills to the stack (29 instructions per 16 MACs
 * on a Cortex-M4 against 27 without it). */
#if defined(__GNUC__) && !defined(__clang__)
#define DOT4_ATTRIBUTES __attribute__((noinline, optimize("no-schedule-insns")))
#else
#define DOT4_ATTRIBUTES BB_NOINLINE
#endif

/* The four dot products of rows w, w + n, w + 2n, w + 3n with x (+ offset).
 *
 * With the DSP extension (bb_dsp.h) four inputs go per step: one word of x becomes the
 * int16 pairs (x0 + offset, x2 + offset) and (x1 + offset, x3 + offset) by SXTAB16 (the
 * sums fit int16: |x + offset| <= 255), one word of each row the pairs (w0, w2) and
 * (w1, w3) by SXTB16, and two SMLADs add the four products. The sums are exact integer
 * sums, so the result equals the plain loop's whatever the order. */
DOT4_ATTRIBUTES static void dot4(const int8_t *x, const int8_t *w, size_t n, int32_t offset, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    /* Two pointers, rows 0 and 2, and rows 1 and 3 a row further: with the input pointer
     * and its end, five registers, so that the loop's state fits a Cortex-M4's (27
     * instructions per 16 MACs, no spill; an index over four row pointers spills). */
    const size_t row = n; /* n becomes the count of the last inputs */
    const int8_t *w0 = w, *w2 = w + 2 * row;
#if BB_DSP
    const int32_t offset2 = bb_pack16(offset, offset);
    for (const int8_t *end4 = x + (n & ~(size_t)3); x != end4; x += 4, w0 += 4, w2 += 4) {
        const uint32_t xv = bb_load32(x);
        const int32_t xe = bb_sxtab16(offset2, xv), xo = bb_sxtab16_ror8(offset2, xv);
        uint32_t v = bb_load32(w0);
        a0 = bb_smlad(xo, bb_sxtb16_ror8(v), bb_smlad(xe, bb_sxtb16(v), a0));
        v = bb_load32(w0 + row);
        a1 = bb_smlad(xo, bb_sxtb16_ror8(v), bb_smlad(xe, bb_sxtb16(v), a1));
        v = bb_load32(w2);
        a2 = bb_smlad(xo, bb_sxtb16_ror8(v), bb_smlad(xe, bb_sxtb16(v), a2));
        v = bb_load32(w2 + row);
        a3 = bb_smlad(xo, bb_sxtb16_ror8(v), bb_smlad(xe, bb_sxtb16(v), a3));
    }
    n &= 3;
#endif
    for (const int8_t *end = x + n; x != end; x++, w0++, w2++) {
        const int32_t v = (int32_t)*x + offset;
        a0 += v * w0[0];
        a1 += v * w0[row];
        a2 += v * w2[0];
        a3 += v * w2[row];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The dot product of row w with x (+ offset): the rows past the last four, on the M4 by
 * the same SMLAD steps as dot4. */
static int32_t dot1(const int8_t *x, const int8_t *w, size_t n, int32_t offset)
{
    int32_t a = 0;
#if BB_DSP
    const int32_t offset2 = bb_pack16(offset, offset);
    for (const int8_t *end4 = x + (n & ~(size_t)3); x != end4; x += 4, w += 4) {
        const uint32_t xv = bb_load32(x), v = bb_load32(w);
        a = bb_smlad(bb_sxtab16_ror8(offset2, xv), bb_sxtb16_ror8(v),
                     bb_smlad(bb_sxtab16(offset2, xv), bb_sxtb16(v), a));
    }
    n &= 3;
#endif
    for (const int8_t *end = x + n; x != end; x++)
        a += ((int32_t)*x + offset) * *w++;
    return a;
}

/* The output clamp, with its bounds computed once per call: [lo, hi] before the offset
 * is added (bb_offset_clamp_s8: no int32 overflow at shift 30), [min, max] after it. */
typedef struct out_range {
    int32_t offset, lo, hi, min, max;
} out_range;

static int8_t finish(int32_t acc, const out_range *r, int32_t multiplier, int32_t shift)
{
    if (bb_requant_fast_ok(multiplier, shift)) { /* the usual channel: one rounding step */
        const bb_requant_fast f = bb_requant_fast_prepare(multiplier, shift);
        const int32_t v = bb_requant_fast_apply(acc, &f) + r->offset; /* no overflow: see there */
        return (int8_t)(v < r->min ? r->min : (v > r->max ? r->max : v));
    }
    const int32_t v = bb_requantize_inline(acc, multiplier, shift); /* the body of bb_requantize, inlined */
    return (int8_t)((v < r->lo ? r->lo : (v > r->hi ? r->hi : v)) + r->offset);
}

bb_status bb_linear_s8(int batch, int in_features, int out_features, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    if (batch <= 0 || in_features <= 0 || out_features <= 0)
        return BB_ERR_SHAPE;
    bb_status s = bb_check_quant_out(q);
    if (s != BB_OK)
        return s;
    if ((s = bb_check_requant(out_features, multiplier, shift)) != BB_OK)
        return s;
    if (x == NULL || w == NULL || y == NULL)
        return BB_ERR_NULL;

    const out_range range = {q->output_offset, q->activation_min - q->output_offset,
                             q->activation_max - q->output_offset, q->activation_min, q->activation_max};
    for (int n = 0; n < batch; n++) {
        const int8_t *row = x + (size_t)n * (size_t)in_features;
        int8_t *out = y + (size_t)n * (size_t)out_features;
        int o = 0;
        /* Four outputs at a time: each input value (with its offset) is loaded once for
         * four weights. */
        for (; o + 4 <= out_features; o += 4) {
            int32_t acc[4];
            dot4(row, w + (size_t)o * (size_t)in_features, (size_t)in_features, q->input_offset, acc);
            for (int j = 0; j < 4; j++) {
                const int32_t b = bias != NULL ? bias[o + j] : 0;
                out[o + j] = finish(acc[j] + b, &range, multiplier[o + j], shift[o + j]);
            }
        }
        for (; o < out_features; o++) {
            const int32_t acc = dot1(row, w + (size_t)o * (size_t)in_features, (size_t)in_features,
                                     q->input_offset);
            out[o] = finish(acc + (bias != NULL ? bias[o] : 0), &range, multiplier[o], shift[o]);
        }
    }
    return BB_OK;
}
