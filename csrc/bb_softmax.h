/* bb_softmax.h: softmax, log-softmax and fused cross-entropy over the last axis.
 *
 * Inputs are (rows, cols), row-major. All are numerically stable for large logits:
 * the row maximum is subtracted before exponentiating. */
#ifndef BB_SOFTMAX_H
#define BB_SOFTMAX_H

#include <stdint.h>
#include "bb_status.h"

bb_status bb_softmax_f32(int rows, int cols, const float *x, float *y);

/* Given y = softmax(x) and dy, writes dx = y * (dy - sum(dy * y)). */
bb_status bb_softmax_backward_f32(int rows, int cols, const float *y, const float *dy, float *dx);

bb_status bb_log_softmax_f32(int rows, int cols, const float *x, float *y);

/* Given y = log_softmax(x) and dy, writes dx = dy - exp(y) * sum(dy). */
bb_status bb_log_softmax_backward_f32(int rows, int cols, const float *y, const float *dy, float *dx);

/* Mean cross-entropy of logits (rows, cols) against integer labels (rows) in [0, cols).
 * With class_weights (cols, may be NULL) each row's loss is scaled by the weight of its
 * label and the mean divides by the sum of those weights (as PyTorch does).
 * *loss receives the mean; dlogits (rows, cols, may be NULL) receives d(mean)/d(logits).
 * A label out of range returns BB_ERR_LABEL and writes nothing. */
bb_status bb_cross_entropy_f32(int rows, int cols, const float *logits, const int32_t *labels,
                               const float *class_weights, float *loss, float *dlogits);

#endif /* BB_SOFTMAX_H */
