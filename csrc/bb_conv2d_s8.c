/* bb_conv2d_s8.c: int8 convolution, the fused kernel with a 1x1 pooling window.
 *
 * Max pooling over one value is the identity, so bb_conv2d_pool_s8 with a 1x1, stride-1
 * window is exactly a convolution; sharing it keeps one set of loops (less flash on a
 * microcontroller, and the fused and unfused paths cannot drift apart). */
#include "bb_int8.h"

bb_status bb_conv2d_s8(const bb_s8_dims *in, int32_t out_channels, const bb_s8_window *conv,
                       const bb_quant_out *q, const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    static const bb_s8_window one = {1, 1, 1, 1, 0, 0, 0, 0};
    return bb_conv2d_pool_s8(in, out_channels, conv, &one, q, multiplier, shift, x, w, bias, y);
}
