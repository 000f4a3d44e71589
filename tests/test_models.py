"""bb.models: the MLPerf Tiny reference models build with the reference MACs and
parameter counts, train (the loss goes down in a few steps), and ResNet-8 computes what a
hand-written torch ResNet-8 with the same weights computes."""
import numpy as np
import pytest
import torch

import braininabox as bb
from braininabox.nn.layers import Add, BatchNorm, Conv2D, Linear
from braininabox.nn.tensor import Tensor


@pytest.fixture(autouse=True)
def _seed():
    bb.seed(0)


# builder, output shape, MACs (the issue's), trainable parameters, BatchNorm buffer values.
# The parameter counts are the Keras references' trainable ones (DS-CNN 23,756; ResNet-8
# 78,186 + 480 non-trainable = 78,666 total; autoencoder 267,928 + 2,064 = 269,992).
REFERENCE = [
    (bb.models.ds_cnn, (12,), 2_656_768, 23_756, 1_152),
    (bb.models.mobilenet_v1, (2,), 7_489_664, 216_322, 5_472),
    (bb.models.resnet8, (10,), 12_501_632, 78_186, 480),
    (bb.models.fc_autoencoder, (640,), 264_192, 267_928, 2_064),
]


@pytest.mark.parametrize("builder, out_shape, macs, params, buffers", REFERENCE,
                         ids=[r[0].__name__ for r in REFERENCE])
def test_reference_shapes_macs_and_params(builder, out_shape, macs, params, buffers):
    model = builder()
    assert isinstance(model, bb.Model)
    assert model.output_shape == out_shape
    assert model.macs() == macs
    assert model.count_params() == params
    assert sum(a.size for l in model.layers for a in l.buffers().values()) == buffers
    text = model.summary(print_fn=lambda s: None)
    assert f"Total MACs: {macs:,}" in text and f"Total params: {params:,}" in text


def test_default_input_shapes_are_the_references():
    assert bb.models.ds_cnn().input_shape == (1, 49, 10)
    assert bb.models.mobilenet_v1().input_shape == (3, 96, 96)
    assert bb.models.resnet8().input_shape == (3, 32, 32)
    assert bb.models.fc_autoencoder().input_shape == (640,)


def test_builders_take_input_shape_and_classes():
    model = bb.models.resnet8(input_shape=(1, 28, 28), classes=7)
    assert model.input_shape == (1, 28, 28) and model.output_shape == (7,)
    assert bb.models.ds_cnn(input_shape=(1, 32, 13), classes=10).output_shape == (10,)
    small = bb.models.mobilenet_v1(alpha=0.5, input_shape=(3, 64, 64), classes=3)
    assert small.output_shape == (3,)
    assert [l.filters for l in small.layers if isinstance(l, Conv2D)][:2] == [16, 32]
    assert bb.models.fc_autoencoder(input_shape=32).output_shape == (32,)
    with pytest.raises(ValueError, match=r"resnet8: input_shape must be one sample's \(C, H, W\)"):
        bb.models.resnet8(input_shape=(28, 28))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        bb.models.mobilenet_v1(alpha=0)


TRAINING = [
    (lambda: bb.models.ds_cnn(), "cross_entropy", 12),
    (lambda: bb.models.mobilenet_v1(input_shape=(3, 48, 48)), "cross_entropy", 2),  # fast
    (lambda: bb.models.resnet8(), "cross_entropy", 10),
    (lambda: bb.models.fc_autoencoder(), "mse", None),
]


@pytest.mark.parametrize("make, loss, classes", TRAINING,
                         ids=["ds_cnn", "mobilenet_v1", "resnet8", "fc_autoencoder"])
def test_trains_a_few_steps_on_random_data_and_the_loss_goes_down(make, loss, classes):
    model = make()
    rng = np.random.default_rng(1)
    n = 16
    X = rng.normal(size=(n,) + model.input_shape).astype(np.float32)
    y = X if classes is None else rng.integers(0, classes, size=n)
    model.compile(optimizer=bb.optimizers.Adam(lr=3e-3), loss=loss)
    history = model.fit(X, y, epochs=5, batch_size=n, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0], losses


# ------------------------------------------------------ ResNet-8 against torch
def tf_same_conv(x, w, b, stride):
    """TensorFlow's 'same' convolution in torch: extra padding at the bottom/right."""
    k, size = w.shape[-1], x.shape[-1]
    out = -(-size // stride)
    pad = max((out - 1) * stride + k - size, 0)
    x = torch.nn.functional.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
    return torch.nn.functional.conv2d(x, w, b, stride=stride)


def test_resnet8_matches_a_hand_written_torch_resnet8():
    model = bb.models.resnet8()
    # the layers in the order the data meets them (the main chain is a path through the
    # graph, so its 3x3 convolutions and BatchNorms come in order; 1x1 = shortcuts)
    layers = [n.layer for n in model.nodes]
    convs = [l for l in layers if isinstance(l, Conv2D) and l.kernel == (3, 3)]
    shortcuts = [l for l in layers if isinstance(l, Conv2D) and l.kernel == (1, 1)]
    bns = [l for l in layers if isinstance(l, BatchNorm)]
    linear = layers[-1]
    assert (len(convs), len(shortcuts), len(bns)) == (7, 2, 7) and isinstance(linear, Linear)
    assert sum(isinstance(l, Add) for l in layers) == 3
    w = {id(p): torch.tensor(p.data, requires_grad=True) for p in model.parameters()}
    F = torch.nn.functional

    def conv(layer, x):
        return tf_same_conv(x, w[id(layer.weight)], w[id(layer.bias)], layer.stride[0])

    def bn(layer, x):
        return F.batch_norm(x, None, None, w[id(layer.weight)], w[id(layer.bias)], training=True)

    X = np.random.default_rng(2).normal(size=(4, 3, 32, 32)).astype(np.float32)
    xt = torch.tensor(X, requires_grad=True)
    h = F.relu(bn(bns[0], conv(convs[0], xt)))
    for stack in range(3):
        y = F.relu(bn(bns[1 + 2 * stack], conv(convs[1 + 2 * stack], h)))
        y = bn(bns[2 + 2 * stack], conv(convs[2 + 2 * stack], y))
        assert convs[1 + 2 * stack].stride == ((1, 1) if stack == 0 else (2, 2))
        shortcut = h if stack == 0 else conv(shortcuts[stack - 1], h)
        h = F.relu(shortcut + y)
    assert h.shape == (4, 64, 8, 8)
    expected = F.linear(h.mean(dim=(2, 3)), w[id(linear.weight)], w[id(linear.bias)])
    R = np.random.default_rng(3).normal(size=expected.shape).astype(np.float32)
    (expected * torch.tensor(R)).sum().backward()

    model.train()
    xb = Tensor(X, requires_grad=True)
    out = model(xb)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-3, atol=1e-4)
    out.backward(R)
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-3, atol=1e-5)
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, w[id(p)].grad.numpy(), rtol=1e-3, atol=1e-4)


def test_ds_cnn_matches_a_hand_written_torch_ds_cnn_in_eval_mode():
    model = bb.models.ds_cnn()
    layers = [n.layer for n in model.nodes]  # a chain: the order the data meets them
    rng = np.random.default_rng(4)
    for layer in layers:
        if isinstance(layer, BatchNorm):  # running statistics as after some training
            layer.running_mean = rng.normal(size=layer.in_channels).astype(np.float32)
            layer.running_var = rng.uniform(0.5, 2, size=layer.in_channels).astype(np.float32)
            layer.weight.data[...] = rng.normal(size=layer.in_channels)
    F = torch.nn.functional
    t = lambda a: torch.tensor(np.asarray(a.data if isinstance(a, Tensor) else a))  # noqa: E731
    X = rng.normal(size=(3, 1, 49, 10)).astype(np.float32)
    h = torch.tensor(X)
    for layer in layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D"):
            # TensorFlow's 'same': 10x4 stride 2 on 49x10 pads 4 top, 5 bottom, 1 left, 1 right
            kh, kw = layer.kernel
            sh, sw = layer.stride
            ph = max((-(-h.shape[2] // sh) - 1) * sh + kh - h.shape[2], 0)
            pw = max((-(-h.shape[3] // sw) - 1) * sw + kw - h.shape[3], 0)
            h = F.conv2d(F.pad(h, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)), t(layer.weight),
                         t(layer.bias), stride=layer.stride,
                         groups=h.shape[1] if kind == "DepthwiseConv2D" else 1)
        elif kind == "BatchNorm":
            h = F.batch_norm(h, t(layer.running_mean), t(layer.running_var), t(layer.weight),
                             t(layer.bias), training=False, eps=layer.eps)
        elif kind == "ReLU":
            h = F.relu(h)
        elif kind == "GlobalAvgPool":
            h = h.mean(dim=(2, 3))
        elif kind == "Linear":
            h = F.linear(h, t(layer.weight), t(layer.bias))
        else:
            assert kind == "Dropout"  # identity in eval mode
    assert h.shape == (3, 12)
    np.testing.assert_allclose(model.predict(X), h.numpy(), rtol=1e-4, atol=1e-4)
