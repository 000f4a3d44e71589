/* bb_depthwise.h: float32 depthwise 2-D convolution (PyTorch's conv2d with
 * groups = channels), forward and backward, as a direct kernel.
 *
 * Layouts: x (batch, channels, in_height, in_width)                        NCHW
 *          w (channels * depth_multiplier, 1, kernel_height, kernel_width)
 *          bias (channels * depth_multiplier), may be NULL
 *          y (batch, channels * depth_multiplier, out_height, out_width)
 * Output channel c * depth_multiplier + m reads input channel c only.
 * Padding is given per side (TensorFlow's "same" puts the odd row / column at the
 * bottom / right): out_height = (in_height + pad_top + pad_bottom - kernel_height)
 * / stride_height + 1, and likewise for the width; zero padding.
 *
 * One channel per group makes im2col + SGEMM the wrong tool (a 1 x k by k x plane
 * product per channel); the kernel walks output rows directly, and 3x3 kernels with
 * stride 1 or 2 have unrolled loops the compiler vectorizes. With OpenMP, planes are
 * split across threads; every sum is made by one thread in a fixed order, so results
 * do not depend on the thread count. */
#ifndef BB_DEPTHWISE_H
#define BB_DEPTHWISE_H

#include <stddef.h>
#include "bb_status.h"

typedef struct bb_depthwise_conv2d_params {
    int batch;
    int channels;
    int in_height;
    int in_width;
    int depth_multiplier;
    int kernel_height;
    int kernel_width;
    int stride_height;
    int stride_width;
    int pad_top;
    int pad_bottom;
    int pad_left;
    int pad_right;
} bb_depthwise_conv2d_params;

/* Validates p and writes the output height and width. */
bb_status bb_depthwise_conv2d_output_hw(const bb_depthwise_conv2d_params *p, int *out_height,
                                        int *out_width);

bb_status bb_depthwise_conv2d_f32(const bb_depthwise_conv2d_params *p, const float *x,
                                  const float *w, const float *bias, float *y);

/* Gradients given dy = dL/dy. dx, dw and db are each optional (NULL: not computed) and
 * are overwritten, not accumulated. x is read only for dw, w only for dx. No scratch:
 * every thread works in place in the outputs. */
bb_status bb_depthwise_conv2d_backward_f32(const bb_depthwise_conv2d_params *p, const float *x,
                                           const float *w, const float *dy, float *dx, float *dw,
                                           float *db);

#endif /* BB_DEPTHWISE_H */
