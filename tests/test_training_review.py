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


# ------------------------------------------------------------ cross-entropy's classes
def test_cross_entropy_over_one_class_is_refused():
    X, y = data()
    model = bb.Sequential([Linear(1)]).compile("adam", "cross_entropy", metrics=["accuracy"])
    for labels in (y, y[:, None]):  # (N, 1) was taken as one-hot rows: loss 0, accuracy 1
        with pytest.raises(ValueError, match=r"CrossEntropy needs at least 2 classes .* got "
                                             r"outputs \(64, 1\).*BinaryCrossEntropy"):
            model.fit(X, labels, verbose=0)
    with pytest.raises(ValueError, match="CrossEntropy needs at least 2 classes"):
        bb.loss.CrossEntropy()(bb.Tensor(np.zeros((4, 1), np.float32)), np.ones((4, 1)))


def test_integer_labels_in_a_column_are_not_one_hot_rows():
    X, y = data()
    model = bb.Sequential([Linear(2)]).compile("adam", "cross_entropy")
    with pytest.raises(ValueError, match=r"one-hot targets have shape \(1,\) per sample but the "
                                         r"model outputs \(2,\); they look like integer labels "
                                         r"in a column: pass y.ravel\(\)"):
        model.fit(X, y[:, None], verbose=0)


# ----------------------------------------------------------------- metrics' shapes
def test_accuracy_of_a_sequence_model_is_per_step():
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 10, (16, 5))
    bb.seed(0)
    model = bb.Sequential([bb.layers.Embedding(10, 4), bb.layers.RNN(6), Linear(10)])
    model.compile("adam", "cross_entropy", metrics=["accuracy", "precision", "recall"])
    model.fit(seq, seq, epochs=2, verbose=0)
    predicted = model.predict(seq).argmax(axis=-1)
    result = model.evaluate(seq, seq)
    assert result["accuracy"] == pytest.approx(float((predicted == seq).mean()))
    onehot = np.eye(10, dtype=np.float32)[seq]  # one-hot rows per step: the same numbers
    assert model.evaluate(seq, onehot) == pytest.approx(result)


def test_binary_metrics_score_every_label_of_a_multi_label_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, rng.random(200) > 0.5, X[:, 1] > 1], axis=1).astype(np.float32)
    bb.seed(0)
    model = bb.Sequential([Linear(3)])
    model.compile(bb.optimizers.Adam(lr=0.05), bb.loss.BinaryCrossEntropy(),
                  metrics=["accuracy", "precision", "recall"])
    model.fit(X, Y, epochs=5, verbose=0)
    result = model.evaluate(X, Y)
    predicted, true = model.predict(X) > 0, Y > 0.5  # element-wise, as Keras binary_accuracy
    tp = float((predicted & true).sum())
    assert result["accuracy"] == pytest.approx(float((predicted == true).mean()))
    assert result["precision"] == pytest.approx(tp / predicted.sum())
    assert result["recall"] == pytest.approx(tp / true.sum())


# ---------------------------------------------------------------- binary cross-entropy
def test_binary_cross_entropy_on_probabilities_refuses_outputs_outside_0_1():
    X, y = data()
    bb.seed(0)
    model = bb.Sequential([Linear(1)]).compile(
        bb.optimizers.SGD(lr=0.1), bb.loss.BinaryCrossEntropy(from_logits=False))
    with pytest.raises(ValueError, match=r"from_logits=False\) needs outputs in \[0, 1\], got "
                                         r".*add a Sigmoid layer .* or use "
                                         r"BinaryCrossEntropy\(from_logits=True\)"):
        model.fit(X * 10, y, verbose=0)
    model = bb.Sequential([Linear(1), bb.layers.Sigmoid()]).compile(
        bb.optimizers.SGD(lr=0.1), bb.loss.BinaryCrossEntropy(from_logits=False))
    model.fit(X * 10, y, verbose=0)  # with the Sigmoid: trains


@pytest.mark.parametrize("loss, name", [("mse", "MSE"), (bb.loss.BinaryCrossEntropy(),
                                                         "BinaryCrossEntropy")])
def test_targets_that_cannot_match_the_outputs_are_refused_before_training(loss, name):
    X, y = data()
    bb.seed(0)
    model = bb.Sequential([Linear(3)]).compile(bb.optimizers.SGD(lr=0.1), loss)
    start = [p.data.copy() for p in model.build((4,)).parameters()]
    with pytest.raises(ValueError, match=rf"{name}: targets of shape \(64,\) do not match the "
                                         rf"model's outputs \(64, 3\)"):
        model.fit(X, y, verbose=0)
    for p, s in zip(model.parameters(), start):
        np.testing.assert_array_equal(p.data, s)


def test_cross_entropy_of_one_hot_sequences_is_the_mean_over_every_step_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 5, 4))
    probs = rng.random((3, 5, 4))
    probs /= probs.sum(axis=-1, keepdims=True)
    x = bb.Tensor(logits, requires_grad=True)
    loss = bb.loss.CrossEntropy()(x, probs)
    loss.backward()
    t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(t.permute(0, 2, 1),
                                                 torch.tensor(probs).permute(0, 2, 1))
    expected.backward()
    assert float(loss.data) == pytest.approx(expected.item(), rel=1e-6)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-4, atol=1e-7)  # softmax: float32
