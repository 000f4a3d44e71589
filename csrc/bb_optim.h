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

/* RMSprop (Hinton), as torch.optim.RMSprop: g = grad + weight_decay * param;
 * square_avg = alpha * square_avg + (1 - alpha) * g^2; when centered, grad_avg moves
 * toward g by (1 - alpha) and the denominator is sqrt(square_avg - grad_avg^2) + eps,
 * else sqrt(square_avg) + eps; with momentum > 0, buf = momentum * buf + g / denom and
 * param -= lr * buf, else param -= lr * g / denom. The buffers start at zero; grad_avg
 * may be NULL unless centered, momentum_buf unless momentum > 0. */
bb_status bb_rmsprop_step_f32(size_t n, float *param, const float *grad, float *square_avg,
                              float *grad_avg, float *momentum_buf, float lr, float alpha,
                              float eps, float weight_decay, float momentum, int centered);

#endif /* BB_OPTIM_H */
