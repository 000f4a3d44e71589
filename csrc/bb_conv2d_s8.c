/* bb_conv2d_s8.c: int8 convolution, direct loops (the reference the board must match). */
#include "bb_int8.h"
#include "bb_int8_checks.h"
#include "bb_requantize.h"

bb_status bb_conv2d_s8(const bb_conv2d_params *p, const bb_quant_out *q,
                       const int32_t *multiplier, const int32_t *shift,
                       const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    int oh, ow;
    bb_status s = bb_conv2d_output_hw(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if ((s = bb_check_quant_out(q)) != BB_OK)
        return s;
    if ((s = bb_check_requant(p->out_channels, multiplier, shift)) != BB_OK)
        return s;
    if (x == NULL || w == NULL || y == NULL)
        return BB_ERR_NULL;

    const int c_in = p->in_channels, h = p->in_height, wd = p->in_width;
    const int kh = p->kernel_height, kw = p->kernel_width;
    const size_t in_image = (size_t)c_in * (size_t)h * (size_t)wd;
    const size_t w_filter = (size_t)c_in * (size_t)kh * (size_t)kw;
    int8_t *out = y;
    for (int n = 0; n < p->batch; n++) {
        const int8_t *image = x + (size_t)n * in_image;
        for (int oc = 0; oc < p->out_channels; oc++) {
            const int8_t *filter = w + (size_t)oc * w_filter;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    int32_t acc = bias != NULL ? bias[oc] : 0;
                    const int y0 = oy * p->stride_height - p->pad_height;
                    const int x0 = ox * p->stride_width - p->pad_width;
                    for (int ic = 0; ic < c_in; ic++) {
                        const int8_t *plane = image + (size_t)ic * (size_t)h * (size_t)wd;
                        const int8_t *taps = filter + (size_t)ic * (size_t)kh * (size_t)kw;
                        for (int ky = 0; ky < kh; ky++) {
                            const int iy = y0 + ky;
                            if (iy < 0 || iy >= h)
                                continue; /* padding: real 0 contributes nothing */
                            for (int kx = 0; kx < kw; kx++) {
                                const int ix = x0 + kx;
                                if (ix < 0 || ix >= wd)
                                    continue;
                                acc += ((int32_t)plane[(size_t)iy * (size_t)wd + (size_t)ix] + q->input_offset) *
                                       (int32_t)taps[ky * kw + kx];
                            }
                        }
                    }
                    acc = bb_requantize(acc, multiplier[oc], shift[oc]) + q->output_offset;
                    *out++ = bb_clamp_to_s8(acc, q->activation_min, q->activation_max);
                }
            }
        }
    }
    return BB_OK;
}
