/* bb_optim.c: SGD, Adam and RMSprop updates, mirroring torch.optim's single-tensor path.
 *
 * To stay as close to PyTorch as float32 hyper-parameters allow, the element-wise
 * operations are written in the order PyTorch's CPU kernels evaluate them, and the
 * per-step scalars (bias corrections, step size) are computed in double as Python
 * does, then rounded to float once. */
#include <math.h>
#include <stddef.h>
#include "bb_optim.h"

/* PyTorch's vectorized CPU kernels compute add(x, alpha=a) and lerp as fused
 * multiply-adds. Where the target has a fast FMA (C99's FP_FAST_FMAF) do the same,
 * which makes SGD bit-identical to torch.optim.SGD; elsewhere, a plain multiply-add. */
#ifdef FP_FAST_FMAF
#define MUL_ADD(a, b, c) fmaf(a, b, c)
#else
#define MUL_ADD(a, b, c) ((a) * (b) + (c))
#endif

/* '!(x >= 0)' rather than 'x < 0' so that NaN hyper-parameters are rejected too. */
static int is_non_negative(float x) { return x >= 0.0f; }
static int is_beta(float b) { return b >= 0.0f && b < 1.0f; }

bb_status bb_sgd_step_f32(size_t n, float *param, const float *grad, float *velocity,
                          float lr, float momentum, float weight_decay, int nesterov)
{
    if (!is_non_negative(lr) || !is_non_negative(momentum) || !is_non_negative(weight_decay))
        return BB_ERR_ARGUMENT;
    if (nesterov && momentum == 0.0f) /* torch.optim.SGD rejects this too */
        return BB_ERR_ARGUMENT;
    if (n == 0)
        return BB_OK;
    if (param == NULL || grad == NULL || (momentum != 0.0f && velocity == NULL))
        return BB_ERR_NULL;

    /* The branches are loop-invariant: compilers unswitch them out of the loop. */
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (weight_decay != 0.0f)
            g = MUL_ADD(weight_decay, param[i], g);
        if (momentum != 0.0f) {
            float buf = velocity[i] * momentum + g;
            velocity[i] = buf;
            g = nesterov ? MUL_ADD(momentum, buf, g) : buf;
        }
        param[i] = MUL_ADD(-lr, g, param[i]);
    }
    return BB_OK;
}

bb_status bb_adam_step_f32(size_t n, float *param, const float *grad, float *m, float *v,
                           float lr, float beta1, float beta2, float eps, float weight_decay,
                           int step)
{
    if (!is_non_negative(lr) || !is_non_negative(eps) || !is_non_negative(weight_decay) ||
        !is_beta(beta1) || !is_beta(beta2) || step < 1)
        return BB_ERR_ARGUMENT;
    if (n == 0)
        return BB_OK;
    if (param == NULL || grad == NULL || m == NULL || v == NULL)
        return BB_ERR_NULL;

    const double bias_correction1 = 1.0 - pow((double)beta1, (double)step);
    const double bias_correction2 = 1.0 - pow((double)beta2, (double)step);
    const float neg_step_size = (float)(-(double)lr / bias_correction1);
    const float bc2_sqrt = (float)sqrt(bias_correction2);
    /* torch's lerp_(grad, w) computes m + w*(g - m) for w < 0.5 and g - (1 - w)*(g - m)
     * otherwise (better rounding near each end); both are base + coeff * (g - m). */
    const double w1 = 1.0 - (double)beta1;
    const int small_w = w1 < 0.5;
    const float lerp_coeff = small_w ? (float)w1 : (float)w1 - 1.0f;
    const float one_minus_beta2 = (float)(1.0 - (double)beta2);

    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (weight_decay != 0.0f)
            g = MUL_ADD(weight_decay, param[i], g);
        const float mi = MUL_ADD(lerp_coeff, g - m[i], small_w ? m[i] : g);
        const float vi = v[i] * beta2 + one_minus_beta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        param[i] = param[i] + neg_step_size * mi / denom;
    }
    return BB_OK;
}

bb_status bb_rmsprop_step_f32(size_t n, float *param, const float *grad, float *square_avg,
                              float *grad_avg, float *momentum_buf, float lr, float alpha,
                              float eps, float weight_decay, float momentum, int centered)
{
    if (!is_non_negative(lr) || !is_non_negative(eps) || !is_non_negative(weight_decay) ||
        !is_non_negative(momentum) || !(alpha >= 0.0f && alpha <= 1.0f))
        return BB_ERR_ARGUMENT;
    if (n == 0)
        return BB_OK;
    if (param == NULL || grad == NULL || square_avg == NULL || (centered && grad_avg == NULL) ||
        (momentum != 0.0f && momentum_buf == NULL))
        return BB_ERR_NULL;

    const float one_minus_alpha = 1.0f - alpha;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (weight_decay != 0.0f)
            g = MUL_ADD(weight_decay, param[i], g);
        const float sq = square_avg[i] * alpha + one_minus_alpha * g * g;
        square_avg[i] = sq;
        float denom;
        if (centered) {
            const float ga = MUL_ADD(one_minus_alpha, g - grad_avg[i], grad_avg[i]);
            grad_avg[i] = ga;
            denom = sqrtf(sq - ga * ga) + eps;
        } else {
            denom = sqrtf(sq) + eps;
        }
        if (momentum != 0.0f) {
            const float buf = momentum_buf[i] * momentum + g / denom;
            momentum_buf[i] = buf;
            param[i] = MUL_ADD(-lr, buf, param[i]);
        } else {
            param[i] = param[i] + -lr * g / denom;
        }
    }
    return BB_OK;
}
