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
 * No floats and no malloc, and no float kernel code: the Cortex-M image links only the
 * *_s8.c files, bb_requantize.c and bb_status.c. The host library runs a model through
 * the embedded runtime (embedded/bb_runtime.c, compiled into the cffi extension) and
 * the board runs the same code, so both produce identical bytes.
 *
 * Working memory: a kernel that needs it takes (scratch, scratch_bytes) and has a
 * bb_<op>_s8_scratch_size(...) function (the embedded memory plan reserves that many
 * bytes in the arena). None of the kernels below needs any: they keep their windows
 * in registers. */
#ifndef BB_INT8_H
#define BB_INT8_H

#include <stddef.h>
#include <stdint.h>
#include "bb_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bb_quant_out {
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t activation_min; /* clamp range in the int8 output domain */
    int32_t activation_max;
} bb_quant_out;

/* A window of kernel_height x kernel_width sliding by stride over an input padded by
 * pad_top / pad_bottom rows and pad_left / pad_right columns (csrc/bb_window.h). */
typedef struct bb_s8_window {
    int32_t kernel_height;
    int32_t kernel_width;
    int32_t stride_height;
    int32_t stride_width;
    int32_t pad_top; /* padded values read as the input zero point (real 0) */
    int32_t pad_left;
    int32_t pad_bottom;
    int32_t pad_right;
} bb_s8_window;

/* The shape of an NCHW int8 tensor. */
typedef struct bb_s8_dims {
    int32_t batch;
    int32_t channels;
    int32_t height;
    int32_t width;
} bb_s8_dims;

/* Sum over taps of |w| * 255 + |bias| < 2^31 for every output channel: the int32
 * accumulator of a conv or linear kernel (sum((x + input_offset) * w) + bias, with
 * |x + input_offset| <= 255, and every partial sum below that) cannot overflow.
 * BB_ERR_ARGUMENT otherwise. The embedded runtime checks it at init; quantize keeps
 * every model it produces inside it. w is (channels, taps), bias may be NULL. */
bb_status bb_check_accumulator_s8(int32_t channels, int32_t taps, const int8_t *w, const int32_t *bias);

/* x `in` (batch, channels, height, width), w (out_channels, in channels, kernel_height,
 * kernel_width), bias (out_channels, may be NULL), multiplier / shift (out_channels), y
 * (batch, out_channels, out_height, out_width) by bb_window_output. Padding reads as the
 * input zero point (real 0). */
bb_status bb_conv2d_s8(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv,
                       const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* bb_conv2d_s8 (with its clamp, i.e. a fused ReLU) then max pooling by `pool` (no padding),
 * in one pass that never stores the convolution output: y (batch, out_channels, pooled
 * height, pooled width) is byte for byte what bb_conv2d_s8 then bb_max_pool2d_s8 give. */
bb_status bb_conv2d_pool_s8(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv,
                            const bb_s8_window *pool, const bb_quant_out *q,
                            const int32_t *multiplier, const int32_t *shift,
                            const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* x (batch, in_features), w (out_features, in_features), bias (out_features, may be
 * NULL), multiplier / shift (out_features), y (batch, out_features). */
bb_status bb_linear_s8(int batch, int in_features, int out_features, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* Pooling keeps the input's scale and zero point; the window has no padding. Average
 * pooling rounds half away from zero, as TFLite's reference does. */
bb_status bb_max_pool2d_s8(const bb_s8_dims *in, const bb_s8_window *pool, const int8_t *x, int8_t *y);
bb_status bb_avg_pool2d_s8(const bb_s8_dims *in, const bb_s8_window *pool, const int8_t *x, int8_t *y);

/* y = min(max(x, lo), hi) elementwise over n values: a standalone ReLU (lo = zero
 * point) when it could not be fused into the layer before it. x may equal y. */
bb_status bb_clamp_s8(size_t n, int32_t lo, int32_t hi, const int8_t *x, int8_t *y);

/* Softmax over each row of (rows, cols). exp_table[d] = round(2^20 * exp(-d * input_scale))
 * for d = 0..255 (computed once at quantization: the kernel needs no floats). Output
 * scale 1/256, zero point -128: y = -128 + round(256 * e / sum(e)), clamped to 127. */
bb_status bb_softmax_s8(int rows, int cols, const int32_t *exp_table, const int8_t *x, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* BB_INT8_H */
