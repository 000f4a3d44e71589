/* bb_pool2d.c: max and average pooling without padding.
 *
 * The loops run over one output row at a time and put the output column ox
 * innermost: for each kernel offset (ky, kx) every output of the row takes one
 * step of its reduction. Each output still sees its window in row-major order
 * (so ties and rounding match a naive per-window scan), while the inner loop
 * writes contiguously and the compiler can vectorize it. */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include "bb_pool2d.h"
#include "bb_window.h"

static bb_status validate(const bb_pool2d_params *p, int *oh, int *ow)
{
    if (p == NULL)
        return BB_ERR_NULL;
    if (p->batch <= 0 || p->channels <= 0 || p->in_height <= 0 || p->in_width <= 0)
        return BB_ERR_SHAPE;
    if (p->kernel_height <= 0 || p->kernel_width <= 0 || p->stride_height <= 0 ||
        p->stride_width <= 0)
        return BB_ERR_ARGUMENT;
    /* argmax stores an int32 index within one input plane. */
    if ((long long)p->in_height * p->in_width > INT32_MAX)
        return BB_ERR_SHAPE;
    int32_t h = 0, w = 0; /* bb_window.h's formula, no padding */
    bb_status s = bb_window_count(p->in_height, p->kernel_height, p->stride_height, 0, 0, &h);
    if (s == BB_OK)
        s = bb_window_count(p->in_width, p->kernel_width, p->stride_width, 0, 0, &w);
    *oh = (int)h;
    *ow = (int)w;
    return s;
}

bb_status bb_pool2d_output_hw(const bb_pool2d_params *p, int *out_height, int *out_width)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (out_height == NULL || out_width == NULL)
        return BB_ERR_NULL;
    *out_height = oh;
    *out_width = ow;
    return BB_OK;
}

static size_t plane_count(const bb_pool2d_params *p) { return (size_t)p->batch * (size_t)p->channels; }

/* 2x2 windows with stride 2, the common case, as straight-line selects the compiler
 * vectorizes (the general loop below updates outputs once per tap instead). Same
 * semantics: row-major first maximum wins, a NaN wins and propagates. */
static int later_wins(float challenger, float best)
{
    return challenger > best || (challenger != challenger && best == best);
}

static void max_pool_2x2(const bb_pool2d_params *p, int oh, int ow, const float *x, float *y,
                         int32_t *argmax)
{
    const int w = p->in_width;
    const size_t in_plane = (size_t)p->in_height * (size_t)w, out_plane = (size_t)oh * (size_t)ow;
    for (size_t pl = 0; pl < plane_count(p); pl++) {
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = x + pl * in_plane + (size_t)(2 * oy) * (size_t)w;
            const float *r1 = r0 + w;
            float *restrict yrow = y + pl * out_plane + (size_t)oy * (size_t)ow;
            int32_t *restrict arow = argmax + pl * out_plane + (size_t)oy * (size_t)ow;
            const int32_t top = 2 * oy * w;
            for (int ox = 0; ox < ow; ox++) {
                float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
                int32_t i0 = top + 2 * ox;
                float m0 = later_wins(b, a) ? b : a;
                int32_t j0 = later_wins(b, a) ? i0 + 1 : i0;
                float m1 = later_wins(d, c) ? d : c;
                int32_t j1 = later_wins(d, c) ? i0 + w + 1 : i0 + w;
                yrow[ox] = later_wins(m1, m0) ? m1 : m0;
                arow[ox] = later_wins(m1, m0) ? j1 : j0;
            }
        }
    }
}

bb_status bb_max_pool2d_f32(const bb_pool2d_params *p, const float *x, float *y, int32_t *argmax)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (x == NULL || y == NULL)
        return BB_ERR_NULL;
    if (argmax != NULL && p->kernel_height == 2 && p->kernel_width == 2 &&
        p->stride_height == 2 && p->stride_width == 2) {
        max_pool_2x2(p, oh, ow, x, y, argmax);
        return BB_OK;
    }
    const int w = p->in_width, sh = p->stride_height, sw = p->stride_width;
    const size_t in_plane = (size_t)p->in_height * (size_t)w, out_plane = (size_t)oh * (size_t)ow;
    const size_t planes = plane_count(p);

    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < oh; oy++) {
            float *restrict yrow = y + pl * out_plane + (size_t)oy * (size_t)ow;
            int32_t *restrict arow = argmax ? argmax + pl * out_plane + (size_t)oy * (size_t)ow : NULL;
            const int y0 = oy * sh;
            /* Start from each window's top-left element, then scan the rest. */
            const float *x0 = xp + (size_t)y0 * (size_t)w;
            for (int ox = 0; ox < ow; ox++)
                yrow[ox] = x0[ox * sw];
            if (arow != NULL) {
                for (int ox = 0; ox < ow; ox++)
                    arow[ox] = (int32_t)(y0 * w + ox * sw);
            }
            for (int ky = 0; ky < p->kernel_height; ky++) {
                const int iy = y0 + ky;
                const float *xrow = xp + (size_t)iy * (size_t)w;
                for (int kx = ky == 0 ? 1 : 0; kx < p->kernel_width; kx++) {
                    /* Strict '>' keeps the first maximum; a NaN replaces any number
                     * and is then never replaced, so it propagates as in PyTorch. */
                    if (arow != NULL) {
                        for (int ox = 0; ox < ow; ox++) {
                            float v = xrow[ox * sw + kx], best = yrow[ox];
                            if (v > best || (v != v && best == best)) {
                                yrow[ox] = v;
                                arow[ox] = (int32_t)(iy * w + ox * sw + kx);
                            }
                        }
                    } else {
                        for (int ox = 0; ox < ow; ox++) {
                            float v = xrow[ox * sw + kx], best = yrow[ox];
                            yrow[ox] = (v > best || (v != v && best == best)) ? v : best;
                        }
                    }
                }
            }
        }
    }
    return BB_OK;
}

bb_status bb_max_pool2d_backward_f32(const bb_pool2d_params *p, const float *dy,
                                     const int32_t *argmax, float *dx)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (dy == NULL || argmax == NULL || dx == NULL)
        return BB_ERR_NULL;
    const size_t in_plane = (size_t)p->in_height * (size_t)p->in_width;
    const size_t out_total = plane_count(p) * (size_t)oh * (size_t)ow;
    const size_t out_plane = (size_t)oh * (size_t)ow;

    /* Check every index before touching dx, so a corrupt argmax writes nothing. */
    for (size_t i = 0; i < out_total; i++) {
        if (argmax[i] < 0 || (size_t)argmax[i] >= in_plane)
            return BB_ERR_ARGUMENT;
    }
    memset(dx, 0, plane_count(p) * in_plane * sizeof(float));
    for (size_t pl = 0; pl < plane_count(p); pl++) {
        float *dxp = dx + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        const int32_t *ap = argmax + pl * out_plane;
        for (size_t i = 0; i < out_plane; i++)
            dxp[ap[i]] += dyp[i]; /* += because overlapping windows can share a maximum */
    }
    return BB_OK;
}

bb_status bb_avg_pool2d_f32(const bb_pool2d_params *p, const float *x, float *y)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (x == NULL || y == NULL)
        return BB_ERR_NULL;
    const int w = p->in_width, sh = p->stride_height, sw = p->stride_width;
    const size_t in_plane = (size_t)p->in_height * (size_t)w, out_plane = (size_t)oh * (size_t)ow;
    const size_t planes = plane_count(p);
    const float count = (float)p->kernel_height * (float)p->kernel_width;

    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < oh; oy++) {
            float *restrict yrow = y + pl * out_plane + (size_t)oy * (size_t)ow;
            for (int ox = 0; ox < ow; ox++)
                yrow[ox] = 0.0f;
            for (int ky = 0; ky < p->kernel_height; ky++) {
                const float *xrow = xp + (size_t)(oy * sh + ky) * (size_t)w;
                for (int kx = 0; kx < p->kernel_width; kx++) {
                    for (int ox = 0; ox < ow; ox++)
                        yrow[ox] += xrow[ox * sw + kx];
                }
            }
            for (int ox = 0; ox < ow; ox++)
                yrow[ox] /= count;
        }
    }
    return BB_OK;
}

bb_status bb_avg_pool2d_backward_f32(const bb_pool2d_params *p, const float *dy, float *dx)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (dy == NULL || dx == NULL)
        return BB_ERR_NULL;
    const int w = p->in_width, sh = p->stride_height, sw = p->stride_width;
    const size_t in_plane = (size_t)p->in_height * (size_t)w, out_plane = (size_t)oh * (size_t)ow;
    const size_t planes = plane_count(p);
    const float count = (float)p->kernel_height * (float)p->kernel_width;

    memset(dx, 0, planes * in_plane * sizeof(float));
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        for (int oy = 0; oy < oh; oy++) {
            const float *dyrow = dy + pl * out_plane + (size_t)oy * (size_t)ow;
            for (int ky = 0; ky < p->kernel_height; ky++) {
                float *dxrow = dxp + (size_t)(oy * sh + ky) * (size_t)w;
                for (int kx = 0; kx < p->kernel_width; kx++) {
                    for (int ox = 0; ox < ow; ox++)
                        dxrow[ox * sw + kx] += dyrow[ox] / count;
                }
            }
        }
    }
    return BB_OK;
}

static bb_status global_dims(int batch, int channels, int height, int width, size_t *planes,
                             size_t *plane)
{
    if (batch <= 0 || channels <= 0 || height <= 0 || width <= 0)
        return BB_ERR_SHAPE;
    *planes = (size_t)batch * (size_t)channels;
    *plane = (size_t)height * (size_t)width;
    return BB_OK;
}

bb_status bb_global_avg_pool2d_f32(int batch, int channels, int height, int width,
                                   const float *x, float *y)
{
    size_t planes, plane;
    bb_status s = global_dims(batch, channels, height, width, &planes, &plane);
    if (s != BB_OK)
        return s;
    if (x == NULL || y == NULL)
        return BB_ERR_NULL;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *restrict xp = x + pl * plane;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* eight lanes: vectorized, less drift */
        size_t t = 0;
        for (; t + 8 <= plane; t += 8)
            for (int q = 0; q < 8; q++)
                acc[q] += xp[t + q];
        for (; t < plane; t++)
            acc[t & 7] += xp[t];
        double sum = (((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3])) +
                     (((double)acc[4] + acc[5]) + ((double)acc[6] + acc[7]));
        y[pl] = (float)(sum / (double)plane);
    }
    return BB_OK;
}

bb_status bb_global_avg_pool2d_backward_f32(int batch, int channels, int height, int width,
                                            const float *dy, float *dx)
{
    size_t planes, plane;
    bb_status s = global_dims(batch, channels, height, width, &planes, &plane);
    if (s != BB_OK)
        return s;
    if (dy == NULL || dx == NULL)
        return BB_ERR_NULL;
    for (size_t pl = 0; pl < planes; pl++) {
        const float g = (float)((double)dy[pl] / (double)plane);
        float *restrict dxp = dx + pl * plane;
        for (size_t t = 0; t < plane; t++)
            dxp[t] = g;
    }
    return BB_OK;
}
