/* bb_conv2d.h: float32 2-D convolution (cross-correlation, as in PyTorch), forward and backward.
 *
 * Layouts: x (batch, in_channels, in_height, in_width)            NCHW
 *          w (out_channels, in_channels, kernel_height, kernel_width)
 *          bias (out_channels), may be NULL
 *          y (batch, out_channels, out_height, out_width)
 * out_height = (in_height + 2 * pad_height + extra_pad_bottom - kernel_height)
 * / stride_height + 1, and likewise for the width; zero padding. pad_height rows of
 * zeros go above and below the input, plus extra_pad_bottom more below (TensorFlow's
 * "same" padding puts an odd one there); likewise pad_width and extra_pad_right.
 * Zero-initialized params (= {...} with the fields left out) keep the padding symmetric.
 * Computed as im2col into scratch, then bb_sgemm. */
#ifndef BB_CONV2D_H
#define BB_CONV2D_H

#include <stddef.h>
#include "bb_status.h"

typedef struct bb_conv2d_params {
    int batch;
    int in_channels;
    int in_height;
    int in_width;
    int out_channels;
    int kernel_height;
    int kernel_width;
    int stride_height;
    int stride_width;
    int pad_height;
    int pad_width;
    int extra_pad_bottom;
    int extra_pad_right;
} bb_conv2d_params;

/* Validates p and writes the output height and width. */
bb_status bb_conv2d_output_hw(const bb_conv2d_params *p, int *out_height, int *out_width);

/* Scratch bytes for the forward and the backward pass (0 when p is invalid). */
size_t bb_conv2d_f32_scratch_size(const bb_conv2d_params *p);
size_t bb_conv2d_backward_f32_scratch_size(const bb_conv2d_params *p);

bb_status bb_conv2d_f32(const bb_conv2d_params *p, const float *x, const float *w,
                        const float *bias, float *y, void *scratch, size_t scratch_bytes);

/* Gradients of a loss L given dy = dL/dy. dx, dw and db are each optional (NULL: not
 * computed, e.g. no dx for a network's first layer) and are overwritten, not accumulated. */
bb_status bb_conv2d_backward_f32(const bb_conv2d_params *p, const float *x, const float *w,
                                 const float *dy, float *dx, float *dw, float *db,
                                 void *scratch, size_t scratch_bytes);

#endif /* BB_CONV2D_H */
