/* bb_graph_checks.h: helpers of the graph kernels (internal, not public API). The shape,
 * window and quantization checks are bb_int8_checks.h's, shared with the other int8
 * kernels; these are what only the graph kernels need. */
#ifndef BB_GRAPH_CHECKS_H
#define BB_GRAPH_CHECKS_H

#include "bb_int8_graph.h"
#include "bb_int8_checks.h"

/* Word-at-a-time byte shuffles assume the first byte in memory is a word's low byte. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BB_LITTLE_ENDIAN 1
#else
#define BB_LITTLE_ENDIAN 0
#endif

/* Keeps a hot loop in a function of its own, so that the compiler allocates registers
 * for that loop alone (inlined into a large caller, a Cortex-M's 13 registers spill). */
#if defined(__GNUC__)
#define BB_NOINLINE __attribute__((noinline))
#else
#define BB_NOINLINE
#endif

/* One requantization: a non-negative Q31 multiplier and shift in [min_shift, max_shift]. */
static inline int bb_graph_requant_ok(int32_t multiplier, int32_t shift, int32_t min_shift, int32_t max_shift)
{
    return multiplier >= 0 && shift >= min_shift && shift <= max_shift;
}

/* clamp(r + offset, lo, hi) for a requantized r, without the int32 overflow r + offset
 * could have (a shift of 30 can make r INT32_MAX): r is clamped first, to [lo - offset,
 * hi - offset], which gives the same result for every r that does not overflow. */
static inline int8_t bb_graph_out(int32_t r, int32_t offset, int32_t lo, int32_t hi)
{
    return bb_offset_clamp_s8(r, offset, lo, hi);
}

#endif /* BB_GRAPH_CHECKS_H */
