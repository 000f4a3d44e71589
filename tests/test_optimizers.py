"""Optimizers: Adam and SGD against float64 numpy re-implementations of torch.optim's update
rules (always run) and against torch.optim itself (when torch is installed)."""
import numpy as np
import pytest

import braininabox as bb
from braininabox.train.optimizers import SGD, Adam, RMSprop

SHAPES = [(4, 3), (3,), (2, 2, 3, 3)]
STEPS = 10


def _problem(seed=0, steps=STEPS):
    """Initial parameter values and a fixed sequence of gradients (float32)."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    # gradients of varied scale, so that eps and the bias corrections matter
    grads = [[(rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2)).astype(np.float32)
              for s in SHAPES] for _ in range(steps)]
    return init, grads


def _run_bb(make_optimizer, init, grads, skip=()):
    """Run a braininabox optimizer; (step, i) in skip leaves param i's grad None at that step."""
    params = [bb.Tensor(p.copy(), requires_grad=True) for p in init]
    opt = make_optimizer(params)
    for t, step_grads in enumerate(grads):
        opt.zero_grad()
        for i, (p, g) in enumerate(zip(params, step_grads)):
            if (t, i) not in skip:
                p.grad = g.copy()
        opt.step()
    return [p.data for p in params]


# ---------------------------------------------------- float64 references (torch rules)
def _adam_reference(init, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    skip=()):
    b1, b2 = betas
    params = [p.astype(np.float64) for p in init]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    count = [0] * len(params)
    for t, step_grads in enumerate(grads):
        for i, g in enumerate(step_grads):
            if (t, i) in skip:
                continue
            count[i] += 1
            g = g.astype(np.float64)
            if weight_decay:
                g = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            bc1 = 1 - b1 ** count[i]
            bc2 = 1 - b2 ** count[i]
            denom = np.sqrt(v[i]) / np.sqrt(bc2) + eps
            params[i] = params[i] - lr / bc1 * m[i] / denom
    return params


def _sgd_reference(init, grads, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False,
                   skip=()):
    params = [p.astype(np.float64) for p in init]
    buf = [None] * len(params)
    for t, step_grads in enumerate(grads):
        for i, g in enumerate(step_grads):
            if (t, i) in skip:
                continue
            g = g.astype(np.float64)
            if weight_decay:
                g = g + weight_decay * params[i]
            if momentum:
                buf[i] = g.copy() if buf[i] is None else momentum * buf[i] + g
                g = g + momentum * buf[i] if nesterov else buf[i]
            params[i] = params[i] - lr * g
    return params


def _run_torch(make_optimizer, init, grads, skip=()):
    torch = pytest.importorskip("torch")
    params = [torch.nn.Parameter(torch.tensor(p.copy())) for p in init]
    opt = make_optimizer(params)
    for t, step_grads in enumerate(grads):
        opt.zero_grad(set_to_none=True)
        for i, (p, g) in enumerate(zip(params, step_grads)):
            if (t, i) not in skip:
                p.grad = torch.tensor(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params]


def _assert_close(ours, reference, atol):
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


ADAM_CONFIGS = [
    dict(),
    dict(lr=0.01),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.3, 0.9), weight_decay=0.01),   # 1 - beta1 >= 0.5 branch
]
SGD_CONFIGS = [
    dict(lr=0.01),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.9, weight_decay=0.01),
    dict(lr=0.01, momentum=0.9, nesterov=True),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.05),
]


# ----------------------------------------------------------------------- Adam
@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_matches_numpy_reference(config):
    init, grads = _problem(seed=1)
    ours = _run_bb(lambda ps: Adam(ps, **config), init, grads)
    ref = _adam_reference(init, grads, **config)
    _assert_close(ours, ref, atol=2e-6)
    # and the parameters did move (by roughly lr per step at most)
    moved = max(np.abs(a - b).max() for a, b in zip(ours, init))
    assert moved > 0.5 * config.get("lr", 1e-3)


@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_matches_torch(config):
    torch = pytest.importorskip("torch")
    init, grads = _problem(seed=2)
    ours = _run_bb(lambda ps: Adam(ps, **config), init, grads)
    theirs = _run_torch(lambda ps: torch.optim.Adam(ps, **config), init, grads)
    _assert_close(ours, theirs, atol=1e-6)


def test_adam_first_step_moves_each_weight_by_lr():
    # With bias correction the first Adam step is lr * sign(g) (for |g| >> eps).
    p = bb.Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    p.grad = np.array([3.0, -0.5, 1e-2, -200.0], dtype=np.float32)
    Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, -0.1, 0.1], rtol=1e-5)


# ------------------------------------------------------------------------ SGD
@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_matches_numpy_reference(config):
    init, grads = _problem(seed=3)
    ours = _run_bb(lambda ps: SGD(ps, **config), init, grads)
    ref = _sgd_reference(init, grads, **config)
    _assert_close(ours, ref, atol=2e-6)


@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_matches_torch(config):
    torch = pytest.importorskip("torch")
    init, grads = _problem(seed=4)
    ours = _run_bb(lambda ps: SGD(ps, **config), init, grads)
    theirs = _run_torch(lambda ps: torch.optim.SGD(ps, **config), init, grads)
    _assert_close(ours, theirs, atol=1e-6)


def test_sgd_plain_step_by_hand():
    p = bb.Tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    p.grad = np.array([0.5, 4.0], dtype=np.float32)
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.4], rtol=1e-6)


def test_sgd_momentum_by_hand():
    p = bb.Tensor(np.array([0.0], dtype=np.float32), requires_grad=True)
    opt = SGD([p], lr=1.0, momentum=0.5)
    for _ in range(3):
        p.grad = np.array([1.0], dtype=np.float32)
        opt.step()
    # velocities 1, 1.5, 1.75 -> p = -(1 + 1.5 + 1.75)
    np.testing.assert_allclose(p.data, [-4.25], rtol=1e-6)


# -------------------------------------------------------- skipped params (grad None)
@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_params_without_grad_are_skipped(name):
    init, grads = _problem(seed=5)
    # param 1 has no gradient for the first 4 steps, param 2 never has one
    skip = {(t, 1) for t in range(4)} | {(t, 2) for t in range(STEPS)}
    if name == "adam":
        config = dict(lr=0.01, weight_decay=0.01)
        ours = _run_bb(lambda ps: Adam(ps, **config), init, grads, skip)
        ref = _adam_reference(init, grads, skip=skip, **config)
    else:
        config = dict(lr=0.01, momentum=0.9, weight_decay=0.01)
        ours = _run_bb(lambda ps: SGD(ps, **config), init, grads, skip)
        ref = _sgd_reference(init, grads, skip=skip, **config)
    _assert_close(ours, ref, atol=2e-6)
    np.testing.assert_array_equal(ours[2], init[2])   # untouched, even with weight decay


def test_skipped_params_match_torch():
    torch = pytest.importorskip("torch")
    init, grads = _problem(seed=6)
    skip = {(t, 0) for t in range(3)} | {(7, 1)}
    config = dict(lr=0.01, weight_decay=0.1)
    ours = _run_bb(lambda ps: Adam(ps, **config), init, grads, skip)
    theirs = _run_torch(lambda ps: torch.optim.Adam(ps, **config), init, grads, skip)
    _assert_close(ours, theirs, atol=1e-6)


# ------------------------------------------------------------------ mechanics
def test_step_without_params_raises():
    for opt in (Adam(), SGD()):
        with pytest.raises(RuntimeError, match="has no parameters"):
            opt.step()


def test_zero_grad_clears_gradients():
    a = bb.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = bb.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    (a.sum() * 2 + (b * b).sum()).backward()
    assert a.grad is not None and b.grad is not None
    opt = SGD([a, b], lr=0.1)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    before = (a.data.copy(), b.data.copy())
    opt.step()                       # nothing to do: no gradients
    np.testing.assert_array_equal(a.data, before[0])
    np.testing.assert_array_equal(b.data, before[1])


def test_updates_in_place_from_backward_gradients():
    # minimise ||w - c||^2 with gradients from autograd
    c = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    w = bb.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    data_id = id(w.data)
    opt = Adam([w], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        d = w - c
        (d * d).sum().backward()
        opt.step()
    assert id(w.data) == data_id     # in place: callers holding w.data see the update
    np.testing.assert_allclose(w.data, c, atol=1e-2)


def test_lr_zero_changes_nothing():
    init, grads = _problem(seed=7)
    for make in (lambda ps: Adam(ps, lr=0.0), lambda ps: SGD(ps, lr=0.0, momentum=0.9)):
        ours = _run_bb(make, init, grads)
        for a, b in zip(ours, init):
            np.testing.assert_array_equal(a, b)


def test_bind_makes_float32_contiguous():
    p = bb.Tensor(np.ones((3, 4)), requires_grad=True, dtype=np.float64)
    opt = SGD([p], lr=0.5)
    assert p.dtype == np.float32 and p.data.flags.c_contiguous
    p.grad = np.ones((3, 4))
    opt.step()
    np.testing.assert_allclose(p.data, 0.5)


def test_state_is_per_parameter():
    a = bb.Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    b = bb.Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = np.ones(2, dtype=np.float32)
    opt.step()
    opt.step()
    b.grad = np.ones(2, dtype=np.float32)
    a.grad = None
    opt.step()
    # b's first step is a full lr step, whatever a did before
    np.testing.assert_allclose(b.data, [-0.1, -0.1], rtol=1e-5)
    assert opt.state[0][2] == 2 and opt.state[1][2] == 1


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(lr=-0.1), "learning rate must be >= 0"),
    (lambda: SGD(lr=float("nan")), "learning rate must be >= 0"),
    (lambda: Adam(lr=-1e-3), "learning rate must be >= 0"),
    (lambda: Adam(lr=float("nan")), "learning rate must be >= 0"),
    (lambda: SGD(momentum=-0.9), "momentum and weight_decay must be >= 0"),
    (lambda: SGD(weight_decay=-1.0), "momentum and weight_decay must be >= 0"),
    (lambda: SGD(nesterov=True), "nesterov=True needs a momentum > 0"),
    (lambda: Adam(betas=(1.0, 0.999)), r"betas must be a pair in \[0, 1\)"),
    (lambda: Adam(betas=(0.9, -0.1)), r"betas must be a pair in \[0, 1\)"),
    (lambda: Adam(betas=(0.9,)), r"betas must be a pair in \[0, 1\)"),
    (lambda: Adam(eps=-1e-8), "eps and weight_decay must be >= 0"),
    (lambda: Adam(eps=float("nan")), "eps and weight_decay must be >= 0"),
    (lambda: Adam(weight_decay=-0.1), "eps and weight_decay must be >= 0"),
])
def test_bad_hyper_parameters_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# -------------------------------------------------------------------- RMSprop
RMSPROP_CONFIGS = [dict(lr=1e-2), dict(lr=1e-3, alpha=0.9, eps=1e-6),
                   dict(lr=1e-2, weight_decay=0.1), dict(lr=1e-2, momentum=0.9),
                   dict(lr=1e-2, centered=True), dict(lr=3e-3, centered=True, momentum=0.5,
                                                      weight_decay=0.01)]


@pytest.mark.parametrize("config", RMSPROP_CONFIGS)
def test_rmsprop_matches_torch(config):
    torch = pytest.importorskip("torch")
    init, grads = _problem(seed=5)
    ours = _run_bb(lambda ps: RMSprop(ps, **config), init, grads)
    theirs = _run_torch(lambda ps: torch.optim.RMSprop(ps, **config), init, grads)
    _assert_close(ours, theirs, atol=2e-6)
    moved = max(np.abs(a - b).max() for a, b in zip(ours, init))
    assert moved > config["lr"]


def test_rmsprop_first_step_by_hand_and_bad_settings():
    # square_avg = (1 - alpha) g^2, so the first step is lr * g / (sqrt(1 - alpha) |g| + eps)
    p = bb.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    p.grad = np.array([2.0, -0.5, 1e-3], dtype=np.float32)
    RMSprop([p], lr=0.1, alpha=0.99, eps=0.0).step()
    np.testing.assert_allclose(p.data, [-1.0, 1.0, -1.0], rtol=1e-5)
    with pytest.raises(ValueError, match="RMSprop: alpha must be in \\[0, 1\\], got 1.5"):
        RMSprop([p], alpha=1.5)
    with pytest.raises(ValueError, match="eps, weight_decay and momentum must be >= 0"):
        RMSprop([p], momentum=-0.1)
    model = bb.Sequential([bb.layers.Linear(2)]).compile("rmsprop", "cross_entropy")
    assert type(model.optimizer) is RMSprop
