/* bb_gemm_s8.h: the int8 matrix product behind the 1x1 convolution (internal, not public
 * API): bb_pointwise_conv2d_s8.c defines it, bb_conv2d_gemm_s8.c runs it on im2col bands.
 *
 * y[oc * y_stride + p] = requantize(W[oc, :] . (src[:, p] + input_offset) + bias[oc]) for
 * the n columns p of src (src[k * src_stride + p], k < taps) and every output channel oc,
 * with W (out_channels, taps) row-major, as the model stores it. */
#ifndef BB_GEMM_S8_H
#define BB_GEMM_S8_H

#include <stddef.h>
#include <stdint.h>
#include "bb_int8.h"

typedef struct bb_gemm_s8 {
    int32_t taps, out_channels;
    const int8_t *w;
    const int32_t *multiplier, *shift;
    const bb_quant_out *q;
    int32_t *base; /* in scratch: bias + input_offset * sum(w) per output channel */
    void *packed;  /* in scratch: one block of columns, packed for the dot products */
} bb_gemm_s8;

/* The scratch bb_gemm_s8_prepare lays out; 0 when past a 32-bit arena. */
size_t bb_gemm_s8_scratch_size(int32_t taps, int32_t out_channels);

/* Fills g and the bias terms; scratch is 4-byte aligned and holds
 * bb_gemm_s8_scratch_size(taps, out_channels) bytes. The arguments are already checked. */
void bb_gemm_s8_prepare(bb_gemm_s8 *g, int32_t taps, int32_t out_channels, const bb_quant_out *q,
                        const int32_t *multiplier, const int32_t *shift, const int8_t *w, const int32_t *bias,
                        int8_t *scratch);

void bb_gemm_s8_columns(const bb_gemm_s8 *g, const int8_t *src, size_t src_stride, int32_t n, int8_t *y,
                        size_t y_stride);

#endif /* BB_GEMM_S8_H */
