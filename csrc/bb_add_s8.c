/* bb_add_s8.c: int8 elementwise add with TFLite's arithmetic (a residual connection).
 *
 * Two tensors of different scales are brought to a common one before adding: each input
 * (with its offset) is shifted left 20 bits, so that the following requantization by a
 * multiplier below one keeps 20 bits of fraction, then the sum is requantized to the
 * output scale. The bounds: |x + offset| <= 255, so |a|, |b| <= 255 * 2^20 < 2^28 and
 * the sum cannot overflow. One path: the loop is the definition, and memory-bound. */
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"

static int offset_ok(int32_t offset) { return offset >= -127 && offset <= 128; }

bb_status bb_add_s8(const bb_add_s8_params *p, size_t n, const int8_t *x1, const int8_t *x2, int8_t *y)
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
    for (size_t i = 0; i < n; i++) {
        const int32_t a = ((int32_t)x1[i] + p->input1_offset) * (1 << BB_ADD_S8_LEFT_SHIFT);
        const int32_t b = ((int32_t)x2[i] + p->input2_offset) * (1 << BB_ADD_S8_LEFT_SHIFT);
        const int32_t sum = bb_requantize_inline(a, p->input1_multiplier, p->input1_shift) +
                            bb_requantize_inline(b, p->input2_multiplier, p->input2_shift);
        y[i] = bb_graph_out(bb_requantize_inline(sum, p->output_multiplier, p->output_shift), p->output_offset,
                            p->activation_min, p->activation_max);
    }
    return BB_OK;
}
