"""Fixes from the float-training review (a new user's mistakes that trained wrongly or
failed with a raw message): each test fails on the code before its fix."""
import numpy as np
import pytest

import braininabox as bb
from braininabox.nn.layers import Linear, ReLU


def data(n=64, features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


# ------------------------------------------------ the optimizer trains model.parameters()
def test_an_optimizer_used_by_two_models_trains_the_second():
    X, y = data()
    opt = bb.optimizers.Adam(lr=0.05)
    bb.seed(0)
    m1 = bb.Sequential([Linear(2)]).compile(opt, "cross_entropy")
    m1.fit(X, y, epochs=1, verbose=0)
    m1_weights = [p.data.copy() for p in m1.parameters()]
    m2 = bb.Sequential([Linear(2)]).compile(opt, "cross_entropy")
    m2_start = [p.data.copy() for p in m2.build((4,)).parameters()]
    m2.fit(X, y, epochs=2, batch_size=64, verbose=0)
    assert all(not np.allclose(p.data, w) for p, w in zip(m2.parameters(), m2_start))
    for p, w in zip(m1.parameters(), m1_weights):  # m1 is no longer touched
        np.testing.assert_array_equal(p.data, w)
    assert [id(p) for p in opt.params] == [id(p) for p in m2.parameters()]
    assert all(state[2] == 2 for state in opt.state.values())  # fresh Adam state: 2 steps


def test_layers_added_after_fit_are_trained_and_state_survives_otherwise():
    X, y = data()
    bb.seed(0)
    opt = bb.optimizers.Adam(lr=0.05)
    m = bb.Sequential([Linear(8), ReLU(), Linear(2)]).compile(opt, "cross_entropy")
    m.fit(X, y, epochs=1, batch_size=64, verbose=0)
    m.fit(X, y, epochs=1, batch_size=64, verbose=0)  # same parameters: the state goes on
    assert all(state[2] == 2 for state in opt.state.values())
    m.add(ReLU())
    m.add(Linear(3))  # another output width: the model is built again for its shapes
    m.fit(X, y, epochs=1, batch_size=64, verbose=0)
    assert m.layers[-1].weight.shape == (3, 2)
    w0 = m.layers[-1].weight.data.copy()
    m.fit(X, y, epochs=2, batch_size=64, verbose=0)
    assert not np.allclose(w0, m.layers[-1].weight.data)
    assert len(opt.params) == 6 and m.predict(X).shape == (64, 3)
