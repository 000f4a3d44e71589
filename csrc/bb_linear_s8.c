/* bb_linear_s8.c: int8 fully connected layer. */
#include "bb_int8.h"
#include "bb_int8_checks.h"
#include "bb_requantize.h"

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

    for (int n = 0; n < batch; n++) {
        const int8_t *row = x + (size_t)n * (size_t)in_features;
        for (int o = 0; o < out_features; o++) {
            const int8_t *weights = w + (size_t)o * (size_t)in_features;
            int32_t acc = bias != NULL ? bias[o] : 0;
            for (int i = 0; i < in_features; i++)
                acc += ((int32_t)row[i] + q->input_offset) * (int32_t)weights[i];
            acc = bb_requantize(acc, multiplier[o], shift[o]) + q->output_offset;
            y[(size_t)n * (size_t)out_features + (size_t)o] =
                bb_clamp_to_s8(acc, q->activation_min, q->activation_max);
        }
    }
    return BB_OK;
}
