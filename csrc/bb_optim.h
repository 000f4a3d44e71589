/* bb_optim.h: in-place parameter updates over flat float32 arrays.
 *
 * The arithmetic follows PyTorch's torch.optim (single-tensor path), so the same
 * gradients give the same parameters up to float32 rounding. */
#ifndef BB_OPTIM_H
#define BB_OPTIM_H

#include <stddef.h>
#include "bb_status.h"

/* g = grad + weight_decay * param; with momentum > 0: velocity = momentum * velocity + g
 * (velocity starts at zero, which equals PyTorch's first-step copy), g = velocity, or
 * g + momentum * velocity when nesterov; then param -= lr * g. velocity may be NULL only
 * when momentum == 0. */
bb_status bb_sgd_step_f32(size_t n, float *param, const float *grad, float *velocity,
                          float lr, float momentum, float weight_decay, int nesterov);

/* Adam (Kingma & Ba) with bias correction; step is the 1-based step count. m and v are the
 * first and second moment buffers (start at zero). weight_decay is L2 added to the
 * gradient, as in torch.optim.Adam (not AdamW). */
bb_status bb_adam_step_f32(size_t n, float *param, const float *grad, float *m, float *v,
                           float lr, float beta1, float beta2, float eps, float weight_decay,
                           int step);

#endif /* BB_OPTIM_H */
