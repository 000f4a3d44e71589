"""AdamW, the learning-rate schedules and LearningRateScheduler (against PyTorch), the
learning rate in fit's progress line and History, and image augmentation."""
import math

import numpy as np
import pytest

import braininabox as bb
from braininabox import Tensor
from braininabox.data import DataLoader, ImageAugment
from braininabox.train.schedules import CosineDecay, StepDecay

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------- AdamW
@pytest.mark.parametrize("lr, weight_decay", [(0.01, 0.01), (0.003, 0.3), (0.01, 0.0)])
def test_adamw_matches_torch_over_several_steps(lr, weight_decay):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, 7)).astype(np.float32)
    ours = Tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    opt = bb.optimizers.AdamW([ours], lr=lr, weight_decay=weight_decay)
    topt = torch.optim.AdamW([theirs], lr=lr, weight_decay=weight_decay)
    for _ in range(6):
        grad = rng.standard_normal(start.shape).astype(np.float32)
        ours.grad = grad.copy()
        theirs.grad = torch.from_numpy(grad.copy())
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(ours.data, start)


def test_adamw_decay_is_decoupled_from_adam_l2():
    """With a zero gradient Adam's L2 still moves by the full Adam step; AdamW only shrinks."""
    p = Tensor(np.full(3, 2.0, dtype=np.float32), requires_grad=True)
    opt = bb.optimizers.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = np.zeros(3, dtype=np.float32)
    opt.step()
    np.testing.assert_allclose(p.data, 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
    assert bb.optimizers.AdamW().weight_decay == 0.01


def test_a_learning_rate_passed_as_the_parameters_is_refused_clearly():
    with pytest.raises(TypeError, match=r"AdamW: the first argument is the parameters; pass the "
                                        r"learning rate by name, e.g. AdamW\(lr=0.001\)"):
        bb.optimizers.AdamW(0.001)


# ------------------------------------------------------------------ schedules
def test_cosine_decay_matches_torch_cosine_annealing():
    base, steps, alpha = 0.1, 7, 0.1
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=base)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=alpha * base)
    ours = CosineDecay(base, decay_steps=steps, alpha=alpha)
    for step in range(steps + 1):
        assert ours(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()
    assert ours(steps + 5) == pytest.approx(alpha * base)  # held at the floor afterwards
    assert CosineDecay(1.0, 4)(2) == pytest.approx(0.5)


def test_step_decay_matches_torch_steplr():
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.2)
    ours = StepDecay(0.5, step_size=3, gamma=0.2)
    for step in range(10):
        assert ours(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()


@pytest.mark.parametrize("make, message", [
    (lambda: CosineDecay(0, 10), "CosineDecay: initial_lr must be a positive number"),
    (lambda: CosineDecay(0.1, 0), "CosineDecay: decay_steps must be a positive number"),
    (lambda: CosineDecay(0.1, 10, alpha=2), r"CosineDecay: alpha must be in \[0, 1\]"),
    (lambda: StepDecay(0.1, 0), "StepDecay: step_size must be a positive integer"),
    (lambda: StepDecay(0.1, 2, gamma=-1), "StepDecay: gamma must be a positive number"),
    (lambda: StepDecay(0.1, 2)(-1), "StepDecay: the step must be an integer >= 0"),
])
def test_schedule_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------ LearningRateScheduler
def _small_problem():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    bb.seed(0)
    model = bb.Sequential([bb.layers.Linear(8), bb.layers.ReLU(), bb.layers.Linear(2)])
    return model, X, y


def test_scheduler_sets_the_rate_each_epoch_and_history_records_it(capsys):
    model, X, y = _small_problem()
    model.compile(optimizer=bb.optimizers.SGD(lr=1.0), loss="cross_entropy")
    schedule = StepDecay(0.1, step_size=2, gamma=0.5)
    history = model.fit(X, y, epochs=5, batch_size=8, verbose=1,
                        callbacks=[bb.callbacks.LearningRateScheduler(schedule)])
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert model.optimizer.lr == pytest.approx(0.025)
    out = capsys.readouterr().out
    assert "lr: 0.1" in out and "lr: 0.025" in out


def test_scheduler_with_keras_two_argument_function_and_history_without_scheduler():
    model, X, y = _small_problem()
    model.compile(optimizer=bb.optimizers.Adam(lr=0.01), loss="cross_entropy")
    scheduler = bb.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = model.fit(X, y, epochs=3, batch_size=8, verbose=0, callbacks=[scheduler])
    assert history.history["lr"] == pytest.approx([0.005, 0.0025, 0.00125])
    history = model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert history.history["lr"] == pytest.approx([0.00125, 0.00125])


def test_scheduler_errors():
    with pytest.raises(TypeError, match="LearningRateScheduler needs a function of the epoch"):
        bb.callbacks.LearningRateScheduler(0.1)
    model, X, y = _small_problem()
    model.compile(optimizer="sgd", loss="cross_entropy")
    bad = bb.callbacks.LearningRateScheduler(lambda epoch: -1.0)
    with pytest.raises(ValueError, match="the schedule returned -1.0 for epoch 0"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[bad])
    worse = bb.callbacks.LearningRateScheduler(lambda epoch: "fast")
    with pytest.raises(TypeError, match="the schedule returned 'fast' for epoch 0, not a number"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[worse])


# ------------------------------------------------------------------ augmentation
def _images(n=6, c=2, h=5, w=7, seed=2):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32) + 10


def _is_shift_of(out, image, shift, flip):
    """Whether out is image translated by some (dy, dx) with |d| <= shift, zeros shifted in,
    possibly mirrored."""
    c, h, w = image.shape
    padded = np.zeros((c, h + 2 * shift, w + 2 * shift), dtype=image.dtype)
    padded[:, shift:shift + h, shift:shift + w] = image
    for dy in range(2 * shift + 1):
        for dx in range(2 * shift + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            if np.array_equal(out, crop) or (flip and np.array_equal(out, crop[..., ::-1])):
                return True
    return False


def test_augment_shifts_and_flips_each_sample_and_never_modifies_the_input():
    X = _images(n=32)
    original = X.copy()
    out = ImageAugment(shift=2, flip=True)(X, np.random.default_rng(3))
    assert np.array_equal(X, original) and out.shape == X.shape and out.dtype == X.dtype
    assert all(_is_shift_of(o, x, 2, True) for o, x in zip(out, X))
    assert sum(np.array_equal(o, x) for o, x in zip(out, X)) < len(X)  # something moved
    flipped = ImageAugment(flip=True)(X, np.random.default_rng(4))
    mirrored = [np.array_equal(o, x[..., ::-1]) for o, x in zip(flipped, X)]
    assert 0 < sum(mirrored) < len(X)
    assert all(m or np.array_equal(o, x) for m, o, x in zip(mirrored, flipped, X))
    assert np.array_equal(ImageAugment()(X, np.random.default_rng(5)), X)


def test_dataloader_augmentation_is_seeded_off_by_default_and_keeps_the_order():
    X, y = _images(n=10), np.arange(10)
    aug = ImageAugment(shift=1, flip=True)
    plain = [(xb.copy(), yb) for xb, yb in DataLoader(X, y, batch_size=4, shuffle=True, seed=7)]
    first = [(xb, yb) for xb, yb in DataLoader(X, y, batch_size=4, shuffle=True, seed=7,
                                                   augment=aug)]
    again = [(xb, yb) for xb, yb in DataLoader(X, y, batch_size=4, shuffle=True, seed=7,
                                                   augment=aug)]
    for (xa, ya), (xb, yb), (xp, yp) in zip(first, again, plain):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)  # seeded: reproducible
        assert np.array_equal(ya, yp)  # the shuffling order does not change
        assert all(_is_shift_of(o, X[i], 1, True) for o, i in zip(xa, ya))
        assert all(np.array_equal(o, X[i]) for o, i in zip(xp, yp))  # off by default
    assert not all(np.array_equal(a[0], p[0]) for a, p in zip(first, plain))


def test_fit_with_augmentation_trains_and_is_reproducible():
    X = _images(n=32, c=1, h=6, w=6)
    y = (X[:, 0, :, :3].mean(axis=(1, 2)) > X[:, 0, :, 3:].mean(axis=(1, 2))).astype(np.int64)

    def train(augment):
        bb.seed(0)
        model = bb.Sequential([bb.layers.Conv2D(4, 3, padding="same"), bb.layers.ReLU(),
                               bb.layers.GlobalAvgPool(), bb.layers.Linear(2)])
        model.compile(optimizer="adam", loss="cross_entropy")
        model.fit(X, y, epochs=2, batch_size=8, verbose=0, seed=3, augment=augment)
        return model.predict(X)
    aug = ImageAugment(shift=1, flip=True)
    with_aug = train(aug)
    assert np.array_equal(with_aug, train(aug))
    assert not np.allclose(with_aug, train(None))


@pytest.mark.parametrize("call, error, message", [
    (lambda: ImageAugment(shift=-1), ValueError, "ImageAugment: shift must be an integer >= 0"),
    (lambda: ImageAugment(shift=1.5), ValueError, "ImageAugment: shift must be an integer >= 0"),
    (lambda: ImageAugment(flip="yes"), ValueError, "ImageAugment: flip must be True or False"),
    (lambda: ImageAugment()(np.zeros((2, 5, 5)), np.random.default_rng()), ValueError,
     r"ImageAugment expects image batches \(N, C, H, W\), got shape \(2, 5, 5\); add a channel"),
    (lambda: DataLoader(np.zeros((4, 3)), augment=ImageAugment(1)), ValueError,
     r"augment needs images X \(N, C, H, W\), got shape \(4, 3\)"),
    (lambda: DataLoader(np.zeros((4, 1, 3, 3)), augment={"shift": 1}), TypeError,
     "augment must be an ImageAugment"),
])
def test_augment_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
