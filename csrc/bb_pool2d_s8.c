/* bb_pool2d_s8.c: int8 max and average pooling (input and output share one quantization). */
#include "bb_int8.h"

static bb_status check(const bb_pool2d_params *p, const int8_t *x, const int8_t *y, int *oh, int *ow)
{
    bb_status s = bb_pool2d_output_hw(p, oh, ow);
    if (s != BB_OK)
        return s;
    return (x == NULL || y == NULL) ? BB_ERR_NULL : BB_OK;
}

bb_status bb_max_pool2d_s8(const bb_pool2d_params *p, const int8_t *x, int8_t *y)
{
    int oh, ow;
    bb_status s = check(p, x, y, &oh, &ow);
    if (s != BB_OK)
        return s;
    const size_t plane = (size_t)p->in_height * (size_t)p->in_width;
    const size_t planes = (size_t)p->batch * (size_t)p->channels;
    for (size_t pl = 0; pl < planes; pl++) {
        const int8_t *in = x + pl * plane;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int32_t best = -128;
                for (int ky = 0; ky < p->kernel_height; ky++) {
                    const int8_t *row = in + (size_t)(oy * p->stride_height + ky) * (size_t)p->in_width;
                    for (int kx = 0; kx < p->kernel_width; kx++) {
                        int32_t v = row[ox * p->stride_width + kx];
                        best = v > best ? v : best;
                    }
                }
                *y++ = (int8_t)best;
            }
        }
    }
    return BB_OK;
}

bb_status bb_avg_pool2d_s8(const bb_pool2d_params *p, const int8_t *x, int8_t *y)
{
    int oh, ow;
    bb_status s = check(p, x, y, &oh, &ow);
    if (s != BB_OK)
        return s;
    const size_t plane = (size_t)p->in_height * (size_t)p->in_width;
    const size_t planes = (size_t)p->batch * (size_t)p->channels;
    const int32_t count = p->kernel_height * p->kernel_width;
    for (size_t pl = 0; pl < planes; pl++) {
        const int8_t *in = x + pl * plane;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int32_t sum = 0;
                for (int ky = 0; ky < p->kernel_height; ky++) {
                    const int8_t *row = in + (size_t)(oy * p->stride_height + ky) * (size_t)p->in_width;
                    for (int kx = 0; kx < p->kernel_width; kx++)
                        sum += row[ox * p->stride_width + kx];
                }
                /* Round half away from zero; C division truncates toward zero. */
                int32_t avg = sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                *y++ = (int8_t)(avg < -128 ? -128 : (avg > 127 ? 127 : avg));
            }
        }
    }
    return BB_OK;
}
