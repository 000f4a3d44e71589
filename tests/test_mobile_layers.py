"""The ops and layers small deployed models use (depthwise and "same" convolutions,
batch norm, global pooling, 1-D convolution and pooling, ReLU6, LeakyReLU) against
PyTorch in float64: forward values, every gradient (also by finite differences of the
torch reference, via tests/gradcheck.py), BatchNorm's running statistics, and errors.
"""
import numpy as np
import pytest

import braininabox as bb
from braininabox import functional as F
from braininabox.nn.layers import (AvgPool, AvgPool1D, BatchNorm, Conv1D, Conv2D, DepthwiseConv2D,
                                GlobalAvgPool, LeakyReLU, MaxPool, MaxPool1D, ReLU, ReLU6,
                                SeparableConv2D)
from braininabox import Tensor
from gradcheck import assert_close, check_grad, check_grad_against

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def rand(*shape, seed=0, scale=1.0):
    return scale * np.random.default_rng(seed).standard_normal(shape)


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def tf_same(size, kernel, stride):
    """TensorFlow's "same" padding, written independently: (before, after)."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def torch_grads(fn, *arrays, seed=5):
    """fn on float64 torch tensors; returns (output, grads of sum(out * R)) with R seeded."""
    ts = [t64(a).requires_grad_() for a in arrays]
    out = fn(*ts)
    cot = torch.from_numpy(np.random.default_rng(seed).standard_normal(tuple(out.shape)))
    out.backward(cot)
    return out.detach().numpy(), [t.grad.numpy() for t in ts], cot.numpy()


def our_grads(fn, cot, *arrays):
    ts = [Tensor(a, requires_grad=True, dtype=np.asarray(a).dtype) for a in arrays]
    out = fn(*ts)
    out.backward(grad=cot.astype(out.dtype))
    return out.data, [t.grad for t in ts]


# ------------------------------------------------------------- depthwise conv2d
DEPTHWISE_CASES = [
    # (N, C, H, W), multiplier, (kh, kw), stride, padding
    ((2, 3, 7, 8), 1, (3, 3), 1, 1),
    ((2, 3, 7, 8), 2, (3, 3), 1, 1),
    ((2, 2, 8, 8), 1, (3, 3), 2, "same"),     # even size, stride 2: pad 0 above, 1 below
    ((2, 2, 7, 9), 2, (3, 3), 2, "same"),     # odd sizes
    ((1, 3, 6, 6), 1, (3, 3), 1, "same"),
    ((2, 2, 9, 7), 2, (3, 3), 2, 1),
    ((1, 2, 10, 6), 1, (5, 3), (2, 1), "valid"),
    ((2, 2, 9, 5), 3, (4, 2), 1, "same"),     # even kernel: the extra at the bottom / right
    ((1, 2, 5, 6), 1, (3, 3), 3, (2, 0)),
    # stride 1 on planes under 16 columns takes the bordered-plane ("narrow") path in
    # csrc/bb_depthwise.c; wider ones, or bordered planes over 512 floats, the row code
    ((1, 2, 25, 5), 1, (3, 3), 1, "same"),    # the DS-CNN's planes (narrow)
    ((1, 2, 2, 3), 2, (3, 3), 1, "same"),     # smaller than the kernel's reach (narrow)
    ((1, 2, 4, 20), 1, (3, 3), 1, 1),         # wide: the row code
    ((1, 2, 3, 17), 2, (3, 3), 1, "same"),    # wide, with a multiplier
    ((1, 1, 60, 9), 1, (3, 3), 1, 1),         # narrow but 62 x 11 > 512 floats: the row code
    ((1, 2, 5, 6), 1, (3, 3), 1, 3),          # padding > kernel - 1: dx falls back
]


@pytest.mark.parametrize("xshape, mult, kernel, stride, padding", DEPTHWISE_CASES)
def test_depthwise_conv2d_matches_torch_and_finite_differences(xshape, mult, kernel, stride,
                                                              padding):
    c = xshape[1]
    x = rand(*xshape, seed=1)
    w = rand(c * mult, 1, *kernel, seed=2, scale=0.5)
    b = rand(c * mult, seed=3)

    def ref(x_, w_, b_):
        return _torch_dw(t64(x_), t64(w_), t64(b_), stride, padding, c).numpy()
    out = check_grad_against(lambda x_, w_, b_: F.depthwise_conv2d(x_, w_, b_, stride, padding),
                             ref, x, w, b, atol=1e-4, rtol=1e-4)
    if padding == "same":
        s = stride if isinstance(stride, tuple) else (stride, stride)
        assert out.shape[2:] == (-(-xshape[2] // s[0]), -(-xshape[3] // s[1]))
    # and the gradients against torch's autograd directly
    want_out, want, cot = torch_grads(lambda a, w_, b_: _torch_dw(a, w_, b_, stride, padding, c),
                                      x, w, b)
    got_out, got = our_grads(lambda a, w_, b_: F.depthwise_conv2d(a, w_, b_, stride, padding),
                             cot, *(v.astype(np.float32) for v in (x, w, b)))
    assert_close(got_out, want_out, 1e-4, 1e-4, "forward")
    for name, g, e in zip(("dx", "dw", "db"), got, want):
        assert_close(g, e, 1e-4, 1e-4, name)


def _torch_dw(x, w, b, stride, padding, groups):
    """torch's depthwise conv2d with autograd (float64), "same" via F.pad."""
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    if padding == "same":
        (t, bo), (le, r) = (tf_same(x.shape[2], w.shape[2], stride[0]),
                            tf_same(x.shape[3], w.shape[3], stride[1]))
        x, padding = TF.pad(x, (le, r, t, bo)), 0
    elif padding == "valid":
        padding = 0
    return TF.conv2d(x, w, b, stride, padding, groups=groups)


def test_depthwise_conv2d_without_bias_and_only_some_gradients():
    x, w = rand(2, 3, 6, 6, seed=4), rand(6, 1, 3, 3, seed=5)
    tx, tw = Tensor(x), Tensor(w, requires_grad=True)
    out = F.depthwise_conv2d(tx, tw, None, 1, 1)
    out.sum().backward()
    assert tx.grad is None
    expected = torch_grads(lambda a, b: TF.conv2d(a, b, None, 1, 1, groups=3), x, w)[0]
    assert_close(out.data, expected, 1e-5, 1e-5, "forward")
    tw64 = t64(w).requires_grad_()
    TF.conv2d(t64(x), tw64, None, 1, 1, groups=3).sum().backward()
    assert_close(tw.grad, tw64.grad.numpy(), 1e-4, 1e-5, "dw")


@pytest.mark.parametrize("call, message", [
    (lambda: F.depthwise_conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3))),
     r"weight shape \(4, 1, 3, 3\) must be \(C \* depth_multiplier, 1, kh, kw\) for an input "
     r"with 3 channels"),
    (lambda: F.depthwise_conv2d(np.zeros((1, 3, 5, 5)), np.zeros((3, 2, 3, 3))),
     r"must be \(C \* depth_multiplier, 1, kh, kw\)"),
    (lambda: F.depthwise_conv2d(np.zeros((3, 5, 5)), np.zeros((3, 1, 3, 3))),
     r"depthwise_conv2d expects \(N, C, H, W\)"),
    (lambda: F.depthwise_conv2d(np.zeros((1, 3, 2, 5)), np.zeros((3, 1, 3, 3))),
     r"input height 2 \(padding 0\) is smaller than the kernel height 3"),
    (lambda: F.depthwise_conv2d(np.zeros((1, 3, 5, 5)), np.zeros((3, 1, 3, 3)), np.zeros(2)),
     r"bias must have shape \(3,\)"),
    (lambda: F.depthwise_conv2d(np.zeros((1, 3, 5, 5)), np.zeros((3, 1, 3, 3)), stride=0),
     r"stride must be >= 1"),
    (lambda: F.depthwise_conv2d(np.zeros((1, 3, 5, 5)), np.zeros((3, 1, 3, 3)), padding="full"),
     r"padding must be 'valid', 'same'"),
])
def test_depthwise_conv2d_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------- conv2d "same"
@pytest.mark.parametrize("size", [(8, 8), (7, 9), (6, 5)])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4), (10, 4), (1, 1)])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_same_padding_matches_tensorflow_rule(size, kernel, stride):
    if kernel == (10, 4):
        size = (size[0] + 6, size[1])  # the DS-CNN's first kernel
    x = rand(2, 2, *size, seed=6)
    w = rand(3, 2, *kernel, seed=7, scale=0.5)
    b = rand(3, seed=8)
    want_out, want, cot = torch_grads(lambda a, b_, c_: _torch_conv_same(a, b_, c_, stride),
                                      x, w, b)
    got_out, got = our_grads(lambda a, b_, c_: F.conv2d(a, b_, c_, stride, "same"), cot,
                             *(v.astype(np.float32) for v in (x, w, b)))
    assert got_out.shape[2:] == (-(-size[0] // stride), -(-size[1] // stride))
    scale = np.sqrt(w[0].size)
    assert_close(got_out, want_out, 2e-5 * scale, 1e-4, "forward")
    for name, g, e in zip(("dx", "dw", "db"), got, want):
        assert_close(g, e, 1e-4 * scale, 1e-4, name)


def _torch_conv_same(x, w, b, stride):
    (t, bo), (le, r) = (tf_same(x.shape[2], w.shape[2], stride),
                        tf_same(x.shape[3], w.shape[3], stride))
    return TF.conv2d(TF.pad(x, (le, r, t, bo)), w, b, stride)


def test_conv2d_same_backward_by_finite_differences():
    x, w, b = rand(2, 2, 6, 7, seed=9), rand(3, 2, 3, 2, seed=10, scale=0.5), rand(3, seed=11)
    check_grad_against(lambda x_, w_, b_: F.conv2d(x_, w_, b_, 2, "same"),
                       lambda x_, w_, b_: _torch_conv_same(t64(x_), t64(w_), t64(b_), 2).numpy(),
                       x, w, b, atol=1e-4, rtol=1e-4)


def test_conv2d_valid_and_pairs():
    x, w = rand(1, 2, 7, 9, seed=12), rand(3, 2, 3, 2, seed=13)
    out = F.conv2d(x, w, None, (2, 1), "valid")
    assert_close(out.data, TF.conv2d(t64(x), t64(w), None, (2, 1), 0).numpy(), 1e-5, 1e-5, "valid")
    out = F.conv2d(x, w, None, (1, 2), (2, 1))
    assert_close(out.data, TF.conv2d(t64(x), t64(w), None, (1, 2), (2, 1)).numpy(), 1e-5, 1e-5,
                 "pairs")


# ------------------------------------------------------------------ batch norm
def _torch_bn(x, rm, rv, g, b, training, momentum, eps):
    return TF.batch_norm(x, rm, rv, g, b, training, momentum, eps)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (8, 5), (3, 4, 7)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_float64_finite_differences_and_torch(shape, training):
    c = shape[1]
    x = rand(*shape, seed=14) * 2 + 3
    g, b = rand(c, seed=15), rand(c, seed=16)
    rm0, rv0 = rand(c, seed=17), 1 + np.abs(rand(c, seed=18))

    def op(x_, g_, b_):
        return F.batch_norm(x_, rm0.copy(), rv0.copy(), g_, b_, training, 0.1, 1e-5)
    check_grad(op, x, g, b, atol=1e-6, rtol=1e-5)

    rm, rv = rm0.copy(), rv0.copy()
    trm, trv = t64(rm0), t64(rv0)
    want_out, want, cot = torch_grads(
        lambda a, g_, b_: _torch_bn(a, trm, trv, g_, b_, training, 0.1, 1e-5), x, g, b)
    got_out, got = our_grads(lambda a, g_, b_: F.batch_norm(a, rm, rv, g_, b_, training, 0.1,
                                                            1e-5), cot, x, g, b)
    assert_close(got_out, want_out, 1e-10, 1e-10, "forward")
    for name, gg, e in zip(("dx", "dweight", "dbias"), got, want):
        assert_close(gg, e, 1e-10, 1e-9, name)
    assert_close(rm, trm.numpy(), 1e-12, 1e-12, "running_mean")
    assert_close(rv, trv.numpy(), 1e-12, 1e-12, "running_var")


# (100, 70, 5, 5): two channel blocks of csrc/bb_batchnorm.c (64 + 6) and float lane sums
# flushed to double twice per channel (every 81 images of 25 values)
@pytest.mark.parametrize("shape", [(16, 8, 6, 6), (32, 10), (5, 3, 11), (100, 70, 5, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_float32_kernel_matches_torch(shape, training):
    c = shape[1]
    x = (rand(*shape, seed=19) * 2 + 3).astype(np.float32)
    g, b = rand(c, seed=20).astype(np.float32), rand(c, seed=21).astype(np.float32)
    rm = rand(c, seed=22).astype(np.float32)
    rv = (1 + np.abs(rand(c, seed=23))).astype(np.float32)
    trm, trv = t64(rm), t64(rv)
    want_out, want, cot = torch_grads(
        lambda a, g_, b_: _torch_bn(a, trm, trv, g_, b_, training, 0.2, 1e-3), x, g, b)
    got_out, got = our_grads(lambda a, g_, b_: F.batch_norm(a, rm, rv, g_, b_, training, 0.2,
                                                            1e-3), cot, x, g, b)
    assert got_out.dtype == np.float32
    assert_close(got_out, want_out, 1e-5, 1e-5, "forward")
    count = x.size // c
    assert_close(got[0], want[0], 1e-5, 1e-4, "dx")
    assert_close(got[1], want[1], 1e-6 * count, 1e-5, "dweight")
    assert_close(got[2], want[2], 1e-6 * count, 1e-5, "dbias")
    assert_close(rm, trm.numpy(), 1e-6, 1e-6, "running_mean")
    assert_close(rv, trv.numpy(), 1e-6, 1e-5, "running_var")


def test_batch_norm_float32_backward_by_finite_differences():
    x, g, b = rand(6, 3, 4, 4, seed=24) + 1, rand(3, seed=25), rand(3, seed=26)

    def ref(x_, g_, b_):
        return TF.batch_norm(t64(x_), None, None, t64(g_), t64(b_), True, 0.1, 1e-5).numpy()
    check_grad_against(lambda x_, g_, b_: F.batch_norm(x_, None, None, g_, b_, True),
                       ref, x, g, b, atol=1e-4, rtol=1e-3)


def test_batch_norm_layer_running_statistics_follow_torch_over_several_steps():
    rng = np.random.default_rng(27)
    ours, theirs = BatchNorm(momentum=0.3, eps=1e-4), torch.nn.BatchNorm2d(4, momentum=0.3,
                                                                          eps=1e-4).double()
    opt = bb.optimizers.SGD(lr=0.1)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for step in range(5):
        x = (rng.standard_normal((6, 4, 5, 5)) * (step + 1) + step).astype(np.float32)
        cot = rng.standard_normal(x.shape)
        out = ours(Tensor(x))
        if step == 0:
            opt.bind(ours.parameters())
        opt.zero_grad()
        (out * Tensor(cot.astype(np.float32))).sum().backward()
        opt.step()
        tout = theirs(t64(x))
        topt.zero_grad()
        (tout * torch.from_numpy(cot)).sum().backward()
        topt.step()
        assert_close(out.data, tout.detach().numpy(), 1e-4, 1e-4, f"step {step} output")
    assert_close(ours.running_mean, theirs.running_mean.numpy(), 1e-5, 1e-5, "running_mean")
    assert_close(ours.running_var, theirs.running_var.numpy(), 1e-5, 1e-5, "running_var")
    assert_close(ours.weight.data, theirs.weight.detach().numpy(), 1e-4, 1e-4, "weight")
    assert_close(ours.bias.data, theirs.bias.detach().numpy(), 1e-4, 1e-4, "bias")
    ours.training = False
    theirs.eval()
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)  # one sample is fine in eval
    assert_close(ours(Tensor(x)).data, theirs(t64(x)).detach().numpy(), 1e-5, 1e-5, "eval")


def test_batch_norm_layer_on_features_matches_batchnorm1d():
    x = rand(10, 6, seed=28).astype(np.float32)
    layer, ref = BatchNorm(), torch.nn.BatchNorm1d(6).double()
    assert_close(layer(Tensor(x)).data, ref(t64(x)).detach().numpy(), 1e-5, 1e-5, "forward")
    assert_close(layer.running_var, ref.running_var.numpy(), 1e-6, 1e-6, "running_var")
    assert layer.weight.shape == layer.bias.shape == (6,)
    assert [p is q for p, q in zip(layer.parameters(), (layer.weight, layer.bias))] == [True, True]


def test_batch_norm_in_a_model_uses_running_statistics_to_predict_and_is_saved(tmp_path):
    rng = np.random.default_rng(29)
    X = (rng.standard_normal((64, 2, 6, 6)) * 3 + 2).astype(np.float32)
    y = (X.mean(axis=(1, 2, 3)) > 2).astype(np.int64)
    bb.seed(0)
    model = bb.Sequential([Conv2D(4, 3, padding="same"), BatchNorm(), ReLU(), GlobalAvgPool(),
                           bb.layers.Linear(2)])
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    bn = model.layers[1]
    assert not np.allclose(bn.running_mean, 0) and not np.allclose(bn.running_var, 1)
    # predict == the eval-mode forward with the running statistics
    conv = model.layers[0](Tensor(X[:5])).data
    scale = bn.weight.data / np.sqrt(bn.running_var + bn.eps)
    normed = (conv - bn.running_mean[:, None, None]) * scale[:, None, None] + bn.bias.data[:, None, None]
    pooled = np.maximum(normed, 0).mean(axis=(2, 3))
    lin = model.layers[4]
    assert_close(model.predict(X[:5]), pooled @ lin.weight.data.T + lin.bias.data, 1e-4, 1e-4,
                 "predict")
    path = model.save(tmp_path / "bn.bb")
    loaded = bb.load(path)
    assert_close(loaded.layers[1].running_mean, bn.running_mean, 0, 0, "loaded running_mean")
    assert_close(loaded.layers[1].running_var, bn.running_var, 0, 0, "loaded running_var")
    assert_close(loaded.predict(X), model.predict(X), 0, 0, "loaded predictions")
    loaded.compile(optimizer="adam", loss="cross_entropy")
    assert model.evaluate(X, y)["loss"] == pytest.approx(loaded.evaluate(X, y)["loss"])


@pytest.mark.parametrize("call, message", [
    (lambda: BatchNorm()(np.zeros((1, 3, 1, 1))),
     r"BatchNorm in training mode needs more than one value per channel, got input shape "
     r"\(1, 3, 1, 1\)"),
    (lambda: BatchNorm()(np.zeros((1, 3))), r"BatchNorm in training mode needs more than one"),
    (lambda: BatchNorm()(np.zeros(5)), r"BatchNorm expects \(N, C\), \(N, C, L\) or \(N, C, H, W\)"),
    (lambda: BatchNorm(momentum=1.5), r"BatchNorm: momentum must be in \[0, 1\]"),
    (lambda: BatchNorm(eps=0), r"BatchNorm: eps must be > 0"),
    (lambda: F.batch_norm(np.zeros((4, 3)), None, None, training=False),
     r"evaluation \(training=False\) needs running_mean and running_var"),
    (lambda: F.batch_norm(np.zeros((4, 3)), np.zeros(2), np.ones(2), training=True),
     r"running_mean must be a numpy array of shape \(3,\)"),
    (lambda: F.batch_norm(np.zeros((1, 3)), None, None, training=True),
     r"training needs more than one value per channel"),
])
def test_batch_norm_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_batch_norm_layer_checks_channels_once_built():
    layer = BatchNorm()
    layer(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"BatchNorm was built for 3 channels, got 4"):
        layer(np.ones((2, 4, 2, 2)))


# ------------------------------------------------------------ pooling, activations
def test_global_avg_pool2d_matches_torch_and_finite_differences():
    x = rand(2, 3, 5, 4, seed=30)
    check_grad(F.global_avg_pool2d, x)
    check_grad_against(F.global_avg_pool2d, lambda a: a.mean(axis=(2, 3)), x)
    want_out, want, cot = torch_grads(lambda a: TF.adaptive_avg_pool2d(a, 1).flatten(1), x)
    got_out, got = our_grads(F.global_avg_pool2d, cot, x.astype(np.float32))
    assert_close(got_out, want_out, 1e-6, 1e-6, "forward")
    assert_close(got[0], want[0], 1e-7, 1e-6, "dx")
    with pytest.raises(ValueError, match=r"GlobalAvgPool expects \(N, C, H, W\)"):
        GlobalAvgPool()(np.zeros((2, 3)))


@pytest.mark.parametrize("fn, ref", [
    (F.relu6, lambda a: TF.relu6(a)),
    (lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2)),
    (F.leaky_relu, lambda a: TF.leaky_relu(a)),
])
def test_activations_match_torch(fn, ref):
    x = rand(3, 50, seed=31) * 5
    x[0, :4] = [0.0, 6.0, -0.0, 3.0]  # the kinks: gradients as torch defines them
    check_grad(fn, x[1:])
    want_out, want, cot = torch_grads(ref, x)
    got_out, got = our_grads(fn, cot, x)
    assert_close(got_out, want_out, 0, 0, "forward")
    assert_close(got[0], want[0], 0, 0, "gradient")


def test_activation_layers():
    x = np.array([[-3.0, 2.0, 9.0]], dtype=np.float32)
    assert ReLU6()(x).data.tolist() == [[0.0, 2.0, 6.0]]
    np.testing.assert_allclose(LeakyReLU(alpha=0.5)(x).data, [[-1.5, 2.0, 9.0]])
    assert LeakyReLU().alpha == 0.01
    with pytest.raises(ValueError, match="LeakyReLU: alpha must be a finite number"):
        LeakyReLU(alpha=float("nan"))


# --------------------------------------------------------------------- 1-D ops
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, "same"), (2, "same"),
                                             (3, "valid")])
def test_conv1d_matches_torch(stride, padding):
    x, w, b = rand(2, 3, 17, seed=32), rand(4, 3, 4, seed=33, scale=0.5), rand(4, seed=34)

    def torch_conv1d(a, w_, b_):
        if padding == "same":
            before, after = tf_same(a.shape[2], w_.shape[2], stride)
            return TF.conv1d(TF.pad(a, (before, after)), w_, b_, stride)
        return TF.conv1d(a, w_, b_, stride, 0 if padding == "valid" else padding)
    want_out, want, cot = torch_grads(torch_conv1d, x, w, b)
    got_out, got = our_grads(lambda a, w_, b_: F.conv1d(a, w_, b_, stride, padding), cot,
                             *(v.astype(np.float32) for v in (x, w, b)))
    assert_close(got_out, want_out, 1e-5, 1e-5, "forward")
    for name, g, e in zip(("dx", "dw", "db"), got, want):
        assert_close(g, e, 1e-4, 1e-4, name)
    check_grad_against(lambda a, w_, b_: F.conv1d(a, w_, b_, stride, padding),
                       lambda a, w_, b_: torch_conv1d(t64(a), t64(w_), t64(b_)).numpy(),
                       x, w, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("ours, theirs", [(F.max_pool1d, TF.max_pool1d),
                                          (F.avg_pool1d, TF.avg_pool1d)])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), (4, 1)])
def test_pool1d_matches_torch(ours, theirs, kernel, stride):
    x = rand(2, 3, 13, seed=35)
    want_out, want, cot = torch_grads(lambda a: theirs(a, kernel, stride), x)
    got_out, got = our_grads(lambda a: ours(a, kernel, stride), cot, x.astype(np.float32))
    assert_close(got_out, want_out, 1e-6, 1e-6, "forward")
    assert_close(got[0], want[0], 1e-6, 1e-6, "dx")
    check_grad_against(lambda a: ours(a, kernel, stride),
                       lambda a: theirs(t64(a), kernel, stride).numpy(), x)


def test_conv1d_and_pool1d_layers():
    x = rand(4, 2, 20, seed=36).astype(np.float32)
    conv = Conv1D(5, kernel=3, stride=2, padding="same")
    out = MaxPool1D(2)(conv(x))
    assert conv.weight.shape == (5, 2, 3) and conv.bias.shape == (5,)
    assert out.shape == (4, 5, 5)
    assert AvgPool1D(3, stride=1)(x).shape == (4, 2, 18)
    with pytest.raises(ValueError, match=r"Conv1D expects \(N, C, L\), got shape \(4, 20\); add a "
                                         r"channel axis"):
        Conv1D(2, 3)(np.zeros((4, 20)))
    with pytest.raises(ValueError, match=r"MaxPool1D expects \(N, C, L\)"):
        MaxPool1D(2)(np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"Conv1D: padding must be 'valid', 'same' or an int"):
        Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv1D: kernel must be a positive integer"):
        Conv1D(2, (3, 3))


# ------------------------------------------------------------------------ layers
def test_conv2d_layer_pairs_and_same_at_stride_2():
    x = rand(2, 1, 49, 10, seed=37).astype(np.float32)
    layer = Conv2D(6, kernel=(10, 4), stride=2, padding="same")
    out = layer(x)
    assert out.shape == (2, 6, 25, 5) and layer.padding == "same"
    expected = _torch_conv_same(t64(x), t64(layer.weight.data), t64(layer.bias.data), 2)
    assert_close(out.data, expected.numpy(), 1e-4, 1e-4, "DS-CNN first conv")
    assert Conv2D(2, 3, padding="same").padding == (1, 1)   # symmetric: a plain pair
    assert Conv2D(2, 3, padding="valid").padding == (0, 0)
    assert MaxPool((2, 1))(x).shape == (2, 1, 24, 10)
    assert AvgPool((1, 2), stride=(1, 2))(x).shape == (2, 1, 49, 5)


def test_depthwise_layer_weight_layout_and_torch_equivalence():
    x = rand(2, 3, 8, 8, seed=38).astype(np.float32)
    layer = DepthwiseConv2D(3, stride=2, padding=1, depth_multiplier=2)
    out = layer(x)
    assert layer.weight.shape == (6, 1, 3, 3) and layer.bias.shape == (6,)
    ref = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3).double()
    with torch.no_grad():
        ref.weight.copy_(t64(layer.weight.data))
        ref.bias.copy_(t64(layer.bias.data))
    assert_close(out.data, ref(t64(x)).detach().numpy(), 1e-5, 1e-5, "forward")
    assert DepthwiseConv2D(3, use_bias=False)(x).shape == (2, 3, 8 - 2, 8 - 2)


def test_separable_conv2d_is_depthwise_then_pointwise():
    x = rand(2, 4, 7, 7, seed=39).astype(np.float32)
    layer = SeparableConv2D(5, 3, stride=2, padding="same")
    out = layer(x)
    assert out.shape == (2, 5, 4, 4)
    dw, pw = layer.depthwise, layer.pointwise
    assert dw.bias is None and pw.weight.shape == (5, 4, 1, 1)
    assert [p.shape for p in layer.parameters()] == [(4, 1, 3, 3), (5, 4, 1, 1), (5,)]
    mid = TF.conv2d(t64(x), t64(dw.weight.data), None, 2, 1, groups=4)  # 7 -> 4: pad 1 + 1
    expected = TF.conv2d(mid, t64(pw.weight.data), t64(pw.bias.data))
    assert_close(out.data, expected.numpy(), 1e-5, 1e-5, "forward")


@pytest.mark.parametrize("make, message", [
    (lambda: DepthwiseConv2D(3, depth_multiplier=0),
     "DepthwiseConv2D: depth_multiplier must be a positive integer, got 0"),
    (lambda: DepthwiseConv2D(0), "DepthwiseConv2D: kernel and stride must be >= 1"),
    (lambda: DepthwiseConv2D(3, padding="full"), "DepthwiseConv2D: padding must be 'valid', 'same'"),
    (lambda: SeparableConv2D(0, 3), "SeparableConv2D: filters must be a positive integer"),
    (lambda: SeparableConv2D(4, 3, depth_multiplier=0),
     "DepthwiseConv2D: depth_multiplier must be a positive integer"),
    (lambda: DepthwiseConv2D(3)(np.zeros((2, 3, 8))), r"DepthwiseConv2D expects \(N, C, H, W\)"),
    (lambda: SeparableConv2D(4, 3)(np.zeros((2, 8, 8))), r"SeparableConv2D expects \(N, C, H, W\)"),
    (lambda: Conv2D(4, 3)(np.zeros((2, 3, 8))), r"Conv2D expects \(N, C, H, W\)"),
])
def test_layer_errors_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_depthwise_layer_checks_channels_once_built():
    layer = DepthwiseConv2D(3)
    layer(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="DepthwiseConv2D was built for 3 input channels, got 4"):
        layer(np.zeros((1, 4, 5, 5)))


def test_model_of_the_new_layers_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(40)
    X = rng.standard_normal((48, 3, 12, 12)).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > X[:, 1].mean(axis=(1, 2))).astype(np.int64)
    bb.seed(1)
    model = bb.Sequential([
        Conv2D(8, 3, stride=2, padding="same"), BatchNorm(), ReLU6(),
        DepthwiseConv2D(3, padding="same", depth_multiplier=2), BatchNorm(), LeakyReLU(0.1),
        SeparableConv2D(8, 3, stride=2, padding="same"), ReLU(), GlobalAvgPool(),
        bb.layers.Linear(2)])
    model.compile(optimizer=bb.optimizers.Adam(lr=0.01), loss="cross_entropy")
    history = model.fit(X, y, epochs=6, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    loaded = bb.load(model.save(tmp_path / "m.bb"))
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert_close(loaded.predict(X), model.predict(X), 0, 0, "loaded predictions")
    assert loaded.layers[6].depthwise.padding == "same"


# ----------------------------------------------------------- the C wrappers' checks
def test_core_wrappers_refuse_arrays_the_kernels_would_overrun():
    from braininabox import _core
    x = np.zeros((2, 3, 6, 6), dtype=np.float32)
    w = np.zeros((6, 1, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"depthwise_conv2d output gradient: expected shape "
                                         r"\(2, 6, 4, 4\), got \(2, 6, 4, 3\)"):
        _core.depthwise_conv2d_backward(x, w, np.zeros((2, 6, 4, 3), np.float32), (1, 1),
                                        (0, 0, 0, 0))
    with pytest.raises(TypeError, match="depthwise_conv2d input: expected float32, got float64"):
        _core.depthwise_conv2d(x.astype(np.float64), w, None, (1, 1), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="depthwise_conv2d bias: expected shape"):
        _core.depthwise_conv2d(x, w, np.zeros(3, np.float32), (1, 1), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="batch_norm input: the array must be C-contiguous"):
        _core.batch_norm(x[:, :, ::2], None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm running_var: expected shape \(3,\)"):
        _core.batch_norm(x, None, None, np.zeros(3, np.float32), np.ones(4, np.float32), True,
                         0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm output gradient: expected shape"):
        _core.batch_norm_backward(x, None, np.zeros(3, np.float32), np.ones(3, np.float32), True,
                                  x[:1])
    with pytest.raises(ValueError, match="global_avg_pool2d output gradient: expected shape"):
        _core.global_avg_pool2d_backward(x.shape, np.zeros((2, 4), np.float32))
    cw = np.zeros((4, 3, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"conv2d backward: dy must have shape"):
        _core.conv2d_backward(x, cw, np.zeros((2, 4, 3, 3), np.float32), (1, 1), (0, 0))
    with pytest.raises(ValueError, match="may only be larger at the bottom and right"):
        _core.conv2d(x, cw, None, (1, 1), (1, 0, 0, 0))


def test_sequential_with_asymmetric_same_padding_quantizes():
    """A Sequential takes the graph models' quantization path: TensorFlow's "same" at
    stride 2 (one more row / column at the bottom / right) is an int8 padding too."""
    bb.seed(41)
    model = bb.Sequential([Conv2D(4, 3, stride=2, padding="same"), ReLU(),
                           bb.layers.Flatten(), bb.layers.Linear(2)]).build((1, 8, 8))
    X = rand(64, 1, 8, 8, seed=41).astype(np.float32)
    q = bb.quantize(model, X, stream=False)  # the conv op itself
    conv = q.ops[0]
    assert (conv.kind, conv.padding, conv.out_shape) == ("conv2d_gemm", (0, 1, 0, 1), (4, 4, 4))
    error = np.abs(q.predict(X) - model.predict(X))
    assert error.max() <= 4 * q.output_q[0]
