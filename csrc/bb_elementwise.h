/* bb_elementwise.h: float32 elementwise kernels that profiling showed hot in training. */
#ifndef BB_ELEMENTWISE_H
#define BB_ELEMENTWISE_H

#include <stddef.h>
#include "bb_status.h"

/* y = max(x, 0) over n values; y may equal x. NaN stays NaN. */
bb_status bb_relu_f32(size_t n, const float *x, float *y);

/* dx = dy where x > 0, else 0 (the subgradient 0 at x = 0, as PyTorch). dx may equal dy. */
bb_status bb_relu_backward_f32(size_t n, const float *x, const float *dy, float *dx);

#endif /* BB_ELEMENTWISE_H */
