/* bb_softmax_s8.c: int8 softmax through a 256-entry exponential table.
 *
 * For a row, d = max - x is in [0, 255] and e = exp_table[d] ~ 2^20 * exp(-d * scale),
 * so the kernel needs only integer adds and one division per output. Output scale is
 * 1/256 with zero point -128 (TFLite's convention for int8 softmax). */
#include "bb_int8.h"

/* round(256 * e / sum) = (e * 256 + sum / 2) / sum for 0 <= e <= sum: a quotient in
 * [0, 256], found bit by bit so that no 64-bit division routine is linked (about
 * 700 bytes of flash on a Cortex-M). */
static int32_t rounded_share(int64_t e, int64_t sum)
{
    int64_t rest = e * 256 + sum / 2;
    int32_t q = 0;
    for (int bit = 8; bit >= 0; bit--) {
        if (rest >= sum << bit) {
            rest -= sum << bit;
            q |= 1 << bit;
        }
    }
    return q;
}

bb_status bb_softmax_s8(int rows, int cols, const int32_t *exp_table, const int8_t *x, int8_t *y)
{
    if (rows <= 0 || cols <= 0)
        return BB_ERR_SHAPE;
    if (exp_table == NULL || x == NULL || y == NULL)
        return BB_ERR_NULL;
    for (int d = 0; d < 256; d++) {
        if (exp_table[d] < 0 || exp_table[d] > (1 << 20))
            return BB_ERR_ARGUMENT;
    }
    if (exp_table[0] <= 0)
        return BB_ERR_ARGUMENT; /* the row maximum must carry weight, or sum could be 0 */
    for (int r = 0; r < rows; r++) {
        const int8_t *in = x + (size_t)r * (size_t)cols;
        int8_t *out = y + (size_t)r * (size_t)cols;
        int32_t top = -128;
        for (int c = 0; c < cols; c++)
            top = in[c] > top ? in[c] : top;
        int64_t sum = 0;
        for (int c = 0; c < cols; c++)
            sum += exp_table[top - in[c]];
        for (int c = 0; c < cols; c++) {
            int32_t v = rounded_share(exp_table[top - in[c]], sum) - 128;
            out[c] = (int8_t)(v > 127 ? 127 : v);
        }
    }
    return BB_OK;
}
