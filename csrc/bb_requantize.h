/* bb_requantize.h: the one place where int32 accumulators become int8 activations.
 *
 * A real multiplier M (= input_scale * weight_scale / output_scale, in (0, 1) in
 * practice) is stored as a Q31 fixed-point `multiplier` in [2^30, 2^31) and a power-of-
 * two `shift`: M = multiplier * 2^(shift - 31). The arithmetic is TensorFlow Lite's
 * reference MultiplyByQuantizedMultiplier, which CMSIS-NN's arm_nn_requantize also
 * implements by default (the "double rounding" variant, not CMSIS_NN_USE_SINGLE_ROUNDING):
 *   1. a left shift by max(shift, 0) (saturated here, where TFLite would overflow),
 *   2. SaturatingRoundingDoublingHighMul: the high 32 bits of 2 * x * multiplier, to
 *      nearest with ties toward +infinity (1.5 -> 2, -1.5 -> -1), saturating the one
 *      overflow case INT32_MIN * INT32_MIN,
 *   3. RoundingDivideByPOT by max(-shift, 0): an arithmetic right shift, to nearest with
 *      ties away from zero.
 * Steps 2 and 3 each round, so a value can be rounded twice: that is
 * TFLite's behaviour, kept on purpose. Pure integer arithmetic: the host and a Cortex-M
 * give identical bits. */
#ifndef BB_REQUANTIZE_H
#define BB_REQUANTIZE_H

#include <stdint.h>

int32_t bb_saturating_rounding_doubling_high_mul(int32_t a, int32_t b);

int32_t bb_rounding_divide_by_pot(int32_t x, int32_t exponent);

/* x * M rounded, for M = multiplier * 2^(shift - 31); shift in [-31, 30]. */
int32_t bb_requantize(int32_t x, int32_t multiplier, int32_t shift);

#endif /* BB_REQUANTIZE_H */
