/* bb_pool2d_s8.c: int8 max and average pooling (input and output share one quantization). */
#include "bb_int8.h"
#include "bb_int8_checks.h"

static bb_status check(const bb_s8_dims *in, const bb_s8_window *pool, const int8_t *x,
                       const int8_t *y, int32_t *oh, int32_t *ow)
{
    bb_status s = bb_check_pool_s8(in, pool, oh, ow);
    if (s != BB_OK)
        return s;
    return (x == NULL || y == NULL) ? BB_ERR_NULL : BB_OK;
}

bb_status bb_max_pool2d_s8(const bb_s8_dims *in, const bb_s8_window *p, const int8_t *x, int8_t *y)
{
    int32_t oh, ow;
    bb_status s = check(in, p, x, y, &oh, &ow);
    if (s != BB_OK)
        return s;
    const size_t plane = (size_t)in->height * (size_t)in->width;
    const size_t planes = (size_t)in->batch * (size_t)in->channels;
    for (size_t pl = 0; pl < planes; pl++) {
        const int8_t *src = x + pl * plane;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int32_t best = -128;
                for (int ky = 0; ky < p->kernel_height; ky++) {
                    const int8_t *row = src + (size_t)(oy * p->stride_height + ky) * (size_t)in->width;
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

bb_status bb_avg_pool2d_s8(const bb_s8_dims *in, const bb_s8_window *p, const int8_t *x, int8_t *y)
{
    int32_t oh, ow;
    bb_status s = check(in, p, x, y, &oh, &ow);
    if (s != BB_OK)
        return s;
    const size_t plane = (size_t)in->height * (size_t)in->width;
    const size_t planes = (size_t)in->batch * (size_t)in->channels;
    const int32_t count = p->kernel_height * p->kernel_width;
    for (size_t pl = 0; pl < planes; pl++) {
        const int8_t *src = x + pl * plane;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int32_t sum = 0;
                for (int ky = 0; ky < p->kernel_height; ky++) {
                    const int8_t *row = src + (size_t)(oy * p->stride_height + ky) * (size_t)in->width;
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
