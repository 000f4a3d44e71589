/* bb_depthwise.c: depthwise convolution, one plane at a time.
 *
 * Every pass is a plane-to-plane correlation (plane_correlate): the forward pass
 * correlates x[n, c] with each of its multiplier's kernels; dx at stride 1 is the
 * correlation of dy with the kernel rotated by 180 degrees (padding kernel - 1 - pad),
 * summed over the multiplier; at larger strides dx scatters each dy back into its
 * window instead. dw is, per tap, the dot product of dy with the shifted x plane.
 *
 * Inner loops run along an output row with the tap fixed; 3x3 kernels at column stride
 * 1 or 2 have their own rows: all nine taps at once over the row's interior (forward and
 * stride-1 dx), a kernel row's three taps per dy row (dw), even / odd dx columns in one
 * pass (stride-2 dx); the few edge columns go through checked scalar code. */
#include <limits.h>
#include <string.h>
#include "bb_depthwise.h"
#include "bb_window.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define TAP_CHUNK 64

/* GCC/Clang vector extensions for the 3x3 rows (as in bb_matmul.c): the loop vectorizer
 * keeps eight-lane accumulator arrays in memory, or gives up on the stride-2 loads;
 * explicit vectors keep them in registers. Other compilers and targets (Cortex-M) get
 * the plain loops, which compute the same sums in the same lanes. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__aarch64__)) && \
    !defined(BB_PLAIN_C) && (defined(__clang__) || __GNUC__ >= 12)
#define DW_VECTORS 1
typedef float dw_v8 __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const dw_v8 *)(const void *)(p))
#define STORE8(p, v) (*(dw_v8 *)(void *)(p) = (v))

/* x[0], x[S], ..., x[7 S] (j = 0), and the same shifted by one and two (j = 1, 2), reading
 * nothing beyond x[7 S + 2]. */
static inline void load_taps(const float *x, int S, dw_v8 *x0, dw_v8 *x1, dw_v8 *x2)
{
    if (S == 1) {
        *x0 = LOAD8(x), *x1 = LOAD8(x + 1), *x2 = LOAD8(x + 2);
    } else {
        const dw_v8 a = LOAD8(x), b = LOAD8(x + 8);
        const dw_v8 last = {x[16], x[16], x[16], x[16], x[16], x[16], x[16], x[16]};
        *x0 = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
        *x1 = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
        *x2 = __builtin_shufflevector(*x0, last, 1, 2, 3, 4, 5, 6, 7, 8);
    }
}
#endif

/* One plane-to-plane correlation: out[oy][ox] (+)= sum_ij w[i][j] *
 * in[oy * sh - pt + i][ox * sw - pl + j], reading zero outside in. pt and pl may be
 * negative (dx's geometry when the padding exceeds kernel - 1). flip reads the kernel
 * rotated by 180 degrees. */
typedef struct plane_geom {
    int ih, iw, oh, ow;
    int kh, kw, sh, sw;
    int pt, pl;
    int flip;
} plane_geom;

/* Along one axis: bb_window.h's formula (asymmetric padding). */
static bb_status output_len(int in, int kernel, int stride, int pad_a, int pad_b, int *out)
{
    int32_t n = 0;
    bb_status s = bb_window_count(in, kernel, stride, pad_a, pad_b, &n);
    *out = (int)n;
    return s;
}
static bb_status validate(const bb_depthwise_conv2d_params *p, int *oh, int *ow)
{
    if (p == NULL)
        return BB_ERR_NULL;
    if (p->batch <= 0 || p->channels <= 0 || p->in_height <= 0 || p->in_width <= 0 ||
        p->kernel_height <= 0 || p->kernel_width <= 0)
        return BB_ERR_SHAPE;
    if (p->depth_multiplier <= 0 || p->stride_height <= 0 || p->stride_width <= 0 ||
        p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 || p->pad_right < 0)
        return BB_ERR_ARGUMENT;
    if ((long long)p->channels * p->depth_multiplier > INT_MAX ||
        (long long)p->kernel_height * p->kernel_width > INT_MAX)
        return BB_ERR_SHAPE;
    bb_status s = output_len(p->in_height, p->kernel_height, p->stride_height, p->pad_top,
                             p->pad_bottom, oh);
    if (s != BB_OK)
        return s;
    return output_len(p->in_width, p->kernel_width, p->stride_width, p->pad_left, p->pad_right, ow);
}

bb_status bb_depthwise_conv2d_output_hw(const bb_depthwise_conv2d_params *p, int *out_height,
                                        int *out_width)
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

/* Threads that split `items` planes: 1 without OpenMP, inside a parallel region, or for
 * under ~256K multiply-adds in all (a few tens of microseconds on one core), where the
 * fork / join costs more than it saves (batch-1 inference). */
static int worker_count(long long items, double macs)
{
#ifdef _OPENMP
    if (omp_in_parallel() || macs < 262144.0)
        return 1;
    int t = omp_get_max_threads();
    return t < items ? t : (int)items;
#else
    (void)items, (void)macs;
    return 1;
#endif
}

/* The outputs o in [0, out_len) whose input index o * stride + offset lies in
 * [0, in_len): [*lo, *hi). */
static void valid_range(int out_len, int in_len, int stride, int offset, int *lo, int *hi)
{
    long long first = offset >= 0 ? 0 : (-(long long)offset + stride - 1) / stride;
    long long last = (long long)in_len - 1 - offset < 0 ? -1 : ((long long)in_len - 1 - offset) / stride;
    *lo = first < out_len ? (int)first : out_len;
    *hi = last + 1 < out_len ? (int)(last + 1) : out_len;
    if (*hi < *lo)
        *hi = *lo;
}

static float tap(const plane_geom *g, const float *w, int i, int j)
{
    return g->flip ? w[(size_t)(g->kh - 1 - i) * g->kw + (g->kw - 1 - j)] : w[(size_t)i * g->kw + j];
}

/* out row oy += every tap's contribution, one tap at a time along the row. */
static void row_by_taps(const plane_geom *g, const float *in, const float *w, float *restrict orow,
                        int oy)
{
    for (int i = 0; i < g->kh; i++) {
        int iy = oy * g->sh - g->pt + i;
        if (iy < 0 || iy >= g->ih)
            continue;
        const float *restrict irow = in + (size_t)iy * g->iw;
        for (int j = 0; j < g->kw; j++) {
            int off = j - g->pl, lo, hi;
            valid_range(g->ow, g->iw, g->sw, off, &lo, &hi);
            const float wv = tap(g, w, i, j);
            if (g->sw == 1) {
                for (int ox = lo; ox < hi; ox++)
                    orow[ox] += wv * irow[ox + off];
            } else {
                for (int ox = lo; ox < hi; ox++)
                    orow[ox] += wv * irow[ox * g->sw + off];
            }
        }
    }
}

/* One output of a 3x3 correlation whose three input rows are valid, with column checks
 * (the row's edges). */
static float pixel_3x3(const plane_geom *g, const float *r0, const float *r1, const float *r2,
                       const float k[9], int ox)
{
    float acc = 0.0f;
    for (int j = 0; j < 3; j++) {
        int ix = ox * g->sw - g->pl + j;
        if (ix >= 0 && ix < g->iw)
            acc += k[j] * r0[ix] + k[3 + j] * r1[ix] + k[6 + j] * r2[ix];
    }
    return acc;
}

#ifdef DW_VECTORS
/* Eight outputs' sums over the nine taps, from input column ix on (same order as the
 * scalar loop below: row 0 + row 1, then + row 2). */
static inline void taps_3x3(const float *r0, const float *r1, const float *r2, const dw_v8 kv[9],
                            int ix, int S, dw_v8 *sum)
{
    dw_v8 x0, x1, x2, y0, y1, y2, z0, z1, z2;
    load_taps(r0 + ix, S, &x0, &x1, &x2);
    load_taps(r1 + ix, S, &y0, &y1, &y2);
    load_taps(r2 + ix, S, &z0, &z1, &z2);
    *sum = ((kv[0] * x0 + kv[1] * x1 + kv[2] * x2) + (kv[3] * y0 + kv[4] * y1 + kv[5] * y2)) +
           (kv[6] * z0 + kv[7] * z1 + kv[8] * z2);
}
#endif

/* The interior of a 3x3 row, all nine taps at once; S (1 or 2) is a constant after
 * inlining. With vectors, the row's last partial block is redone as a full one. */
static inline void row_3x3_interior(const float *restrict r0, const float *restrict r1,
                                    const float *restrict r2, const float k[9],
                                    float *restrict orow, int lo, int hi, int S, int off)
{
    int ox = lo;
#ifdef DW_VECTORS
    dw_v8 kv[9];
    for (int t = 0; t < 9; t++)
        for (int q = 0; q < 8; q++)
            kv[t][q] = k[t];
    dw_v8 sum;
    for (; ox + 8 <= hi; ox += 8) {
        taps_3x3(r0, r1, r2, kv, ox * S + off, S, &sum);
        STORE8(orow + ox, LOAD8(orow + ox) + sum);
    }
    if (ox < hi && hi - lo >= 8) { /* the last partial block: a full one, keeping new lanes */
        const int start = hi - 8, done = ox - start;
        float part[8];
        taps_3x3(r0, r1, r2, kv, start * S + off, S, &sum);
        STORE8(part, sum);
        for (int q = done; q < 8; q++)
            orow[start + q] += part[q];
        ox = hi;
    }
#endif
    for (; ox < hi; ox++) {
        const int ix = ox * S + off;
        orow[ox] += ((k[0] * r0[ix] + k[1] * r0[ix + 1] + k[2] * r0[ix + 2]) +
                     (k[3] * r1[ix] + k[4] * r1[ix + 1] + k[5] * r1[ix + 2])) +
                    (k[6] * r2[ix] + k[7] * r2[ix + 1] + k[8] * r2[ix + 2]);
    }
}

static void row_3x3(const plane_geom *g, const float *in, const float k[9], float *restrict orow,
                    int oy, int lo, int hi)
{
    const int iy = oy * g->sh - g->pt;
    const float *r0 = in + (size_t)iy * g->iw, *r1 = r0 + g->iw, *r2 = r1 + g->iw;
    for (int ox = 0; ox < lo; ox++)
        orow[ox] += pixel_3x3(g, r0, r1, r2, k, ox);
    if (g->sw == 1)
        row_3x3_interior(r0, r1, r2, k, orow, lo, hi, 1, -g->pl);
    else
        row_3x3_interior(r0, r1, r2, k, orow, lo, hi, 2, -g->pl);
    for (int ox = hi; ox < g->ow; ox++)
        orow[ox] += pixel_3x3(g, r0, r1, r2, k, ox);
}

/* Narrow planes (the DS-CNN's 25x5): a row has too few interior columns for the row
 * code's 8-wide blocks, so every output went through the checked scalar edge code.
 * Instead, at stride 1, the input is copied once into a zero-bordered plane of width
 * PW = ow + kw - 1, whose rows, laid end to end, make the correlation a 1-D stencil:
 * out'[q] = sum_ij w[i][j] * pad[q + i * PW + j] over q in [0, (oh - 1) * PW + ow), one
 * tap at a time over the whole plane (straight loops that vectorize). q = oy * PW + ox
 * with ox >= ow are row-wrap garbage and are not copied out. Used when ow < NARROW_WIDTH
 * and the bordered plane fits NARROW_FLOATS (on the stack: no scratch in this API). */
#define NARROW_WIDTH 16
#define NARROW_FLOATS 512

typedef struct narrow_geom {
    int ph, pw;   /* bordered plane */
    int top, left; /* where the input's (0, 0) lands in it */
    int span;     /* (oh - 1) * pw + ow stencil outputs */
} narrow_geom;

/* Whether g (stride 1, padding >= 0 on every side) takes the narrow path. */
static int narrow_plan(const plane_geom *g, narrow_geom *n)
{
    if (g->sh != 1 || g->sw != 1 || g->ow >= NARROW_WIDTH || g->pt < 0 || g->pl < 0)
        return 0;
    n->ph = g->oh + g->kh - 1;
    n->pw = g->ow + g->kw - 1;
    n->top = g->pt;
    n->left = g->pl;
    if (n->ph - n->top < g->ih || n->pw - n->left < g->iw) /* would crop the input */
        return 0;
    if ((long long)n->ph * n->pw > NARROW_FLOATS)
        return 0;
    n->span = (g->oh - 1) * n->pw + g->ow;
    return 1;
}

/* pad = in placed at (top, left) in a zero (ph, pw) plane. */
static void narrow_fill(const narrow_geom *n, const float *in, int ih, int iw, float *pad)
{
    memset(pad, 0, (size_t)n->ph * n->pw * sizeof(float));
    for (int y = 0; y < ih; y++)
        memcpy(pad + (size_t)(y + n->top) * n->pw + n->left, in + (size_t)y * iw,
               (size_t)iw * sizeof(float));
}

static void narrow_correlate(const plane_geom *g, const narrow_geom *n, const float *in,
                             const float *w, float init, int accumulate, float *out)
{
    float pad[NARROW_FLOATS], acc[NARROW_FLOATS];
    narrow_fill(n, in, g->ih, g->iw, pad);
    const int span = n->span;
    for (int q = 0; q < span; q++)
        acc[q] = 0.0f;
    for (int i = 0; i < g->kh; i++) {
        for (int j = 0; j < g->kw; j++) {
            const float wv = tap(g, w, i, j);
            const float *restrict src = pad + (size_t)i * n->pw + j;
            float *restrict dst = acc;
            for (int q = 0; q < span; q++)
                dst[q] += wv * src[q];
        }
    }
    for (int oy = 0; oy < g->oh; oy++) {
        float *restrict orow = out + (size_t)oy * g->ow;
        const float *arow = acc + (size_t)oy * n->pw;
        if (accumulate)
            for (int ox = 0; ox < g->ow; ox++)
                orow[ox] += arow[ox];
        else
            for (int ox = 0; ox < g->ow; ox++)
                orow[ox] = init + arow[ox];
    }
}

/* out = init + correlation (accumulate = 0), or out += correlation. */
static void plane_correlate(const plane_geom *g, const float *in, const float *w, float init,
                            int accumulate, float *out)
{
    narrow_geom n;
    if (narrow_plan(g, &n)) {
        narrow_correlate(g, &n, in, w, init, accumulate, out);
        return;
    }
    const int fast = g->kh == 3 && g->kw == 3 && g->sw <= 2;
    float k[9];
    int lo = 0, hi = 0;
    if (fast) {
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                k[3 * i + j] = tap(g, w, i, j);
        /* columns whose three taps are all inside the row */
        int lo0, hi0, lo2, hi2;
        valid_range(g->ow, g->iw, g->sw, -g->pl, &lo0, &hi0);
        valid_range(g->ow, g->iw, g->sw, 2 - g->pl, &lo2, &hi2);
        lo = lo2 > lo0 ? lo2 : lo0;
        hi = hi0 < hi2 ? hi0 : hi2;
        if (hi < lo)
            hi = lo;
    }
    for (int oy = 0; oy < g->oh; oy++) {
        float *restrict orow = out + (size_t)oy * g->ow;
        if (!accumulate)
            for (int ox = 0; ox < g->ow; ox++)
                orow[ox] = init;
        const int iy = oy * g->sh - g->pt;
        if (fast && iy >= 0 && iy + 2 < g->ih)
            row_3x3(g, in, k, orow, oy, lo, hi);
        else
            row_by_taps(g, in, w, orow, oy);
    }
}

/* One dy row's three taps added back to a dx row at stride 2. Input column 2t - pl
 * receives w0 * g[t] + w2 * g[t - 1] and column 2t + 1 - pl receives w1 * g[t]: the
 * interior writes both in one pass (interleaved stores the compiler vectorizes) instead
 * of three strided scatters. */
static void scatter_row_3_s2(float *restrict dxrow, const float *restrict g, float w0, float w1,
                             float w2, int ow, int iw, int pl)
{
    int lo = (pl + 1) / 2, hi = (iw - 2 + pl) / 2 + 1; /* t with 0 <= 2t - pl, 2t + 1 - pl < iw */
    if (lo < 1)
        lo = 1;
    if (hi > ow)
        hi = ow;
    if (hi < lo)
        hi = lo;
    for (int t = 0; t <= ow; t++) {
        if (t == lo && lo < hi) {
            float *restrict d = dxrow + 2 * lo - pl;
            int u = 0;
#ifdef DW_VECTORS
            const dw_v8 v0 = {w0, w0, w0, w0, w0, w0, w0, w0}, v1 = {w1, w1, w1, w1, w1, w1, w1, w1};
            const dw_v8 v2 = {w2, w2, w2, w2, w2, w2, w2, w2};
            for (; u + 8 <= hi - lo; u += 8) {
                const dw_v8 cur = LOAD8(g + lo + u), prev = LOAD8(g + lo + u - 1);
                const dw_v8 even = v0 * cur + v2 * prev, odd = v1 * cur;
                STORE8(d + 2 * u, LOAD8(d + 2 * u) +
                       __builtin_shufflevector(even, odd, 0, 8, 1, 9, 2, 10, 3, 11));
                STORE8(d + 2 * u + 8, LOAD8(d + 2 * u + 8) +
                       __builtin_shufflevector(even, odd, 4, 12, 5, 13, 6, 14, 7, 15));
            }
#endif
            for (; u < hi - lo; u++) {
                d[2 * u] += w0 * g[lo + u] + w2 * g[lo + u - 1];
                d[2 * u + 1] += w1 * g[lo + u];
            }
            t = hi - 1;
            continue;
        }
        const int e = 2 * t - pl;
        if (e >= 0 && e < iw)
            dxrow[e] += (t < ow ? w0 * g[t] : 0.0f) + (t >= 1 ? w2 * g[t - 1] : 0.0f);
        if (e + 1 >= 0 && e + 1 < iw && t < ow)
            dxrow[e + 1] += w1 * g[t];
    }
}

/* in_grad += the adjoint of the correlation, for strides > 1: each out_grad value is
 * added back to the window it was computed from. */
static void plane_scatter(const plane_geom *g, const float *out_grad, const float *w,
                          float *in_grad)
{
    for (int oy = 0; oy < g->oh; oy++) {
        const float *restrict grow = out_grad + (size_t)oy * g->ow;
        for (int i = 0; i < g->kh; i++) {
            int iy = oy * g->sh - g->pt + i;
            if (iy < 0 || iy >= g->ih)
                continue;
            float *restrict irow = in_grad + (size_t)iy * g->iw;
            if (g->kw == 3 && g->sw == 2) {
                const float *k = w + (size_t)i * 3;
                scatter_row_3_s2(irow, grow, k[0], k[1], k[2], g->ow, g->iw, g->pl);
                continue;
            }
            for (int j = 0; j < g->kw; j++) {
                int off = j - g->pl, lo, hi;
                valid_range(g->ow, g->iw, g->sw, off, &lo, &hi);
                const float wv = w[(size_t)i * g->kw + j];
                for (int ox = lo; ox < hi; ox++)
                    irow[ox * g->sw + off] += wv * grow[ox];
            }
        }
    }
}

/* acc[0:8] += a[t] * b[t * stride] for t in [0, n), in eight lanes (vector registers;
 * a single running sum would be a serial chain). */
static void dot_lanes(float acc[8], const float *restrict a, const float *restrict b, int n,
                      int stride)
{
    int t = 0;
    if (stride == 1) {
        for (; t + 8 <= n; t += 8)
            for (int q = 0; q < 8; q++)
                acc[q] += a[t + q] * b[t + q];
    } else if (stride == 2) {
        for (; t + 8 <= n; t += 8)
            for (int q = 0; q < 8; q++)
                acc[q] += a[t + q] * b[2 * (t + q)];
    }
    for (; t < n; t++)
        acc[t & 7] += a[t] * b[(size_t)t * stride];
}

/* dw[k] += sum over the plane of dy * x shifted by tap k, on the bordered plane: dy is
 * laid out at width pw with zeros in the wrap columns, so each tap is one dot product
 * over the span (in eight lanes, then double). */
static void narrow_weight_grad(const plane_geom *g, const narrow_geom *n, const float *x,
                               const float *dy, double *dw)
{
    float pad[NARROW_FLOATS], dyw[NARROW_FLOATS];
    narrow_fill(n, x, g->ih, g->iw, pad);
    const int span = n->span;
    for (int oy = 0; oy < g->oh; oy++) {
        float *row = dyw + (size_t)oy * n->pw;
        memcpy(row, dy + (size_t)oy * g->ow, (size_t)g->ow * sizeof(float));
        for (int ox = g->ow; ox < n->pw && oy * n->pw + ox < span; ox++)
            row[ox] = 0.0f;
    }
    for (int i = 0; i < g->kh; i++) {
        for (int j = 0; j < g->kw; j++) {
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            dot_lanes(acc, dyw, pad + (size_t)i * n->pw + j, span, 1);
            dw[i * g->kw + j] += (((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3])) +
                                 (((double)acc[4] + acc[5]) + ((double)acc[6] + acc[7]));
        }
    }
}

/* dw[k - k0] += sum over the plane of dy * x shifted by tap k = i * kw + j, for the
 * taps k in [k0, k1) (in double across planes: a batch of planes is many terms). */
static void plane_weight_grad(const plane_geom *g, const float *x, const float *dy, int k0, int k1,
                              double *dw)
{
    for (int k = k0; k < k1; k++) {
        const int i = k / g->kw, j = k % g->kw;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int off = j - g->pl, lo, hi;
        valid_range(g->ow, g->iw, g->sw, off, &lo, &hi);
        for (int oy = 0; oy < g->oh && hi > lo; oy++) {
            int iy = oy * g->sh - g->pt + i;
            if (iy < 0 || iy >= g->ih)
                continue;
            const float *xrow = x + (size_t)iy * g->iw + ((size_t)lo * g->sw + off);
            dot_lanes(acc, dy + (size_t)oy * g->ow + lo, xrow, hi - lo, g->sw);
        }
        dw[k - k0] += (((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3])) +
                      (((double)acc[4] + acc[5]) + ((double)acc[6] + acc[7]));
    }
}

/* acc[j][ox % 8] += dy[ox] * xr[ox * S + off + j] for the three taps j of one kernel row,
 * over the columns [lo, hi) where all three are inside the row. With vectors: blocks of 8
 * in registers, and the last partial block redone as a full block over [hi - 8, hi) with
 * the columns already counted masked to zero (no scalar tail). S is 1 or 2 after inlining. */
static inline void row_weight_grad_3(const float *restrict xr, const float *restrict dy, int lo,
                                     int hi, int S, int off, float acc[3][8])
{
    int ox = lo;
#ifdef DW_VECTORS
    dw_v8 a0 = LOAD8(acc[0]), a1 = LOAD8(acc[1]), a2 = LOAD8(acc[2]), x0, x1, x2;
    for (; ox + 8 <= hi; ox += 8) {
        const dw_v8 d = LOAD8(dy + ox);
        load_taps(xr + ox * S + off, S, &x0, &x1, &x2);
        a0 += d * x0, a1 += d * x1, a2 += d * x2;
    }
    if (ox < hi && hi - lo >= 8) {
        const int start = hi - 8, done = ox - start; /* lanes below `done` were counted */
        float masked[8];
        for (int q = 0; q < 8; q++)
            masked[q] = q < done ? 0.0f : dy[start + q];
        const dw_v8 d = LOAD8(masked);
        load_taps(xr + start * S + off, S, &x0, &x1, &x2);
        a0 += d * x0, a1 += d * x1, a2 += d * x2;
        ox = hi;
    }
    STORE8(acc[0], a0), STORE8(acc[1], a1), STORE8(acc[2], a2);
#endif
    for (; ox < hi; ox++) {
        const float d = dy[ox];
        const float *xp = xr + ox * S + off;
        acc[0][ox & 7] += d * xp[0];
        acc[1][ox & 7] += d * xp[1];
        acc[2][ox & 7] += d * xp[2];
    }
}

/* dw[3i + j] += sum over the plane of dy * x shifted by tap (i, j), for 3x3 kernels with
 * column stride 1 or 2: each dy row is read once per kernel row for its three taps. */
static void plane_weight_grad_3x3(const plane_geom *g, const float *x, const float *dy, double dw[9])
{
    int lo0, hi0, lo2, hi2;
    valid_range(g->ow, g->iw, g->sw, -g->pl, &lo0, &hi0);
    valid_range(g->ow, g->iw, g->sw, 2 - g->pl, &lo2, &hi2);
    const int lo = lo2 > lo0 ? lo2 : lo0;
    int hi = hi0 < hi2 ? hi0 : hi2;
    if (hi < lo)
        hi = lo;
    float acc[3][3][8];
    double edge[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    memset(acc, 0, sizeof acc);
    for (int oy = 0; oy < g->oh; oy++) {
        const float *dyr = dy + (size_t)oy * g->ow;
        for (int i = 0; i < 3; i++) {
            const int iy = oy * g->sh - g->pt + i;
            if (iy < 0 || iy >= g->ih)
                continue;
            const float *xr = x + (size_t)iy * g->iw;
            if (g->sw == 1)
                row_weight_grad_3(xr, dyr, lo, hi, 1, -g->pl, acc[i]);
            else
                row_weight_grad_3(xr, dyr, lo, hi, 2, -g->pl, acc[i]);
            for (int ox = 0; ox < g->ow; ox++) { /* the edge columns, with checks */
                if (ox == lo && hi > lo)
                    ox = hi;
                if (ox >= g->ow)
                    break;
                for (int j = 0; j < 3; j++) {
                    const int ix = ox * g->sw - g->pl + j;
                    if (ix >= 0 && ix < g->iw)
                        edge[3 * i + j] += (double)dyr[ox] * xr[ix];
                }
            }
        }
    }
    for (int k = 0; k < 9; k++) {
        const float *a = acc[k / 3][k % 3];
        dw[k] += ((((double)a[0] + a[1]) + ((double)a[2] + a[3])) +
                  (((double)a[4] + a[5]) + ((double)a[6] + a[7]))) + edge[k];
    }
}

static plane_geom forward_geom(const bb_depthwise_conv2d_params *p, int oh, int ow)
{
    plane_geom g = {p->in_height, p->in_width, oh, ow, p->kernel_height, p->kernel_width,
                    p->stride_height, p->stride_width, p->pad_top, p->pad_left, 0};
    return g;
}

bb_status bb_depthwise_conv2d_f32(const bb_depthwise_conv2d_params *p, const float *x,
                                  const float *w, const float *bias, float *y)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (x == NULL || w == NULL || y == NULL)
        return BB_ERR_NULL;
    const plane_geom g = forward_geom(p, oh, ow);
    const int M = p->depth_multiplier;
    const size_t in_plane = (size_t)p->in_height * p->in_width, out_plane = (size_t)oh * ow;
    const size_t taps = (size_t)p->kernel_height * p->kernel_width;
    const long long planes = (long long)p->batch * p->channels;
    const double macs = (double)planes * M * (double)out_plane * (double)taps;
    const int workers = worker_count(planes, macs);
    (void)workers; /* read only by the OpenMP pragma */
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
    for (long long nc = 0; nc < planes; nc++) {
        const int c = (int)(nc % p->channels);
        for (int m = 0; m < M; m++) {
            const size_t o = (size_t)c * M + m;
            plane_correlate(&g, x + (size_t)nc * in_plane, w + o * taps, bias ? bias[o] : 0.0f,
                            0, y + ((size_t)nc * M + m) * out_plane);
        }
    }
    return BB_OK;
}

bb_status bb_depthwise_conv2d_backward_f32(const bb_depthwise_conv2d_params *p, const float *x,
                                           const float *w, const float *dy, float *dx, float *dw,
                                           float *db)
{
    int oh, ow;
    bb_status s = validate(p, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (dy == NULL || (dw != NULL && x == NULL) || (dx != NULL && w == NULL))
        return BB_ERR_NULL;
    const plane_geom g = forward_geom(p, oh, ow);
    const int M = p->depth_multiplier, C = p->channels;
    const size_t in_plane = (size_t)p->in_height * p->in_width, out_plane = (size_t)oh * ow;
    const size_t taps = (size_t)p->kernel_height * p->kernel_width;

    if (dx != NULL) {
        /* Stride 1: dx = dy correlated with the rotated kernel, whose padding is
         * kernel - 1 - pad; every dx row is then a gather that vectorizes. */
        plane_geom t = {oh, ow, p->in_height, p->in_width, p->kernel_height, p->kernel_width,
                        1, 1, p->kernel_height - 1 - p->pad_top, p->kernel_width - 1 - p->pad_left, 1};
        const int gather = p->stride_height == 1 && p->stride_width == 1;
        const long long planes = (long long)p->batch * C;
        const int workers = worker_count(planes, (double)planes * M * (double)out_plane * taps);
        (void)workers;
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
        for (long long nc = 0; nc < planes; nc++) {
            const int c = (int)(nc % C);
            float *dxp = dx + (size_t)nc * in_plane;
            if (!gather)
                memset(dxp, 0, in_plane * sizeof(float));
            for (int m = 0; m < M; m++) {
                const size_t o = (size_t)c * M + m;
                const float *dyp = dy + ((size_t)nc * M + m) * out_plane;
                if (gather)
                    plane_correlate(&t, dyp, w + o * taps, 0.0f, m > 0, dxp);
                else
                    plane_scatter(&g, dyp, w + o * taps, dxp);
            }
        }
    }

    if (dw != NULL || db != NULL) {
        /* One thread per output channel, summing the batch in order: deterministic. */
        const int outs = C * M;
        const int fast_dw = p->kernel_height == 3 && p->kernel_width == 3 && p->stride_width <= 2;
        const int workers = worker_count(outs, (double)p->batch * outs * (double)out_plane * taps);
        (void)workers;
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
        for (int o = 0; o < outs; o++) {
            const int c = o / M;
            const size_t x_step = (size_t)C * in_plane, dy_step = (size_t)outs * out_plane;
            const float *xc = x == NULL ? NULL : x + (size_t)c * in_plane;
            const float *dyo = dy + (size_t)o * out_plane;
            /* The taps in chunks of TAP_CHUNK double sums, the batch inner: each plane
             * pair is read once per chunk (once in all for kernels up to 8x8). */
            for (int k0 = 0; dw != NULL && k0 < (int)taps; k0 += TAP_CHUNK) {
                const int k1 = k0 + TAP_CHUNK < (int)taps ? k0 + TAP_CHUNK : (int)taps;
                double sums[TAP_CHUNK];
                for (int k = 0; k < k1 - k0; k++)
                    sums[k] = 0.0;
                narrow_geom narrow;
                const int use_narrow = x != NULL && narrow_plan(&g, &narrow) && k0 == 0 &&
                                       (int)taps <= TAP_CHUNK;
                for (int n = 0; n < p->batch; n++) {
                    if (use_narrow)
                        narrow_weight_grad(&g, &narrow, xc + n * x_step, dyo + n * dy_step, sums);
                    else if (fast_dw)
                        plane_weight_grad_3x3(&g, xc + n * x_step, dyo + n * dy_step, sums);
                    else
                        plane_weight_grad(&g, xc + n * x_step, dyo + n * dy_step, k0, k1, sums);
                }
                for (int k = k0; k < k1; k++)
                    dw[(size_t)o * taps + k] = (float)sums[k - k0];
            }
            if (db != NULL) {
                double part[4] = {0.0, 0.0, 0.0, 0.0};
                for (int n = 0; n < p->batch; n++) {
                    const float *row = dyo + n * dy_step;
                    size_t q = 0;
                    for (; q + 4 <= out_plane; q += 4)
                        for (int r = 0; r < 4; r++)
                            part[r] += row[q + r];
                    for (; q < out_plane; q++)
                        part[0] += row[q];
                }
                db[o] = (float)((part[0] + part[1]) + (part[2] + part[3]));
            }
        }
    }
    return BB_OK;
}
