/* bb_linear.h: a float32 dense layer in one call, y = x @ w^T + bias, optionally ReLU'd.
 *
 * x is (m, k), w is (n, k) as PyTorch stores a Linear weight (out, in), bias is (n) or
 * NULL, y is (m, n); all row-major and contiguous. With relu != 0, y = max(y, 0) with
 * NaN kept (as bb_relu_f32). One call instead of a product, a bias pass and a ReLU pass
 * is what keeps batch-1 inference cheap: at m = 1 each extra call costs about as much as
 * the arithmetic. Scratch: bb_linear_f32_scratch_size(m, n, k) bytes (0 for m < 4). */
#ifndef BB_LINEAR_H
#define BB_LINEAR_H

#include <stddef.h>
#include "bb_status.h"

size_t bb_linear_f32_scratch_size(int m, int n, int k);

bb_status bb_linear_f32(int m, int n, int k, const float *x, const float *w, const float *bias,
                        int relu, float *y, void *scratch, size_t scratch_bytes);

#endif /* BB_LINEAR_H */
