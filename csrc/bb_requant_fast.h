/* bb_requant_fast.h: bb_requantize in one 64-bit multiply-add and a shift, for the usual
 * output channel (internal, not public API).
 *
 * For a multiplier m above 2^30 (every normalized Q31 multiplier but 2^30 itself) and a
 * right shift r = -shift in [1, 31], TFLite's two roundings (bb_requantize.h)
 *     high = floor((x m + 2^30) / 2^31),  result = floor((high + 2^(r-1) - neg) / 2^r)
 * with neg = (high < 0) (ties away from zero) fold into one sum: nested floors of
 * divisions by positive integers compose, so
 *     result = floor((x m + 2^30 + 2^(30+r) - neg 2^31) / 2^(31+r)),
 * and as 31 + r >= 32 that is the sum's high word shifted right by r - 1. With m > 2^30,
 * high < 0 exactly when x < 0 (x <= -1 gives x m <= -m < -2^30; x >= 0 gives
 * x m + 2^30 > 0). |x m| <= 2^62 and the constant is below 2^62, so the int64 sum cannot
 * overflow, and |result| <= 2^30 + 2^29: adding an output offset cannot overflow either.
 * On a Cortex-M3 or M4 that is ASR, ADDS, ADC, SMLAL, ASR: five instructions where
 * bb_requantize_step_right takes about twelve. Channels outside these bounds (multiplier
 * <= 2^30, shift >= 0) keep bb_requant_step (bb_requantize_inline.h); the kernels' tests
 * compare both against the reference paths, and tests/c/test_graph_kernels.c checks this
 * one against bb_requantize at the edges. */
#ifndef BB_REQUANT_FAST_H
#define BB_REQUANT_FAST_H

#include <stdint.h>

typedef struct bb_requant_fast {
    int64_t k;          /* 2^30 + 2^(30+r) */
    int32_t multiplier; /* > 2^30 */
    int32_t sh;         /* r - 1, in [0, 30] */
} bb_requant_fast;

static inline int bb_requant_fast_ok(int32_t multiplier, int32_t shift)
{
    return multiplier > (INT32_C(1) << 30) && shift <= -1 && shift >= -31;
}

/* Only for bb_requant_fast_ok(multiplier, shift). No 64-bit shift by a variable (a
 * library call on a Cortex-M): the constant is built from its two words. */
static inline bb_requant_fast bb_requant_fast_prepare(int32_t multiplier, int32_t shift)
{
    const int32_t r = -shift;
    const uint32_t hi = r >= 2 ? UINT32_C(1) << (r - 2) : 0u, lo = r == 1 ? UINT32_C(0xC0000000) : UINT32_C(0x40000000);
    bb_requant_fast f;
    f.k = (int64_t)(((uint64_t)hi << 32) | lo);
    f.multiplier = multiplier;
    f.sh = r - 1;
    return f;
}

/* == bb_requantize(x, multiplier, shift) for the prepared channel. */
static inline int32_t bb_requant_fast_apply(int32_t x, const bb_requant_fast *f)
{
    const int64_t t = f->k + (int64_t)x * f->multiplier - (x < 0 ? INT64_C(0x80000000) : 0);
    return (int32_t)(t >> 32) >> f->sh;
}

#endif /* BB_REQUANT_FAST_H */
