/* bb_int8_checks.h: argument checks shared by the int8 kernels (internal, not public API). */
#ifndef BB_INT8_CHECKS_H
#define BB_INT8_CHECKS_H

#include "bb_int8.h"

/* Offsets and clamp range that an int8 layer can honour. */
static inline bb_status bb_check_quant_out(const bb_quant_out *q)
{
    if (q == NULL)
        return BB_ERR_NULL;
    if (q->input_offset < -127 || q->input_offset > 128 || q->output_offset < -128 ||
        q->output_offset > 127 || q->activation_min < -128 || q->activation_max > 127 ||
        q->activation_min > q->activation_max)
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

/* Per-channel requantization parameters: a non-negative Q31 multiplier, shift in [-31, 30]. */
static inline bb_status bb_check_requant(int channels, const int32_t *multiplier, const int32_t *shift)
{
    if (multiplier == NULL || shift == NULL)
        return BB_ERR_NULL;
    for (int c = 0; c < channels; c++) {
        if (multiplier[c] < 0 || shift[c] < -31 || shift[c] > 30)
            return BB_ERR_ARGUMENT;
    }
    return BB_OK;
}

static inline int8_t bb_clamp_to_s8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#endif /* BB_INT8_CHECKS_H */
