/* bb_accumulate_s8.c: the bound that keeps an int8 layer's int32 accumulator exact.
 *
 * A conv or linear kernel sums bias + sum((x + input_offset) * w) in int32, where
 * x + input_offset = x - input_zero_point lies in [-255, 255]; the kernels' partial sums
 * (with the offset hoisted or not) are each bounded by |bias| + 255 * sum|w|. So when
 * that bound is below 2^31 for every output channel, no partial sum can overflow. */
#include "bb_int8.h"

bb_status bb_check_accumulator_s8(int32_t channels, int32_t taps, const int8_t *w, const int32_t *bias)
{
    if (channels <= 0 || taps <= 0)
        return BB_ERR_SHAPE;
    if (w == NULL)
        return BB_ERR_NULL;
    for (int32_t c = 0; c < channels; c++) {
        const int8_t *row = w + (size_t)c * (size_t)taps;
        int64_t bound = bias != NULL ? (bias[c] < 0 ? -(int64_t)bias[c] : bias[c]) : 0;
        for (int32_t i = 0; i < taps && bound <= INT32_MAX; i++)
            bound += 255 * (int64_t)(row[i] < 0 ? -row[i] : row[i]);
        if (bound > INT32_MAX)
            return BB_ERR_ARGUMENT;
    }
    return BB_OK;
}
