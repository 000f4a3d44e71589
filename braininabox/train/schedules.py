"""Learning-rate schedules: callables from a step (an epoch, with
bb.callbacks.LearningRateScheduler) to a learning rate.

    schedule = bb.optimizers.schedules.CosineDecay(0.01, decay_steps=20)
    model.fit(X, y, epochs=20, callbacks=[bb.callbacks.LearningRateScheduler(schedule)])
"""
import math


def _positive(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or not math.isfinite(value):
        raise ValueError(f"{who}: {name} must be a positive number, got {value!r}")
    return value


def _step(step, who):
    if isinstance(step, bool) or not isinstance(step, int) and not float(step).is_integer() \
            or step < 0:
        raise ValueError(f"{who}: the step must be an integer >= 0, got {step!r}")
    return int(step)


class CosineDecay:
    """initial_lr * ((1 - alpha) * (1 + cos(pi * step / decay_steps)) / 2 + alpha), and
    initial_lr * alpha from decay_steps on (Keras's CosineDecay)."""

    def __init__(self, initial_lr, decay_steps, alpha=0.0):
        self.initial_lr = _positive(initial_lr, "initial_lr", "CosineDecay")
        self.decay_steps = _positive(decay_steps, "decay_steps", "CosineDecay")
        if not 0 <= alpha <= 1:
            raise ValueError(f"CosineDecay: alpha must be in [0, 1], got {alpha!r}")
        self.alpha = alpha

    def __call__(self, step):
        progress = min(_step(step, "CosineDecay"), self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.initial_lr * ((1.0 - self.alpha) * cosine + self.alpha)

    def __repr__(self):
        return (f"CosineDecay(initial_lr={self.initial_lr}, decay_steps={self.decay_steps}, "
                f"alpha={self.alpha})")


class StepDecay:
    """initial_lr * gamma ** (step // step_size): the rate drops by a factor gamma every
    step_size steps (PyTorch's StepLR)."""

    def __init__(self, initial_lr, step_size, gamma=0.1):
        self.initial_lr = _positive(initial_lr, "initial_lr", "StepDecay")
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepDecay: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = _positive(gamma, "gamma", "StepDecay")

    def __call__(self, step):
        return self.initial_lr * self.gamma ** (_step(step, "StepDecay") // self.step_size)

    def __repr__(self):
        return (f"StepDecay(initial_lr={self.initial_lr}, step_size={self.step_size}, "
                f"gamma={self.gamma})")
