"""int8 for the layers beyond the MLPerf Tiny models' own: Conv1D and the 1-D pools (the
2-D ops over (C, L) seen as (C, L, 1)), SeparableConv2D (its depthwise and 1x1 ops) and
LeakyReLU (TFLite's int8 LeakyRelu op). Each is checked against an equivalent model the
int8 path already knew (the same bytes), against float, and on the host build and both
QEMU boards."""
import numpy as np
import pytest

import braininabox as bb
from braininabox.deploy.embedded import targets
from test_int8_graph_kernels import requantize

L = bb.layers
BOARDS = [t for t in ("mps2-an385", "mps2-an386") if t in targets()]


def _data(shape, n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)


def _copy_weights(src, dst):
    for a, b in zip(src.parameters(), dst.parameters()):
        b.data = a.data.reshape(b.shape).copy()
    norms = [[layer for layer in m.layers if isinstance(layer, L.BatchNorm)] for m in (src, dst)]
    for a, b in zip(*norms):
        b.running_mean[...], b.running_var[...] = a.running_mean, a.running_var


@pytest.mark.parametrize("padding,stride", [(2, 1), ("same", 2), (0, 3)])
def test_conv1d_gives_the_bytes_of_its_conv2d_twin(padding, stride):
    """Conv1D (+ BatchNorm + ReLU) and MaxPool1D over (C, L) == Conv2D with a (k, 1) window
    and MaxPool (2, 1) over (C, L, 1), same weights: the same int8 model, byte for byte."""
    bb.seed(0)
    one = bb.Sequential([L.Conv1D(5, 4, stride=stride, padding=padding), L.BatchNorm(), L.ReLU(),
                         L.MaxPool1D(2), L.AvgPool1D(2, 1), L.Flatten(), L.Linear(3)]).build((3, 31))
    pad2 = ("same" if padding == "same" else (padding, 0))
    two = bb.Sequential([L.Conv2D(5, (4, 1), stride=(stride, 1), padding=pad2), L.BatchNorm(),
                         L.ReLU(), L.MaxPool((2, 1)), L.AvgPool((2, 1), (1, 1)), L.Flatten(),
                         L.Linear(3)]).build((3, 31, 1))
    _copy_weights(one, two)
    one.layers[1].running_mean[:] = np.linspace(-0.5, 0.5, 5)  # folding matters
    _copy_weights(one, two)
    X = _data((3, 31))
    # one op per layer (no band chains: the op structure itself is compared)
    q1 = bb.quantize(one, X, fuse=False, stream=False)
    q2 = bb.quantize(two, X[..., None], fuse=False, stream=False)
    assert [op.kind for op in q1.ops] == [op.kind for op in q2.ops] == \
        ["conv2d_gemm", "max_pool2d", "avg_pool2d", "linear"]
    assert q1.ops[0].name == "layer 0 (Conv1D) + layer 1 (BatchNorm) + layer 2 (ReLU)"
    np.testing.assert_array_equal(q1.predict_int8(X), q2.predict_int8(X[..., None]))
    assert q1.c_model().checksum == q2.c_model().checksum  # every number of the model
    f = one.predict(X)
    assert (q1.predict(X).argmax(1) == f.argmax(1)).mean() >= 0.9
    assert np.abs(q1.predict(X) - f).max() <= 6 * q1.output_q[0]


def test_separable_conv2d_is_its_depthwise_then_its_1x1():
    bb.seed(1)
    x = bb.Input((4, 10, 10))
    sep = L.SeparableConv2D(6, 3, stride=2, padding="same", depth_multiplier=2)
    model = bb.Model(x, L.Linear(3)(L.GlobalAvgPool()(L.ReLU()(L.BatchNorm()(sep(x))))))
    x2 = bb.Input((4, 10, 10))
    dw, pw = L.DepthwiseConv2D(3, stride=2, padding="same", depth_multiplier=2, use_bias=False), L.Conv2D(6, 1)
    twin = bb.Model(x2, L.Linear(3)(L.GlobalAvgPool()(L.ReLU()(L.BatchNorm()(pw(dw(x2)))))))
    _copy_weights(model, twin)
    X = _data((4, 10, 10), seed=1)
    q, q2 = bb.quantize(model, X), bb.quantize(twin, X)
    assert [op.kind for op in q.ops] == ["depthwise_conv2d", "pointwise_conv2d", "global_avg_pool",
                                         "linear"]
    assert q.ops[0].name.endswith("(SeparableConv2D depthwise)")
    assert "(SeparableConv2D 1x1) + layer" in q.ops[1].name and "(ReLU)" in q.ops[1].name
    np.testing.assert_array_equal(q.predict_int8(X), q2.predict_int8(X))
    assert np.abs(q.predict(X) - model.predict(X)).max() <= 6 * q.output_q[0]


def test_leaky_relu_is_tflites_int8_op():
    bb.seed(2)
    model = bb.Sequential([L.Conv2D(4, 3), L.LeakyReLU(0.2), L.Flatten(), L.Linear(3),
                           L.LeakyReLU(1.5)]).build((2, 8, 8))
    X = _data((2, 8, 8), seed=2)
    q = bb.quantize(model, X, stream=False)  # one op per layer
    assert [op.kind for op in q.ops] == ["conv2d_gemm", "leaky_relu", "linear", "leaky_relu"]
    conv, leaky, linear, last = q.ops
    assert leaky.in_q == conv.out_q and leaky.out_q != leaky.in_q  # its own output scale
    plan = q.memory_plan()
    assert plan.op_io[1][0] == plan.op_io[1][1]  # in place
    # the op against its definition, from the conv's int8 output
    x = bb.quantize(bb.Sequential([model.layers[0]]), X).predict_int8(X)  # same calibration
    p = leaky.c_params()
    v = x.astype(np.int64) + p["input_offset"]
    want = np.where(v >= 0, requantize(v, p["identity_multiplier"], p["identity_shift"]),
                    requantize(v, p["alpha_multiplier"], p["alpha_shift"]))
    want = np.clip(want + p["output_offset"], -128, 127).astype(np.int8)
    got = bb.deploy.quantized.QuantizedModel([conv, leaky], conv.in_shape, q.input_q,
                                             leaky.out_shape).predict_int8(X)
    np.testing.assert_array_equal(got.reshape(want.shape), want)
    f = model.predict(X)
    assert np.abs(q.predict(X) - f).max() <= 6 * q.output_q[0]


def test_new_layers_bit_exact_on_host_and_boards():
    bb.seed(3)
    x = bb.Input((2, 24))
    y = L.MaxPool1D(2)(L.ReLU()(L.Conv1D(4, 3, padding="same")(x)))
    y = L.LeakyReLU(0.1)(L.Conv1D(6, 3, stride=2)(y))
    model = bb.Model(x, L.Linear(3)(L.Flatten()(y)))
    X = _data((2, 24), n=8, seed=3)
    q = bb.quantize(model, X)
    want = q.predict_int8(X[:2])
    x2 = bb.Input((3, 9, 9))
    sep = L.SeparableConv2D(4, 3, padding="same")(x2)
    model2 = bb.Model(x2, L.Linear(2)(L.GlobalAvgPool()(L.LeakyReLU(0.3)(sep))))
    X2 = _data((3, 9, 9), n=8, seed=4)
    q2 = bb.quantize(model2, X2)
    for target in ["host"] + BOARDS:
        np.testing.assert_array_equal(bb.embedded.run(q, X[:2], target=target).outputs_int8, want,
                                      err_msg=target)
        np.testing.assert_array_equal(bb.embedded.run(q2, X2[:2], target=target).outputs_int8,
                                      q2.predict_int8(X2[:2]), err_msg=target)


def _concat_model(shape, branches, axis=1):
    x = bb.Input(shape)
    z = L.Concatenate(axis=axis)([branch(x) for branch in branches])
    return bb.Model(x, L.Linear(3)(L.Flatten()(z)))


@pytest.mark.parametrize("case", ["conv1d", "vectors"])
def test_concatenate_of_conv1d_outputs_and_of_vectors_is_the_channel_concat(case):
    """Concatenate(axis=1) of Conv1D outputs (C, L) or of vectors (F,) == its (C, L, 1) /
    (F, 1, 1) twin's channel concat, same weights: the same bytes."""
    bb.seed(5)
    if case == "conv1d":
        shape, twin_shape, axis = (2, 12), (2, 12, 1), -2
        one = _concat_model(shape, [L.Conv1D(3, 3, padding="same"), L.Conv1D(4, 1)], axis)
        two = _concat_model(twin_shape, [L.Conv2D(3, (3, 1), padding="same"), L.Conv2D(4, 1)])
    else:
        shape, twin_shape, axis = (6,), (6, 1, 1), -1
        one = _concat_model(shape, [L.Linear(5), L.Linear(3)], axis)
        two = _concat_model(twin_shape, [L.Conv2D(5, 1), L.Conv2D(3, 1)])
    X = _data(shape)
    one.predict(X[:1]), two.predict(X[:1].reshape((1,) + twin_shape))
    _copy_weights(one, two)
    q1 = bb.quantize(one, X, stream=False)
    q2 = bb.quantize(two, X.reshape((-1,) + twin_shape), stream=False)
    assert "concat" in [op.kind for op in q1.ops]
    np.testing.assert_array_equal(q1.predict_int8(X), q2.predict_int8(X.reshape((-1,) + twin_shape)))
    np.testing.assert_array_equal(bb.embedded.run(q1, X[:2], target="host").outputs_int8,
                                  q1.predict_int8(X[:2]))
    assert np.abs(q1.predict(X) - one.predict(X)).max() <= 4 * q1.output_q[0]


def test_concatenate_along_another_axis_names_the_shape():
    bb.seed(5)
    model = _concat_model((2, 12), [L.Conv1D(3, 3, padding="same"), L.Conv1D(3, 1)], axis=2)
    with pytest.raises(ValueError, match=r"joins along axis 2 \(into per-sample shape \(3, 24\)\); "
                                         r"int8 concatenates along axis 1 only \(the channels of "
                                         r"\(C, H, W\) or \(C, L\), the features of \(F,\)\)"):
        bb.quantize(model, _data((2, 12)))


@pytest.mark.parametrize("first, twice, once", [
    ([L.Conv2D(4, 3)], [L.ReLU, L.ReLU], [L.ReLU]),
    ([L.Conv2D(4, 3)], [L.ReLU6, L.ReLU], [L.ReLU6]),
    ([L.Conv2D(4, 3), L.MaxPool(2)], [L.ReLU, L.ReLU6], [L.ReLU6]),  # conv2d_pool
    ([L.Flatten(), L.Linear(6)], [L.ReLU, L.ReLU6], [L.ReLU6]),
    ([L.MaxPool(2)], [L.ReLU6, L.ReLU], [L.ReLU6]),                    # a clamp op
])
def test_two_activations_in_a_row_are_one_clamp(first, twice, once):
    """ReLU / ReLU6 twice in a row == the narrower once: the same ops and bytes."""
    import copy
    bb.seed(6)
    tail = [L.Flatten(), L.Linear(3)]
    two = bb.Sequential(copy.deepcopy(first) + [a() for a in twice] + copy.deepcopy(tail))
    one = bb.Sequential(copy.deepcopy(first) + [a() for a in once] + copy.deepcopy(tail))
    X = _data((2, 8, 8)) * 4
    two.predict(X[:1]), one.predict(X[:1])
    _copy_weights(two, one)
    q2, q1 = bb.quantize(two, X), bb.quantize(one, X)
    assert [op.kind for op in q2.ops] == [op.kind for op in q1.ops]
    np.testing.assert_array_equal(q2.predict_int8(X), q1.predict_int8(X))
    assert q2.c_model().checksum == q1.c_model().checksum
