/* bb_elementwise.c: one fused pass each, instead of numpy's temporaries (a mask array,
 * then a multiply) for the backward. */
#include "bb_elementwise.h"

bb_status bb_relu_f32(size_t n, const float *x, float *y)
{
    if (n > 0 && (x == NULL || y == NULL))
        return BB_ERR_NULL;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i]; /* keeps NaN, as np.maximum does */
    return BB_OK;
}

bb_status bb_relu_backward_f32(size_t n, const float *x, const float *dy, float *dx)
{
    if (n > 0 && (x == NULL || dy == NULL || dx == NULL))
        return BB_ERR_NULL;
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    return BB_OK;
}
