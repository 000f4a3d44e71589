/* bb_int8_checks.h: argument checks shared by the int8 kernels (internal, not public API). */
#ifndef BB_INT8_CHECKS_H
#define BB_INT8_CHECKS_H

#include "bb_int8.h"

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

/* (in + 2 pad - kernel) / stride + 1 in 32-bit arithmetic (bb_conv2d_output_hw divides
 * in 64 bits, which links a 64-bit division routine into a Cortex-M image). */
static inline bb_status bb_window_count(int in, int kernel, int stride, int pad, int *out)
{
    if (pad > (INT32_MAX - in) / 2 || in + 2 * pad < kernel)
        return BB_ERR_SHAPE;
    *out = (in + 2 * pad - kernel) / stride + 1;
    return BB_OK;
}

/* The checks of bb_conv2d_output_hw that an int8 convolution needs, the same status
 * codes, and a filter (in_channels * kernel) whose size fits an int. */
static inline bb_status bb_check_conv_s8(const bb_conv2d_params *p, int *oh, int *ow)
{
    if (p == NULL)
        return BB_ERR_NULL;
    if (p->batch <= 0 || p->in_channels <= 0 || p->in_height <= 0 || p->in_width <= 0 ||
        p->out_channels <= 0 || p->kernel_height <= 0 || p->kernel_width <= 0)
        return BB_ERR_SHAPE;
    if (p->stride_height <= 0 || p->stride_width <= 0 || p->pad_height < 0 || p->pad_width < 0)
        return BB_ERR_ARGUMENT;
    if ((int64_t)p->in_channels * p->kernel_height * p->kernel_width > INT32_MAX)
        return BB_ERR_SHAPE;
    bb_status s = bb_window_count(p->in_height, p->kernel_height, p->stride_height, p->pad_height, oh);
    return s != BB_OK ? s : bb_window_count(p->in_width, p->kernel_width, p->stride_width, p->pad_width, ow);
}

static inline int8_t bb_clamp_to_s8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#endif /* BB_INT8_CHECKS_H */
