/* bb_dsp.h: the Cortex-M4 DSP instructions the int8 fast paths use (internal).
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP and __ARM_FEATURE_SIMD32: the M4,
 * M7, M33 ...) these are ACLE intrinsics, one instruction each. Defining BB_EMULATE_DSP
 * elsewhere gives portable C with the same results, so the host tests (ASan / UBSan)
 * run the very code the M4 runs: UBSan then also proves that no accumulator of that
 * path overflows (the emulated additions are plain int32 ones; the hardware's would
 * wrap silently). BB_DSP is 1 when either is in force. */
#ifndef BB_DSP_H
#define BB_DSP_H

#include <stdint.h>
#include <string.h>

/* Little-endian only: the pairs below take a word's low byte as the first in memory. */
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(__ARM_BIG_ENDIAN)
#include <arm_acle.h>
#define BB_DSP 1
/* (int8 byte 0, int8 byte 2) of v sign-extended into two int16 halves. */
static inline int32_t bb_sxtb16(uint32_t v) { return (int32_t)__sxtb16((int32_t)v); }
/* The same of bytes 1 and 3: SXTB16 with its rotation, one instruction (gcc 12 does not
 * fold a rotate into __sxtb16 by itself). */
static inline int32_t bb_sxtb16_ror8(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
/* a + bb_sxtb16(v) and a + bb_sxtb16_ror8(v), half by half (SXTAB16): int8 pairs with
 * an offset pair added in the same instruction. */
static inline int32_t bb_sxtab16(int32_t a, uint32_t v) { return (int32_t)__sxtab16(a, (int32_t)v); }
static inline int32_t bb_sxtab16_ror8(int32_t a, uint32_t v)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
}
/* acc + a.lo * b.lo + a.hi * b.hi */
static inline int32_t bb_smlad(int32_t a, int32_t b, int32_t acc) { return __smlad(a, b, acc); }
/* acc + a.lo * b.lo, acc + a.hi * b.lo */
static inline int32_t bb_smlabb(int32_t a, int32_t b, int32_t acc) { return __smlabb(a, b, acc); }
static inline int32_t bb_smlatb(int32_t a, int32_t b, int32_t acc) { return __smlatb(a, b, acc); }
/* p[0] and p[1] of a 4-byte aligned p in one LDRD (gcc splits a 64-bit load whose halves
 * are used apart into two LDRs). The "m" operand is a small constant offset from a base
 * register here, which LDRD encodes. */
static inline void bb_load_pair(const int32_t *p, int32_t *lo, int32_t *hi)
{
    __asm__("ldrd %0, %1, %2" : "=r"(*lo), "=r"(*hi) : "m"(*(const int32_t(*)[2])p));
}
/* (a.lo16, b.lo16) and (a.hi16, b.hi16): PKHBT and PKHTB, one instruction each. */
static inline uint32_t bb_pack_lo16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline uint32_t bb_pack_hi16(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#elif defined(BB_EMULATE_DSP) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BB_DSP 1
static inline int32_t bb_lo16(int32_t v) { return (int16_t)(uint16_t)((uint32_t)v & 0xFFFFu); }
static inline int32_t bb_hi16(int32_t v) { return (int16_t)(uint16_t)((uint32_t)v >> 16); }
static inline int32_t bb_sxtb16(uint32_t v)
{
    const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(uint8_t)(v & 0xFFu);
    const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)(uint8_t)((v >> 16) & 0xFFu);
    return (int32_t)(lo | (hi << 16));
}
static inline int32_t bb_sxtb16_ror8(uint32_t v) { return bb_sxtb16((v >> 8) | (v << 24)); }
/* Each 16-bit half wraps on its own, as the instruction's do. */
static inline int32_t bb_sxtab16(int32_t a, uint32_t v)
{
    const uint32_t e = (uint32_t)bb_sxtb16(v), ua = (uint32_t)a;
    const uint32_t lo = (ua + e) & 0xFFFFu, hi = ((ua >> 16) + (e >> 16)) & 0xFFFFu;
    return (int32_t)(lo | (hi << 16));
}
static inline int32_t bb_sxtab16_ror8(int32_t a, uint32_t v) { return bb_sxtab16(a, (v >> 8) | (v << 24)); }
static inline int32_t bb_smlad(int32_t a, int32_t b, int32_t acc)
{
    return acc + (bb_lo16(a) * bb_lo16(b) + bb_hi16(a) * bb_hi16(b));
}
static inline int32_t bb_smlabb(int32_t a, int32_t b, int32_t acc) { return acc + bb_lo16(a) * bb_lo16(b); }
static inline int32_t bb_smlatb(int32_t a, int32_t b, int32_t acc) { return acc + bb_hi16(a) * bb_lo16(b); }
static inline void bb_load_pair(const int32_t *p, int32_t *lo, int32_t *hi)
{
    *lo = p[0];
    *hi = p[1];
}
static inline uint32_t bb_pack_lo16(uint32_t a, uint32_t b) { return (a & 0xFFFFu) | (b << 16); }
static inline uint32_t bb_pack_hi16(uint32_t a, uint32_t b) { return (a >> 16) | (b & 0xFFFF0000u); }
#else
#define BB_DSP 0
#endif

/* v saturated to int8 (SSAT, on every ARMv7-M core: the M3 too). */
#if defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
static inline int32_t bb_ssat8(int32_t v) { return __ssat(v, 8); }
#else
static inline int32_t bb_ssat8(int32_t v) { return v < -128 ? -128 : (v > 127 ? 127 : v); }
#endif

#if BB_DSP
/* Four bytes as one word from any address (one unaligned LDR on the M4). */
static inline uint32_t bb_load32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Two int16 halves (lo, hi) in one word, as SMLAD reads them. */
static inline int32_t bb_pack16(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xFFFFu));
}
#endif

#endif /* BB_DSP_H */
