/* bb_add_s8.c: int8 elementwise add with TFLite's arithmetic (a residual connection).
 *
 * Two tensors of different scales are brought to a common one before adding: each input
 * (with its offset) is shifted left 20 bits, so that the following requantization by a
 * multiplier below one keeps 20 bits of fraction, then the sum is requantized to the
 * output scale. The bounds: |x + offset| <= 255, so |a|, |b| <= 255 * 2^20 < 2^28 and
 * the sum cannot overflow.
 *
 * Fast path: an int8 input takes 256 values, so each input's scaled value comes from a
 * table of 256 int32 in scratch, filled by the reference arithmetic: per element one
 * requantization (the output's) instead of three. It pays from about a thousand
 * elements (a residual add of a 16x32x32 ResNet-8 tensor has 16384). */
#include <stdint.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"

static int offset_ok(int32_t offset) { return offset >= -127 && offset <= 128; }

static bb_status check(const bb_add_s8_params *p, size_t n, const int8_t *x1, const int8_t *x2, const int8_t *y)
{
    if (p == NULL)
        return BB_ERR_NULL;
    if (n > 0 && (x1 == NULL || x2 == NULL || y == NULL))
        return BB_ERR_NULL;
    if (!offset_ok(p->input1_offset) || !offset_ok(p->input2_offset) || p->output_offset < -128 ||
        p->output_offset > 127 || p->activation_min < -128 || p->activation_max > 127 ||
        p->activation_min > p->activation_max ||
        !bb_graph_requant_ok(p->input1_multiplier, p->input1_shift, -31, 0) ||
        !bb_graph_requant_ok(p->input2_multiplier, p->input2_shift, -31, 0) ||
        !bb_graph_requant_ok(p->output_multiplier, p->output_shift, -31, 30))
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

static int32_t scaled(int32_t x, int32_t offset, int32_t multiplier, int32_t shift)
{
    return bb_requantize_inline((x + offset) * (1 << BB_ADD_S8_LEFT_SHIFT), multiplier, shift);
}

bb_status bb_add_s8_reference(const bb_add_s8_params *p, size_t n, const int8_t *x1, const int8_t *x2, int8_t *y)
{
    bb_status s = check(p, n, x1, x2, y);
    if (s != BB_OK)
        return s;
    for (size_t i = 0; i < n; i++) {
        const int32_t sum = scaled(x1[i], p->input1_offset, p->input1_multiplier, p->input1_shift) +
                            scaled(x2[i], p->input2_offset, p->input2_multiplier, p->input2_shift);
        y[i] = bb_graph_out(bb_requantize_inline(sum, p->output_multiplier, p->output_shift), p->output_offset,
                            p->activation_min, p->activation_max);
    }
    return BB_OK;
}

enum { TABLES_FROM = 1024 }; /* elements from which the tables pay for their 512 requantizations */

size_t bb_add_s8_scratch_size(size_t n)
{
    return n >= TABLES_FROM ? 2 * 256 * sizeof(int32_t) : 0;
}

bb_status bb_add_s8(const bb_add_s8_params *p, size_t n, const int8_t *x1, const int8_t *x2, int8_t *y,
                    int8_t *scratch, size_t scratch_bytes)
{
    bb_status s = check(p, n, x1, x2, y);
    if (s != BB_OK)
        return s;
    const size_t need = bb_add_s8_scratch_size(n);
    if (need == 0)
        return bb_add_s8_reference(p, n, x1, x2, y);
    if (scratch == NULL || scratch_bytes < need || ((uintptr_t)scratch & 3u) != 0)
        return BB_ERR_SCRATCH;
    int32_t *t1 = (int32_t *)(void *)scratch, *t2 = t1 + 256; /* indexed by x + 128 */
    for (int32_t v = -128; v < 128; v++) {
        t1[v + 128] = scaled(v, p->input1_offset, p->input1_multiplier, p->input1_shift);
        t2[v + 128] = scaled(v, p->input2_offset, p->input2_multiplier, p->input2_shift);
    }
    const bb_requant_step step = bb_requant_prepare(p->output_multiplier, p->output_shift);
    const int32_t offset = p->output_offset, lo = p->activation_min - offset, hi = p->activation_max - offset;
    for (size_t i = 0; i < n; i++) {
        const int32_t r = bb_requantize_step(t1[x1[i] + 128] + t2[x2[i] + 128], &step);
        y[i] = (int8_t)((r < lo ? lo : (r > hi ? hi : r)) + offset);
    }
    return BB_OK;
}
