/* bb_pool2d.h: float32 max and average pooling over NCHW tensors, forward and backward.
 *
 * Windows of kernel_height x kernel_width move by stride_height / stride_width with no
 * padding; out_height = (in_height - kernel_height) / stride_height + 1 (floor), and
 * likewise for the width. Average pooling divides by the window size. */
#ifndef BB_POOL2D_H
#define BB_POOL2D_H

#include <stdint.h>
#include "bb_status.h"

typedef struct bb_pool2d_params {
    int batch;
    int channels;
    int in_height;
    int in_width;
    int kernel_height;
    int kernel_width;
    int stride_height;
    int stride_width;
} bb_pool2d_params;

/* Validates p and writes the output height and width. */
bb_status bb_pool2d_output_hw(const bb_pool2d_params *p, int *out_height, int *out_width);

/* argmax (same shape as y, may be NULL) receives, for each output, the index within its
 * in_height * in_width input plane of the maximum (the first one on ties). */
bb_status bb_max_pool2d_f32(const bb_pool2d_params *p, const float *x, float *y, int32_t *argmax);

/* dx (shape of x) is overwritten: each dy is routed to the input its argmax names. */
bb_status bb_max_pool2d_backward_f32(const bb_pool2d_params *p, const float *dy,
                                     const int32_t *argmax, float *dx);

bb_status bb_avg_pool2d_f32(const bb_pool2d_params *p, const float *x, float *y);

/* dx (shape of x) is overwritten. */
bb_status bb_avg_pool2d_backward_f32(const bb_pool2d_params *p, const float *dy, float *dx);

/* Global average pooling: y[n][c] = mean of the height * width plane x[n][c] (x is
 * (batch, channels, height, width), y (batch, channels)). */
bb_status bb_global_avg_pool2d_f32(int batch, int channels, int height, int width,
                                   const float *x, float *y);

/* dx[n][c][h][w] = dy[n][c] / (height * width); dx is overwritten. */
bb_status bb_global_avg_pool2d_backward_f32(int batch, int channels, int height, int width,
                                            const float *dy, float *dx);

#endif /* BB_POOL2D_H */
