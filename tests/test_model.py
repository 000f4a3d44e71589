"""Sequential: compile / fit / evaluate / predict / summary, metrics, losses, callbacks,
save / load, and the errors bad input must raise."""
import os

import numpy as np
import pytest

import braininabox as bb
from braininabox.train.callbacks import Callback, EarlyStopping, History, ModelCheckpoint
from braininabox.nn.layers import (AvgPool, Conv2D, Dropout, Flatten, Linear, MaxPool, ReLU,
                                Sigmoid, Softmax, Tanh)
from braininabox.train.loss import MSE, BinaryCrossEntropy, CrossEntropy
from braininabox.train.metrics import Accuracy, Precision, Recall
from braininabox.train.optimizers import SGD, Adam


@pytest.fixture(autouse=True)
def _seed():
    bb.seed(0)


def blobs(n=96, classes=10, hw=8, noise=0.3, seed=0):
    """NCHW images: one random prototype per class plus noise."""
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((classes, 1, hw, hw))
    y = np.arange(n) % classes
    rng.shuffle(y)
    X = protos[y] + noise * rng.standard_normal((n, 1, hw, hw))
    return X.astype(np.float32), y.astype(np.int64)


def readme_model():
    model = bb.Sequential([Conv2D(32, kernel=3), ReLU(), MaxPool(2), Flatten(), Linear(10)])
    model.compile(optimizer=Adam(), loss=CrossEntropy())
    return model


def fixed_model(k, loss, metrics=("accuracy", "precision", "recall")):
    """A model whose outputs are its inputs (identity weights, lr 0): metrics by hand."""
    lin = Linear(k, in_features=k, use_bias=False)
    lin.weight.data[...] = np.eye(k, dtype=np.float32)
    model = bb.Sequential([lin])
    model.compile(optimizer=SGD(lr=0.0), loss=loss, metrics=list(metrics))
    return model


def scores_for(predicted, k):
    """Rows of scores whose argmax is `predicted`."""
    X = np.zeros((len(predicted), k), dtype=np.float32)
    X[np.arange(len(predicted)), predicted] = 1.0
    return X


class WeightRecorder(Callback):
    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([p.data.copy() for p in self.model.parameters()])


# ------------------------------------------------------------------ README flow
def test_readme_snippet_trains_and_loss_goes_down():
    X, y = blobs(128)
    model = readme_model()
    before = model.predict(X)          # builds lazily (Conv2D learns 1 input channel)
    assert model.layers[0].weight.shape == (32, 1, 3, 3)
    assert model.layers[-1].weight.shape == (10, 288)
    history = model.fit(X, y, epochs=8, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 8
    assert losses[-1] < 0.5 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    after = model.predict(X)
    assert not np.allclose(before, after)
    assert np.mean(after.argmax(axis=1) == y) > 0.9


def test_fit_returns_history_with_per_epoch_lists():
    X, y = blobs(64)
    Xv, yv = blobs(32, seed=1)
    model = readme_model()
    model.compile(optimizer=Adam(), loss=CrossEntropy(), metrics=["accuracy", "precision", "recall"])
    history = model.fit(X, y, epochs=3, batch_size=16, validation_data=(Xv, yv), verbose=0)
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy", "precision", "recall", "val_loss",
                                    "val_accuracy", "val_precision", "val_recall", "lr"}
    for key, values in history.history.items():
        assert len(values) == 3, key
        assert all(isinstance(v, float) and np.isfinite(v) for v in values), key
    for key in ("accuracy", "precision", "recall", "val_accuracy"):
        assert all(0.0 <= v <= 1.0 for v in history.history[key])
    # the last validation numbers are an evaluate() of the final model
    final = model.evaluate(Xv, yv)
    assert history.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(final["accuracy"])


def test_validation_split_holds_out_the_last_samples():
    X, y = blobs(40)

    class Batches(Callback):
        count = 0

        def on_batch_end(self, batch, logs=None):
            self.count += 1

    counter = Batches()
    model = readme_model()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(X, y, epochs=2, batch_size=10, validation_split=0.25,
                        callbacks=[counter], verbose=0)
    assert len(history.history["val_loss"]) == 2 and len(history.history["val_accuracy"]) == 2
    assert counter.count == 2 * 3          # 30 training samples in batches of 10
    final = model.evaluate(X[30:], y[30:])
    assert history.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)


def test_evaluate_returns_loss_and_metrics_dict():
    X, y = blobs(50)
    model = readme_model()
    model.compile(optimizer=Adam(), loss=CrossEntropy(), metrics=["accuracy"])
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    result = model.evaluate(X, y, batch_size=7)
    assert isinstance(result, dict) and set(result) == {"loss", "accuracy"}
    logits = model.predict(X).astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert result["loss"] == pytest.approx(-logp[np.arange(len(y)), y].mean(), rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_predict_returns_numpy_in_batches():
    X, _ = blobs(37)
    model = readme_model()
    out = model.predict(X, batch_size=8)        # 37 is not a multiple of 8
    assert isinstance(out, np.ndarray) and out.shape == (37, 10) and out.dtype == np.float32
    model.eval()
    full = model(X).data
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(X, batch_size=1000), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(X[5:6]), out[5:6], rtol=1e-5, atol=1e-6)


def test_fit_seed_is_reproducible():
    X, y = blobs(48)
    results = []
    for _ in range(2):
        bb.seed(5)
        model = readme_model()
        model.fit(X, y, epochs=2, batch_size=8, seed=3, verbose=0)
        results.append(model.predict(X))
    np.testing.assert_array_equal(results[0], results[1])


def test_one_hot_targets_train_like_labels():
    X, y = blobs(64)
    onehot = np.eye(10, dtype=np.float32)[y]
    losses = {}
    for name, targets in (("labels", y), ("onehot", onehot)):
        bb.seed(1)
        model = readme_model()
        model.compile(optimizer=Adam(), loss=CrossEntropy(), metrics=["accuracy"])
        h = model.fit(X, targets, epochs=2, batch_size=16, shuffle=False, verbose=0)
        losses[name] = h.history
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(losses["labels"][key], losses["onehot"][key], rtol=1e-4)


# --------------------------------------------------------------------- summary
def test_summary_lists_layers_shapes_and_param_counts():
    model = readme_model()
    with pytest.raises(RuntimeError, match="not built yet"):
        model.summary()
    model.build((1, 28, 28))
    lines = []
    text = model.summary(print_fn=lines.append)
    assert lines == [text]
    for name in ("Conv2D", "ReLU", "MaxPool", "Flatten", "Linear"):
        assert name in text
    for shape in ("(None, 32, 26, 26)", "(None, 32, 13, 13)", "(None, 5408)", "(None, 10)"):
        assert shape in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()}
    assert rows["Conv2D"].split()[-1] == "320"            # 32 * 1 * 3 * 3 + 32
    assert rows["Linear"].split()[-1] == "54,090"         # 10 * 5408 + 10
    assert rows["ReLU"].split()[-1] == "0"
    assert "Total params: 54,410" in text
    assert "Input shape: (None, 1, 28, 28)" in text


def test_summary_prints_by_default(capsys):
    model = bb.Sequential([Flatten(), Linear(4), Tanh(), Linear(2)])
    model.build((3, 2, 2))
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    assert "Total params: 62" in text                    # (12*4+4) + (4*2+2)


# ----------------------------------------------------------------- compile names
def test_string_optimizer_and_loss_names():
    model = bb.Sequential([Linear(2)])
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, SGD) and isinstance(model.loss, MSE)
    model.compile(optimizer="Adam", loss="binary_crossentropy")
    assert isinstance(model.optimizer, Adam) and isinstance(model.loss, BinaryCrossEntropy)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.loss, CrossEntropy)
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        model.compile(optimizer="adagrad")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        model.compile(loss="hinge")
    with pytest.raises(TypeError, match="optimizer must be a braininabox optimizer"):
        model.compile(optimizer=object())


def test_string_names_train():
    X, y = blobs(64, classes=3, hw=6)
    model = bb.Sequential([Flatten(), Linear(3)])
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["acc"])
    h = model.fit(X, y, epochs=5, batch_size=16, verbose=0)
    assert "accuracy" in h.history
    assert h.history["loss"][-1] < h.history["loss"][0]


# --------------------------------------------------------------------- metrics
Y_TRUE_MC = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED_MC = np.array([0, 0, 1, 2, 1, 0, 2, 2])
# confusion (rows true, cols predicted): [[2,1,1],[1,1,0],[0,0,2]]
# accuracy 5/8; precision (2/3, 1/2, 2/3) -> 11/18; recall (1/2, 1/2, 1) -> 2/3
MC_EXPECTED = {"accuracy": 5 / 8, "precision": 11 / 18, "recall": 2 / 3}

Y_TRUE_BIN = np.array([1, 1, 1, 0, 0, 0, 0, 1])
Y_PRED_BIN = np.array([1, 0, 0, 1, 0, 0, 0, 1])
# TP 2, FN 2, FP 1, TN 3: accuracy 5/8, precision 2/3, recall 1/2
BIN_EXPECTED = {"accuracy": 5 / 8, "precision": 2 / 3, "recall": 1 / 2}


def test_metric_objects_by_hand():
    for cls, name in ((Accuracy, "accuracy"), (Precision, "precision"), (Recall, "recall")):
        m = cls(3)
        m.update(Y_TRUE_MC[:3], Y_PRED_MC[:3])       # accumulated batch by batch
        m.update(Y_TRUE_MC[3:], Y_PRED_MC[3:])
        assert m.result() == pytest.approx(MC_EXPECTED[name])
        b = cls(2)
        b.update(Y_TRUE_BIN, Y_PRED_BIN)
        assert b.result() == pytest.approx(BIN_EXPECTED[name])
        m.reset()
        assert m.confusion.sum() == 0


@pytest.mark.parametrize("batch_size", [256, 3])
def test_evaluate_metrics_multiclass_by_hand(batch_size):
    model = fixed_model(3, CrossEntropy())
    result = model.evaluate(scores_for(Y_PRED_MC, 3), Y_TRUE_MC, batch_size=batch_size)
    for name, value in MC_EXPECTED.items():
        assert result[name] == pytest.approx(value), name


def test_macro_metrics_ignore_classes_that_never_occur():
    # A 5-output model evaluated on data with classes 0..2 only: classes 3 and 4 appear
    # neither as a label nor as a prediction and must not drag the macro average down.
    model = fixed_model(5, CrossEntropy())
    result = model.evaluate(scores_for(Y_PRED_MC, 5), Y_TRUE_MC)
    for name, value in MC_EXPECTED.items():
        assert result[name] == pytest.approx(value), name
    # a perfect classifier scores 1 whatever classes the batch happens to hold
    perfect = model.evaluate(scores_for(np.array([0, 1, 1]), 5), np.array([0, 1, 1]))
    assert perfect["precision"] == perfect["recall"] == perfect["accuracy"] == 1.0
    # a class that is predicted but never true (or true but never predicted) counts as 0
    m = Precision(4)
    m.update([0, 0, 1], [0, 3, 1])       # class 3 predicted once, wrongly: precision 0
    assert m.result() == pytest.approx((1 + 1 + 0) / 3)
    r = Recall(4)
    r.update([0, 0, 1], [0, 3, 1])       # class 3 never true: recall counted 0 for it
    assert r.result() == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_evaluate_metrics_binary_cross_entropy_by_hand():
    model = fixed_model(1, BinaryCrossEntropy())
    logits = np.where(Y_PRED_BIN == 1, 2.0, -2.0).astype(np.float32)[:, None]
    result = model.evaluate(logits, Y_TRUE_BIN, batch_size=3)
    for name, value in BIN_EXPECTED.items():
        assert result[name] == pytest.approx(value), name
    # loss: mean softplus(-x) for positives, softplus(x) for negatives
    x = logits[:, 0].astype(np.float64)
    expected = np.mean(np.where(Y_TRUE_BIN == 1, np.log1p(np.exp(-x)), np.log1p(np.exp(x))))
    assert result["loss"] == pytest.approx(expected, rel=1e-5)


def test_evaluate_metrics_two_class_cross_entropy_by_hand():
    model = fixed_model(2, CrossEntropy())
    result = model.evaluate(scores_for(Y_PRED_BIN, 2), Y_TRUE_BIN)
    for name, value in BIN_EXPECTED.items():
        assert result[name] == pytest.approx(value), name


def test_fit_metrics_by_hand():
    # lr 0: every epoch sees the same outputs, in whatever order the batches come
    model = fixed_model(3, CrossEntropy())
    h = model.fit(scores_for(Y_PRED_MC, 3), Y_TRUE_MC, epochs=2, batch_size=3, verbose=0)
    for name, value in MC_EXPECTED.items():
        assert h.history[name] == pytest.approx([value, value]), name


def test_metrics_refused_for_regression_and_unknown_names():
    model = bb.Sequential([Linear(1)])
    with pytest.raises(ValueError, match="regression loss"):
        model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"unknown metric 'f1'; choose from \['accuracy', "):
        model.compile(optimizer="sgd", loss="cross_entropy", metrics=["f1"])


# ---------------------------------------------------------------- class weights
def _log_softmax(x):
    x = x.astype(np.float64)
    s = x - x.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def test_class_weight_changes_the_cross_entropy_loss():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 2, 2])
    nll = -_log_softmax(X)[np.arange(12), y]
    model = fixed_model(3, CrossEntropy(), metrics=())
    plain = model.fit(X, y, batch_size=12, shuffle=False, verbose=0).history["loss"][0]
    assert plain == pytest.approx(nll.mean(), rel=1e-5)
    weights = {0: 5.0, 2: 0.5}                          # class 1 keeps weight 1
    w = np.array([5.0, 1.0, 0.5])[y]
    weighted = model.fit(X, y, batch_size=12, shuffle=False, class_weight=weights,
                         verbose=0).history["loss"][0]
    assert weighted == pytest.approx((w * nll).sum() / w.sum(), rel=1e-5)   # PyTorch's mean
    assert abs(weighted - plain) > 0.01
    with pytest.raises(ValueError, match="class_weight names class 3, but the model has 3 outputs"):
        model.fit(X, y, class_weight={3: 2.0}, verbose=0)


def test_class_weight_changes_the_binary_cross_entropy_loss():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((10, 1)).astype(np.float32)
    y = (rng.random(10) > 0.5).astype(np.float32)
    model = fixed_model(1, BinaryCrossEntropy(), metrics=())
    plain = model.fit(x, y, batch_size=10, verbose=0).history["loss"][0]
    weighted = model.fit(x, y, batch_size=10, class_weight={1: 3.0}, verbose=0).history["loss"][0]
    xs = x[:, 0].astype(np.float64)
    per = np.where(y == 1, np.log1p(np.exp(-xs)), np.log1p(np.exp(xs)))
    assert plain == pytest.approx(per.mean(), rel=1e-5)
    assert weighted == pytest.approx((np.where(y == 1, 3.0, 1.0) * per).mean(), rel=1e-5)
    assert abs(weighted - plain) > 0.01


def test_class_weight_refused_for_regression():
    model = bb.Sequential([Linear(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="class_weight needs a classification loss"):
        model.fit(np.ones((4, 2), np.float32), np.ones(4), class_weight={0: 2.0}, verbose=0)


def test_class_weight_steers_training_toward_the_weighted_class():
    # overlapping classes: a heavy weight on class 1 makes the model predict it more
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 2)).astype(np.float32)
    y = (X[:, 0] + 1.5 * rng.standard_normal(200) > 0).astype(np.int64)
    predicted_ones = []
    for cw in (None, {1: 10.0}):
        bb.seed(0)
        model = bb.Sequential([Linear(2)])
        model.compile(optimizer=Adam(lr=0.05), loss="cross_entropy")
        model.fit(X, y, epochs=20, batch_size=50, class_weight=cw, verbose=0)
        predicted_ones.append(int(np.sum(model.predict(X).argmax(axis=1) == 1)))
    assert predicted_ones[1] > predicted_ones[0] + 30


# -------------------------------------------------------------- other losses
def test_binary_cross_entropy_separable_toy_problem():
    rng = np.random.default_rng(0)
    n = 200
    y = (np.arange(n) % 2).astype(np.float32)
    X = (rng.standard_normal((n, 2)) * 0.7 + np.where(y[:, None] == 1, 2.0, -2.0)).astype(np.float32)
    model = bb.Sequential([Linear(8), ReLU(), Linear(1)])
    model.compile(optimizer=Adam(lr=0.02), loss=BinaryCrossEntropy(), metrics=["accuracy"])
    h = model.fit(X, y, epochs=15, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert model.predict(X).shape == (n, 1)
    result = model.evaluate(X, y)
    assert result["accuracy"] >= 0.97
    assert np.mean((model.predict(X)[:, 0] > 0) == (y == 1)) == pytest.approx(result["accuracy"])


def test_binary_cross_entropy_on_probabilities():
    rng = np.random.default_rng(1)
    y = (np.arange(100) % 2).astype(np.float32)
    X = (rng.standard_normal((100, 2)) * 0.5 + np.where(y[:, None] == 1, 1.5, -1.5)).astype(np.float32)
    model = bb.Sequential([Linear(1), Sigmoid()])
    model.compile(optimizer=Adam(lr=0.05), loss=BinaryCrossEntropy(from_logits=False),
                  metrics=["accuracy"])
    model.fit(X, y, epochs=15, batch_size=20, verbose=0)
    p = model.predict(X)
    assert np.all((p > 0) & (p < 1))
    assert model.evaluate(X, y)["accuracy"] >= 0.95


def test_binary_targets_outside_0_1_rejected():
    model = bb.Sequential([Linear(1)])
    model.compile(optimizer="adam", loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\]"):
        model.fit(np.zeros((4, 2), np.float32), np.array([0, 1, 2, 1]), verbose=0)


def test_mse_regression_fits_a_linear_function():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((256, 3)).astype(np.float32)
    w_true, b_true = np.array([1.5, -2.0, 0.5]), 0.7
    y = (X @ w_true + b_true).astype(np.float32)
    model = bb.Sequential([Linear(1)])
    model.compile(optimizer=SGD(lr=0.1), loss=MSE())
    h = model.fit(X, y, epochs=30, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < 1e-4
    lin = model.layers[0]
    np.testing.assert_allclose(lin.weight.data[0], w_true, atol=1e-2)
    assert lin.bias.data[0] == pytest.approx(b_true, abs=1e-2)
    assert model.evaluate(X, y)["loss"] < 1e-4
    np.testing.assert_allclose(model.predict(X)[:, 0], y, atol=2e-2)


# -------------------------------------------------------------------- callbacks
def test_early_stopping_patience():
    # lr 0 and one full batch: the loss is the same every epoch, so it never improves
    X, y = blobs(16, classes=3, hw=4)
    model = bb.Sequential([Flatten(), Linear(3)])
    model.compile(optimizer=SGD(lr=0.0), loss="cross_entropy")
    stop = EarlyStopping(monitor="loss", patience=2)
    h = model.fit(X, y, epochs=10, batch_size=16, callbacks=[stop], verbose=0)
    assert len(h.history["loss"]) == 4          # best at epoch 0, then 3 without improvement
    assert stop.stopped_epoch == 3
    stop0 = EarlyStopping(monitor="loss", patience=0)
    h = model.fit(X, y, epochs=10, batch_size=16, callbacks=[stop0], verbose=0)
    assert len(h.history["loss"]) == 2


def test_early_stopping_does_not_stop_while_improving():
    X, y = blobs(64)
    model = readme_model()
    stop = EarlyStopping(monitor="loss", patience=0)
    h = model.fit(X, y, epochs=4, batch_size=16, callbacks=[stop], verbose=0)
    assert len(h.history["loss"]) == 4 and stop.stopped_epoch is None


class Scripted(Callback):
    """Logs a scripted value as "score", so that callbacks after it see a known sequence."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]


def test_early_stopping_restores_best_weights():
    X, y = blobs(64)
    model = readme_model()
    recorder = WeightRecorder()
    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    h = model.fit(X, y, epochs=10, batch_size=16, validation_split=0.25,
                  callbacks=[Scripted([3.0, 1.0, 2.0, 1.5, 4.0, 0.1, 0.1, 0.1, 0.1, 0.1]),
                                 recorder, stop], verbose=0)
    # best at epoch 1 (score 1.0), then epochs 2, 3, 4 without improvement: stop after 4
    assert len(h.history["loss"]) == 5 and stop.stopped_epoch == 4
    assert len(h.history["val_loss"]) == 5
    for restored, best, last in zip(model.parameters(), recorder.weights[1], recorder.weights[-1]):
        np.testing.assert_array_equal(restored.data, best)
        assert not np.array_equal(best, last)


def test_early_stopping_without_restore_keeps_last_weights():
    X, y = blobs(64)
    model = readme_model()
    recorder = WeightRecorder()
    stop = EarlyStopping(monitor="score", patience=1)
    h = model.fit(X, y, epochs=10, batch_size=16,
                  callbacks=[Scripted([1.0, 2.0, 3.0] + [0.0] * 7), recorder, stop], verbose=0)
    assert len(h.history["loss"]) == 3
    for p, last in zip(model.parameters(), recorder.weights[-1]):
        np.testing.assert_array_equal(p.data, last)


def test_early_stopping_min_delta_and_max_mode():
    X, y = blobs(16, classes=3, hw=4)
    model = bb.Sequential([Flatten(), Linear(3)])
    model.compile(optimizer=SGD(lr=0.0), loss="cross_entropy")
    # improvements of 0.05 are below min_delta=0.1: they do not count
    stop = EarlyStopping(monitor="score", patience=1, min_delta=0.1)
    h = model.fit(X, y, epochs=10, batch_size=16, verbose=0,
                  callbacks=[Scripted([1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55]), stop])
    assert len(h.history["loss"]) == 3
    # "val_accuracy" is maximised under mode="auto"
    stop = EarlyStopping(monitor="val_accuracy", patience=0)
    scripted = Scripted([0.5, 0.6, 0.7, 0.65, 0.9])

    class AsAccuracy(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_accuracy"] = logs["score"]

    h = model.fit(X, y, epochs=5, batch_size=16, verbose=0, callbacks=[scripted, AsAccuracy(), stop])
    assert len(h.history["loss"]) == 4


def test_early_stopping_on_missing_key_says_what_to_do():
    X, y = blobs(16)
    model = readme_model()
    with pytest.raises(ValueError, match="pass validation_data or validation_split"):
        model.fit(X, y, epochs=2, callbacks=[EarlyStopping()], verbose=0)


def test_model_checkpoint_writes_every_epoch(tmp_path):
    X, y = blobs(32)
    model = readme_model()
    ckpt = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.bb")
    h = model.fit(X, y, epochs=3, batch_size=16, callbacks=[ckpt], verbose=0)
    names = sorted(os.listdir(tmp_path))
    expected = [f"ckpt-{e + 1:02d}-{h.history['loss'][e]:.3f}.bb" for e in range(3)]
    assert names == expected
    last = bb.load(tmp_path / names[-1])
    np.testing.assert_array_equal(last.predict(X), model.predict(X))


def test_model_checkpoint_save_best_only(tmp_path):
    X, y = blobs(32)
    model = readme_model()
    recorder = WeightRecorder()
    ckpt = ModelCheckpoint(tmp_path / "best-{epoch}.bb", monitor="score", save_best_only=True)
    model.fit(X, y, epochs=5, batch_size=16,
              callbacks=[Scripted([3.0, 1.0, 2.0, 0.5, 0.5]), recorder, ckpt], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["best-1.bb", "best-2.bb", "best-4.bb"]
    for epoch in (1, 2, 4):
        saved = bb.load(tmp_path / f"best-{epoch}.bb")
        for p, w in zip(saved.parameters(), recorder.weights[epoch - 1]):
            np.testing.assert_array_equal(p.data, w)
    # mode="max": only the first epoch (3.0) is ever the best
    other = tmp_path / "max"
    other.mkdir()
    ckpt = ModelCheckpoint(other / "best-{epoch}.bb", monitor="score", save_best_only=True,
                           mode="max")
    model.fit(X, y, epochs=4, batch_size=16, callbacks=[Scripted([3.0, 1.0, 2.0, 0.5]), ckpt],
              verbose=0)
    assert os.listdir(other) == ["best-1.bb"]


def test_model_checkpoint_save_best_only_overwrites_when_improving(tmp_path):
    X, y = blobs(64)
    model = readme_model()
    path = tmp_path / "best.bb"
    ckpt = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    model.fit(X, y, epochs=3, batch_size=16, callbacks=[ckpt], verbose=0)
    assert os.listdir(tmp_path) == ["best.bb"]
    np.testing.assert_array_equal(bb.load(path).predict(X), model.predict(X))


# -------------------------------------------------------------------- save/load
def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    X, y = blobs(40, hw=10)
    model = bb.Sequential([Conv2D(6, kernel=3, padding="same"), ReLU(), MaxPool(2),
                           Conv2D(4, kernel=(3, 2), stride=(1, 2), use_bias=False), Tanh(),
                           AvgPool(2, stride=1), Flatten(), Dropout(0.2),
                           Linear(16, init="he"), Sigmoid(), Linear(10), Softmax()])
    model.compile(optimizer=Adam(), loss=MSE())
    model.fit(X, np.eye(10, dtype=np.float32)[y], epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "model.bb"
    assert model.save(path) == path
    loaded = bb.load(path)
    assert [repr(a) for a in loaded.layers] == [repr(b) for b in model.layers]
    assert loaded.input_shape == model.input_shape == (1, 10, 10)
    assert len(loaded.parameters()) == len(model.parameters())
    for a, b in zip(loaded.parameters(), model.parameters()):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.summary(print_fn=lambda s: None) == model.summary(print_fn=lambda s: None)
    # the loaded model trains on
    loaded.compile(optimizer="adam", loss="mse")
    loaded.fit(X, np.eye(10, dtype=np.float32)[y], epochs=1, verbose=0)
    assert not np.array_equal(loaded.predict(X), model.predict(X))


def test_save_before_build_raises(tmp_path):
    with pytest.raises(RuntimeError, match="needs a built model"):
        readme_model().save(tmp_path / "m.bb")
    assert os.listdir(tmp_path) == []


def _saved_model(tmp_path):
    model = readme_model()
    model.build((1, 8, 8))
    path = tmp_path / "model.bb"
    model.save(path)
    return model, path


@pytest.mark.parametrize("failure", ["savez", "fsync", "interrupt"])
def test_save_is_atomic(tmp_path, monkeypatch, failure):
    model, path = _saved_model(tmp_path)
    before = path.read_bytes()
    model.layers[0].weight.data[...] += 1.0          # the next save would differ
    real_savez = np.savez

    def failing_savez(file, **arrays):
        if failure == "savez":
            file.write(b"PK\x03\x04 half an archive")
            raise OSError("No space left on device")
        real_savez(file, **arrays)
        if failure == "interrupt":
            raise KeyboardInterrupt

    def failing_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(np, "savez", failing_savez)
    if failure == "fsync":
        monkeypatch.setattr(os, "fsync", failing_fsync)
    expected = KeyboardInterrupt if failure == "interrupt" else OSError
    with pytest.raises(expected):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before                # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["model.bb"]       # and no temporary file is left
    bb.load(path)


def test_save_overwrites_atomically_on_success(tmp_path):
    model, path = _saved_model(tmp_path)
    model.layers[-1].bias.data[...] = 3.0
    model.save(path)
    assert os.listdir(tmp_path) == ["model.bb"]
    np.testing.assert_array_equal(bb.load(path).layers[-1].bias.data, 3.0)


@pytest.mark.parametrize("cut", [0, 10, 200, "half", -1, -30])
def test_load_truncated_file(tmp_path, cut):
    _, path = _saved_model(tmp_path)
    raw = path.read_bytes()
    n = len(raw) // 2 if cut == "half" else (cut if cut >= 0 else len(raw) + cut)
    bad = tmp_path / "truncated.bb"
    bad.write_bytes(raw[:n])
    with pytest.raises(ValueError, match="truncated.bb is not a readable braininabox model file"):
        bb.load(bad)


def test_load_corrupted_bytes(tmp_path):
    _, path = _saved_model(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                      # one flipped byte inside the archive
    bad = tmp_path / "flipped.bb"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not a readable braininabox model file"):
        bb.load(bad)


def test_load_random_bytes(tmp_path):
    bad = tmp_path / "random.bb"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match="random.bb is not a readable braininabox model file"):
        bb.load(bad)


def test_load_foreign_files(tmp_path):
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a readable braininabox model file"):
        bb.load(tmp_path / "foreign.npz")
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not a readable braininabox model file"):
        bb.load(tmp_path / "array.npy")
    np.savez(tmp_path / "other.npz", __header__=np.array('{"format": "keras"}'))
    with pytest.raises(ValueError, match=r"not a braininabox model file \(format 'keras'\)"):
        bb.load(tmp_path / "other.npz")
    np.savez(tmp_path / "list.npz", __header__=np.array("[1, 2]"))
    with pytest.raises(ValueError, match="not a readable braininabox model file: its header is "
                                         "not a JSON object"):
        bb.load(tmp_path / "list.npz")
    header = '{"format": "braininabox.Sequential", "version": 99, "layers": []}'
    np.savez(tmp_path / "future.npz", __header__=np.array(header))
    with pytest.raises(ValueError, match="format version 99"):
        bb.load(tmp_path / "future.npz")


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at .*missing.bb"):
        bb.load(tmp_path / "missing.bb")
    with pytest.raises(FileNotFoundError, match="no model file at"):
        bb.load(tmp_path)                             # a directory is not a model file


# ------------------------------------------------------------- bad input to fit
def _compiled():
    model = readme_model()
    model.compile(optimizer=Adam(), loss=CrossEntropy())
    return model


def test_fit_before_compile():
    X, y = blobs(8)
    model = bb.Sequential([Conv2D(32, kernel=3), ReLU(), MaxPool(2), Flatten(), Linear(10)])
    with pytest.raises(RuntimeError, match=r"call model.compile\(optimizer=..., loss=...\) before fit\(\)"):
        model.fit(X, y, verbose=0)
    with pytest.raises(RuntimeError, match=r"before evaluate\(\)"):
        model.evaluate(X, y)


def test_fit_x_and_y_lengths_differ():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="fit: X has 10 samples but y has 9"):
        _compiled().fit(X, y[:9], verbose=0)
    with pytest.raises(ValueError, match="evaluate: X has 10 samples but y has 11"):
        _compiled().evaluate(X, np.append(y, 0))


@pytest.mark.parametrize("bad, shown", [(10, "10"), (-1, "-1"), (57, "57")])
def test_fit_labels_outside_output_range(bad, shown):
    X, y = blobs(10)
    y = y.copy()
    y[4] = bad
    with pytest.raises(ValueError, match=rf"labels must be in \[0, 10\) for 10 classes; got {shown} at index 4"):
        _compiled().fit(X, y, verbose=0)


def test_fit_labels_outside_range_in_validation_data():
    X, y = blobs(10)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        _compiled().fit(X, y, validation_data=(X, y + 5), verbose=0)


def test_fit_non_integer_labels():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="class labels must be integers"):
        _compiled().fit(X, y + 0.5, verbose=0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_fit_nan_or_inf_in_x(value):
    X, y = blobs(10)
    X[6, 0, 2, 3] = value
    with pytest.raises(ValueError, match=r"fit: X contains NaN or infinity \(first at sample 6\)"):
        _compiled().fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="predict: X contains NaN or infinity"):
        _compiled().predict(X)


def test_fit_nan_in_regression_targets():
    model = bb.Sequential([Linear(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        model.fit(np.ones((3, 2), np.float32), np.array([1.0, np.nan, 2.0]), verbose=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_diverging_loss_names_epoch_and_batch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = X @ np.array([1.0, 2.0, 3.0], dtype=np.float32)
    model = bb.Sequential([Linear(1)])
    model.compile(optimizer=SGD(lr=1e30), loss=MSE())
    with pytest.raises(FloatingPointError,
                       match=r"loss became (nan|inf) at epoch 1, batch [2-4]: training diverged"):
        model.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_diverging_loss_in_a_later_epoch():
    # lr large enough to blow up, but only after the first epoch (one batch per epoch)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3)).astype(np.float32)
    y = X @ np.array([1.0, 2.0, 3.0], dtype=np.float32)
    model = bb.Sequential([Linear(1)])
    model.compile(optimizer=SGD(lr=100.0), loss=MSE())
    with pytest.raises(FloatingPointError, match=r"at epoch ([2-9]|\d\d+), batch 1:"):
        model.fit(X, y, epochs=100, batch_size=32, verbose=0)


def test_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric 'f1_score'"):
        readme_model().compile(optimizer="adam", loss="cross_entropy", metrics=["f1_score"])


@pytest.mark.parametrize("split", [1.0, -0.1, 1.5])
def test_validation_split_out_of_range(split):
    X, y = blobs(20)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\), got"):
        _compiled().fit(X, y, validation_split=split, verbose=0)


def test_validation_split_leaving_no_validation_samples():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="leaves no training or no validation samples out of 10"):
        _compiled().fit(X, y, validation_split=0.01, verbose=0)


def test_callbacks_must_be_callbacks():
    X, y = blobs(8)
    with pytest.raises(TypeError, match="callbacks must be Callback objects"):
        _compiled().fit(X, y, callbacks=[lambda *a: None], verbose=0)


def test_sequential_takes_layers_only():
    with pytest.raises(TypeError, match="Sequential takes layers, got function"):
        bb.Sequential([Linear(2), lambda x: x])


# ---------------------------------------------------------------------- output
def test_verbose_0_prints_nothing(capsys):
    X, y = blobs(32)
    model = _compiled()
    model.fit(X, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    model.evaluate(X, y)
    model.predict(X)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_prints_epochs_and_throughput(capsys):
    X, y = blobs(32)
    model = _compiled()
    model.compile(optimizer=Adam(), loss=CrossEntropy(), metrics=["accuracy"])
    model.fit(X, y, epochs=2, batch_size=8, validation_split=0.25)      # verbose=1 by default
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "samples/s" in out
    assert "3/3 [" in out                       # 24 training samples in batches of 8
    assert "loss: " in out and "accuracy: " in out and "val_loss: " in out
    assert out.index("Epoch 1/2") < out.index("samples/s") < out.index("Epoch 2/2")


def test_evaluate_verbose_prints_results(capsys):
    X, y = blobs(16)
    model = _compiled()
    result = model.evaluate(X, y, verbose=1)
    assert capsys.readouterr().out.strip() == f"loss: {result['loss']:.4f}"
