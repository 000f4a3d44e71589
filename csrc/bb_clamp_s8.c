/* bb_clamp_s8.c: elementwise clamp, i.e. a ReLU that could not be fused. */
#include "bb_int8.h"

bb_status bb_clamp_s8(size_t n, int32_t lo, int32_t hi, const int8_t *x, int8_t *y)
{
    if (n > 0 && (x == NULL || y == NULL))
        return BB_ERR_NULL;
    if (lo < -128 || hi > 127 || lo > hi)
        return BB_ERR_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        y[i] = (int8_t)(x[i] < lo ? lo : (x[i] > hi ? hi : x[i]));
    return BB_OK;
}
