"""Functional models (bb.Input, bb.Model), the Add and Concatenate layers, shared layers,
count_params / macs / summary, save / load, and the errors a bad graph raises.

The oracle is a hand-written torch model with the same weights: float64 where every op
has a float64 path (Linear, BatchNorm, Tanh, Add, Concatenate), float32 with convolutions.
"""
import numpy as np
import pytest
import torch

import braininabox as bb
from braininabox.train import model_file
from braininabox.nn.layers import (Add, BatchNorm, Concatenate, Conv2D, Flatten, GlobalAvgPool,
                                   Linear, ReLU, Tanh)
from braininabox.nn.symbolic import SymbolicTensor
from braininabox.nn.tensor import Tensor


@pytest.fixture(autouse=True)
def _seed():
    bb.seed(0)


def to_torch(t, dtype):
    return torch.tensor(np.asarray(t.data), dtype=dtype, requires_grad=True)


def as_float64(layers):
    """Give built layers float64 parameters (and buffers), for float64 comparisons."""
    for layer in layers:
        for name in ("weight", "bias"):
            p = getattr(layer, name, None)
            if p is not None:
                setattr(layer, name, Tensor(p.data, requires_grad=True, dtype=np.float64))
        for name, array in layer.buffers().items():
            setattr(layer, name, array.astype(np.float64))


# ----------------------------------------------------------- against torch
def dense_graph(layers=None):
    """input -> shared Linear twice (two branches), BatchNorm, Add, Concatenate, Linear."""
    first, shared, bn, last = Linear(6), Linear(5), BatchNorm(), Linear(3)
    x = bb.Input((6,))
    a = Tanh()(shared(x))
    b = bn(shared(first(x)))
    s = Add()([a, b])
    c = Concatenate(axis=1)([s, a])
    out = last(c)
    if layers is not None:
        layers.update(first=first, shared=shared, bn=bn, last=last)
    return bb.Model(inputs=x, outputs=out)


def test_dense_graph_matches_torch_in_float64_forward_and_every_gradient():
    named = {}
    model = dense_graph(named)
    first, shared, bn, last = (named[k] for k in ("first", "shared", "bn", "last"))
    as_float64(model.layers)
    X = np.random.default_rng(1).normal(size=(7, 6))

    xt = torch.tensor(X, requires_grad=True)
    w = {id(p): to_torch(p, torch.float64) for p in model.parameters()}
    lin = lambda layer, v: v @ w[id(layer.weight)].T + w[id(layer.bias)]  # noqa: E731
    a = torch.tanh(lin(shared, xt))
    h = lin(shared, lin(first, xt))
    mean, var = h.mean(0), h.var(0, unbiased=False)
    b = (h - mean) / torch.sqrt(var + 1e-5) * w[id(bn.weight)] + w[id(bn.bias)]
    expected = lin(last, torch.cat([a + b, a], dim=1))
    R = np.random.default_rng(2).normal(size=expected.shape)
    (expected * torch.tensor(R)).sum().backward()

    model.train()
    xb = Tensor(X, requires_grad=True, dtype=np.float64)
    out = model(xb)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.backward(R)
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert len(model.parameters()) == 8  # the shared Linear's weight and bias once
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, w[id(p)].grad.numpy(), rtol=1e-9, atol=1e-12)
    # the running statistics moved as in PyTorch (unbiased variance)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mean.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * h.var(0).detach().numpy(), rtol=1e-10)


def test_conv_graph_matches_torch_forward_and_gradients():
    proj_layer, conv, bn, lin = (Conv2D(4, kernel=1), Conv2D(4, kernel=3, padding="same"),
                                 BatchNorm(), Linear(5))
    x = bb.Input((3, 8, 8))
    proj = proj_layer(x)
    z = Add()([proj, ReLU()(bn(conv(proj)))])
    z = Concatenate(axis=1)([z, conv(ReLU()(z))])  # conv used twice: one set of weights
    model = bb.Model(x, lin(GlobalAvgPool()(z)))
    X = np.random.default_rng(3).normal(size=(4, 3, 8, 8)).astype(np.float32)

    w = {id(p): to_torch(p, torch.float32) for p in model.parameters()}
    xt = torch.tensor(X, requires_grad=True)
    F = torch.nn.functional
    conv_t = lambda v: F.conv2d(v, w[id(conv.weight)], w[id(conv.bias)], padding=1)  # noqa: E731
    proj_t = F.conv2d(xt, w[id(proj_layer.weight)], w[id(proj_layer.bias)])
    y_t = F.relu(F.batch_norm(conv_t(proj_t), None, None, w[id(bn.weight)], w[id(bn.bias)],
                              training=True, eps=1e-5))
    z_t = proj_t + y_t
    z_t = torch.cat([z_t, conv_t(F.relu(z_t))], dim=1)
    expected = F.linear(z_t.mean(dim=(2, 3)), w[id(lin.weight)], w[id(lin.bias)])
    R = np.random.default_rng(4).normal(size=expected.shape).astype(np.float32)
    (expected * torch.tensor(R)).sum().backward()

    xb = Tensor(X, requires_grad=True)
    out = model(xb)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.backward(R)
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, w[id(p)].grad.numpy(), rtol=1e-4, atol=1e-5)


# -------------------------------------------------------- Add, Concatenate eagerly
def test_add_and_concatenate_on_tensors_with_gradients():
    rng = np.random.default_rng(5)
    a, b, c = (Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True, dtype=np.float64)
               for _ in range(3))
    s = Add()([a, b, c])
    np.testing.assert_array_equal(s.data, a.data + b.data + c.data)
    R = rng.normal(size=s.shape)
    s.backward(R)
    for t in (a, b, c):
        np.testing.assert_array_equal(t.grad, R)
    a.grad = b.grad = None
    joined = Concatenate(axis=-1)([a, b])
    assert joined.shape == (2, 3, 8)
    np.testing.assert_array_equal(joined.data, np.concatenate([a.data, b.data], axis=-1))
    R = rng.normal(size=joined.shape)
    joined.backward(R)
    np.testing.assert_array_equal(a.grad, R[..., :4])
    np.testing.assert_array_equal(b.grad, R[..., 4:])
    # numpy arrays are accepted as in any layer
    np.testing.assert_array_equal(Add()([np.ones((1, 2)), np.ones((1, 2))]).data, [[2, 2]])


def test_add_and_concatenate_refuse_mismatched_shapes_eagerly():
    add = Add()
    with pytest.raises(ValueError, match=rf"Add '{add.name}': inputs must have one shape, got "
                                         r"input 0 \(2, 16, 8, 8\) and input 1 \(2, 32, 8, 8\)"):
        add([np.zeros((2, 16, 8, 8)), np.zeros((2, 32, 8, 8))])
    with pytest.raises(ValueError, match="agree on every axis but 1"):
        Concatenate(axis=1)([np.zeros((2, 3, 4)), np.zeros((2, 3, 5))])
    with pytest.raises(ValueError, match="axis 0 is the batch"):
        Concatenate(axis=0)([np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="same number of dimensions"):
        Concatenate()([np.zeros((2, 3)), np.zeros((2, 3, 1))])
    with pytest.raises(TypeError, match="takes a list of at least two inputs"):
        Add()(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="takes a list of at least two inputs"):
        Add()([np.zeros((2, 3))])


# ------------------------------------------------------------ errors, by layer
def test_add_of_mismatched_shapes_names_the_layers():
    x = bb.Input((3, 8, 8))
    a = Conv2D(16, kernel=3, padding=1)(x)
    b = Conv2D(32, kernel=3, padding=1)(x)
    a.layer.name, b.layer.name = "narrow", "wide"
    with pytest.raises(ValueError, match=r"Add '.*': inputs must have one shape, got 'narrow' "
                                         r"\(16, 8, 8\) and 'wide' \(32, 8, 8\)"):
        Add()([a, b])


def test_a_layer_reading_the_wrong_shape_names_itself_and_its_input():
    x = bb.Input((10,))
    lin = Linear(4)
    lin(x)
    other = Linear(20, in_features=10)
    other.name = "widen"
    lin.name = "head"
    with pytest.raises(ValueError, match=r"layer 'head' \(Linear\) cannot read 'widen' \(20,\): "
                                         r"Linear was built for 10 input features"):
        lin(other(x))
    with pytest.raises(ValueError, match=r"layer 'c' \(Conv2D\) cannot read 'input.*' \(10,\): "
                                         r"Conv2D expects \(N, C, H, W\)"):
        conv = Conv2D(4, 3)
        conv.name = "c"
        conv(x)


def test_cycle_is_refused_naming_the_layers():
    x = bb.Input((4,))
    y1 = Linear(4)(x)
    y2 = Tanh()(y1)
    out = Linear(2)(y2)
    y1.inputs = (y2,)  # only possible by editing a node: the functional API cannot build one
    with pytest.raises(ValueError, match=rf"the graph has a cycle: '{y2.name}' \(Tanh\) -> "
                                         rf"'{y1.name}' \(Linear\) -> '{y2.name}' \(Tanh\)"):
        bb.Model(x, out)


def test_cycle_in_a_saved_file_is_refused(tmp_path):
    import json
    model = dense_graph()
    path = model.save(tmp_path / "m.bb")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays["__header__"]))
    header["nodes"][0]["reads"] = [len(header["nodes"]) - 1]  # the first node reads the last
    del arrays["__header__"]
    # sealed with a valid checksum, so that the graph check itself is what refuses it
    (tmp_path / "cycle.npz").write_bytes(model_file.encode(header, arrays))
    with pytest.raises(ValueError, match="node 0 reads a node that does not come before it"):
        bb.load(tmp_path / "cycle.npz")


def test_disconnected_input_and_foreign_input_are_refused():
    x, other = bb.Input((4,), name="x"), bb.Input((4,), name="other")
    head = Linear(2)
    out = head(Tanh()(other))
    with pytest.raises(ValueError, match=r"reads Input 'other', which is not the model's input 'x' "
                                         r"\(read by '.*' \(Tanh\)\)"):
        bb.Model(x, out)
    both = Add()([Linear(4)(x), other])
    with pytest.raises(ValueError, match="Input 'other', which is not the model's input 'x'"):
        bb.Model(x, both)
    # an output that does not come from the input at all: only the input itself
    with pytest.raises(ValueError, match="no layers between its input and its output"):
        bb.Model(x, x)
    with pytest.raises(ValueError, match="one input \\(got 2\\)"):
        bb.Model([x, other], out)
    with pytest.raises(TypeError, match="must be a symbolic tensor"):
        bb.Model(x, np.zeros(3))
    with pytest.raises(ValueError, match="must come from bb.Input"):
        bb.Model(out, out)


def test_input_and_symbolic_misuse():
    with pytest.raises(ValueError, match="shape must be a tuple of positive ints"):
        bb.Input((3, 0, 2))
    assert bb.Input(5).shape == (5,)
    x = bb.Input((3,))
    with pytest.raises(TypeError, match="cannot mix symbolic inputs with ndarray data"):
        Add()([x, np.zeros((1, 3))])
    with pytest.raises(TypeError, match="is symbolic"):
        np.asarray(x)


def test_model_refuses_data_of_another_shape():
    model = dense_graph()
    with pytest.raises(ValueError, match=r"Model expects input \(N, 6\), got shape \(2, 5\)"):
        model(np.zeros((2, 5), dtype=np.float32))
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"Model expects samples of shape \(6,\)"):
        model.predict(np.zeros((2, 5), dtype=np.float32))


# ---------------------------------------------------- what Sequential has, too
def residual_classifier(classes=3):
    x = bb.Input((1, 6, 6))
    y = ReLU()(BatchNorm()(Conv2D(4, kernel=3, padding="same")(x)))
    y = BatchNorm()(Conv2D(4, kernel=3, padding="same")(y))
    z = ReLU()(Add()([Conv2D(4, kernel=1)(x), y]))
    return bb.Model(inputs=x, outputs=Linear(classes)(GlobalAvgPool()(z)))


def blobs(n=60, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(classes, 1, 6, 6))
    y = np.arange(n) % classes
    X = protos[y] + 0.3 * rng.normal(size=(n, 1, 6, 6))
    return X.astype(np.float32), y


def test_fit_with_validation_class_weight_and_callbacks_then_evaluate_and_predict(capsys):
    X, y = blobs()
    model = residual_classifier()
    model.compile(optimizer=bb.optimizers.Adam(lr=0.02), loss="cross_entropy",
                  metrics=["accuracy"])
    stopper = bb.callbacks.EarlyStopping(monitor="val_loss", patience=50)
    history = model.fit(X, y, epochs=8, batch_size=12, validation_split=0.2,
                        class_weight={0: 2.0}, callbacks=[stopper], verbose=1, seed=1)
    printed = capsys.readouterr().out
    assert "Epoch 8/8" in printed and "samples/s" in printed and "val_accuracy" in printed
    assert set(history.history) == {"loss", "accuracy", "lr", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 8
    assert history.history["loss"][-1] < history.history["loss"][0]
    results = model.evaluate(X, y)
    assert results["accuracy"] >= 0.9
    bns = [l for l in model.layers if isinstance(l, BatchNorm)]
    assert not any(l.training for l in model.layers)  # fit leaves the model in eval mode
    assert all(np.any(l.running_mean != 0) for l in bns)
    probs = model.predict(X, batch_size=7)
    assert probs.shape == (60, 3)
    np.testing.assert_array_equal(model.predict(X), probs)  # eval mode: no batch statistics
    model.train()
    assert all(l.training for l in model.layers)
    model.eval()
    assert not any(l.training for l in model.layers)


def test_summary_shows_layers_shapes_reads_macs_and_params():
    x = bb.Input((1, 6, 6), name="img")
    conv = Conv2D(2, kernel=3, padding="same")
    conv.name = "conv"
    a = conv(x)
    b = conv(Conv2D(1, kernel=1)(a))
    s = Add()([a, b])
    s.layer.name = "sum"
    flat = Flatten()(s)
    out = Linear(3)(flat)
    model = bb.Model(x, out)
    lines = []
    text = model.summary(print_fn=lines.append)
    assert lines == [text]
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    # conv: 2*1*3*3 weights at 36 positions = 648 MACs; 20 parameters
    assert rows["conv"][1:] == ["(Conv2D)", "(None,", "2,", "6,", "6)", "img", "648", "20"]
    assert rows["conv:1"][-3:] == [b.inputs[0].name, "648", "shared"]
    assert rows["sum"][-4:] == ["conv,", "conv:1", "0", "0"]
    linear_macs = 3 * 72
    assert model.macs() == 648 + 2 * 36 + 648 + linear_macs  # the 1x1 conv: 2 weights x 36
    assert model.count_params() == 20 + 3 + (3 * 72 + 3)
    assert f"Total params: {model.count_params():,}" in text
    assert f"Total MACs: {model.macs():,}" in text


def test_sequential_has_count_params_and_macs_in_its_summary():
    model = bb.Sequential([Conv2D(4, kernel=3), ReLU(), Flatten(), Linear(2)])
    model.build((1, 5, 5))
    assert model.count_params() == 4 * 9 + 4 + 2 * 36 + 2
    assert model.macs() == 4 * 9 * 9 + 2 * 36
    text = model.summary(print_fn=lambda s: None)
    assert "MACs" in text and "Total MACs: 396" in text


# ----------------------------------------------------------------- save / load
def test_save_load_round_trip_gives_byte_equal_predictions(tmp_path):
    X, y = blobs()
    model = residual_classifier()
    model.compile(optimizer="adam", loss="cross_entropy")
    model.fit(X, y, epochs=2, batch_size=10, verbose=0)
    path = model.save(tmp_path / "graph.bb")
    loaded = bb.load(path)
    assert type(loaded) is bb.Model
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert [repr(l) for l in loaded.layers] == [repr(l) for l in model.layers]
    for a, b in zip(loaded.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(loaded.layers, model.layers):
        for name, array in b.buffers().items():
            np.testing.assert_array_equal(a.buffers()[name], array)
    assert loaded.predict(X).tobytes() == model.predict(X).tobytes()
    assert loaded.summary(print_fn=lambda s: None) == model.summary(print_fn=lambda s: None)
    loaded.compile(optimizer="adam", loss="cross_entropy")
    loaded.fit(X, y, epochs=1, verbose=0)  # it trains on


def test_shared_layers_survive_save_and_load(tmp_path):
    model = dense_graph()
    X = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    loaded = bb.load(model.save(tmp_path / "shared.bb"))
    assert len(loaded.layers) == len(model.layers) == 7  # the shared Linear once
    shared = [n.layer for n in loaded.nodes if n.name.endswith(":1")]
    assert len(shared) == 1 and sum(n.layer is shared[0] for n in loaded.nodes) == 2
    assert loaded.predict(X).tobytes() == model.predict(X).tobytes()


def test_load_returns_a_sequential_for_a_sequential_file(tmp_path):
    model = bb.Sequential([Flatten(), Linear(3), BatchNorm(), Tanh()])
    model.build((2, 2))
    loaded = bb.load(model.save(tmp_path / "seq.bb"))
    assert type(loaded) is bb.Sequential


def test_model_file_version_is_checked(tmp_path):
    (tmp_path / "future.npz").write_bytes(
        model_file.encode({"format": "braininabox.Model", "version": 7}, {}))
    with pytest.raises(bb.ModelFileError, match="format version 7, this braininabox reads version 2"):
        bb.load(tmp_path / "future.npz")
    header = {"format": "braininabox.Model", "version": 2, "input": {"shape": [4]}, "layers": []}
    (tmp_path / "broken.npz").write_bytes(model_file.encode(header, {}))
    with pytest.raises(bb.ModelFileError, match="its architecture is malformed"):
        bb.load(tmp_path / "broken.npz")


def test_model_save_is_atomic(tmp_path, monkeypatch):
    model = dense_graph()
    path = model.save(tmp_path / "m.bb")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bb"]


def test_symbolic_tensor_repr_and_shapes():
    x = bb.Input((3, 4, 4), name="image")
    y = Conv2D(2, kernel=3, stride=2, padding="same")(x)
    assert isinstance(y, SymbolicTensor) and y.shape == (2, 2, 2) and y.inputs == (x,)
    assert repr(x) == "SymbolicTensor(shape=(None, 3, 4, 4), from='image')"


def test_fit_with_adamw_a_schedule_and_augmentation():
    X, y = blobs()
    model = residual_classifier()
    model.compile(optimizer=bb.optimizers.AdamW(lr=0.02, weight_decay=0.01), loss="cross_entropy",
                  metrics=["accuracy"])
    schedule = bb.optimizers.schedules.StepDecay(0.02, step_size=2, gamma=0.5)
    history = model.fit(X, y, epochs=4, batch_size=12, verbose=0, seed=0,
                        callbacks=[bb.callbacks.LearningRateScheduler(schedule)],
                        augment=bb.data.ImageAugment(shift=1, flip=True))
    assert history.history["lr"] == pytest.approx([0.02, 0.02, 0.01, 0.01])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_forward_releases_each_value_after_its_last_reader():
    model = residual_classifier()
    for i, done in enumerate(model._done_after):
        for r in done:  # node r's value goes right after the last node that reads it
            assert i == max(j for j, reads in enumerate(model._reads) if r in reads)
    dropped = sorted(r for done in model._done_after for r in done)
    assert dropped == list(range(len(model.nodes) - 1))  # everything but the output, once


def test_linear_relu_and_relu_maxpool_pairs_are_fused_with_the_same_results():
    x = bb.Input((2, 6, 6))
    c = Conv2D(3, kernel=3, padding=1)(x)
    r = ReLU()(c)
    p = bb.layers.MaxPool(2)(r)           # ReLU -> MaxPool: pooled first
    h = Linear(5)(Flatten()(p))
    out = Linear(2)(ReLU()(h))            # Linear -> ReLU: one C call
    branch = Linear(4)(Flatten()(x))      # a Linear read by two nodes is not fused
    joined = Concatenate(axis=1)([out, ReLU()(branch), branch])
    model = bb.Model(x, joined)
    kinds = {(type(model.nodes[i].layer).__name__, type(model.nodes[j].layer).__name__)
             for i, j in model._fused.items()}
    assert kinds == {("ReLU", "MaxPool"), ("Linear", "ReLU")} and len(model._fused) == 2
    X = np.random.default_rng(6).normal(size=(4, 2, 6, 6)).astype(np.float32)
    R = np.random.default_rng(7).normal(size=(4, 10)).astype(np.float32)
    results = []
    for fused in (model._fused, {}):
        model._fused = fused
        for p_ in model.parameters():
            p_.grad = None
        xb = Tensor(X, requires_grad=True)
        y = model(xb)
        y.backward(R)
        results.append([y.data, xb.grad] + [p_.grad for p_ in model.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_model_checkpoint_saves_a_model_that_loads_as_a_model(tmp_path):
    X, y = blobs()
    model = residual_classifier()
    model.compile(optimizer="adam", loss="cross_entropy")
    checkpoint = bb.callbacks.ModelCheckpoint(tmp_path / "ckpt-{epoch}.bb", monitor="loss")
    model.fit(X, y, epochs=2, batch_size=20, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-1.bb", "ckpt-2.bb"]
    last = bb.load(tmp_path / "ckpt-2.bb")
    assert type(last) is bb.Model
    assert last.predict(X).tobytes() == model.predict(X).tobytes()
