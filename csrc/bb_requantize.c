#include "bb_requantize.h"

int32_t bb_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX; /* the only product whose doubling overflows */
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* Division truncates toward zero; with the nudge this rounds to nearest, ties toward +inf. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

int32_t bb_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    if (exponent <= 0)
        return x;
    if (exponent > 31)
        exponent = 31;
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    /* x >> exponent on a negative int32 is arithmetic on every target we build for
     * (gcc documents it); written as a division-free shift to keep the M3 path cheap. */
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t bb_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int64_t shifted = (int64_t)x * ((int64_t)1 << left);
    if (shifted > INT32_MAX)
        shifted = INT32_MAX;
    if (shifted < INT32_MIN)
        shifted = INT32_MIN;
    return bb_rounding_divide_by_pot(bb_saturating_rounding_doubling_high_mul((int32_t)shifted, multiplier), right);
}
