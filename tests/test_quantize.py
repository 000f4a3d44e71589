"""Post-training int8 quantization (braininabox/quantize.py, braininabox/quantized.py).

The helpers (quantize_multiplier, activation_qparams, quantize_tensor) against their
definitions; bb.quantize on small trained models against the float model, and
predict_int8 bit for bit against a numpy integer re-implementation of the op chain
(the ref_* kernels of test_int8_kernels.py); the refusals; and real MNIST.
"""
import numpy as np
import pytest

import braininabox as bb
from braininabox._core import lib
from braininabox.nn.layers import (AvgPool, Conv2D, Dropout, Flatten, Linear, MaxPool, ReLU, Sigmoid,
                                Softmax, Tanh)
from braininabox.deploy.arithmetic import activation_qparams, quantize_multiplier, quantize_tensor
from test_int8_kernels import (ref_avg_pool2d_s8, ref_conv2d_s8, ref_linear_s8, ref_max_pool2d_s8,
                               ref_softmax_s8)


# ------------------------------------------------------ quantize_multiplier
def _real(multiplier, shift):
    return multiplier * 2.0 ** (shift - 31)


def test_quantize_multiplier_round_trips():
    rng = np.random.default_rng(0)
    reals = np.concatenate([10.0 ** rng.uniform(-9.5, 9.0, 3000), 2.0 ** np.arange(-32, 30),
                            [1e-3, 0.1, 0.5, 0.75, 1.0, 1.5, 3.0, 1 / 3, 2**30 - 1]])
    for real in reals:
        multiplier, shift = quantize_multiplier(float(real))
        assert isinstance(multiplier, int) and isinstance(shift, int)
        assert 2**30 <= multiplier < 2**31, real
        assert -31 <= shift <= 30, real
        assert abs(_real(multiplier, shift) - real) <= real * 2.0**-31, real


@pytest.mark.parametrize("real, expected", [
    (0.5, (2**30, 0)),
    (1.0, (2**30, 1)),
    (0.75, (3 * 2**29, 0)),
    (2.0**-32, (2**30, -31)),          # the smallest representable
    ((2**31 - 1) * 2.0**-1, (2**31 - 1, 30)),  # the largest
    (1 - 2.0**-40, (2**30, 1)),        # the mantissa rounds up to 2^31: renormalized
    ((1 - 2.0**-40) * 2.0**-5, (2**30, -4)),
    ((1 - 2.0**-40) * 2.0**-32, (2**30, -31)),  # rounds up into the representable range
    (2.0**-33, (0, 0)),                 # too small: a constant layer
    (1e-20, (0, 0)),
    (0.0, (0, 0)),
])
def test_quantize_multiplier_known_values(real, expected):
    assert quantize_multiplier(real) == expected


@pytest.mark.parametrize("real", [2.0**30, (1 - 2.0**-40) * 2.0**30, 1e12])
def test_quantize_multiplier_too_large(real):
    with pytest.raises(ValueError, match="too large"):
        quantize_multiplier(real)


def test_quantize_multiplier_drives_requantize():
    # bb_requantize(x, *quantize_multiplier(M)) ~= x * M, within the double rounding
    rng = np.random.default_rng(1)
    for real in 10.0 ** rng.uniform(-6, 2, 300):
        multiplier, shift = quantize_multiplier(float(real))
        for x in rng.integers(-(2**20), 2**20, 10).tolist():
            if abs(x * real) >= 2**30:
                continue
            assert abs(lib.bb_requantize(x, multiplier, shift) - x * real) <= 1.0 + abs(x) * real * 2.0**-30


# ------------------------------------------------------ activation_qparams
def test_activation_qparams_random_ranges():
    rng = np.random.default_rng(2)
    for _ in range(2000):
        lo, hi = np.sort(rng.normal(0, 10, 2) * 10.0 ** rng.uniform(-3, 3))
        scale, zp = activation_qparams(lo, hi)
        assert isinstance(zp, int) and -128 <= zp <= 127
        assert scale > 0 and scale == float(np.float32(scale))
        # real 0 is exact: it quantizes to the zero point and back to 0
        assert int(quantize_tensor(0.0, scale, zp)) == zp
        assert scale * (zp - zp) == 0.0
        # the range, widened to include 0, is covered to within half a step
        lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
        assert scale * (-128 - zp) <= lo0 + scale / 2 + 1e-9 * abs(lo0)
        assert scale * (127 - zp) >= hi0 - scale / 2 - 1e-9 * abs(hi0)
        np.testing.assert_allclose(scale, (hi0 - lo0) / 255, rtol=1e-6)


def test_activation_qparams_special_ranges():
    assert activation_qparams(0.0, 6.0)[1] == -128  # a ReLU output
    assert activation_qparams(0.0, 1e-3)[1] == -128
    assert activation_qparams(2.0, 5.0) == activation_qparams(0.0, 5.0)  # widened to 0
    assert activation_qparams(-5.0, -2.0) == activation_qparams(-5.0, 0.0)
    assert activation_qparams(-5.0, -2.0)[1] == 127
    assert activation_qparams(-1.0, 1.0)[1] in (-1, 0)
    assert activation_qparams(0.0, 0.0) == (1.0, 0)
    scale, zp = activation_qparams(-2.55, 0.0)
    assert zp == 127 and scale == pytest.approx(0.01)


def test_quantize_tensor_rounds_half_away_from_zero():
    x = np.array([0.25, -0.25, 0.75, -0.75, 1.25, -1.25, 0.2, -0.2, 0.0])
    assert quantize_tensor(x, 0.5, 0).tolist() == [1, -1, 2, -2, 3, -3, 0, 0, 0]
    assert quantize_tensor(x, 0.5, 10).tolist() == [11, 9, 12, 8, 13, 7, 10, 10, 10]
    q = quantize_tensor(np.array([1000.0, -1000.0, 63.75, 64.25]), 0.5, -1)
    assert q.dtype == np.int8 and q.tolist() == [127, -128, 127, 127]
    assert quantize_tensor(np.array([-64.25]), 0.5, 0).tolist() == [-128]  # -128.5 -> -129 -> clipped


def test_quantize_tensor_saturates_huge_inputs_in_their_own_direction():
    # past int64's range (x / scale > 9.2e18) a cast before the clip wrapped to INT64_MIN
    huge = np.array([1e17, 1e19, 1e30, 3e38, -1e17, -1e19, -1e30, -3e38])
    for zp in (-128, -100, 0, 100, 127):
        assert quantize_tensor(huge, 0.004, zp).tolist() == [127] * 4 + [-128] * 4
    # in range, the bytes are those of rounding then clipping, at every zero point
    x = np.linspace(-1.2, 1.2, 2001)
    for zp in (-128, -5, 0, 7, 127):
        expected = np.clip(np.sign(x / 0.004) * np.floor(np.abs(x / 0.004) + 0.5) + zp, -128, 127)
        np.testing.assert_array_equal(quantize_tensor(x, 0.004, zp), expected.astype(np.int8))


def test_predict_int8_saturates_a_huge_positive_input_to_127():
    bb.seed(0)
    X = -np.random.RandomState(0).rand(64, 4).astype(np.float32)  # calibrated on [-1, 0]
    m = bb.Sequential([Linear(1, use_bias=False)])
    m.predict(X[:1])
    m.layers[0].weight.data[:] = 1.0
    q = bb.quantize(m, X)
    assert q.input_q[1] == 127
    big = q.predict_int8(np.full((1, 4), 1e3, np.float32))
    for v in (1e17, 1e30):
        x = np.full((1, 4), v, np.float32)
        assert q.quantize_input(x).tolist() == [[127] * 4]
        np.testing.assert_array_equal(q.predict_int8(x), big)


# ---------------------------------------------------------- small models
def quadrant_images(n, rng, size=16):
    """A bright 3x3 blob in one of four quadrants over noise; the label is the quadrant."""
    y = rng.integers(0, 4, n)
    X = rng.uniform(0, 0.3, (n, 1, size, size)).astype(np.float32)
    half = size // 2
    for i, label in enumerate(y):
        r = (label // 2) * half + rng.integers(0, half - 3)
        c = (label % 2) * half + rng.integers(0, half - 3)
        X[i, 0, r:r + 3, c:c + 3] += 1.0
    return X, y


# The fixtures' models quantized with fuse=True (conv2d + max_pool2d -> conv2d_pool), by name;
# the fixtures themselves return the unfused op chain (fuse=False).
FUSED = {}


def train(model, X, y, epochs=3, loss="cross_entropy", lr=0.01):
    model.compile(optimizer=bb.optimizers.Adam(lr=lr), loss=loss)
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0, seed=0)
    return model


@pytest.fixture(scope="module")
def cnn():
    """Conv2D(stride 2, padding 1) + ReLU + MaxPool + AvgPool + Flatten + Linear + Softmax."""
    bb.seed(0)
    rng = np.random.default_rng(0)
    X, y = quadrant_images(600, rng)
    layers = [Conv2D(6, 3, stride=2, padding=1), ReLU(), MaxPool(2), AvgPool(2), Flatten(), Linear(4)]
    train(bb.Sequential(layers), X, y)
    model = bb.Sequential(layers + [Softmax()])
    Xt, yt = quadrant_images(400, rng)
    FUSED["cnn"] = bb.quantize(model, X[:200])
    return model, bb.quantize(model, X[:200], fuse=False, stream=False), X, Xt, yt  # one op per layer


@pytest.fixture(scope="module")
def mlp():
    """Linear + ReLU + Dropout + Linear + ReLU + Linear on 10 features (a regression-ish
    3-class problem)."""
    bb.seed(1)
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1, (800, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
    model = train(bb.Sequential([Linear(16), ReLU(), Dropout(0.2), Linear(8), ReLU(), Linear(3)]),
                  X[:600], y[:600], epochs=5)
    return model, bb.quantize(model, X[:300]), X[600:]


@pytest.fixture(scope="module")
def clamp_model():
    """A ReLU after the MaxPool (in the conv's clamp: it commutes with the max) and a
    Dropout (skipped)."""
    bb.seed(2)
    rng = np.random.default_rng(2)
    X, y = quadrant_images(400, rng, size=12)
    model = train(bb.Sequential([Conv2D(3, (3, 2), padding=(1, 2)), MaxPool(2), ReLU(), Flatten(),
                                 Dropout(0.3), Linear(4)]), X, y, epochs=2)
    FUSED["clamp_model"] = bb.quantize(model, X[:100])
    return model, bb.quantize(model, X[:100], fuse=False, stream=False), X[100:300]


def kinds(q):
    return [op.kind for op in q.ops]


def test_cnn_op_chain(cnn):
    model, q, *_ = cnn
    assert kinds(q) == ["conv2d_gemm", "max_pool2d", "avg_pool2d", "linear", "softmax"]
    conv, mp, ap, lin, sm = q.ops
    assert conv.name == "layer 0 (Conv2D) + layer 1 (ReLU)" and lin.name == "layer 5 (Linear)"
    assert conv.out_q[1] == -128 and conv.act_min == conv.out_q[1]  # ReLU fused
    assert (conv.stride, conv.padding, conv.kernel) == ((2, 2), (1, 1), (3, 3))
    assert lin.act_min == -128 and lin.act_max == 127
    assert mp.in_q == mp.out_q == conv.out_q and ap.out_q == conv.out_q and lin.in_q == ap.out_q
    assert sm.out_q == (1 / 256, -128) and sm.in_q == lin.out_q
    assert sm.exp_table.dtype == np.int32 and sm.exp_table[0] == 1 << 20
    assert [op.out_shape for op in q.ops] == [(6, 8, 8), (6, 4, 4), (6, 2, 2), (4,), (4,)]
    assert q.input_shape == (1, 16, 16) and q.output_shape == (4,)


def test_weighted_op_parameters(cnn, mlp):
    """Weights symmetric per channel using the full range; bias at in_scale * w_scale;
    multipliers encoding in_scale * w_scale / out_scale."""
    for model, q in ((cnn[0], cnn[1]), (mlp[0], mlp[1])):
        weighted = [l for l in model.layers if isinstance(l, (Conv2D, Linear))]
        ops = [op for op in q.ops if op.kind in ("conv2d_gemm", "linear")]
        assert len(weighted) == len(ops)
        for layer, op in zip(weighted, ops):
            w = layer.weight.data.astype(np.float64)
            flat = w.reshape(len(w), -1)
            s = op.weight_scales
            assert op.weights.dtype == np.int8 and op.weights.shape == w.shape
            np.testing.assert_allclose(s, np.abs(flat).max(axis=1) / 127, rtol=1e-6)
            qw = op.weights.reshape(len(w), -1).astype(np.int64)
            assert np.all(np.abs(qw).max(axis=1) == 127) and qw.min() >= -127
            assert np.all(np.abs(qw * s[:, None] - flat) <= s[:, None] / 2 * (1 + 1e-6))
            bias_scale = op.in_q[0] * s
            assert op.bias.dtype == np.int32
            assert np.all(np.abs(op.bias * bias_scale - layer.bias.data) <= bias_scale / 2 * (1 + 1e-6))
            real = op.multiplier * 2.0 ** (op.shift.astype(np.float64) - 31)
            np.testing.assert_allclose(real, op.in_q[0] * s / op.out_q[0], rtol=2.0**-30)


def test_cnn_predict_close_to_float(cnn):
    model, q, _, Xt, yt = cnn
    f = model.predict(Xt)
    p = q.predict(Xt)
    assert p.dtype == np.float32 and p.shape == f.shape == (len(Xt), 4)
    assert (f.argmax(1) == yt).mean() > 0.9  # the float model learned the task
    agreement = (p.argmax(1) == f.argmax(1)).mean()
    error = np.abs(p - f)
    print(f"cnn: argmax agreement {agreement:.4f}, max error {error.max():.4f}, "
          f"mean {error.mean():.5f} (output scale {q.output_q[0]:.5f})")
    assert agreement >= 0.95
    assert error.mean() <= 2 * q.output_q[0]
    assert error.max() <= 12 * q.output_q[0]


def test_mlp_predict_close_to_float(mlp):
    model, q, X = mlp
    assert kinds(q) == ["linear", "linear", "linear"]
    assert [op.act_min == op.out_q[1] == -128 for op in q.ops] == [True, True, False]
    f = model.predict(X)
    p = q.predict(X)
    agreement = (p.argmax(1) == f.argmax(1)).mean()
    error = np.abs(p - f)
    print(f"mlp: argmax agreement {agreement:.4f}, max error {error.max():.4f} "
          f"(output scale {q.output_q[0]:.5f})")
    assert agreement >= 0.95
    assert error.mean() <= 1.5 * q.output_q[0]
    assert error.max() <= 6 * q.output_q[0]


def test_relu_after_max_pool_joins_the_conv_and_dropout_disappears(clamp_model):
    model, q, X = clamp_model
    assert kinds(q) == ["conv2d_gemm", "max_pool2d", "linear"]
    conv, pool, lin = q.ops
    assert conv.name == "layer 0 (Conv2D) + layer 2 (ReLU)" and pool.name == "layer 1 (MaxPool)"
    assert conv.act_min == conv.out_q[1] == pool.out_q[1] == -128  # calibrated after the ReLU
    assert pool.in_q == pool.out_q == conv.out_q and pool.out_shape == (3, 6, 7)
    assert lin.name == "layer 5 (Linear)"  # Dropout (layer 4) is gone, its index kept
    f = model.predict(X)
    p = q.predict(X)
    assert (p.argmax(1) == f.argmax(1)).mean() >= 0.95
    assert np.abs(p - f).max() <= 6 * q.output_q[0]


def test_standalone_relu_becomes_clamp():
    bb.seed(3)
    X = np.random.default_rng(3).normal(0, 1, (64, 2, 8, 8)).astype(np.float32)
    model = bb.Sequential([Conv2D(3, 3), AvgPool(2), ReLU(), Flatten(), Linear(4)])
    model.build(X.shape[1:])
    q = bb.quantize(model, X, stream=False)  # one op per layer
    assert kinds(q) == ["conv2d_gemm", "avg_pool2d", "clamp", "linear"]
    conv, pool, clamp, lin = q.ops
    assert conv.act_min == -128 and conv.out_q[1] > -128  # no ReLU fused into the conv
    assert clamp.name == "layer 2 (ReLU)"
    assert clamp.in_q == clamp.out_q == pool.out_q
    assert (clamp.act_min, clamp.act_max) == (pool.out_q[1], 127)
    assert clamp.in_shape == clamp.out_shape == (3, 3, 3)
    plan = q.memory_plan()
    assert plan.op_io[2][0] == plan.op_io[2][1] == plan.op_io[1][1]  # the clamp is in place
    np.testing.assert_array_equal(q.predict_int8(X), numpy_int8_forward(q, X))
    streamed = bb.quantize(model, X, stream=True)  # the conv as a band chain: the same bytes
    assert kinds(streamed)[0] == "band_chain"
    np.testing.assert_array_equal(streamed.predict_int8(X), numpy_int8_forward(streamed, X))


def numpy_int8_forward(q, X):
    """The whole op chain in numpy integers, from the ops' parameters alone."""
    scale, zp = q.input_q
    x = X.reshape(len(X), -1).astype(np.float64) / scale
    x = np.clip(np.sign(x) * np.floor(np.abs(x) + 0.5) + zp, -128, 127).astype(np.int8)
    # a band chain (the planner's streaming) computes its stages' bytes: run them one by one
    ops = [stage for op in q.ops for stage in (op.stages if op.kind == "band_chain" else [op])]
    for op in ops:
        n = len(x)
        if op.kind in ("conv2d", "conv2d_gemm"):
            x = ref_conv2d_s8(x.reshape((n,) + op.in_shape), op.weights, op.bias, op.multiplier,
                              op.shift, op.in_q[1], op.out_q[1], op.act_min, op.act_max, op.stride,
                              op.padding)
        elif op.kind == "conv2d_pool":  # as unfused: the conv output, then the max pooling
            x = ref_conv2d_s8(x.reshape((n,) + op.in_shape), op.weights, op.bias, op.multiplier,
                              op.shift, op.in_q[1], op.out_q[1], op.act_min, op.act_max, op.stride,
                              op.padding)
            x = ref_max_pool2d_s8(x, op.pool_kernel, op.pool_stride)
        elif op.kind == "linear":
            x = ref_linear_s8(x.reshape(n, -1), op.weights, op.bias, op.multiplier, op.shift,
                              op.in_q[1], op.out_q[1], op.act_min, op.act_max)
        elif op.kind == "max_pool2d":
            x = ref_max_pool2d_s8(x.reshape((n,) + op.in_shape), op.kernel, op.stride)
        elif op.kind == "avg_pool2d":
            x = ref_avg_pool2d_s8(x.reshape((n,) + op.in_shape), op.kernel, op.stride)
        elif op.kind == "clamp":
            x = np.clip(x, op.act_min, op.act_max)
        elif op.kind == "softmax":
            x = ref_softmax_s8(x.reshape(n, -1), op.exp_table)
        else:
            raise AssertionError(op.kind)
        assert x[0].size == op.out_size
        x = x.reshape(n, -1)
    return x


@pytest.mark.parametrize("which", ["cnn", "mlp", "clamp_model"])
def test_predict_int8_is_bit_exact_with_numpy(which, request):
    fixture = request.getfixturevalue(which)
    q = fixture[1]
    X = fixture[-2] if which == "cnn" else fixture[-1]
    got = q.predict_int8(X)
    assert got.dtype == np.int8 and got.shape == (len(X), q.output_size)
    np.testing.assert_array_equal(got, numpy_int8_forward(q, X))
    assert len(np.unique(got)) > 10
    # batching does not change a byte; predict is the dequantized predict_int8
    np.testing.assert_array_equal(q.predict_int8(X, batch_size=7), got)
    scale, zp = q.output_q
    np.testing.assert_array_equal(q.predict(X), (got.astype(np.float32) - zp) * np.float32(scale))


def test_fused_ops(cnn, clamp_model):
    """Conv2D (+ ReLU) + MaxPool become one conv2d_pool op with the unfused ops' parameters;
    a standalone ReLU after the pooling folds into its clamp."""
    conv, mp, ap, lin, sm = cnn[1].ops
    assert kinds(FUSED["cnn"]) == ["conv2d_pool", "avg_pool2d", "linear", "softmax"]
    fused = FUSED["cnn"].ops[0]
    assert fused.name == "layer 0 (Conv2D) + layer 1 (ReLU) + layer 2 (MaxPool)"
    assert fused.in_shape == conv.in_shape and fused.out_shape == mp.out_shape
    assert (fused.pool_kernel, fused.pool_stride) == (tuple(mp.kernel), tuple(mp.stride))
    assert (fused.in_q, fused.out_q, fused.act_min, fused.act_max) == (conv.in_q, conv.out_q,
                                                                       conv.act_min, conv.act_max)
    for name in ("weights", "bias", "multiplier", "shift"):
        np.testing.assert_array_equal(getattr(fused, name), getattr(conv, name))
    conv, pool, lin = clamp_model[1].ops
    assert kinds(FUSED["clamp_model"]) == ["conv2d_pool", "linear"]
    fused = FUSED["clamp_model"].ops[0]
    assert fused.name == "layer 0 (Conv2D) + layer 1 (MaxPool) + layer 2 (ReLU)"
    assert (fused.act_min, fused.act_max) == (conv.act_min, 127) and fused.out_q == conv.out_q
    assert kinds(bb.quantize(clamp_model[0], clamp_model[2][:50], fuse=False, stream=False)) == kinds(clamp_model[1])


@pytest.mark.parametrize("which", ["cnn", "clamp_model"])
def test_fused_and_unfused_give_identical_bytes(which, request):
    fixture = request.getfixturevalue(which)
    X = fixture[-2] if which == "cnn" else fixture[-1]
    got = FUSED[which].predict_int8(X)
    np.testing.assert_array_equal(got, fixture[1].predict_int8(X))
    np.testing.assert_array_equal(got, numpy_int8_forward(FUSED[which], X))


def test_predict_int8_shape_mismatch_names_the_shape(cnn):
    q = cnn[1]
    with pytest.raises(ValueError, match=r"\(N, 1, 16, 16\).*\(5, 1, 16, 15\)"):
        q.predict_int8(np.zeros((5, 1, 16, 15), np.float32))
    with pytest.raises(ValueError, match=r"\(5, 256\)"):
        q.predict_int8(np.zeros((5, 256), np.float32))
    bad = np.zeros((2, 1, 16, 16), np.float32)
    bad[1, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        q.predict_int8(bad)


@pytest.mark.parametrize("layers, index, name", [
    ([Linear(4), Sigmoid(), Linear(2)], 1, "Sigmoid"),
    ([Conv2D(2, 3), ReLU(), Tanh(), Flatten(), Linear(2)], 2, "Tanh"),
])
def test_unsupported_layer_is_refused(layers, index, name):
    model = bb.Sequential(layers)
    X = np.random.default_rng(0).random((8, 1, 6, 6) if isinstance(layers[0], Conv2D) else (8, 5))
    with pytest.raises(ValueError, match=rf"layer {index} \({name}\) is not supported"):
        bb.quantize(model, X.astype(np.float32))


def test_model_without_weighted_layer_is_refused():
    model = bb.Sequential([MaxPool(2), ReLU(), Flatten(), Softmax()])
    with pytest.raises(ValueError, match="no Conv2D, DepthwiseConv2D or Linear layer"):
        bb.quantize(model, np.random.default_rng(0).random((4, 1, 4, 4)).astype(np.float32))


def test_calibration_data_with_nan_is_refused():
    bb.seed(0)
    model = bb.Sequential([Linear(3)])
    X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    X[6, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bb.quantize(model, X)
    X[6, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        bb.quantize(model, X)
    with pytest.raises(TypeError, match="Sequential"):
        bb.quantize(Linear(3), X)


def test_softmax_over_images_is_refused_or_exact():
    bb.seed(0)
    model = bb.Sequential([Conv2D(4, 3), Softmax()])
    X = np.random.default_rng(0).random((32, 1, 6, 6)).astype(np.float32)
    try:
        q = bb.quantize(model, X)
    except ValueError:
        return  # refusing it is a fine answer
    f = model.predict(X).reshape(len(X), -1)
    assert np.abs(q.predict(X) - f).max() <= 4 / 256


# ---------------------------------------------------------------- MNIST
@pytest.mark.slow
def test_mnist_int8_accuracy_matches_float(mnist):
    (X, y), (Xt, yt) = mnist
    bb.seed(0)
    model = bb.Sequential([Conv2D(32, 3), ReLU(), MaxPool(2), Flatten(), Linear(10)])
    model.compile(optimizer="adam", loss="cross_entropy")
    model.fit(X[:6000], y[:6000], epochs=1, batch_size=32, verbose=0)
    q = bb.quantize(model, X[6000:6500])
    Xt, yt = Xt[:2000], yt[:2000]
    float_acc = (model.predict(Xt).argmax(1) == yt).mean() * 100
    int8_acc = (q.predict_int8(Xt).argmax(1) == yt).mean() * 100
    print(f"MNIST: float accuracy {float_acc:.2f}%, int8 accuracy {int8_acc:.2f}% "
          f"on {len(yt)} test images")
    assert float_acc > 80
    assert abs(int8_acc - float_acc) <= 0.5
    assert kinds(q) == ["conv2d_pool", "linear"]
    np.testing.assert_array_equal(q.predict_int8(Xt), bb.quantize(model, X[6000:6500], fuse=False).predict_int8(Xt))
