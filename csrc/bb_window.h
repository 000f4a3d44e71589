/* bb_window.h: the window-size math of convolution and pooling, in one place.
 *
 * A window of `kernel` values slides by `stride` over an input padded by pad_before
 * and pad_after values (asymmetric padding, as TensorFlow's "same" gives). Along one axis:
 *     out = (in + pad_before + pad_after - kernel) / stride + 1.
 * 32-bit arithmetic only: a 64-bit division would link a ~800-byte libgcc routine into
 * a Cortex-M image. Used by the int8 kernels and the embedded runtime; no floats
 * (bb_window_output in bb_int8_checks.h applies it to a bb_s8_window). */
#ifndef BB_WINDOW_H
#define BB_WINDOW_H

#include <stdint.h>
#include "bb_status.h"

/* out along one axis; BB_ERR_ARGUMENT for a kernel, stride or padding out of range,
 * BB_ERR_SHAPE when the padded input is smaller than the kernel. */
static inline bb_status bb_window_count(int32_t in, int32_t kernel, int32_t stride,
                                        int32_t pad_before, int32_t pad_after, int32_t *out)
{
    if (in <= 0)
        return BB_ERR_SHAPE;
    if (kernel <= 0 || stride <= 0 || pad_before < 0 || pad_after < 0)
        return BB_ERR_ARGUMENT;
    if (pad_before > INT32_MAX - in || pad_after > INT32_MAX - in - pad_before ||
        in + pad_before + pad_after < kernel)
        return BB_ERR_SHAPE;
    *out = (in + pad_before + pad_after - kernel) / stride + 1;
    return BB_OK;
}

#endif /* BB_WINDOW_H */
