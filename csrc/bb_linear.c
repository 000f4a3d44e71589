/* bb_linear.c: y = x @ w^T + bias (+ ReLU), as bias rows then one SGEMM with beta = 1. */
#include "bb_linear.h"
#include "bb_elementwise.h"
#include "bb_matmul.h"

size_t bb_linear_f32_scratch_size(int m, int n, int k)
{
    return bb_sgemm_scratch_size(m, n, k);
}

bb_status bb_linear_f32(int m, int n, int k, const float *x, const float *w, const float *bias,
                        int relu, float *y, void *scratch, size_t scratch_bytes)
{
    if (m < 0 || n < 0 || k < 0)
        return BB_ERR_SHAPE;
    if (m == 0 || n == 0)
        return BB_OK;
    if (y == NULL || (k > 0 && (x == NULL || w == NULL)))
        return BB_ERR_NULL;
    const size_t need = bb_sgemm_scratch_size(m, n, k);
    if (need > 0 && (scratch == NULL || scratch_bytes < need))
        return BB_ERR_SCRATCH; /* checked before y is touched */
    /* Start from the bias (or zero) so the product accumulates onto it: y is written
     * once by the SGEMM's tiles instead of a second pass adding the bias afterwards. */
    for (int i = 0; i < m; i++) {
        float *row = y + (size_t)i * n;
        for (int j = 0; j < n; j++)
            row[j] = bias != NULL ? bias[j] : 0.0f;
    }
    const int ld = k > 0 ? k : 1; /* leading dimensions must be >= 1, even for k = 0 */
    bb_status s = bb_sgemm(0, 1, m, n, k, 1.0f, x, ld, w, ld, 1.0f, y, n, scratch, scratch_bytes);
    if (s != BB_OK || !relu)
        return s;
    return bb_relu_f32((size_t)m * (size_t)n, y, y);
}
