/* bb_int8_checks.h: argument checks shared by the int8 kernels (internal, not public API). */
#ifndef BB_INT8_CHECKS_H
#define BB_INT8_CHECKS_H

#include "bb_int8.h"
#include "bb_window.h"

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

/* The output height and width of window w over an in_height x in_width input. */
static inline bb_status bb_window_output(int32_t in_height, int32_t in_width, const bb_s8_window *w,
                                         int32_t *out_height, int32_t *out_width)
{
    if (w == NULL)
        return BB_ERR_NULL;
    bb_status s = bb_window_count(in_height, w->kernel_height, w->stride_height, w->pad_top,
                                  w->pad_bottom, out_height);
    if (s != BB_OK)
        return s;
    return bb_window_count(in_width, w->kernel_width, w->stride_width, w->pad_left, w->pad_right,
                           out_width);
}

/* A positive NCHW shape whose element count fits an int32 (the arena is 32-bit addressed). */
static inline bb_status bb_check_dims_s8(const bb_s8_dims *d)
{
    if (d == NULL)
        return BB_ERR_NULL;
    if (d->batch <= 0 || d->channels <= 0 || d->height <= 0 || d->width <= 0)
        return BB_ERR_SHAPE;
    if ((int64_t)d->batch * d->channels * d->height * d->width > INT32_MAX)
        return BB_ERR_SHAPE;
    return BB_OK;
}

/* An int8 convolution's input, window and filter (in_channels * kernel fits an int32);
 * writes the output height and width. */
static inline bb_status bb_check_conv_s8(const bb_s8_dims *in, int32_t out_channels,
                                         const bb_s8_window *conv, int32_t *oh, int32_t *ow)
{
    bb_status s = bb_check_dims_s8(in);
    if (s != BB_OK)
        return s;
    if (conv == NULL)
        return BB_ERR_NULL;
    if (out_channels <= 0)
        return BB_ERR_SHAPE;
    if ((s = bb_window_output(in->height, in->width, conv, oh, ow)) != BB_OK)
        return s;
    if ((int64_t)in->channels * conv->kernel_height * conv->kernel_width > INT32_MAX ||
        (int64_t)in->batch * out_channels * *oh * *ow > INT32_MAX)
        return BB_ERR_SHAPE;
    return BB_OK;
}

/* A pooling window (no padding) over `in`; writes the output height and width. */
static inline bb_status bb_check_pool_s8(const bb_s8_dims *in, const bb_s8_window *pool,
                                         int32_t *oh, int32_t *ow)
{
    bb_status s = bb_check_dims_s8(in);
    if (s != BB_OK)
        return s;
    if (pool == NULL)
        return BB_ERR_NULL;
    if (pool->pad_top != 0 || pool->pad_left != 0 || pool->pad_bottom != 0 || pool->pad_right != 0)
        return BB_ERR_ARGUMENT; /* the pooling kernels do not pad */
    return bb_window_output(in->height, in->width, pool, oh, ow);
}

static inline int8_t bb_clamp_to_s8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* clamp(r + offset, lo, hi) for a requantized r, clamped before the offset is added:
 * a shift of 30 can make r INT32_MAX, and r + offset would overflow int32 (UB). The
 * result is the same for every r where the sum does not overflow. */
static inline int8_t bb_offset_clamp_s8(int32_t r, int32_t offset, int32_t lo, int32_t hi)
{
    return (int8_t)(bb_clamp_to_s8(r, lo - offset, hi - offset) + offset);
}

#endif /* BB_INT8_CHECKS_H */
