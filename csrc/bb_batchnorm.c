/* bb_batchnorm.c: batch normalization, one channel per loop iteration.
 *
 * Each channel's rows (one per image, `spatial` values long) are summed in eight float
 * lanes per row (vectorized) and the rows' totals in double, so a large batch does not
 * drift. The statistics take one pass, around a shift close to the mean (see below). */
#include <math.h>
#include <stddef.h>
#include "bb_batchnorm.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Threads that split the channels: 1 without OpenMP, inside a parallel region, or for
 * under 32K values, where the fork / join costs more than the pass itself. */
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

/* sum of row[t] - shift, and of its square, over n values. */
static void row_sums(const float *restrict row, int n, float shift, double *sum, double *sq)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, q2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
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
    *sum += lanes_total(s);
    *sq += lanes_total(q2);
}

/* sum of dy, and of dy * (x - mean), over n values. */
static void row_grad_sums(const float *restrict dy, const float *restrict x, int n, float mean,
                          double *sum, double *dot)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
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
    *sum += lanes_total(s);
    *dot += lanes_total(d);
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
    (void)workers; /* read only by the OpenMP pragma */
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
    for (int c = 0; c < channels; c++) {
        const float *xc = x + (size_t)c * spatial;
        float mean, invstd;
        if (training) {
            /* One pass around a shift near the mean, the channel's mean in the first image:
             * var = E[(x - s)^2] - (E[x] - s)^2. The batch's variance includes the spread of
             * the images' means, so (E[x] - s)^2 <= batch * var: little is cancelled. */
            const float shift = (float)(row_sum(xc, spatial) / spatial);
            double dsum = 0.0, dsq = 0.0;
            for (int n = 0; n < batch; n++)
                row_sums(xc + n * row_step, spatial, shift, &dsum, &dsq);
            const double offset = dsum / count, mean_d = shift + offset;
            double var = dsq / count - offset * offset;
            if (var < 0.0)
                var = 0.0;
            mean = (float)mean_d;
            invstd = (float)(1.0 / sqrt(var + (double)eps));
            if (running_mean != NULL) {
                running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean_d);
                running_var[c] = (float)((1.0 - momentum) * running_var[c] +
                                         momentum * var * count / (count - 1.0));
            }
        } else {
            mean = running_mean[c];
            invstd = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
        }
        if (save_mean != NULL)
            save_mean[c] = mean;
        if (save_invstd != NULL)
            save_invstd[c] = invstd;
        const float scale = invstd * (gamma ? gamma[c] : 1.0f);
        const float shift_out = beta ? beta[c] : 0.0f;
        for (int n = 0; n < batch; n++) {
            const float *restrict xr = xc + n * row_step;
            float *restrict yr = y + (size_t)c * spatial + n * row_step;
            for (int t = 0; t < spatial; t++)
                yr[t] = (xr[t] - mean) * scale + shift_out; /* x * scale + (beta - mean * scale)
                                                               * would cancel for a mean far from 0 */
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
    (void)workers;
#ifdef _OPENMP
#pragma omp parallel for num_threads(workers) schedule(static)
#endif
    for (int c = 0; c < channels; c++) {
        const float *xc = x == NULL ? NULL : x + (size_t)c * spatial;
        const float *dyc = dy + (size_t)c * spatial;
        const float mean = save_mean[c], invstd = save_invstd[c];
        double sum_dy = 0.0, dot = 0.0; /* dot = sum dy * (x - mean) */
        if (want_sums)
            for (int n = 0; n < batch; n++)
                row_grad_sums(dyc + n * row_step, xc + n * row_step, spatial, mean, &sum_dy, &dot);
        if (dgamma != NULL)
            dgamma[c] = (float)(dot * invstd);
        if (dbeta != NULL)
            dbeta[c] = (float)sum_dy;
        if (dx == NULL)
            continue;
        const float g = gamma ? gamma[c] : 1.0f;
        /* training: dx = g * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), with
         * xhat = (x - mean) * invstd; written as dy * a + (x - mean) * b + d. */
        const float a = g * invstd;
        const float b = training ? (float)(-(double)a * invstd * invstd * dot / count) : 0.0f;
        const float d = training ? (float)(-(double)a * sum_dy / count) : 0.0f;
        for (int n = 0; n < batch; n++) {
            const float *restrict dyr = dyc + n * row_step;
            float *restrict dxr = dx + (size_t)c * spatial + n * row_step;
            if (training) {
                const float *restrict xr = xc + n * row_step;
                for (int t = 0; t < spatial; t++)
                    dxr[t] = dyr[t] * a + (xr[t] - mean) * b + d;
            } else {
                for (int t = 0; t < spatial; t++)
                    dxr[t] = dyr[t] * a;
            }
        }
    }
    return BB_OK;
}
