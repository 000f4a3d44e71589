/* bb_conv2d.c: 2-D convolution as im2col + SGEMM.
 *
 * Per image, im2col unrolls every receptive field of x[n] into a column of a
 * (C*kh*kw, oh*ow) matrix, so the convolution becomes one matrix product
 * y[n] = W @ col with W viewed as (OC, C*kh*kw). The backward pass reuses the same
 * view: dW = sum_n dy[n] @ col[n]^T and dx[n] = col2im(W^T @ dy[n]).
 *
 * The caller's scratch holds W packed once for the SGEMM (W^T in the backward pass,
 * when dx is wanted), then per worker thread one column buffer and the SGEMM's B
 * packing buffers (and, in the backward pass with several threads, a partial dW).
 * With OpenMP the batch is split statically across threads (see bb_threads.h). */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include "bb_conv2d.h"
#include "bb_matmul.h"
#include "bb_threads.h"
#include "bb_window.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define ALIGN 64

/* Sizes derived from validated params; products are size_t, GEMM dimensions int. */
typedef struct conv_dims {
    int oh, ow;
    int k;      /* C * kh * kw: rows of the column matrix */
    int plane;  /* oh * ow: columns of the column matrix */
    int direct; /* 1x1, stride 1, no padding: the column matrix is x[n] itself */
} conv_dims;

static size_t round_up_size(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static void *align_up(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (void *)((u + ALIGN - 1) / ALIGN * ALIGN);
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Along one axis: bb_window.h's formula, with the extra row / column of TensorFlow's
 * "same" at the bottom / right; overflow-checked for hostile params. */
static bb_status output_len(int in, int kernel, int stride, int pad, int extra, int *out)
{
    int32_t n = 0;
    if (extra > INT32_MAX - pad)
        return BB_ERR_SHAPE;
    bb_status s = bb_window_count(in, kernel, stride, pad, pad + extra, &n);
    *out = (int)n;
    return s;
}

static bb_status validate(const bb_conv2d_params *p, conv_dims *d)
{
    if (p == NULL)
        return BB_ERR_NULL;
    if (p->batch <= 0 || p->in_channels <= 0 || p->in_height <= 0 || p->in_width <= 0 ||
        p->out_channels <= 0 || p->kernel_height <= 0 || p->kernel_width <= 0)
        return BB_ERR_SHAPE;
    if (p->stride_height <= 0 || p->stride_width <= 0 || p->pad_height < 0 || p->pad_width < 0 ||
        p->extra_pad_bottom < 0 || p->extra_pad_right < 0)
        return BB_ERR_ARGUMENT;
    bb_status s = output_len(p->in_height, p->kernel_height, p->stride_height, p->pad_height,
                             p->extra_pad_bottom, &d->oh);
    if (s != BB_OK)
        return s;
    s = output_len(p->in_width, p->kernel_width, p->stride_width, p->pad_width,
                   p->extra_pad_right, &d->ow);
    if (s != BB_OK)
        return s;
    /* GEMM dimensions are int, and the column buffer's byte count must fit size_t
     * (with room for the alignment slack) on 32-bit targets too. */
    long long k = (long long)p->in_channels * p->kernel_height * p->kernel_width;
    long long plane = (long long)d->oh * d->ow;
    if (k > INT_MAX || plane > INT_MAX)
        return BB_ERR_SHAPE;
    if ((size_t)k > (SIZE_MAX / 4 - 4 * ALIGN) / sizeof(float) / (size_t)plane)
        return BB_ERR_SHAPE;
    d->k = (int)k;
    d->plane = (int)plane;
    d->direct = p->kernel_height == 1 && p->kernel_width == 1 && p->stride_height == 1 &&
                p->stride_width == 1 && p->pad_height == 0 && p->pad_width == 0 &&
                p->extra_pad_bottom == 0 && p->extra_pad_right == 0;
    return BB_OK;
}

bb_status bb_conv2d_output_hw(const bb_conv2d_params *p, int *out_height, int *out_width)
{
    conv_dims d;
    bb_status s = validate(p, &d);
    if (s != BB_OK)
        return s;
    if (out_height == NULL || out_width == NULL)
        return BB_ERR_NULL;
    *out_height = d.oh;
    *out_width = d.ow;
    return BB_OK;
}

/* Threads that split `items` (the batch's images, or db's channels): 1 without OpenMP,
 * inside a parallel region, or for a single item. */
static int worker_count(int items)
{
#ifdef _OPENMP
    int t = omp_in_parallel() ? 1 : bb_get_num_threads();
    return t < items ? t : items;
#else
    (void)items;
    return 1;
#endif
}

static int worker_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The scratch: [W packed once for the SGEMM, shared][one block per worker], and each
 * worker's block [column buffer][SGEMM scratch][partial dW], all rounded to 64 bytes.
 * Packing W once instead of in every image's product saved ~5 % of the seed CNN's conv2. */
typedef struct worker_layout {
    size_t col, gemm, dw, total;
} worker_layout;

static size_t col_bytes(const conv_dims *d)
{
    return d->direct ? 0 : round_up_size((size_t)d->k * (size_t)d->plane * sizeof(float));
}

static worker_layout forward_layout(const bb_conv2d_params *p, const conv_dims *d)
{
    worker_layout l = {col_bytes(d), 0, 0, 0};
    l.gemm = round_up_size(bb_sgemm_packed_scratch_size(p->out_channels, d->plane, d->k));
    l.total = l.col + l.gemm;
    return l;
}

/* W packed as the forward product's A (OC x k), or transposed as the dx product's
 * (k x OC): the two differ, as packing pads the rows to a multiple of the micro-tile. */
static size_t packed_w_bytes(const bb_conv2d_params *p, const conv_dims *d, int transposed)
{
    return round_up_size(transposed ? bb_sgemm_packed_a_size(d->k, p->out_channels)
                                    : bb_sgemm_packed_a_size(p->out_channels, d->k));
}

static worker_layout backward_layout(const bb_conv2d_params *p, const conv_dims *d, int want_dx,
                                     int want_dw, int workers)
{
    worker_layout l = {0, 0, 0, 0};
    if (!want_dx && !want_dw)
        return l; /* only db: a plain reduction over dy */
    if (want_dw)
        l.gemm = max_size(l.gemm, bb_sgemm_scratch_size(p->out_channels, d->k, d->plane));
    if (want_dx)
        l.gemm = max_size(l.gemm, bb_sgemm_packed_scratch_size(d->k, d->plane, p->out_channels));
    l.col = col_bytes(d);
    l.gemm = round_up_size(l.gemm);
    if (want_dw && workers > 1)
        l.dw = round_up_size((size_t)p->out_channels * (size_t)d->k * sizeof(float));
    l.total = l.col + l.gemm + l.dw;
    return l;
}

static size_t forward_bytes(const bb_conv2d_params *p, const conv_dims *d)
{
    return ALIGN + packed_w_bytes(p, d, 0) + (size_t)worker_count(p->batch) * forward_layout(p, d).total;
}

static size_t backward_bytes(const bb_conv2d_params *p, const conv_dims *d, int want_dx, int want_dw)
{
    int workers = worker_count(p->batch);
    worker_layout l = backward_layout(p, d, want_dx, want_dw, workers);
    if (l.total == 0)
        return 0;
    return ALIGN + (want_dx ? packed_w_bytes(p, d, 1) : 0) + (size_t)workers * l.total;
}

size_t bb_conv2d_f32_scratch_size(const bb_conv2d_params *p)
{
    conv_dims d;
    return validate(p, &d) == BB_OK ? forward_bytes(p, &d) : 0;
}

size_t bb_conv2d_backward_f32_scratch_size(const bb_conv2d_params *p)
{
    conv_dims d;
    return validate(p, &d) == BB_OK ? backward_bytes(p, &d, 1, 1) : 0;
}

/* The outputs o in [0, out_len) whose input index o * stride + offset lies in
 * [0, in_len): [*lo, *hi). Everything outside reads (or writes) zero padding. */
static void valid_range(int out_len, int in_len, int stride, int offset, int *lo, int *hi)
{
    long long first = offset >= 0 ? 0 : (-(long long)offset + stride - 1) / stride;
    long long last = (long long)in_len - 1 - offset < 0 ? -1 : ((long long)in_len - 1 - offset) / stride;
    *lo = first < out_len ? (int)first : out_len;
    *hi = last + 1 < out_len ? (int)(last + 1) : out_len;
    if (*hi < *lo)
        *hi = *lo;
}

/* dst[0:n] = src[0:n] for the short rows of im2col (11 floats in the seed CNN's second
 * convolution), in blocks of 8 that the compiler turns into single vector moves; the last
 * block overlaps the one before instead of finishing one float at a time. Measured:
 * im2col went from 15 % to 11 % of that layer's forward and backward time. */
static void copy_row(float *restrict dst, const float *restrict src, int n)
{
    if (n < 8) {
        for (int t = 0; t < n; t++)
            dst[t] = src[t];
        return;
    }
    int t = 0;
    for (; t + 8 <= n; t += 8)
        for (int q = 0; q < 8; q++)
            dst[t + q] = src[t + q];
    if (t < n)
        for (int q = 0; q < 8; q++)
            dst[n - 8 + q] = src[n - 8 + q];
}

/* col[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*sh - ph + i][ox*sw - pw + j], or 0 in the padding. */
static void im2col(const bb_conv2d_params *p, const conv_dims *d, const float *restrict x,
                   float *restrict col)
{
    const int sh = p->stride_height, sw = p->stride_width;
    for (int c = 0; c < p->in_channels; c++) {
        const float *xc = x + (size_t)c * p->in_height * p->in_width;
        for (int i = 0; i < p->kernel_height; i++) {
            for (int j = 0; j < p->kernel_width; j++) {
                int x_off = j - p->pad_width, lo, hi;
                valid_range(d->ow, p->in_width, sw, x_off, &lo, &hi);
                for (int oy = 0; oy < d->oh; oy++) {
                    int iy = oy * sh - p->pad_height + i;
                    if (iy < 0 || iy >= p->in_height) {
                        memset(col, 0, (size_t)d->ow * sizeof(float));
                    } else {
                        const float *xrow = xc + (size_t)iy * p->in_width;
                        for (int ox = 0; ox < lo; ox++)
                            col[ox] = 0.0f;
                        if (sw == 1) {
                            copy_row(col + lo, xrow + lo + x_off, hi - lo);
                        } else {
                            for (int ox = lo; ox < hi; ox++)
                                col[ox] = xrow[ox * sw + x_off];
                        }
                        for (int ox = hi; ox < d->ow; ox++)
                            col[ox] = 0.0f;
                    }
                    col += d->ow;
                }
            }
        }
    }
}

/* dst[0:n] += src[0:n] for col2im's short rows: blocks of 8 (single vector adds), then
 * the rest one by one (unlike copy_row, an overlapping block would add twice). */
static void add_row(float *restrict dst, const float *restrict src, int n)
{
    int t = 0;
    for (; t + 8 <= n; t += 8)
        for (int q = 0; q < 8; q++)
            dst[t + q] += src[t + q];
    for (; t < n; t++)
        dst[t] += src[t];
}

/* The adjoint of im2col: x is zeroed, then every column entry is added back to the
 * input position it was copied from (overlapping windows accumulate). */
static void col2im(const bb_conv2d_params *p, const conv_dims *d, const float *restrict col,
                   float *restrict x)
{
    const int sh = p->stride_height, sw = p->stride_width;
    memset(x, 0, (size_t)p->in_channels * p->in_height * p->in_width * sizeof(float));
    for (int c = 0; c < p->in_channels; c++) {
        float *xc = x + (size_t)c * p->in_height * p->in_width;
        for (int i = 0; i < p->kernel_height; i++) {
            for (int j = 0; j < p->kernel_width; j++) {
                int x_off = j - p->pad_width, lo, hi;
                valid_range(d->ow, p->in_width, sw, x_off, &lo, &hi);
                for (int oy = 0; oy < d->oh; oy++) {
                    int iy = oy * sh - p->pad_height + i;
                    if (iy >= 0 && iy < p->in_height) {
                        float *xrow = xc + (size_t)iy * p->in_width;
                        if (sw == 1) {
                            add_row(xrow + lo + x_off, col + lo, hi - lo);
                        } else {
                            for (int ox = lo; ox < hi; ox++)
                                xrow[ox * sw + x_off] += col[ox];
                        }
                    }
                    col += d->ow;
                }
            }
        }
    }
}

bb_status bb_conv2d_f32(const bb_conv2d_params *p, const float *x, const float *w,
                        const float *bias, float *y, void *scratch, size_t scratch_bytes)
{
    conv_dims d;
    bb_status s = validate(p, &d);
    if (s != BB_OK)
        return s;
    if (x == NULL || w == NULL || y == NULL)
        return BB_ERR_NULL;
    if (scratch == NULL || scratch_bytes < forward_bytes(p, &d))
        return BB_ERR_SCRATCH;

    const int workers = worker_count(p->batch);
    const worker_layout l = forward_layout(p, &d);
    float *packed_w = align_up(scratch);
    char *base = (char *)packed_w + packed_w_bytes(p, &d, 0);
    s = bb_sgemm_pack_a(0, p->out_channels, d.k, w, d.k, packed_w);
    if (s != BB_OK)
        return s;
    const size_t x_stride = (size_t)p->in_channels * p->in_height * p->in_width;
    const size_t y_stride = (size_t)p->out_channels * d.plane;
    int failed = BB_OK; /* statuses are negative: the reduction keeps any error */
    (void)workers;      /* read only by the OpenMP pragma */

#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static) reduction(min : failed)
#endif
    for (int n = 0; n < p->batch; n++) {
        char *mine = base + (size_t)worker_index() * l.total;
        float *col = (float *)mine;
        const float *xn = x + (size_t)n * x_stride;
        float *yn = y + (size_t)n * y_stride;
        if (!d.direct)
            im2col(p, &d, xn, col);
        bb_status st = bb_sgemm_packed(packed_w, p->out_channels, d.plane, d.k, 1.0f, 0,
                                       d.direct ? xn : col, d.plane, 0.0f, yn, d.plane,
                                       mine + l.col, l.gemm);
        if (st != BB_OK)
            failed = st;
        if (bias != NULL) {
            for (int oc = 0; oc < p->out_channels; oc++) {
                float *row = yn + (size_t)oc * d.plane;
                const float b = bias[oc];
                for (int q = 0; q < d.plane; q++)
                    row[q] += b;
            }
        }
    }
    return (bb_status)failed;
}

bb_status bb_conv2d_backward_f32(const bb_conv2d_params *p, const float *x, const float *w,
                                 const float *dy, float *dx, float *dw, float *db,
                                 void *scratch, size_t scratch_bytes)
{
    conv_dims d;
    bb_status s = validate(p, &d);
    if (s != BB_OK)
        return s;
    /* x is read only for dw, w only for dx. */
    if (dy == NULL || (dw != NULL && x == NULL) || (dx != NULL && w == NULL))
        return BB_ERR_NULL;
    const int want_dx = dx != NULL, want_dw = dw != NULL;
    const size_t need = backward_bytes(p, &d, want_dx, want_dw);
    if (need > 0 && (scratch == NULL || scratch_bytes < need))
        return BB_ERR_SCRATCH;

    const int oc_count = p->out_channels;
    const size_t x_stride = (size_t)p->in_channels * p->in_height * p->in_width;
    const size_t y_stride = (size_t)oc_count * d.plane;

    if (db != NULL) { /* each channel summed by one thread, in one order: deterministic */
        const int db_workers = worker_count(oc_count);
        (void)db_workers; /* read only by the OpenMP pragma */
#ifdef _OPENMP
#pragma omp parallel for num_threads(db_workers) schedule(static)
#endif
        for (int oc = 0; oc < oc_count; oc++) {
            /* batch * oh * ow terms: in double, as float would drift; in four partial
             * sums, as one is a serial chain of adds (0.8 ms for the seed CNN's conv2). */
            double part[4] = {0.0, 0.0, 0.0, 0.0};
            for (int n = 0; n < p->batch; n++) {
                const float *row = dy + (size_t)n * y_stride + (size_t)oc * d.plane;
                int q = 0;
                for (; q + 4 <= d.plane; q += 4)
                    for (int r = 0; r < 4; r++)
                        part[r] += row[q + r];
                for (; q < d.plane; q++)
                    part[0] += row[q];
            }
            db[oc] = (float)((part[0] + part[1]) + (part[2] + part[3]));
        }
    }
    if (!want_dx && !want_dw)
        return BB_OK;

    /* One column buffer serves both: col[n] is consumed by dW before W^T @ dy[n]
     * overwrites it, which halves the scratch compared with two buffers. */
    const int workers = worker_count(p->batch);
    const worker_layout l = backward_layout(p, &d, want_dx, want_dw, workers);
    float *packed_wt = align_up(scratch); /* W^T, when dx is wanted */
    char *base = (char *)packed_wt + (want_dx ? packed_w_bytes(p, &d, 1) : 0);
    if (want_dx) {
        s = bb_sgemm_pack_a(1, d.k, oc_count, w, d.k, packed_wt);
        if (s != BB_OK)
            return s;
    }
    const size_t dw_count = (size_t)oc_count * (size_t)d.k;
    if (want_dw) { /* each worker accumulates its images into its own dW (or dw itself) */
        for (int t = 0; t < workers; t++)
            memset(workers > 1 ? (float *)(base + (size_t)t * l.total + l.col + l.gemm) : dw, 0,
                   dw_count * sizeof(float));
    }
    int failed = BB_OK;

#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static) reduction(min : failed)
#endif
    for (int n = 0; n < p->batch; n++) {
        char *mine = base + (size_t)worker_index() * l.total;
        float *col = (float *)mine;
        const float *dyn = dy + (size_t)n * y_stride;
        bb_status st = BB_OK;
        if (want_dw) {
            const float *xn = x + (size_t)n * x_stride;
            float *dw_acc = workers > 1 ? (float *)(mine + l.col + l.gemm) : dw;
            if (!d.direct)
                im2col(p, &d, xn, col);
            st = bb_sgemm(0, 1, oc_count, d.k, d.plane, 1.0f, dyn, d.plane, d.direct ? xn : col,
                          d.plane, 1.0f, dw_acc, d.k, mine + l.col, l.gemm);
        }
        if (want_dx && st == BB_OK) {
            float *dxn = dx + (size_t)n * x_stride;
            st = bb_sgemm_packed(packed_wt, d.k, d.plane, oc_count, 1.0f, 0, dyn, d.plane, 0.0f,
                                 d.direct ? dxn : col, d.plane, mine + l.col, l.gemm);
            if (st == BB_OK && !d.direct)
                col2im(p, &d, col, dxn);
        }
        if (st != BB_OK)
            failed = st;
    }
    if (want_dw && workers > 1) { /* reduce the partial dWs in thread order: deterministic */
        memcpy(dw, base + l.col + l.gemm, dw_count * sizeof(float));
        for (int t = 1; t < workers; t++) {
            const float *part = (const float *)(base + (size_t)t * l.total + l.col + l.gemm);
            for (size_t i = 0; i < dw_count; i++)
                dw[i] += part[i];
        }
    }
    return (bb_status)failed;
}
