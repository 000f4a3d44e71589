/* bb_batchnorm.h: float32 batch normalization (PyTorch's BatchNorm1d / BatchNorm2d),
 * forward and backward.
 *
 * x and y are (batch, channels, spatial) in memory: spatial = height * width for
 * (N, C, H, W) tensors and 1 for (N, C). Each channel is normalized over batch and
 * spatial: y = (x - mean) * invstd * gamma + beta, invstd = 1 / sqrt(var + eps).
 *
 * Training uses the batch's mean and biased variance and updates the running
 * statistics as PyTorch does: running = (1 - momentum) * running + momentum * batch,
 * with the unbiased variance for running_var. Evaluation uses the running statistics.
 * Sums are made per channel by one thread in a fixed order (deterministic). */
#ifndef BB_BATCHNORM_H
#define BB_BATCHNORM_H

#include "bb_status.h"

/* training != 0: batch statistics; needs batch * spatial >= 2 (BB_ERR_SHAPE otherwise, as
 * a variance of one value is not defined); running_mean and running_var (both or neither)
 * are updated. training == 0: running_mean and running_var are required and read.
 * gamma and beta may be NULL (1 and 0). save_mean and save_invstd (channels each) receive
 * the mean and invstd used, for the backward pass; required in training, optional in
 * evaluation. */
bb_status bb_batch_norm_f32(int batch, int channels, int spatial, const float *x,
                            const float *gamma, const float *beta, float eps, int training,
                            float momentum, float *running_mean, float *running_var, float *y,
                            float *save_mean, float *save_invstd);

/* Gradients given dy, with the save_mean / save_invstd of the forward pass and the same
 * training flag (in evaluation the statistics are constants, so dx = dy * gamma * invstd).
 * dx, dgamma and dbeta are each optional and overwritten; gamma may be NULL (1). */
bb_status bb_batch_norm_backward_f32(int batch, int channels, int spatial, const float *x,
                                     const float *gamma, const float *save_mean,
                                     const float *save_invstd, int training, const float *dy,
                                     float *dx, float *dgamma, float *dbeta);

#endif /* BB_BATCHNORM_H */
