/* bb_int8_graph.h: the int8 kernels of graph models (MobileNet, DS-CNN, ResNet):
 * depthwise convolution, 1x1 (pointwise) convolution, add, global average pooling and
 * channel concatenation. NCHW int8 tensors and TensorFlow Lite's arithmetic, as in
 * bb_int8.h (read its comment first); every requantization goes through bb_requantize.
 *
 * Each kernel has a plain reference path (`*_reference`, kept simple: the definition)
 * and a fast path that gives the same bytes. A kernel that needs working memory takes
 * (scratch, scratch_bytes) and has a bb_<op>_s8_scratch_size(...) function; a smaller
 * scratch returns BB_ERR_SCRATCH. No floats, no malloc.
 *
 * Accumulator bound (conv kernels): for every output channel,
 *     |bias| + 255 * sum(|w|) < 2^31
 * (x + input_offset lies in [-255, 255]). The kernels rely on it: under it no int32
 * partial sum of either path can overflow (the fast paths hoist the offset, and each of
 * their partial sums, bias + offset * sum(w) and sum(x * w), is bounded by the same
 * figure). Quantization keeps every model inside it; a runtime checks it once at init. */
#ifndef BB_INT8_GRAPH_H
#define BB_INT8_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "bb_status.h"
#include "bb_int8.h" /* bb_quant_out, bb_s8_dims, bb_s8_window */


#ifdef __cplusplus
extern "C" {
#endif

/* ---- depthwise convolution ----------------------------------------------------------
 * x `in` (batch, C, H, W); w (C * depth_multiplier, 1, kernel_height, kernel_width) as
 * torch's grouped convolution stores it: output channel o reads input channel
 * o / depth_multiplier; bias, multiplier, shift (C * depth_multiplier), bias may be NULL;
 * y (batch, C * depth_multiplier, out_height, out_width), the output size from the
 * window with its four paddings (TensorFlow's "same" pads bottom / right by one more).
 * Fast paths: any window through a padded row ring in scratch, a 3x3 window of stride 1
 * or 2 specialized (two 16-bit MACs per instruction on a Cortex-M4).
 * In place (y == x) is allowed when depth_multiplier is 1 and the output has the input's
 * height and width (stride 1, "same" padding): every input row is in the scratch ring
 * before its bytes are overwritten. The reference path takes no scratch and is never in
 * place. */
size_t bb_depthwise_conv2d_s8_scratch_size(const bb_s8_dims *in, const bb_s8_window *conv);

bb_status bb_depthwise_conv2d_s8(const bb_s8_dims *in, int32_t depth_multiplier,
                                 const bb_s8_window *conv, const bb_quant_out *q,
                                 const int32_t *multiplier, const int32_t *shift,
                                 const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                                 int8_t *scratch, size_t scratch_bytes);

bb_status bb_depthwise_conv2d_s8_reference(const bb_s8_dims *in, int32_t depth_multiplier,
                                           const bb_s8_window *conv, const bb_quant_out *q,
                                           const int32_t *multiplier, const int32_t *shift,
                                           const int8_t *x, const int8_t *w, const int32_t *bias,
                                           int8_t *y);

/* ---- 1x1 (pointwise) convolution, stride 1, no padding -------------------------------
 * A matrix product per image: y[oc, p] = W[oc, :] . (x[:, p] + input_offset) + bias[oc]
 * over the H * W positions p. x `in` (batch, C_in, H, W), w (out_channels, C_in),
 * bias (out_channels, may be NULL), y (batch, out_channels, H, W). The fast path keeps
 * each output channel's bias term (int32) in scratch, which must be 4-byte aligned, and
 * packs four positions at a time there as int16 pairs (NCHW keeps one position's C_in
 * values a plane apart). Not in place (y must not overlap x). */
size_t bb_pointwise_conv2d_s8_scratch_size(const bb_s8_dims *in, int32_t out_channels);

bb_status bb_pointwise_conv2d_s8(const bb_s8_dims *in, int32_t out_channels, const bb_quant_out *q,
                                 const int32_t *multiplier, const int32_t *shift,
                                 const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                                 int8_t *scratch, size_t scratch_bytes);

bb_status bb_pointwise_conv2d_s8_reference(const bb_s8_dims *in, int32_t out_channels,
                                           const bb_quant_out *q, const int32_t *multiplier,
                                           const int32_t *shift, const int8_t *x, const int8_t *w,
                                           const int32_t *bias, int8_t *y);

/* ---- convolution as bands of 1x1 products (csrc/bb_conv2d_gemm_s8.c) -----------------
 * The same integers as bb_conv2d_s8 for any kernel, stride and four paddings: a band of
 * output rows unrolled into im2col columns in scratch (4-byte aligned), multiplied by the
 * 1x1 kernel above, copied into place. Not in place. */
size_t bb_conv2d_gemm_s8_scratch_size(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv);

bb_status bb_conv2d_gemm_s8(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv,
                            const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                            const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                            int8_t *scratch, size_t scratch_bytes);

/* ---- add -----------------------------------------------------------------------------
 * TFLite's int8 Add, elementwise over n values of the same shape:
 *   a = (x1 + input1_offset) << 20, b = (x2 + input2_offset) << 20,
 *   a = requantize(a, input1_multiplier, input1_shift), b likewise,
 *   y = clamp(requantize(a + b, output_multiplier, output_shift) + output_offset).
 * The input shifts are in [-31, 0] (input multipliers below one, as TFLite derives
 * them: input_scale / (2 * max(input scales))): then |a| + |b| < 2^29, no overflow.
 * The output shift is any of bb_requantize's. y may equal x1 or x2 (in place).
 * Fast path: from bb_add_s8_scratch_size(n) > 0 elements on (about a thousand), the
 * scaled values of both inputs come from two 256-entry int32 tables in scratch (2 KB,
 * 4-byte aligned); for fewer elements the kernel runs the reference path and needs no
 * scratch (NULL is fine). */
#define BB_ADD_S8_LEFT_SHIFT 20

typedef struct bb_add_s8_params {
    int32_t input1_offset; /* -zero point of x1, in [-127, 128] */
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_offset; /* output zero point */
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t activation_min; /* fused ReLU / ReLU6 as in bb_quant_out */
    int32_t activation_max;
} bb_add_s8_params;

size_t bb_add_s8_scratch_size(size_t n);

bb_status bb_add_s8(const bb_add_s8_params *p, size_t n, const int8_t *x1, const int8_t *x2, int8_t *y,
                    int8_t *scratch, size_t scratch_bytes);

bb_status bb_add_s8_reference(const bb_add_s8_params *p, size_t n, const int8_t *x1, const int8_t *x2,
                              int8_t *y);

/* ---- global average pooling ------------------------------------------------------------
 * TFLite's int8 Mean over height and width: for each (image, channel)
 *   acc = requantize(sum(x + input_offset), multiplier, shift)   (input / output scale)
 *   acc = acc / (H * W) rounded half away from zero,
 *   y = clamp(acc + output_offset, activation_min, activation_max).
 * x `in` (batch, C, H, W), y (batch, C, 1, 1); H * W * 255 must stay below 2^31. */
bb_status bb_global_avg_pool_s8(const bb_s8_dims *in, const bb_quant_out *q, int32_t multiplier,
                                int32_t shift, const int8_t *x, int8_t *y);

/* ---- concatenation along channels -------------------------------------------------------
 * y (batch, sum of channels[i], H, W) holds, per image, input 0's channels, then input
 * 1's, ..., each input requantized to the output's scale and zero point:
 *   y = clamp(requantize(x + input_offset, multiplier, shift) + output_offset, -128, 127).
 * An input with the output's quantization (multiplier 2^30, shift 1: exactly one, as
 * quantize writes a scale ratio of 1.0; and input_offset == -output_offset) is copied:
 * the requantization would give the same bytes. */
typedef struct bb_rescale_s8 {
    int32_t input_offset; /* -zero point of this input */
    int32_t multiplier;   /* input scale / output scale as bb_requantize's (multiplier, shift) */
    int32_t shift;
} bb_rescale_s8;

bb_status bb_concat_channels_s8(const bb_s8_dims *out, int32_t count, const int32_t *channels,
                                const bb_rescale_s8 *rescale, int32_t output_offset,
                                const int8_t *const *x, int8_t *y);

/* ---- leaky ReLU ------------------------------------------------------------------------
 * TFLite's int8 LeakyRelu, elementwise over n values: with v = x + input_offset,
 *   y = clamp(requantize(v, identity_multiplier, identity_shift) + output_offset)  v >= 0,
 *   y = clamp(requantize(v, alpha_multiplier, alpha_shift) + output_offset)        v < 0,
 * the multipliers encoding input_scale / output_scale and alpha * input_scale /
 * output_scale as bb_requantize's (multiplier, shift). Both multipliers are >= 0 (alpha
 * >= 0; quantize refuses a negative one). y may equal x (in place). */
typedef struct bb_leaky_relu_s8_params {
    int32_t input_offset; /* -zero point of x, in [-127, 128] */
    int32_t output_offset; /* output zero point */
    int32_t identity_multiplier;
    int32_t identity_shift;
    int32_t alpha_multiplier;
    int32_t alpha_shift;
} bb_leaky_relu_s8_params;

bb_status bb_leaky_relu_s8(const bb_leaky_relu_s8_params *p, size_t n, const int8_t *x, int8_t *y);

#ifdef __cplusplus
}
#endif

#endif /* BB_INT8_GRAPH_H */
