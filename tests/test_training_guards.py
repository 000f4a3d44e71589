"""Training and API guards from issue 15: divergence keeps a usable model, a failed first
call builds nothing, silently-accepted bad arguments are refused with clear messages."""
import threading

import numpy as np
import pytest

import braininabox as bb
from braininabox.nn import functional as F
from braininabox.nn import recurrent
from braininabox.nn.layers import Linear, ReLU, Softmax
from braininabox.train.callbacks import EarlyStopping, ModelCheckpoint


def data(n=64, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    return X, rng.integers(0, classes, n)


def mlp(classes=3):
    bb.seed(0)
    return bb.Sequential([Linear(16), ReLU(), Linear(classes)])


@pytest.mark.parametrize("loss, targets", [("mse", "onehot"), ("cross_entropy", "labels")])
def test_divergence_keeps_the_last_finite_weights_and_eval_mode(loss, targets):
    X, y = data()
    X *= 100
    y = np.eye(3, dtype=np.float32)[y] if targets == "onehot" else y
    model = mlp()
    model.compile(optimizer=bb.optimizers.SGD(lr=1e6), loss=loss)
    model.build((4,))
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match="training diverged.*weights are back to those "
                                                 "at the start of epoch 1"):
        model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert not any(layer.training for layer in model.layers)
    assert np.all(np.isfinite(model.predict(X)))
    model.compile(optimizer=bb.optimizers.SGD(lr=1e-3), loss=loss)  # and it trains on
    model.fit(X / 100, y, epochs=1, verbose=0)


def test_cross_entropy_blowing_up_while_finite_is_reported():
    """Adam at lr 1e6 with cross-entropy: the loss reached 1e12..1e14 with nothing reported."""
    X, y = data(n=256)
    model = mlp()
    model.compile(optimizer=bb.optimizers.Adam(lr=1e6), loss="cross_entropy")
    with pytest.raises(FloatingPointError, match="loss grew from .* at epoch 1"):
        model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_a_failed_first_call_builds_nothing():
    model = bb.Sequential([Linear(4), Softmax(axis=2)])
    with pytest.raises(ValueError, match="Softmax: axis 2 is out of range"):
        model(np.zeros((2, 3), np.float32))
    assert not model.layers[0].built and model.layers[0].weight is None
    assert model.input_shape is None
    # the same model takes other input now (it used to say "built for 3 input features")
    model.layers[1] = Softmax(axis=-1)
    assert model(np.zeros((2, 6), np.float32)).shape == (2, 4)
    assert model.layers[0].weight.shape == (4, 6)


def test_a_failed_build_builds_nothing():
    model = bb.Sequential([Linear(4), Softmax(axis=5)])
    with pytest.raises(ValueError, match="axis 5"):
        model.build((3,))
    assert not model.layers[0].built and model._output_shapes is None


def test_complex_features_are_refused():
    X, y = data()
    model = mlp()
    model.compile(loss="cross_entropy")
    with pytest.raises(TypeError, match="X is complex"):
        model.fit(X + 1j, y, verbose=0)
    with pytest.raises(TypeError, match="X is complex"):
        model.predict((X + 0j).tolist())


def test_negative_one_hot_targets_are_refused():
    X, y = data()
    onehot = np.eye(3, dtype=np.float32)[y]
    onehot[5, 0] = -1
    model = mlp()
    model.compile(loss="cross_entropy")
    with pytest.raises(ValueError, match="targets must be finite and >= 0"):
        model.fit(X, onehot, verbose=0)
    with pytest.raises(ValueError, match="targets must be finite and >= 0"):
        bb.loss.CrossEntropy()(bb.Tensor(np.zeros((2, 3), np.float32)), -np.eye(3)[:2])


@pytest.mark.parametrize("class_weight, pattern", [
    ({"1": 2.0}, "keys must be integer class indices, got '1'"),
    ({1.7: 2.0}, "keys must be integer class indices, got 1.7"),
    ({True: 2.0}, "keys must be integer class indices"),
    ({3: 2.0}, "names class 3, but the model has 3 outputs"),
    ({-1: 2.0}, "names class -1"),
    ({1: -2.0}, "must be a finite number >= 0"),
    ({1: float("nan")}, "must be a finite number >= 0"),
    ({0: 0, 1: 0, 2: 0}, "class weights of every label in this batch are 0"),
    ([1, 2, 3], "must be a dict"),
])
def test_class_weight_errors_are_clear(class_weight, pattern):
    X, y = data()
    model = mlp()
    model.compile(loss="cross_entropy")
    with pytest.raises((ValueError, TypeError), match=pattern) as info:
        model.fit(X, y, class_weight=class_weight, verbose=0)
    assert "status" not in str(info.value)


def test_functional_class_weights_are_checked_before_c():
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="finite and >= 0"):
        F.cross_entropy(logits, [0, 1], weight=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="every label in this batch are 0"):
        F.cross_entropy(logits, [0, 1], weight=[0.0, 0.0, 1.0])


def test_epochs_must_be_a_non_negative_integer():
    X, y = data()
    model = mlp()
    model.compile(loss="cross_entropy")
    for epochs in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
            model.fit(X, y, epochs=epochs, verbose=0)
    assert model.fit(X, y, epochs=0, verbose=0).history == {}  # documented: trains nothing


@pytest.mark.parametrize("op, gates, bias_args", [
    (recurrent.rnn, 1, lambda b: {"bias": b}),
    (recurrent.lstm, 4, lambda b: {"bias": b}),
    (recurrent.gru, 3, lambda b: {"bias_ih": b}),
    (recurrent.gru, 3, lambda b: {"bias_hh": b}),
])
def test_recurrent_biases_must_have_their_full_shape(op, gates, bias_args):
    h, i = 4, 3
    x = np.zeros((2, 5, i), np.float32)
    w_ih, w_hh = np.zeros((gates * h, i), np.float32), np.zeros((gates * h, h), np.float32)
    with pytest.raises(ValueError, match=rf"bias\w* must have shape \({gates * h},\), got \(1,\)"):
        op(x, w_ih, w_hh, **bias_args(np.zeros(1, np.float32)))


def test_mean_of_an_empty_tensor_says_so():
    with pytest.raises(ValueError, match="mean of an empty tensor"):
        bb.Tensor(np.zeros((0, 3), np.float32)).mean()
    with pytest.raises(ValueError, match="mean of an empty tensor"):
        bb.Tensor(np.zeros((2, 0), np.float32)).mean(axis=1)


def test_checkpoint_naming_validation_values_needs_validation_data(tmp_path):
    X, y = data()
    model = mlp()
    model.compile(loss="cross_entropy")
    with pytest.raises(ValueError, match=r"uses \['val_loss'\], but fit has no validation data"):
        model.fit(X, y, epochs=2, verbose=0,
                  callbacks=[ModelCheckpoint(str(tmp_path / "ck-{val_loss:.2f}.bb"))])
    with pytest.raises(ValueError, match="monitors 'val_loss', but fit has no validation data"):
        model.fit(X, y, epochs=2, verbose=0,
                  callbacks=[ModelCheckpoint(str(tmp_path / "b.bb"), save_best_only=True)])
    with pytest.raises(ValueError, match="EarlyStopping monitors 'val_loss'"):
        model.fit(X, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])
    assert list(tmp_path.iterdir()) == []
    # with validation data the same checkpoint works
    model.fit(X, y, epochs=1, verbose=0, validation_split=0.25,
              callbacks=[ModelCheckpoint(str(tmp_path / "ck-{val_loss:.2f}.bb"))])
    assert len(list(tmp_path.iterdir())) == 1


def test_set_num_threads_is_process_wide():
    original = bb.get_num_threads()
    try:
        bb.set_num_threads(1)
        seen = []
        worker = threading.Thread(target=lambda: seen.append(bb.get_num_threads()))
        worker.start()
        worker.join()
        assert seen == [1]
    finally:
        bb.set_num_threads(original)


class _RecordBatchNorm(bb.callbacks.Callback):
    """The BatchNorm's running statistics at the end of every epoch."""

    def __init__(self, layer):
        self.layer, self.stats = layer, []

    def on_epoch_end(self, epoch, logs=None):
        self.stats.append((self.layer.running_mean.copy(), self.layer.running_var.copy()))
        logs["score"] = [3.0, 1.0, 2.0, 2.5, 4.0][epoch]


def _batch_norm_model():
    bb.seed(0)
    return bb.Sequential([Linear(6), bb.layers.BatchNorm(), bb.layers.ReLU(), Linear(3)])


def test_early_stopping_restores_batch_norm_statistics_with_the_weights():
    X, y = data()
    model = _batch_norm_model()
    model.compile(optimizer=bb.optimizers.SGD(lr=0.1), loss="cross_entropy")
    bn = model.layers[1]
    recorder = _RecordBatchNorm(bn)
    stop = bb.callbacks.EarlyStopping(monitor="score", patience=1, restore_best_weights=True)
    model.fit(X, y, epochs=5, batch_size=8, callbacks=[recorder, stop], verbose=0)
    assert stop.stopped_epoch == 3  # best at epoch 1, no better at 2 and 3
    best_mean, best_var = recorder.stats[1]
    assert not np.array_equal(best_mean, recorder.stats[-1][0])  # they moved after the best
    np.testing.assert_array_equal(bn.running_mean, best_mean)
    np.testing.assert_array_equal(bn.running_var, best_var)


def test_divergence_puts_back_the_batch_norm_statistics_too():
    X, y = data()
    model = _batch_norm_model()
    model.compile(optimizer=bb.optimizers.SGD(lr=1e6), loss="mse")
    model.build((4,))
    bn = model.layers[1]
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    with pytest.raises(FloatingPointError, match="training diverged"):
        model.fit(X * 1e3, np.eye(3, dtype=np.float32)[y], epochs=3, batch_size=8, verbose=0)
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)
