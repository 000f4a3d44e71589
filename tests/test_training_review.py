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


def test_an_optimizer_made_with_some_of_the_models_parameters_trains_only_those():
    """Freezing, PyTorch's way: the optimizer holds the layers to train; fit keeps it."""
    X, y = data()
    bb.seed(0)
    m = bb.Sequential([Linear(8), ReLU(), Linear(2)])
    m.build((4,))
    frozen = [p.data.copy() for p in m.layers[0].parameters()]
    head = m.layers[-1].weight.data.copy()
    opt = bb.optimizers.Adam(m.layers[-1].parameters(), lr=0.05)
    m.compile(opt, "cross_entropy").fit(X, y, epochs=2, batch_size=16, verbose=0)
    for p, w in zip(m.layers[0].parameters(), frozen):
        np.testing.assert_array_equal(p.data, w)
    assert not np.allclose(m.layers[-1].weight.data, head)
    assert [id(p) for p in opt.params] == [id(p) for p in m.layers[-1].parameters()]
    other = bb.Sequential([Linear(2)]).compile(opt, "cross_entropy")   # not its parameters
    other.fit(X, y, epochs=1, verbose=0)
    assert [id(p) for p in opt.params] == [id(p) for p in other.parameters()]


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


# ------------------------------------------------------------ clear messages (table 2.2)
def small(units=2, loss="cross_entropy"):
    bb.seed(0)
    return bb.Sequential([Linear(units)]).compile("adam", loss)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda X, y: small().fit(X, None, verbose=0), ValueError, r"fit: y is None"),
    (lambda X, y: small().fit(None, y, verbose=0), ValueError, r"fit: X is None"),
    (lambda X, y: small().fit(X, y, verbose=0, validation_data=(X,)), ValueError,
     r"validation_data must be a pair \(X_val, y_val\), got tuple of 1"),
    (lambda X, y: small().fit(X, y, verbose=0, validation_data=(X[:, :3], y)), ValueError,
     r"validation_data has samples of shape \(3,\), the training X \(4,\)"),
    (lambda X, y: small().fit(X, y, verbose=0, callbacks=bb.callbacks.EarlyStopping(
        monitor="loss")), TypeError, r"callbacks must be a list of Callback objects, e\.g\. "
                                     r"callbacks=\[EarlyStopping\(\)\], got EarlyStopping"),
    (lambda X, y: bb.Sequential([]).compile("adam", "mse").fit(X, y, verbose=0), ValueError,
     r"the Sequential model has no layers"),
    (lambda X, y: bb.Sequential([Linear(2)]).build((None, 4)), ValueError,
     r"input_shape is one sample's shape, without the batch axis: build\(\(4,\)\), not "
     r"build\(\(None, 4\)\)"),
    (lambda X, y: small().build((4,)).predict(X[0]), ValueError,
     r"takes a batch \(N, 4\); for one sample of shape \(4,\) pass X\[None\]"),
    (lambda X, y: small().predict(np.full((1, 4), np.nan)), ValueError,
     r"predict: X contains NaN or infinity \(first at sample 0\); clean or impute the data "
     r"first$"),
    (lambda X, y: bb.optimizers.Adam(lr="0.1"), TypeError, r"Adam: lr must be a number, got '0.1'"),
    (lambda X, y: bb.optimizers.SGD([np.zeros(3)]), TypeError,
     r"SGD: parameter 0 is a ndarray, not a Tensor \(pass model.parameters\(\)\)"),
    (lambda X, y: bb.seed("abc"), TypeError, r"seed must be an integer >= 0 \(or None\), got 'abc'"),
    (lambda X, y: small().compile("adam", lambda out, t: out.sum()), TypeError,
     r"loss must be a braininabox loss, got function; for a loss of your own, subclass "
     r"bb.loss.Loss"),
    (lambda X, y: small().compile("adam", "mse", metrics=[lambda t, p: 0]), TypeError,
     r"metrics are given by name"),
])
def test_common_mistakes_get_messages_that_name_them(call, error, pattern):
    X, y = data(20)
    with pytest.raises(error, match=pattern):
        call(X, y)


def test_one_image_or_a_graph_sample_gets_the_batch_axis_hint():
    img = bb.Sequential([bb.layers.Conv2D(2, 3), bb.layers.Flatten(), Linear(2)]).build((3, 8, 8))
    with pytest.raises(ValueError, match=r"for one sample of shape \(3, 8, 8\) pass X\[None\]"):
        img.predict(np.zeros((3, 8, 8), np.float32))
    conv = bb.layers.Conv2D(2, 3)  # a layer alone cannot tell: both fixes are named
    with pytest.raises(ValueError, match=r"one-channel images add the channel axis, X\[:, None\]"
                                         r"; for one image \(C, H, W\) add the batch axis, "
                                         r"X\[None\]"):
        conv(np.zeros((3, 8, 8), np.float32))
    x = bb.Input((4,))
    g = bb.Model(inputs=x, outputs=Linear(2)(x))
    with pytest.raises(ValueError, match=r"Model takes a batch \(N, 4\); for one sample of "
                                         r"shape \(4,\) pass X\[None\]"):
        g.predict(np.zeros(4, np.float32))


@pytest.mark.parametrize("op, shape", [
    (lambda x: bb.functional.conv2d(x, np.ones((1, 1, 3, 3), np.float32)), (0, 1, 4, 4)),
    (lambda x: bb.functional.depthwise_conv2d(x, np.ones((1, 1, 3, 3), np.float32)), (0, 1, 4, 4)),
    (lambda x: bb.functional.max_pool2d(x, 2), (0, 1, 4, 4)),
    (lambda x: bb.functional.avg_pool2d(x, 2), (0, 1, 4, 4)),
    (lambda x: bb.functional.global_avg_pool2d(x), (0, 1, 4, 4)),
    (lambda x: bb.functional.softmax(x), (0, 3)),
    (lambda x: bb.functional.cross_entropy(x, np.zeros(0, np.int64)), (0, 3)),
])
def test_an_empty_batch_to_a_c_kernel_is_named(op, shape):
    with pytest.raises(ValueError, match=rf"the input is empty \(shape "
                                         rf"\({shape[0]}, {shape[1]}.*\)\); it needs at least one "
                                         rf"sample"):
        op(np.zeros(shape, np.float32))


# -------------------------------------------------------------------------- Tensor **
def test_pow_matches_torch_at_zero_and_for_negative_bases():
    torch = pytest.importorskip("torch")
    for p in (0, 0.0, 1, 2, 3):
        x = bb.Tensor([0.0, -1.5, 2.0], requires_grad=True, dtype=np.float64)
        (x ** p).sum().backward()
        t = torch.tensor([0.0, -1.5, 2.0], requires_grad=True, dtype=torch.float64)
        (t ** p).sum().backward()
        np.testing.assert_allclose(x.grad, t.grad.numpy(), err_msg=f"p={p}")
    base = np.array([-2.0, 3.0, 0.0, 0.0, -1.5, 2.0])
    exp = np.array([2.0, 2.0, 0.0, 3.0, 3.0, 0.5])
    x = bb.Tensor(base, requires_grad=True, dtype=np.float64)
    e = bb.Tensor(exp, requires_grad=True, dtype=np.float64)
    y = x ** e
    (y * bb.Tensor(np.arange(1.0, 7.0), dtype=np.float64)).sum().backward()
    tx = torch.tensor(base, requires_grad=True)
    te = torch.tensor(exp, requires_grad=True)
    ty = tx ** te
    (ty * torch.arange(1.0, 7.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy())
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(e.grad, te.grad.numpy())  # NaN where torch's is (log of -1.5)
    r = 2.0 ** bb.Tensor([-1.0, 3.0], requires_grad=True)  # __rpow__
    np.testing.assert_allclose(r.data, [0.5, 8.0])


# ----------------------------------------------------------------- float64 gradients
@pytest.mark.parametrize("op", [
    lambda x: bb.functional.conv2d(x, np.ones((2, 1, 3, 3))),
    lambda x: bb.functional.max_pool2d(x, 2),
    lambda x: bb.functional.softmax(x.reshape(2, 16)),
    lambda x: bb.functional.cross_entropy(x.reshape(2, 16), np.array([1, 3])),
])
def test_a_float64_leaf_gets_a_float64_grad_from_a_float32_kernel(op):
    rng = np.random.default_rng(0)
    x = bb.Tensor(rng.standard_normal((2, 1, 4, 4)), requires_grad=True, dtype=np.float64)
    out = op(x)
    (out.sum() if out.ndim else out).backward()
    assert x.grad.dtype == np.float64
    w = bb.Tensor(np.ones(3), requires_grad=True)  # float32 in a float64 expression
    (w * bb.Tensor(np.ones(3), dtype=np.float64)).sum().backward()
    assert w.grad.dtype == np.float32


# ------------------------------------------------------- BatchNorm and the divergence guard
def bn_model():
    bb.seed(0)
    return bb.Sequential([Linear(8), bb.layers.BatchNorm(), ReLU(), Linear(2)]).compile(
        "adam", "cross_entropy")


def test_a_final_batch_of_one_sample_under_batch_norm_is_refused_before_training():
    X, y = data(33)
    model = bn_model()
    start = [p.data.copy() for p in model.build((4,)).parameters()]
    with pytest.raises(ValueError, match=r"BatchNorm \(layer 1\) needs more than one value per "
                                         r"channel in training, but with 33 samples and "
                                         r"batch_size=32 a batch has one sample: choose another "
                                         r"batch_size, or fit\(bb.data.DataLoader\(X, y, "
                                         r"batch_size=32, shuffle=True, drop_last=True\)\)"):
        model.fit(X, y, batch_size=32, verbose=0)
    for p, s in zip(model.parameters(), start):  # nothing trained
        np.testing.assert_array_equal(p.data, s)
    model.fit(bb.data.DataLoader(X, y, batch_size=32, shuffle=True, drop_last=True), verbose=0)
    with pytest.raises(ValueError, match="with 33 samples and batch_size=16"):
        model.fit(X, y, batch_size=16, verbose=0)  # 16 + 16 + 1
    # images keep H * W values per channel: a batch of one is fine there
    images = bb.Sequential([bb.layers.Conv2D(2, 3), bb.layers.BatchNorm(), bb.layers.Flatten(),
                            Linear(2)]).compile("adam", "cross_entropy")
    images.fit(np.zeros((33, 1, 5, 5), np.float32), y, batch_size=32, verbose=0)


def test_the_divergence_guard_is_not_fooled_by_a_first_batch_with_zero_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = (100 * X[:, 0]).astype(np.float32)
    X[:16], y[:16] = 0, 0  # the first batch: loss exactly 0, then ~1e4 on ordinary batches
    bb.seed(0)
    model = bb.Sequential([Linear(1)]).compile(bb.optimizers.SGD(lr=0.01), "mse")
    history = model.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---------------------------------------------------------------------- quick wins
def test_fit_takes_a_data_loader_with_its_batches():
    X, y = data(40)
    model = small()
    loader = bb.data.DataLoader(X, y, batch_size=8, shuffle=True, seed=0)
    seen = []

    class CountBatches(bb.callbacks.Callback):
        def on_batch_end(self, batch, logs):
            seen.append(batch)
    model.fit(loader, epochs=2, verbose=0, callbacks=[CountBatches()])
    assert len(seen) == 2 * 5  # the loader's batch_size, not fit's default 32
    with pytest.raises(ValueError, match="the targets come from the loader"):
        model.fit(bb.data.DataLoader(X, batch_size=8), verbose=0)
    with pytest.raises(ValueError, match="the targets come from the loader"):
        model.fit(loader, y, verbose=0)
    with pytest.raises(ValueError, match="pass validation_data=.* instead of validation_split"):
        model.fit(loader, validation_split=0.2, verbose=0)


def test_evaluate_and_predict_take_a_data_loader_too():
    X, y = data(40)
    model = small()
    model.fit(X, y, epochs=1, verbose=0)
    loader = bb.data.DataLoader(X, y, batch_size=8, shuffle=True, seed=0)
    assert model.evaluate(loader) == model.evaluate(X, y)   # every sample, in order
    np.testing.assert_array_equal(model.predict(loader), model.predict(X))
    with pytest.raises(ValueError, match="evaluate: with a DataLoader as X, the targets come"):
        model.evaluate(bb.data.DataLoader(X, batch_size=8))
    with pytest.raises(ValueError, match="evaluate: y is None"):
        model.evaluate(X)


def test_adamw_and_categorical_crossentropy_by_name():
    X, y = data()
    model = small().compile("adamw", "categorical_crossentropy")
    assert type(model.optimizer) is bb.optimizers.AdamW
    assert isinstance(model.loss, bb.loss.CrossEntropy)
    model.fit(X, np.eye(2, dtype=np.float32)[y], verbose=0)


def test_summary_counts_the_macs_of_recurrent_layers():
    L = bb.layers
    model = bb.Sequential([L.Embedding(12, 5), L.LSTM(6), L.GRU(4, return_sequences=False),
                           Linear(3)]).build((7,))
    # every step: the input times weight_ih plus the state times weight_hh, for each gate
    lstm, gru = 7 * 4 * 6 * (5 + 6), 7 * 3 * 4 * (6 + 4)
    assert [layer.macs(shape) for layer, shape, _ in model._node_costs()] == [0, lstm, gru, 12]
    assert model.macs() == lstm + gru + 12
    assert f"Total MACs: {lstm + gru + 12:,}" in model.summary(print_fn=lambda text: None)


def test_concatenate_refuses_the_batch_axis_when_made():
    with pytest.raises(ValueError, match="Concatenate: axis 0 is the batch axis"):
        bb.layers.Concatenate(axis=0)


# ------------------------------------------------------------ label smoothing
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)])   # (N, classes) and sequences (N, T, classes)
def test_label_smoothing_matches_torch(weighted, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits = rng.normal(size=shape).astype(np.float32) * 3
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    weight = rng.uniform(0.2, 2.0, size=shape[-1]).astype(np.float32) if weighted else None
    x = bb.Tensor(logits.copy(), requires_grad=True)
    loss = bb.loss.CrossEntropy(weight=weight, label_smoothing=0.2)(x, labels)
    loss.backward()
    t = torch.tensor(logits, requires_grad=True)
    t_logits = t if len(shape) == 2 else t.permute(0, 2, 1)   # torch wants (N, C, T)
    expected = torch.nn.functional.cross_entropy(
        t_logits, torch.tensor(labels), label_smoothing=0.2,
        weight=None if weight is None else torch.tensor(weight))
    expected.backward()
    np.testing.assert_allclose(float(loss.data), expected.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_label_smoothing_of_probability_targets_matches_torch_and_bad_values_are_named():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(5, 3)).astype(np.float32)
    targets = rng.dirichlet(np.ones(3), size=5).astype(np.float32)
    loss = bb.loss.CrossEntropy(label_smoothing=0.1)(bb.Tensor(logits), targets)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets),
                                                 label_smoothing=0.1)
    np.testing.assert_allclose(float(loss.data), expected.item(), rtol=1e-5)
    for bad in (-0.1, 1.5, "0.1", True, float("nan")):
        with pytest.raises(ValueError, match="label_smoothing must be a number in \\[0, 1\\]"):
            bb.loss.CrossEntropy(label_smoothing=bad)


# ------------------------------------------------------------ get_weights / set_weights
def make_bn_net(seed):
    bb.seed(seed)
    inputs = bb.Input((4,))
    hidden = bb.layers.ReLU()(bb.layers.BatchNorm()(Linear(8)(inputs)))
    return bb.Model(inputs, Linear(2)(hidden))


def test_weights_move_between_twin_models_with_batch_norm_statistics():
    X, y = data()
    trained = make_bn_net(0).compile("adam", "cross_entropy")
    trained.fit(X, y, epochs=2, batch_size=16, verbose=0)
    twin = make_bn_net(1)
    weights = trained.get_weights()
    assert len(weights) == len(trained.parameters()) + 2   # + running mean and variance
    twin.set_weights(weights)
    trained.eval(), twin.eval()
    np.testing.assert_array_equal(twin.predict(X), trained.predict(X))
    weights[0][...] = 0   # copies: the model is not changed through them
    assert trained.get_weights()[0].any()


def test_set_weights_names_a_wrong_count_shape_or_value():
    X, _ = data()
    model = bb.Sequential([Linear(3), ReLU(), Linear(2)])
    with pytest.raises(RuntimeError, match="not built yet.*before get_weights"):
        model.get_weights()
    model.predict(X)
    weights = model.get_weights()
    with pytest.raises(ValueError, match="the model has 4 weight arrays .* got 3"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match=r"array 2 has shape \(3, 2\), the model's \(2, 3\)"):
        model.set_weights(weights[:2] + [weights[2].T] + weights[3:])
    weights[1][0] = np.nan
    with pytest.raises(ValueError, match="array 1 must hold finite real numbers"):
        model.set_weights(weights)
