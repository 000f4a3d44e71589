/* bb_softmax.c: softmax, log-softmax and cross-entropy over rows.
 *
 * Every row is shifted by its maximum before exponentiating, so exp() never
 * overflows and the largest term is exactly 1; sums of exponentials are kept in
 * double, which makes the result independent of row length for practical sizes. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include "bb_softmax.h"

static bb_status check_shape(int rows, int cols)
{
    return rows >= 1 && cols >= 1 ? BB_OK : BB_ERR_SHAPE;
}

static float row_max(int cols, const float *x)
{
    float m = x[0];
    for (int j = 1; j < cols; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* Writes e[j] = exp(x[j] - max) and returns their sum. */
static double exp_shifted(int cols, const float *x, float max, float *e)
{
    double sum = 0.0;
    for (int j = 0; j < cols; j++) {
        e[j] = expf(x[j] - max);
        sum += e[j];
    }
    return sum;
}

/* log(sum_j exp(x[j] - max)). Callers subtract max from x[j] first and this second:
 * adding max back here would round log(sum) away for logits beyond ~1e10. */
static double log_sum_exp_shifted(int cols, const float *x, float max)
{
    double sum = 0.0;
    for (int j = 0; j < cols; j++)
        sum += expf(x[j] - max);
    return log(sum);
}

bb_status bb_softmax_f32(int rows, int cols, const float *x, float *y)
{
    bb_status s = check_shape(rows, cols);
    if (s != BB_OK)
        return s;
    if (x == NULL || y == NULL)
        return BB_ERR_NULL;
    for (int i = 0; i < rows; i++) {
        const float *xi = x + (size_t)i * (size_t)cols;
        float *yi = y + (size_t)i * (size_t)cols;
        double sum = exp_shifted(cols, xi, row_max(cols, xi), yi);
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j < cols; j++)
            yi[j] *= inv;
    }
    return BB_OK;
}

bb_status bb_softmax_backward_f32(int rows, int cols, const float *y, const float *dy, float *dx)
{
    bb_status s = check_shape(rows, cols);
    if (s != BB_OK)
        return s;
    if (y == NULL || dy == NULL || dx == NULL)
        return BB_ERR_NULL;
    for (int i = 0; i < rows; i++) {
        const size_t off = (size_t)i * (size_t)cols;
        const float *yi = y + off, *dyi = dy + off;
        float *dxi = dx + off;
        double dot = 0.0;
        for (int j = 0; j < cols; j++)
            dot += (double)dyi[j] * yi[j];
        const float d = (float)dot;
        for (int j = 0; j < cols; j++)
            dxi[j] = yi[j] * (dyi[j] - d);
    }
    return BB_OK;
}

bb_status bb_log_softmax_f32(int rows, int cols, const float *x, float *y)
{
    bb_status s = check_shape(rows, cols);
    if (s != BB_OK)
        return s;
    if (x == NULL || y == NULL)
        return BB_ERR_NULL;
    for (int i = 0; i < rows; i++) {
        const float *xi = x + (size_t)i * (size_t)cols;
        float *yi = y + (size_t)i * (size_t)cols;
        /* In double, rounded once: x = max gives exactly -log(sum). */
        const float max = row_max(cols, xi);
        const double lse = log_sum_exp_shifted(cols, xi, max);
        for (int j = 0; j < cols; j++)
            yi[j] = (float)(((double)xi[j] - (double)max) - lse);
    }
    return BB_OK;
}

bb_status bb_log_softmax_backward_f32(int rows, int cols, const float *y, const float *dy, float *dx)
{
    bb_status s = check_shape(rows, cols);
    if (s != BB_OK)
        return s;
    if (y == NULL || dy == NULL || dx == NULL)
        return BB_ERR_NULL;
    for (int i = 0; i < rows; i++) {
        const size_t off = (size_t)i * (size_t)cols;
        const float *yi = y + off, *dyi = dy + off;
        float *dxi = dx + off;
        double sum = 0.0;
        for (int j = 0; j < cols; j++)
            sum += dyi[j];
        const float total = (float)sum;
        for (int j = 0; j < cols; j++)
            dxi[j] = dyi[j] - expf(yi[j]) * total;
    }
    return BB_OK;
}

bb_status bb_cross_entropy_f32(int rows, int cols, const float *logits, const int32_t *labels,
                               const float *class_weights, float *loss, float *dlogits)
{
    bb_status s = check_shape(rows, cols);
    if (s != BB_OK)
        return s;
    if (logits == NULL || labels == NULL || loss == NULL)
        return BB_ERR_NULL;
    /* Validate everything first: on error, nothing is written. */
    for (int i = 0; i < rows; i++) {
        if (labels[i] < 0 || labels[i] >= cols)
            return BB_ERR_LABEL;
    }
    double weight_sum = (double)rows;
    if (class_weights != NULL) {
        for (int j = 0; j < cols; j++) {
            if (!(class_weights[j] >= 0.0f)) /* also rejects NaN */
                return BB_ERR_ARGUMENT;
        }
        weight_sum = 0.0;
        for (int i = 0; i < rows; i++)
            weight_sum += class_weights[labels[i]];
        if (!(weight_sum > 0.0) || !(weight_sum <= DBL_MAX))
            return BB_ERR_ARGUMENT;
    }

    double total = 0.0;
    for (int i = 0; i < rows; i++) {
        const float *xi = logits + (size_t)i * (size_t)cols;
        const int label = (int)labels[i];
        const double w = class_weights != NULL ? (double)class_weights[label] : 1.0;
        /* -log_softmax(x)[label] = log(sum exp(x - max)) - (x[label] - max), in double. */
        const float max = row_max(cols, xi);
        total += w * (log_sum_exp_shifted(cols, xi, max) - ((double)xi[label] - (double)max));
        if (dlogits != NULL) {
            /* softmax * w / weight_sum, minus the same factor at the label. */
            float *gi = dlogits + (size_t)i * (size_t)cols;
            const double scale = w / weight_sum;
            const double sum = exp_shifted(cols, xi, max, gi);
            const float k = (float)(scale / sum);
            for (int j = 0; j < cols; j++)
                gi[j] *= k;
            gi[label] = (float)((double)gi[label] - scale);
        }
    }
    *loss = (float)(total / weight_sum);
    return BB_OK;
}
