/* bb_graph_checks.h: argument checks of the graph kernels (internal, not public API).
 *
 * The window arithmetic repeats bb_window.h's of the `int8` branch (not yet merged when
 * these kernels were written): after that merge, bb_graph_window_output can call
 * bb_window_output from bb_int8_checks.h instead. 32-bit arithmetic only, so that no
 * 64-bit division routine is linked into a Cortex-M image. */
#ifndef BB_GRAPH_CHECKS_H
#define BB_GRAPH_CHECKS_H

#include "bb_int8_graph.h"

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

/* out = (in + pad_before + pad_after - kernel) / stride + 1 along one axis. */
static inline bb_status bb_graph_window_count(int32_t in, int32_t kernel, int32_t stride,
                                              int32_t pad_before, int32_t pad_after, int32_t *out)
{
    if (in <= 0)
        return BB_ERR_SHAPE;
    if (kernel <= 0 || stride <= 0 || pad_before < 0 || pad_after < 0)
        return BB_ERR_ARGUMENT;
    if (pad_before > INT32_MAX - in || pad_after > INT32_MAX - in - pad_before ||
        in + pad_before + pad_after < kernel)
        return BB_ERR_SHAPE;
    *out = (in + pad_before + pad_after - kernel) / stride + 1;
    return BB_OK;
}

static inline bb_status bb_graph_window_output(int32_t in_height, int32_t in_width, const bb_s8_window *w,
                                               int32_t *out_height, int32_t *out_width)
{
    if (w == NULL)
        return BB_ERR_NULL;
    bb_status s = bb_graph_window_count(in_height, w->kernel_height, w->stride_height, w->pad_top,
                                        w->pad_bottom, out_height);
    if (s != BB_OK)
        return s;
    return bb_graph_window_count(in_width, w->kernel_width, w->stride_width, w->pad_left, w->pad_right,
                                 out_width);
}

/* A positive NCHW shape whose element count fits an int32 (arenas are 32-bit addressed). */
static inline bb_status bb_graph_check_dims(const bb_s8_dims *d)
{
    if (d == NULL)
        return BB_ERR_NULL;
    if (d->batch <= 0 || d->channels <= 0 || d->height <= 0 || d->width <= 0)
        return BB_ERR_SHAPE;
    if ((int64_t)d->batch * d->channels * d->height * d->width > INT32_MAX)
        return BB_ERR_SHAPE;
    return BB_OK;
}

/* The output clamp range and zero point of bb_quant_out, with input_offset's range. */
static inline bb_status bb_graph_check_quant(const bb_quant_out *q)
{
    if (q == NULL)
        return BB_ERR_NULL;
    if (q->input_offset < -127 || q->input_offset > 128 || q->output_offset < -128 ||
        q->output_offset > 127 || q->activation_min < -128 || q->activation_max > 127 ||
        q->activation_min > q->activation_max)
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

/* One requantization: a non-negative Q31 multiplier and shift in [min_shift, 30]. */
static inline int bb_graph_requant_ok(int32_t multiplier, int32_t shift, int32_t min_shift, int32_t max_shift)
{
    return multiplier >= 0 && shift >= min_shift && shift <= max_shift;
}

static inline bb_status bb_graph_check_requant(int32_t channels, const int32_t *multiplier, const int32_t *shift)
{
    if (multiplier == NULL || shift == NULL)
        return BB_ERR_NULL;
    for (int32_t c = 0; c < channels; c++) {
        if (!bb_graph_requant_ok(multiplier[c], shift[c], -31, 30))
            return BB_ERR_ARGUMENT;
    }
    return BB_OK;
}

static inline int8_t bb_graph_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* clamp(r + offset, lo, hi) for a requantized r, without the int32 overflow r + offset
 * could have (a shift of 30 can make r INT32_MAX): r is clamped first, to [lo - offset,
 * hi - offset], which gives the same result for every r that does not overflow. */
static inline int8_t bb_graph_out(int32_t r, int32_t offset, int32_t lo, int32_t hi)
{
    return (int8_t)(bb_graph_clamp(r, lo - offset, hi - offset) + offset);
}

#endif /* BB_GRAPH_CHECKS_H */
