/* bb_batchnorm.c: batch normalization, a block of channels at a time.
 *
 * Each channel's rows (one per image, `spatial` values long) are summed in eight float
 * lanes (vectorized), flushed to double totals every few thousand values, so a large
 * batch does not drift. The statistics take one pass, around a shift close to the mean
 * (see below). Every pass walks the images in the outer loop and a block of up to
 * BLOCK channels in the inner one: for small planes (the DS-CNN's 125 values) that reads
 * memory in order, where one channel at a time jumped a whole image between rows of
 * ~500 bytes and spent its time waiting on cache misses (measured 3x slower backward). */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "bb_batchnorm.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Threads that split the channels: 1 without OpenMP, inside a parallel region, or for
 * under 32K values, where the fork / join costs more than the pass itself. */
#define BLOCK 64 /* channels per block: their lane sums (2 x 64 x 8 floats) stay in L1 */

static int worker_count(int channels, double values)
{
#ifdef _OPENMP
    if (omp_in_parallel() || values < 32768.0)
        return 1;
    int t = omp_get_max_threads();
    return t < channels ? t : channels;
#else
    (void)channels, (void)values;
    return 1;
#endif
}

static double lanes_total(const float acc[8])
{
    return (((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3])) +
           (((double)acc[4] + acc[5]) + ((double)acc[6] + acc[7]));
}

/* sum of row[t] over n values. */
static double row_sum(const float *restrict row, int n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int t = 0;
    for (; t + 8 <= n; t += 8)
        for (int q = 0; q < 8; q++)
            s[q] += row[t + q];
    for (; t < n; t++)
        s[t & 7] += row[t];
    return lanes_total(s);
}

/* Rows are summed into float lanes, which go to the double totals every FLUSH_VALUES
 * values or so (not after every row: on the DS-CNN's 125-value rows the per-row lane
 * reduction cost as much as the sums themselves), so the float part never covers more
 * than a few thousand terms. */
#define FLUSH_VALUES 2048

static int rows_per_flush(int n)
{
    int rows = FLUSH_VALUES / n;
    return rows < 1 ? 1 : rows;
}

/* s += row[t] - shift, q2 += its square, over n values, lane t % 8. */
static void row_sums(const float *restrict row, int n, float shift, float s[8], float q2[8])
{
    int t = 0;
    for (; t + 8 <= n; t += 8)
        for (int q = 0; q < 8; q++) {
            float d = row[t + q] - shift;
            s[q] += d;
            q2[q] += d * d;
        }
    for (; t < n; t++) {
        float d = row[t] - shift;
        s[t & 7] += d;
        q2[t & 7] += d * d;
    }
}

/* s += dy, d += dy * (x - mean), over n values, lane t % 8. */
static void row_grad_sums(const float *restrict dy, const float *restrict x, int n, float mean,
                          float s[8], float d[8])
{
    int t = 0;
    for (; t + 8 <= n; t += 8)
        for (int q = 0; q < 8; q++) {
            s[q] += dy[t + q];
            d[q] += dy[t + q] * (x[t + q] - mean);
        }
    for (; t < n; t++) {
        s[t & 7] += dy[t];
        d[t & 7] += dy[t] * (x[t] - mean);
    }
}

/* Channels per block, and blocks, for `workers` threads. */
static int block_channels(int channels, int workers)
{
    int b = (channels + workers - 1) / workers;
    return b > BLOCK ? BLOCK : b;
}

/* The two sums of every channel in [c0, c1) over the batch: a is x (grad = 0: sums of
 * a - center and of its square) or dy (grad = 1: sums of dy and of dy * (b - center),
 * b = x). Images outer, channels inner; lanes flushed to double every few images. */
static void block_sums(const float *a, const float *b, int batch, int spatial, size_t row_step,
                       int c0, int c1, const float *center, int grad, double *sum, double *second)
{
    const int per_flush = rows_per_flush(spatial), nc = c1 - c0;
    float s[BLOCK][8], s2[BLOCK][8];
    for (int k = 0; k < nc; k++)
        sum[k] = second[k] = 0.0;
    for (int n0 = 0; n0 < batch; n0 += per_flush) {
        const int n1 = n0 + per_flush < batch ? n0 + per_flush : batch;
        memset(s, 0, sizeof s);
        memset(s2, 0, sizeof s2);
        for (int n = n0; n < n1; n++) {
            const size_t base = (size_t)n * row_step + (size_t)c0 * spatial;
            for (int k = 0; k < nc; k++) {
                const size_t at = base + (size_t)k * spatial;
                if (grad)
                    row_grad_sums(a + at, b + at, spatial, center[k], s[k], s2[k]);
                else
                    row_sums(a + at, spatial, center[k], s[k], s2[k]);
            }
        }
        for (int k = 0; k < nc; k++) {
            sum[k] += lanes_total(s[k]);
            second[k] += lanes_total(s2[k]);
        }
    }
}

static bb_status check_dims(int batch, int channels, int spatial)
{
    if (batch <= 0 || channels <= 0 || spatial <= 0)
        return BB_ERR_SHAPE;
    return BB_OK;
}

bb_status bb_batch_norm_f32(int batch, int channels, int spatial, const float *x,
                            const float *gamma, const float *beta, float eps, int training,
                            float momentum, float *running_mean, float *running_var, float *y,
                            float *save_mean, float *save_invstd)
{
    bb_status s = check_dims(batch, channels, spatial);
    if (s != BB_OK)
        return s;
    if (x == NULL || y == NULL || (running_mean == NULL) != (running_var == NULL))
        return BB_ERR_NULL;
    if (training ? (save_mean == NULL || save_invstd == NULL) : running_mean == NULL)
        return BB_ERR_NULL;
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return BB_ERR_ARGUMENT;
    const double count = (double)batch * spatial;
    if (training && count < 2.0)
        return BB_ERR_SHAPE;
    const size_t row_step = (size_t)channels * (size_t)spatial;
    const int workers = worker_count(channels, count * channels);
    const int per_block = block_channels(channels, workers);
    const int blocks = (channels + per_block - 1) / per_block;
    (void)workers; /* read only by the OpenMP pragma */
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
    for (int blk = 0; blk < blocks; blk++) {
        const int c0 = blk * per_block;
        const int c1 = c0 + per_block < channels ? c0 + per_block : channels;
        float mean[BLOCK], scale[BLOCK], shift_out[BLOCK];
        if (training) {
            /* One pass around a shift near the mean, the channel's mean in the first image:
             * var = E[(x - s)^2] - (E[x] - s)^2. The batch's variance includes the spread of
             * the images' means, so (E[x] - s)^2 <= batch * var: little is cancelled. */
            float shift[BLOCK];
            double dsum[BLOCK], dsq[BLOCK];
            for (int c = c0; c < c1; c++)
                shift[c - c0] = (float)(row_sum(x + (size_t)c * spatial, spatial) / spatial);
            block_sums(x, NULL, batch, spatial, row_step, c0, c1, shift, 0, dsum, dsq);
            for (int c = c0; c < c1; c++) {
                const int k = c - c0;
                const double offset = dsum[k] / count, mean_d = shift[k] + offset;
                double var = dsq[k] / count - offset * offset;
                if (var < 0.0)
                    var = 0.0;
                mean[k] = (float)mean_d;
                const float invstd = (float)(1.0 / sqrt(var + (double)eps));
                if (running_mean != NULL) {
                    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean_d);
                    running_var[c] = (float)((1.0 - momentum) * running_var[c] +
                                             momentum * var * count / (count - 1.0));
                }
                scale[k] = invstd;
            }
        } else {
            for (int c = c0; c < c1; c++) {
                mean[c - c0] = running_mean[c];
                scale[c - c0] = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
            }
        }
        for (int c = c0; c < c1; c++) {
            const int k = c - c0;
            if (save_mean != NULL)
                save_mean[c] = mean[k];
            if (save_invstd != NULL)
                save_invstd[c] = scale[k];
            scale[k] *= gamma ? gamma[c] : 1.0f;
            shift_out[k] = beta ? beta[c] : 0.0f;
        }
        for (int n = 0; n < batch; n++) {
            for (int c = c0; c < c1; c++) {
                const int k = c - c0;
                const size_t at = (size_t)n * row_step + (size_t)c * spatial;
                const float *restrict xr = x + at;
                float *restrict yr = y + at;
                const float m = mean[k], sc = scale[k], sh = shift_out[k];
                for (int t = 0; t < spatial; t++)
                    yr[t] = (xr[t] - m) * sc + sh; /* x * scale + (beta - mean * scale)
                                                     * would cancel for a mean far from 0 */
            }
        }
    }
    return BB_OK;
}

bb_status bb_batch_norm_backward_f32(int batch, int channels, int spatial, const float *x,
                                     const float *gamma, const float *save_mean,
                                     const float *save_invstd, int training, const float *dy,
                                     float *dx, float *dgamma, float *dbeta)
{
    bb_status s = check_dims(batch, channels, spatial);
    if (s != BB_OK)
        return s;
    if (dy == NULL || save_mean == NULL || save_invstd == NULL)
        return BB_ERR_NULL;
    const int want_sums = dgamma != NULL || dbeta != NULL || (dx != NULL && training);
    if (want_sums && x == NULL)
        return BB_ERR_NULL;
    const double count = (double)batch * spatial;
    const size_t row_step = (size_t)channels * (size_t)spatial;
    const int workers = worker_count(channels, count * channels);
    const int per_block = block_channels(channels, workers);
    const int blocks = (channels + per_block - 1) / per_block;
    (void)workers;
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
    for (int blk = 0; blk < blocks; blk++) {
        const int c0 = blk * per_block;
        const int c1 = c0 + per_block < channels ? c0 + per_block : channels;
        double sum_dy[BLOCK], dot[BLOCK]; /* dot = sum dy * (x - mean) */
        float a[BLOCK], b[BLOCK], d[BLOCK];
        if (want_sums)
            block_sums(dy, x, batch, spatial, row_step, c0, c1, save_mean + c0, 1, sum_dy, dot);
        else
            for (int k = 0; k < c1 - c0; k++)
                sum_dy[k] = dot[k] = 0.0;
        for (int c = c0; c < c1; c++) {
            const int k = c - c0;
            const float invstd = save_invstd[c];
            if (dgamma != NULL)
                dgamma[c] = (float)(dot[k] * invstd);
            if (dbeta != NULL)
                dbeta[c] = (float)sum_dy[k];
            /* training: dx = g * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), with
             * xhat = (x - mean) * invstd; written as dy * a + (x - mean) * b + d. */
            a[k] = (gamma ? gamma[c] : 1.0f) * invstd;
            b[k] = training ? (float)(-(double)a[k] * invstd * invstd * dot[k] / count) : 0.0f;
            d[k] = training ? (float)(-(double)a[k] * sum_dy[k] / count) : 0.0f;
        }
        if (dx == NULL)
            continue;
        for (int n = 0; n < batch; n++) {
            for (int c = c0; c < c1; c++) {
                const int k = c - c0;
                const size_t at = (size_t)n * row_step + (size_t)c * spatial;
                const float *restrict dyr = dy + at;
                float *restrict dxr = dx + at;
                const float ak = a[k];
                if (training) {
                    const float *restrict xr = x + at;
                    const float m = save_mean[c], bk = b[k], dk = d[k];
                    for (int t = 0; t < spatial; t++)
                        dxr[t] = dyr[t] * ak + (xr[t] - m) * bk + dk;
                } else {
                    for (int t = 0; t < spatial; t++)
                        dxr[t] = dyr[t] * ak;
                }
            }
        }
    }
    return BB_OK;
}
