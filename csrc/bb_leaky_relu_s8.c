/* bb_leaky_relu_s8.c: int8 LeakyReLU with TensorFlow Lite's arithmetic.
 *
 * f(x) = x for x >= 0 and alpha * x below: in int8 the two halves are two
 * requantizations of the centred input v = x + input_offset (|v| <= 255), by
 * input_scale / output_scale for v >= 0 and by alpha * input_scale / output_scale below,
 * then the output offset and a clamp to int8. An int8 input takes 256 values, so from
 * 256 elements on the kernel fills a 256-entry table once (on the stack) and then looks
 * every element up: the same bytes, one load per element. */
#include <stdint.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"

static int8_t leaky(const bb_leaky_relu_s8_params *p, int32_t x)
{
    const int32_t v = x + p->input_offset;
    const int32_t r = v >= 0 ? bb_requantize_inline(v, p->identity_multiplier, p->identity_shift)
                             : bb_requantize_inline(v, p->alpha_multiplier, p->alpha_shift);
    return bb_graph_out(r, p->output_offset, -128, 127);
}

bb_status bb_leaky_relu_s8(const bb_leaky_relu_s8_params *p, size_t n, const int8_t *x, int8_t *y)
{
    if (p == NULL || (n > 0 && (x == NULL || y == NULL)))
        return BB_ERR_NULL;
    if (p->input_offset < -127 || p->input_offset > 128 || p->output_offset < -128 ||
        p->output_offset > 127 || !bb_graph_requant_ok(p->identity_multiplier, p->identity_shift, -31, 30) ||
        !bb_graph_requant_ok(p->alpha_multiplier, p->alpha_shift, -31, 30))
        return BB_ERR_ARGUMENT;
    if (n < 256) {
        for (size_t i = 0; i < n; i++)
            y[i] = leaky(p, x[i]);
        return BB_OK;
    }
    int8_t table[256]; /* table[x + 128] */
    for (int32_t v = -128; v < 128; v++)
        table[v + 128] = leaky(p, v);
    for (size_t i = 0; i < n; i++)
        y[i] = table[x[i] + 128];
    return BB_OK;
}
