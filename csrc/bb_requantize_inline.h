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

/* Written for a 32-bit core: a 32x32 -> 64 multiply (SMULL), one 64-bit add and shift,
 * no 64-bit division or comparison; about 15 instructions for a whole requantization
 * with a right shift on a Cortex-M4. Right shifts of negative values are arithmetic on
 * every compiler we build with (gcc and clang document it). */

static inline int32_t bb_srdhm_inline(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX; /* the only product whose doubling overflows */
    /* TFLite's (ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31 truncating toward zero equals
     * floor((ab + 2^30) / 2^31) in both signs: to nearest, ties toward +infinity. */
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t bb_rdbpot_inline(int32_t x, int32_t exponent)
{
    if (exponent <= 0)
        return x;
    if (exponent > 31)
        exponent = 31;
    const int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> exponent) + (remainder > threshold);
}

static inline int32_t bb_requantize_inline(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift > 0) { /* x * 2^shift, saturated to int32 */
        if (shift > 31)
            shift = 31; /* saturates every x but 0 already */
        if (x > (INT32_MAX >> shift))
            x = INT32_MAX;
        else if (x < (INT32_MIN >> shift))
            x = INT32_MIN;
        else
            x = (int32_t)((uint32_t)x << shift);
        return bb_srdhm_inline(x, multiplier);
    }
    return bb_rdbpot_inline(bb_srdhm_inline(x, multiplier), -shift);
}

/* The same requantization with the per-channel work done once: a kernel prepares one
 * bb_requant_step per output channel and applies it to every accumulator of that
 * channel; bb_requantize_step(x, s) == bb_requantize_inline(x, multiplier, shift). */
typedef struct bb_requant_step {
    int32_t multiplier;
    int32_t left;      /* max(shift, 0), at most 31 */
    int32_t right;     /* max(-shift, 0), at most 31 */
    int32_t mask;      /* 2^right - 1: the bits the right shift drops */
    int32_t threshold; /* mask / 2: a remainder above it (above it + 1 for x < 0) rounds up */
} bb_requant_step;

static inline bb_requant_step bb_requant_prepare(int32_t multiplier, int32_t shift)
{
    bb_requant_step s; /* multiplier >= 0: see bb_requantize_step_right */
    s.multiplier = multiplier;
    s.left = shift > 0 ? (shift > 31 ? 31 : shift) : 0;
    s.right = shift < 0 ? (shift < -31 ? 31 : -shift) : 0;
    s.mask = (int32_t)((UINT32_C(1) << s.right) - 1u);
    s.threshold = s.mask >> 1;
    return s;
}

/* The step without its left shift, i.e. for s->left == 0 (every multiplier below one):
 * a kernel's loop can test left once and use this, which compiles to one SMLAL. The
 * multiplier must be non-negative, as every kernel checks: then the doubling high
 * multiply cannot overflow and needs no INT32_MIN test. */
static inline int32_t bb_requantize_step_right(int32_t x, const bb_requant_step *s)
{
    const int32_t high = (int32_t)(((int64_t)x * (int64_t)s->multiplier + ((int64_t)1 << 30)) >> 31);
    /* bb_rdbpot_inline with its mask and threshold precomputed; right = 0 gives mask 0,
     * threshold 0: no rounding term, as there. */
    return (high >> s->right) + ((high & s->mask) > s->threshold + (high < 0));
}

static inline int32_t bb_requantize_step(int32_t x, const bb_requant_step *s)
{
    if (s->left > 0) { /* x * 2^left, saturated to int32 */
        if (x > (INT32_MAX >> s->left))
            x = INT32_MAX;
        else if (x < (INT32_MIN >> s->left))
            x = INT32_MIN;
        else
            x = (int32_t)((uint32_t)x << s->left);
    }
    return bb_requantize_step_right(x, s);
}

#endif /* BB_REQUANTIZE_INLINE_H */
