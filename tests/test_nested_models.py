"""A model used as a layer of a bb.Model (transfer learning, Keras style): its layers are
inlined into the outer graph, the same layer objects, so weights are shared with it."""
import numpy as np
import pytest
import torch

import braininabox as bb
from braininabox.nn.layers import Add, BatchNorm, Concatenate, Linear, ReLU, Tanh
from braininabox.nn.tensor import Tensor
from test_quantize_graph import _randomize_batch_norms

L = bb.layers


@pytest.fixture(autouse=True)
def _seed():
    bb.seed(0)


def as_float64(layers):
    for layer in layers:
        for name in ("weight", "bias"):
            p = getattr(layer, name, None)
            if p is not None:
                setattr(layer, name, Tensor(p.data, requires_grad=True, dtype=np.float64))


def dense_base():
    """input (6,) -> a Linear shared by two branches, Add, Concatenate, Linear -> (6,)."""
    first, shared, last = Linear(6), Linear(5), Linear(6)
    x = bb.Input((6,))
    a = Tanh()(shared(x))
    b = shared(first(x))
    c = Concatenate(axis=1)([Add()([a, b]), a])
    return bb.Model(x, last(c)), (first, shared, last)


def test_nested_model_called_twice_matches_torch_in_float64_forward_and_gradients():
    base, (first, shared, last) = dense_base()
    head = Linear(2)
    x = bb.Input((6,))
    y = base(x)
    z = base(y)  # the same model again: the same weights
    join = Add()
    model = bb.Model(x, head(join([y, z])))
    assert model.layers == base.layers + [join, head]
    assert len(model.parameters()) == len(base.parameters()) + 2
    as_float64(model.layers)
    X = np.random.default_rng(1).normal(size=(5, 6))

    w = {id(p): torch.tensor(p.data, requires_grad=True) for p in model.parameters()}
    lin = lambda layer, v: v @ w[id(layer.weight)].T + w[id(layer.bias)]  # noqa: E731

    def torch_base(v):
        a = torch.tanh(lin(shared, v))
        return lin(last, torch.cat([a + lin(shared, lin(first, v)), a], dim=1))

    xt = torch.tensor(X, requires_grad=True)
    yt = torch_base(xt)
    expected = lin(head, yt + torch_base(yt))
    R = np.random.default_rng(2).normal(size=expected.shape)
    (expected * torch.tensor(R)).sum().backward()

    xb = Tensor(X, requires_grad=True, dtype=np.float64)
    out = model(xb)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.backward(R)
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, w[id(p)].grad.numpy(), rtol=1e-9, atol=1e-12)


def small_cnn_layers():
    """The layers of a small residual CNN on (1, 12, 10), in call order."""
    return dict(conv=L.Conv2D(8, kernel=3, padding="same"), bn=BatchNorm(), relu=ReLU(),
                dw=L.DepthwiseConv2D(3, padding="same"), bn2=BatchNorm(), relu2=ReLU(),
                add=Add(), pool=L.GlobalAvgPool(), fc=Linear(6))


def small_cnn(ls, x):
    """Call the layers of small_cnn_layers on x, by hand."""
    y = ls["relu"](ls["bn"](ls["conv"](x)))
    z = ls["relu2"](ls["bn2"](ls["dw"](y)))
    return ls["fc"](ls["pool"](ls["add"]([y, z])))


def cnn_base():
    ls = small_cnn_layers()
    x = bb.Input((1, 12, 10))
    base = bb.Model(x, small_cnn(ls, x))
    _randomize_batch_norms(base)
    return base, ls


def test_outputs_equal_calling_the_pieces_and_eager_calls_still_work():
    base = bb.models.ds_cnn(input_shape=(1, 25, 10), classes=10, filters=8)
    head = Linear(3)
    inputs = bb.Input((1, 25, 10))
    model = bb.Model(inputs, head(base(inputs)))
    assert model.output_shape == (3,)
    model.eval()
    X = np.random.default_rng(0).normal(size=(6, 1, 25, 10)).astype(np.float32)
    by_hand = head(base(Tensor(X))).data  # eager calls of the pieces
    np.testing.assert_allclose(model(Tensor(X)).data, by_hand, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(X), by_hand, rtol=1e-5, atol=1e-6)
    assert model.count_params() == base.count_params() + 10 * 3 + 3
    assert model.macs() == base.macs() + 30


def test_weights_are_shared_with_the_base():
    base, ls = cnn_base()
    x = bb.Input((1, 12, 10))
    model = bb.Model(x, Linear(2)(base(x)))
    assert model.layers[0] is ls["conv"]
    assert all(any(p is q for q in model.parameters()) for p in base.parameters())
    model.eval()
    X = np.random.default_rng(0).normal(size=(3, 1, 12, 10)).astype(np.float32)
    before = model.predict(X)
    ls["fc"].weight.data[:] *= 2  # a change to the base is seen by the outer model
    assert not np.allclose(model.predict(X), before)


def test_an_optimizer_on_the_head_trains_only_the_head():
    base, _ = cnn_base()
    head = Linear(3)
    x = bb.Input((1, 12, 10))
    model = bb.Model(x, head(base(x)))
    base_weights = [p.data.copy() for p in base.parameters()]
    head_weights = [p.data.copy() for p in head.parameters()]
    model.compile(optimizer=bb.optimizers.Adam(head.parameters(), lr=0.05), loss="cross_entropy")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 1, 12, 10)).astype(np.float32)
    model.fit(X, rng.integers(0, 3, 32), epochs=2, batch_size=8, verbose=0)
    for p, w in zip(base.parameters(), base_weights):
        np.testing.assert_array_equal(p.data, w)
    assert all(not np.array_equal(p.data, w) for p, w in zip(head.parameters(), head_weights))


def test_a_wrong_input_shape_is_refused_naming_both_shapes_and_the_model():
    base, _ = cnn_base()
    base.name = "backbone"
    with pytest.raises(ValueError, match=r"Model 'backbone' expects input \(None, 1, 12, 10\), "
                                         r"got 'wrong' of shape \(None, 1, 12, 9\)"):
        base(bb.Input((1, 12, 9), name="wrong"))
    seq = bb.Sequential([Linear(4)], name="mlp").build((5,))
    with pytest.raises(ValueError, match=r"Sequential 'mlp' expects input \(None, 5\), got "
                                         r"'input_\d+' of shape \(None, 6\)"):
        seq(bb.Input((6,)))
    unbuildable = bb.Sequential([L.Conv2D(4, kernel=3)], name="convs")
    with pytest.raises(ValueError, match=r"Sequential 'convs' cannot be built for 'flat' \(6,\)"):
        unbuildable(bb.Input((6,), name="flat"))
    with pytest.raises(TypeError, match=r"Model 'backbone' takes one input, got a list of 2"):
        base([bb.Input((1, 12, 10)), bb.Input((1, 12, 10))])


def test_a_sequential_inside_a_model_built_or_built_from_the_symbolic_shape():
    built = bb.Sequential([Linear(8), ReLU(), Linear(4)]).build((5,))
    unbuilt = bb.Sequential([Linear(3), Tanh()])
    x = bb.Input((5,))
    model = bb.Model(x, unbuilt(built(x)))
    assert unbuilt.input_shape == (4,) and model.output_shape == (3,)
    assert model.layers == built.layers + unbuilt.layers
    X = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(model.predict(X), unbuilt.predict(built.predict(X)), rtol=1e-6)


def test_a_model_inside_a_model_inside_a_model():
    base, _ = cnn_base()
    x = bb.Input((1, 12, 10))
    middle_head = Linear(5)
    middle = bb.Model(x, middle_head(base(x)))
    x2 = bb.Input((1, 12, 10))
    outer_head = bb.Sequential([ReLU(), Linear(2)])
    outer = bb.Model(x2, outer_head(middle(x2)))
    assert outer.layers == base.layers + [middle_head] + outer_head.layers
    outer.eval()
    X = np.random.default_rng(0).normal(size=(3, 1, 12, 10)).astype(np.float32)
    by_hand = outer_head(middle_head(base(Tensor(X)))).data
    np.testing.assert_allclose(outer.predict(X), by_hand, rtol=1e-5, atol=1e-6)


def test_save_and_load_of_a_nested_model_gives_identical_predictions(tmp_path):
    base, _ = cnn_base()
    x = bb.Input((1, 12, 10))
    model = bb.Model(x, Linear(3)(base(x)))
    model.eval()
    X = np.random.default_rng(0).normal(size=(4, 1, 12, 10)).astype(np.float32)
    model.save(tmp_path / "nested.bb")
    loaded = bb.load(tmp_path / "nested.bb")
    assert isinstance(loaded, bb.Model) and len(loaded.nodes) == len(model.nodes)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_quantize_of_a_nested_model_gives_the_int8_bytes_of_the_flat_model_by_hand():
    base, ls = cnn_base()
    head = Linear(3)
    x = bb.Input((1, 12, 10))
    nested = bb.Model(x, head(base(x)))
    x2 = bb.Input((1, 12, 10))
    flat = bb.Model(x2, head(small_cnn(ls, x2)))  # the same layers, written out by hand
    X = np.random.default_rng(0).normal(size=(16, 1, 12, 10)).astype(np.float32)
    qn, qf = bb.quantize(nested, X), bb.quantize(flat, X)
    assert [op.kind for op in qn.ops] == [op.kind for op in qf.ops]
    assert len(qn.ops) >= 4
    for a, b in zip(qn.ops, qf.ops):
        assert a.c_params() == b.c_params()
        for (field, x_a, _), (_, x_b, _) in zip(a.data_arrays(), b.data_arrays()):
            assert (x_a is None) == (x_b is None), field
            if x_a is not None:
                assert x_a.dtype == x_b.dtype and x_a.tobytes() == x_b.tobytes(), field
    np.testing.assert_array_equal(qn.predict_int8(X), qf.predict_int8(X))


def test_summary_numbers_a_layers_calls_in_its_own_graph():
    enc = Linear(4)
    enc.name = "enc"
    x = bb.Input((4,), name="x")
    base = bb.Model(x, enc(x))  # enc's first call is in base's graph
    x2 = bb.Input((4,), name="x2")
    model = bb.Model(x2, base(base(x2)))
    rows = model.summary(print_fn=lambda *_: None)
    # enc was called once when base was written: here its calls are enc and enc:1
    assert "enc (Linear)" in rows and "enc:1 (Linear)" in rows and "enc:2" not in rows
    assert "shared" in rows


def test_a_frozen_base_keeps_its_weights_and_batch_norm_statistics_as_in_keras():
    """base.trainable = False: fit trains the rest, and the base runs in evaluation mode
    (its BatchNorm neither uses nor updates batch statistics)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    bb.seed(0)
    base = bb.Sequential([bb.layers.Linear(8), bb.layers.BatchNorm(), bb.layers.ReLU()])
    inputs = bb.Input((4,))
    model = bb.Model(inputs, bb.layers.Linear(2)(base(inputs)))
    before = base.get_weights()   # weights, then the running mean and variance
    head_before = [p.data.copy() for p in model.layers_in_order()[-1].parameters()]
    base.trainable = False
    assert not base.trainable and model.trainable
    assert len(model.trainable_parameters()) == 2   # the head's weight and bias
    model.compile("adam", "cross_entropy").fit(X, y, epochs=2, batch_size=16, verbose=0)
    for now, then in zip(base.get_weights(), before):
        np.testing.assert_array_equal(now, then)
    head_now = [p.data for p in model.layers_in_order()[-1].parameters()]
    assert all(not np.array_equal(a, b) for a, b in zip(head_now, head_before))
    summary = model.summary(print_fn=lambda text: None)
    assert "Trainable params: 18 (the rest frozen: trainable=False)" in summary
    base.trainable = True   # and back: BatchNorm learns again
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(base.get_weights()[-1], before[-1])
    model.trainable = False
    with pytest.raises(ValueError, match="fit: no layer is trainable"):
        model.fit(X, y, verbose=0)
