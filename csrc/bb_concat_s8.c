/* bb_concat_s8.c: int8 concatenation along channels, each input requantized to the
 * output's scale and zero point (TFLite's converter instead forces one scale on all of
 * them; here they may differ, and an input that already has the output's is copied). */
#include <string.h>
#include "bb_int8_graph.h"
#include "bb_graph_checks.h"
#include "bb_requantize_inline.h"

/* multiplier 2^30 with shift 1 is exactly one: requantize(v) = v for every int8 v. */
static int is_identity(const bb_rescale_s8 *r, int32_t output_offset)
{
    return r->multiplier == (INT32_C(1) << 30) && r->shift == 1 && r->input_offset == -output_offset;
}

bb_status bb_concat_channels_s8(const bb_s8_dims *out, int32_t count, const int32_t *channels,
                                const bb_rescale_s8 *rescale, int32_t output_offset,
                                const int8_t *const *x, int8_t *y)
{
    bb_status s = bb_check_dims_s8(out);
    if (s != BB_OK)
        return s;
    if (count <= 0)
        return BB_ERR_SHAPE;
    if (channels == NULL || rescale == NULL || x == NULL || y == NULL)
        return BB_ERR_NULL;
    if (output_offset < -128 || output_offset > 127)
        return BB_ERR_ARGUMENT;
    int64_t total = 0;
    for (int32_t i = 0; i < count; i++) {
        if (channels[i] <= 0)
            return BB_ERR_SHAPE;
        if (x[i] == NULL)
            return BB_ERR_NULL;
        if (rescale[i].input_offset < -127 || rescale[i].input_offset > 128 ||
            !bb_graph_requant_ok(rescale[i].multiplier, rescale[i].shift, -31, 30))
            return BB_ERR_ARGUMENT;
        total += channels[i];
    }
    if (total != out->channels)
        return BB_ERR_SHAPE;

    const size_t plane = (size_t)out->height * (size_t)out->width;
    for (int32_t n = 0; n < out->batch; n++) {
        int8_t *dst = y + (size_t)n * (size_t)out->channels * plane;
        for (int32_t i = 0; i < count; i++) {
            const size_t bytes = (size_t)channels[i] * plane;
            const int8_t *src = x[i] + (size_t)n * bytes;
            const bb_rescale_s8 *r = &rescale[i];
            if (is_identity(r, output_offset)) {
                memcpy(dst, src, bytes);
            } else {
                for (size_t k = 0; k < bytes; k++) {
                    const int32_t v = bb_requantize_inline((int32_t)src[k] + r->input_offset, r->multiplier,
                                                           r->shift);
                    dst[k] = bb_graph_out(v, output_offset, -128, 127);
                }
            }
            dst += bytes;
        }
    }
    return BB_OK;
}
