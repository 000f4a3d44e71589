"""Layers: lazy building, shapes, parameters, initialization, and clear errors."""
import math

import numpy as np
import pytest

import braininabox as bb
from braininabox.nn.layers import (AvgPool, Conv2D, Dropout, Flatten, Linear, MaxPool, ReLU,
                                Sigmoid, Softmax, Tanh)


@pytest.fixture(autouse=True)
def _seed():
    bb.seed(1234)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------ lazy build
def test_conv2d_learns_in_channels_at_first_call():
    conv = Conv2D(32, kernel=3)
    assert not conv.built and conv.weight is None and conv.bias is None
    out = conv(_x(2, 5, 8, 8))
    assert conv.built and conv.in_channels == 5
    assert conv.weight.shape == (32, 5, 3, 3)
    assert conv.bias.shape == (32,)
    assert out.shape == (2, 32, 6, 6)


def test_linear_learns_in_features_at_first_call():
    lin = Linear(10)
    assert not lin.built and lin.weight is None
    out = lin(_x(4, 7))
    assert lin.built and lin.in_features == 7
    assert lin.weight.shape == (10, 7) and lin.bias.shape == (10,)
    assert out.shape == (4, 10)


def test_explicit_sizes_build_immediately():
    lin = Linear(3, in_features=4)
    conv = Conv2D(2, kernel=3, in_channels=6)
    assert lin.built and lin.weight.shape == (3, 4)
    assert conv.built and conv.weight.shape == (2, 6, 3, 3)


def test_linear_forward_is_x_weight_t_plus_bias():
    lin = Linear(3)
    x = _x(5, 4)
    out = lin(x).data
    np.testing.assert_allclose(out, x @ lin.weight.data.T + lin.bias.data, rtol=1e-5, atol=1e-6)


def test_conv2d_forward_matches_direct_loop():
    conv = Conv2D(3, kernel=(2, 3), stride=(1, 2), padding=1)
    x = _x(2, 2, 5, 6)
    out = conv(x).data
    w, b = conv.weight.data.astype(np.float64), conv.bias.data.astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    oh = (5 + 2 - 2) // 1 + 1
    ow = (6 + 2 - 3) // 2 + 1
    assert out.shape == (2, 3, oh, ow)
    ref = np.empty((2, 3, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i:i + 2, 2 * j:2 * j + 3]
            ref[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w) + b
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_use_bias_false_has_only_weight():
    lin, conv = Linear(3, use_bias=False), Conv2D(2, 3, use_bias=False)
    lin(_x(2, 4))
    conv(_x(1, 1, 4, 4))
    assert lin.bias is None and lin.parameters() == [lin.weight]
    assert conv.bias is None and conv.parameters() == [conv.weight]


def test_parameters_order_weight_then_bias():
    lin = Linear(3)
    assert lin.parameters() == []          # nothing before build
    lin(_x(2, 4))
    params = lin.parameters()
    assert len(params) == 2
    assert params[0] is lin.weight and params[1] is lin.bias
    assert all(p.requires_grad for p in params)
    assert all(p.dtype == np.float32 for p in params)
    for layer in (ReLU(), Flatten(), MaxPool(2), Softmax(), Dropout(0.3)):
        assert layer.parameters() == []


def test_sequential_parameters_in_layer_order():
    model = bb.Sequential([Conv2D(4, kernel=3), ReLU(), Flatten(), Linear(5), Linear(2)])
    model.build((1, 5, 5))
    params = model.parameters()
    expected = [model.layers[0].weight, model.layers[0].bias, model.layers[3].weight,
                model.layers[3].bias, model.layers[4].weight, model.layers[4].bias]
    assert len(params) == 6
    assert all(p is q for p, q in zip(params, expected))
    assert [p.shape for p in params] == [(4, 1, 3, 3), (4,), (5, 36), (5,), (2, 5), (2,)]


# -------------------------------------------------------------- initialization
def test_conv2d_he_uniform_bounds_and_variance():
    conv = Conv2D(64, kernel=3, in_channels=16)
    fan_in = 16 * 9
    limit = math.sqrt(6.0 / fan_in)
    w = conv.weight.data
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.95 * limit            # uses the range, not a narrower one
    # He: Var = 2 / fan_in (uniform on [-l, l] has variance l^2 / 3)
    assert w.var() == pytest.approx(2.0 / fan_in, rel=0.08)
    assert abs(w.mean()) < 0.05 * limit
    assert np.all(conv.bias.data == 0)


def test_linear_glorot_uniform_bounds_and_variance():
    lin = Linear(200, in_features=300)
    limit = math.sqrt(6.0 / (300 + 200))
    w = lin.weight.data
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.95 * limit
    assert w.var() == pytest.approx(2.0 / (300 + 200), rel=0.05)
    assert np.all(lin.bias.data == 0)


def test_init_he_for_linear_and_glorot_for_conv():
    lin = Linear(200, in_features=300, init="he")
    assert lin.weight.data.var() == pytest.approx(2.0 / 300, rel=0.05)
    conv = Conv2D(64, kernel=3, in_channels=16, init="glorot")
    fan_in, fan_out = 16 * 9, 64 * 9
    assert np.abs(conv.weight.data).max() <= math.sqrt(6.0 / (fan_in + fan_out))
    assert conv.weight.data.var() == pytest.approx(2.0 / (fan_in + fan_out), rel=0.08)


def test_seed_makes_initialization_reproducible():
    bb.seed(7)
    a = Linear(5, in_features=4).weight.data.copy()
    bb.seed(7)
    b = Linear(5, in_features=4).weight.data.copy()
    c = Linear(5, in_features=4).weight.data.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


# ------------------------------------------------------------ padding / stride
@pytest.mark.parametrize("padding, expected_hw", [
    ("valid", (6, 6)), ("same", (8, 8)), (0, (6, 6)), (1, (8, 8)), (2, (10, 10)),
    ((1, 0), (8, 6)), ([0, 2], (6, 10)),
])
def test_conv2d_padding(padding, expected_hw):
    out = Conv2D(3, kernel=3, padding=padding)(_x(2, 1, 8, 8))
    assert out.shape == (2, 3) + expected_hw


def test_conv2d_same_padding_with_5x5_and_rectangular_kernel():
    assert Conv2D(2, kernel=5, padding="same")(_x(1, 1, 9, 7)).shape == (1, 2, 9, 7)
    assert Conv2D(2, kernel=(3, 5), padding="same")(_x(1, 1, 9, 7)).shape == (1, 2, 9, 7)


@pytest.mark.parametrize("stride, padding, expected_hw", [
    (2, 0, (4, 4)), (2, 1, (5, 5)), (3, 0, (3, 3)), ((2, 1), 0, (4, 8)),
])
def test_conv2d_stride(stride, padding, expected_hw):
    # out = floor((in + 2p - k) / s) + 1 with in = 10, k = 3
    out = Conv2D(2, kernel=3, stride=stride, padding=padding)(_x(1, 1, 10, 10))
    assert out.shape == (1, 2) + expected_hw


def test_conv2d_stride_picks_every_other_output():
    bb.seed(3)
    a = Conv2D(2, kernel=3, stride=1)
    b = Conv2D(2, kernel=3, stride=2, in_channels=1)
    x = _x(1, 1, 9, 9)
    full = a(x).data
    b.weight.data[...] = a.weight.data
    b.bias.data[...] = a.bias.data
    np.testing.assert_allclose(b(x).data, full[:, :, ::2, ::2], rtol=1e-5, atol=1e-6)


def test_pooling_shapes_and_values():
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    mp = MaxPool(2)(x).data
    ap = AvgPool(2)(x).data
    assert mp.shape == ap.shape == (2, 3, 2, 3)
    ref = x.reshape(2, 3, 2, 2, 3, 2)
    np.testing.assert_array_equal(mp, ref.max(axis=(3, 5)))
    np.testing.assert_allclose(ap, ref.mean(axis=(3, 5)))
    assert MaxPool(3, stride=1)(x).shape == (2, 3, 2, 4)
    assert MaxPool((2, 3))(x).shape == (2, 3, 2, 2)


def test_flatten_and_activations():
    x = _x(3, 2, 4, 5)
    assert Flatten()(x).shape == (3, 40)
    np.testing.assert_array_equal(Flatten()(x).data, x.reshape(3, -1))
    np.testing.assert_array_equal(ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(Sigmoid()(x).data, 1 / (1 + np.exp(-x)), rtol=1e-5)
    np.testing.assert_allclose(Tanh()(x).data, np.tanh(x), rtol=1e-5, atol=1e-6)


def test_softmax_rows_sum_to_one():
    x = _x(6, 10) * 20          # large logits: must stay finite
    p = Softmax()(x).data
    assert p.shape == (6, 10)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-7)
    q = Softmax(axis=0)(x).data
    np.testing.assert_allclose(q.sum(axis=0), 1.0, rtol=1e-5)


# --------------------------------------------------------------------- dropout
def test_dropout_training_zeroes_a_fraction_and_rescales():
    drop = Dropout(0.25)
    x = np.ones((200, 100), dtype=np.float32)
    assert drop.training
    y = drop(x).data
    zeros = np.mean(y == 0)
    assert zeros == pytest.approx(0.25, abs=0.02)
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.03)


def test_dropout_eval_is_identity():
    drop = Dropout(0.5)
    drop.training = False
    x = _x(50, 20)
    np.testing.assert_array_equal(drop(x).data, x)


def test_dropout_follows_model_train_eval():
    model = bb.Sequential([Dropout(0.5)])
    x = np.ones((100, 50), dtype=np.float32)
    model.train()
    assert np.mean(model(x).data == 0) > 0.3
    model.eval()
    np.testing.assert_array_equal(model(x).data, x)
    # predict runs in evaluation mode
    np.testing.assert_array_equal(model.predict(x), x)


# ---------------------------------------------------------------------- errors
def test_conv2d_fed_3d_input_names_the_shape():
    with pytest.raises(ValueError, match=r"Conv2D expects \(N, C, H, W\), got \(N, 28, 28\)"):
        Conv2D(32, kernel=3)(np.zeros((5, 28, 28), dtype=np.float32))


def test_conv2d_in_a_model_fed_3d_input():
    model = bb.Sequential([Conv2D(32, kernel=3), ReLU(), MaxPool(2), Flatten(), Linear(10)])
    model.compile(optimizer="adam", loss="cross_entropy")
    with pytest.raises(ValueError, match=r"Conv2D expects \(N, C, H, W\), got \(N, 28, 28\)"):
        model.fit(np.zeros((4, 28, 28), dtype=np.float32), np.zeros(4, dtype=np.int64), verbose=0)


def test_linear_fed_4d_input():
    with pytest.raises(ValueError, match=r"Linear expects \(N, features\).*Flatten"):
        Linear(10)(np.zeros((2, 1, 4, 4), dtype=np.float32))


def test_linear_feature_mismatch_after_build():
    lin = Linear(3)
    lin(_x(2, 4))
    with pytest.raises(ValueError, match="built for 4 input features, got 5"):
        lin(_x(2, 5))


def test_conv2d_channel_mismatch_after_build():
    conv = Conv2D(8, kernel=3)
    conv(_x(1, 3, 6, 6))
    with pytest.raises(ValueError, match="built for 3 input channels, got 1"):
        conv(_x(1, 1, 6, 6))


def test_pool_fed_2d_input():
    with pytest.raises(ValueError, match=r"MaxPool expects \(N, C, H, W\)"):
        MaxPool(2)(_x(3, 4))
    with pytest.raises(ValueError, match=r"AvgPool expects \(N, C, H, W\)"):
        AvgPool(2)(_x(3, 4))


@pytest.mark.parametrize("make, message", [
    (lambda: Linear(0), "units must be a positive integer"),
    (lambda: Linear(-3), "units must be a positive integer"),
    (lambda: Linear(2.5), "units must be a positive integer"),
    (lambda: Linear(True), "units must be a positive integer"),
    (lambda: Linear("10"), "units must be a positive integer"),
    (lambda: Linear(3, init="xavier"), "init must be 'he' or 'glorot'"),
    (lambda: Conv2D(0, kernel=3), "filters must be a positive integer"),
    (lambda: Conv2D(4, kernel=0), "kernel and stride must be >= 1"),
    (lambda: Conv2D(4, kernel=3, stride=0), "kernel and stride must be >= 1"),
    (lambda: Conv2D(4, kernel=(3, 3, 3)), "kernel must be an int or a pair"),
    (lambda: Conv2D(4, kernel=3, padding=-1), "padding must be >= 0"),
    (lambda: Conv2D(4, kernel=3, padding="full"), "padding must be 'valid', 'same'"),
    (lambda: Conv2D(4, kernel=(2, 0), padding="same"), "kernel and stride must be >= 1"),
    (lambda: Conv2D(4, kernel=3, init="normal"), "init must be 'he' or 'glorot'"),
    (lambda: MaxPool(0), "size and stride must be >= 1"),
    (lambda: AvgPool(2, stride=0), "size and stride must be >= 1"),
    (lambda: Dropout(1.0), r"p must be in \[0, 1\)"),
    (lambda: Dropout(-0.1), r"p must be in \[0, 1\)"),
])
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_kernel_larger_than_input():
    with pytest.raises(ValueError, match="smaller than the kernel"):
        Conv2D(2, kernel=5)(_x(1, 1, 3, 3))


def test_layer_repr_shows_config():
    assert repr(Linear(10)) == "Linear(units=10, use_bias=True, init='glorot', in_features=None)"
    assert "padding=[1, 1]" in repr(Conv2D(4, kernel=3, padding="same"))


def test_linear_applies_to_every_step_of_a_sequence():
    bb.seed(0)
    layer = Linear(4)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    t = bb.Tensor(x, requires_grad=True)
    y = layer(t)
    assert y.shape == (2, 5, 4)
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(t.grad, np.broadcast_to(layer.weight.data.sum(0), x.shape), rtol=1e-5)
    with pytest.raises(ValueError, match="Flatten"):
        layer(np.zeros((2, 1, 5, 3), np.float32))


def test_quantize_refuses_a_linear_over_a_sequence():
    bb.seed(0)
    model = bb.Sequential([Linear(4)])
    with pytest.raises(ValueError, match="feature vector"):
        bb.quantize(model, np.zeros((3, 5, 3), np.float32))
