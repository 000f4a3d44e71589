/* bb_int8.h: int8 inference kernels (NCHW, batch of one or more).
 *
 * Quantization (TensorFlow Lite's scheme): real = scale * (q - zero_point).
 *   activations: int8, asymmetric, one (scale, zero_point) per tensor;
 *   weights:     int8, symmetric (zero point 0), one scale per output channel;
 *   bias:        int32 with scale input_scale * weight_scale[channel], zero point 0.
 * A layer accumulates sum((x + input_offset) * w) + bias in int32, where input_offset
 * is minus the input zero point, then requantizes per output channel with
 * bb_requantize(acc, multiplier[c], shift[c]), adds output_offset (the output zero
 * point) and clamps to [activation_min, activation_max], which is how a following ReLU
 * is fused: activation_min = the output zero point.
 *
 * No floats and no malloc. The host library runs these kernels through cffi and the
 * embedded runtime runs the same code on the board, so both produce identical bytes. */
#ifndef BB_INT8_H
#define BB_INT8_H

#include <stddef.h>
#include <stdint.h>
#include "bb_status.h"
#include "bb_conv2d.h"
#include "bb_pool2d.h"

typedef struct bb_quant_out {
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t activation_min; /* clamp range in the int8 output domain */
    int32_t activation_max;
} bb_quant_out;

/* x (batch, in_channels, in_height, in_width), w (out_channels, in_channels, kh, kw),
 * bias (out_channels, may be NULL), multiplier / shift (out_channels), y (batch,
 * out_channels, out_height, out_width). Padding reads as the input zero point (real 0). */
bb_status bb_conv2d_s8(const bb_conv2d_params *p, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* A max-pooling window over a convolution's output (no padding). */
typedef struct bb_pool_window {
    int kernel_height;
    int kernel_width;
    int stride_height;
    int stride_width;
} bb_pool_window;

/* bb_conv2d_s8 (with its clamp, i.e. a fused ReLU) then max pooling by `pool`, in one
 * pass that never stores the convolution output: y (batch, out_channels, pooled height,
 * pooled width) is byte for byte what bb_conv2d_s8 followed by bb_max_pool2d_s8 gives. */
bb_status bb_conv2d_pool_s8(const bb_conv2d_params *p, const bb_pool_window *pool,
                            const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                            const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* x (batch, in_features), w (out_features, in_features), bias (out_features, may be
 * NULL), multiplier / shift (out_features), y (batch, out_features). */
bb_status bb_linear_s8(int batch, int in_features, int out_features, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* Pooling keeps the input's scale and zero point. Average pooling rounds half away
 * from zero, as TFLite's reference does. */
bb_status bb_max_pool2d_s8(const bb_pool2d_params *p, const int8_t *x, int8_t *y);
bb_status bb_avg_pool2d_s8(const bb_pool2d_params *p, const int8_t *x, int8_t *y);

/* y = min(max(x, lo), hi) elementwise over n values: a standalone ReLU (lo = zero
 * point) when it could not be fused into the layer before it. x may equal y. */
bb_status bb_clamp_s8(size_t n, int32_t lo, int32_t hi, const int8_t *x, int8_t *y);

/* Softmax over each row of (rows, cols). exp_table[d] = round(2^20 * exp(-d * input_scale))
 * for d = 0..255 (computed once at quantization: the kernel needs no floats). Output
 * scale 1/256, zero point -128: y = -128 + round(256 * e / sum(e)), clamped to 127. */
bb_status bb_softmax_s8(int rows, int cols, const int32_t *exp_table, const int8_t *x, int8_t *y);

#endif /* BB_INT8_H */
