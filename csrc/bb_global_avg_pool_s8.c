/* bb_global_avg_pool_s8.c: int8 global average pooling as TFLite's int8 Mean over
 * height and width: the sum is requantized first (input to output scale), then divided
 * by the count with rounding half away from zero, then offset and clamped. One path:
 * a plane is contiguous in NCHW, so the sum is one pass over it. */
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"

bb_status bb_global_avg_pool_s8(const bb_s8_dims *in, const bb_quant_out *q, int32_t multiplier,
                                int32_t shift, const int8_t *x, int8_t *y)
{
    bb_status s = bb_check_dims_s8(in);
    if (s != BB_OK)
        return s;
    if ((int64_t)in->height * in->width > INT32_MAX / 255)
        return BB_ERR_SHAPE; /* the sum of (x + offset) must fit an int32 */
    if ((s = bb_check_quant_out(q)) != BB_OK)
        return s;
    if (!bb_graph_requant_ok(multiplier, shift, -31, 30))
        return BB_ERR_ARGUMENT;
    if (x == NULL || y == NULL)
        return BB_ERR_NULL;
    const int32_t count = in->height * in->width;
    const size_t planes = (size_t)in->batch * (size_t)in->channels;
    for (size_t pl = 0; pl < planes; pl++) {
        const int8_t *src = x + pl * (size_t)count;
        int32_t sum = 0;
        for (int32_t i = 0; i < count; i++)
            sum += src[i];
        /* sum(x + offset) = sum(x) + count * offset; |count * offset| <= 128 count < 2^31. */
        const int32_t acc = bb_requantize_inline(sum + count * q->input_offset, multiplier, shift);
        /* TFLite's (acc +- count / 2) / count, rounding half away from zero, written with
         * the remainder so that it cannot overflow for acc near the int32 limits. */
        const int32_t quotient = acc / count, rest = acc % count; /* rest has acc's sign */
        const int32_t mean = rest >= 0 ? quotient + (rest + count / 2 >= count)
                                       : quotient - (-rest + count / 2 >= count);
        y[pl] = bb_graph_out(mean, q->output_offset, q->activation_min, q->activation_max);
    }
    return BB_OK;
}
