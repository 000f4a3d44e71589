/* bb_requantize.c: the public requantization functions; their arithmetic is in
 * bb_requantize_inline.h, so kernels that inline it and callers of these agree. */
#include "bb_requantize.h"
#include "bb_requantize_inline.h"

int32_t bb_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) { return bb_srdhm_inline(a, b); }

int32_t bb_rounding_divide_by_pot(int32_t x, int32_t exponent) { return bb_rdbpot_inline(x, exponent); }

int32_t bb_requantize(int32_t x, int32_t multiplier, int32_t shift) { return bb_requantize_inline(x, multiplier, shift); }
