/* bb_requantize_inline.h: the bodies of bb_requantize.h's functions, inlinable (internal).
 *
 * The one definition of the requantization arithmetic (see bb_requantize.h for what it
 * computes and why): bb_requantize.c defines the public functions from these, and a
 * kernel's inner loop may include this header to requantize without a call, which on a
 * Cortex-M costs about as much as the arithmetic itself. Not part of the cffi cdef
 * (function bodies), hence not in braininabox.h. */
#ifndef BB_REQUANTIZE_INLINE_H
#define BB_REQUANTIZE_INLINE_H

#include <stdint.h>

static inline int32_t bb_srdhm_inline(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX; /* the only product whose doubling overflows */
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* Division truncates toward zero; with the nudge this rounds to nearest, ties toward +inf. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t bb_rdbpot_inline(int32_t x, int32_t exponent)
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

static inline int32_t bb_requantize_inline(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int64_t shifted = (int64_t)x * ((int64_t)1 << left);
    if (shifted > INT32_MAX)
        shifted = INT32_MAX;
    if (shifted < INT32_MIN)
        shifted = INT32_MIN;
    return bb_rdbpot_inline(bb_srdhm_inline((int32_t)shifted, multiplier), right);
}

#endif /* BB_REQUANTIZE_INLINE_H */
