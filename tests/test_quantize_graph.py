"""int8 graph models (bb.Model): BatchNorm folding, fused activations, the graph ops, the
graph memory plan, refusals by layer name, and the four bb.models variants bit-exactly on
the host build and both QEMU boards."""
import numpy as np
import pytest

import braininabox as bb
from braininabox.deploy.stages import fold_batch_norm, graph_of, make_stages, run_folded
from braininabox.deploy.embedded import targets

L = bb.layers


def _randomize_batch_norms(model, seed=0):
    """Running statistics and affine parameters far from the identity, so folding matters."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNorm):
            c = layer.in_channels
            layer.running_mean[:] = rng.normal(0, 0.5, c)
            layer.running_var[:] = rng.uniform(0.5, 2.0, c)
            layer.weight.data[:] = rng.uniform(0.5, 1.5, c)
            layer.bias.data[:] = rng.normal(0, 0.2, c)
    return model


SMALL = {
    "ds_cnn": (lambda: bb.models.ds_cnn(input_shape=(1, 25, 10), filters=8), (1, 25, 10)),
    "mobilenet_v1": (lambda: bb.models.mobilenet_v1(alpha=0.25, input_shape=(3, 32, 32)), (3, 32, 32)),
    "resnet8": (lambda: bb.models.resnet8(input_shape=(3, 16, 16), filters=4), (3, 16, 16)),
    "fc_autoencoder": (lambda: bb.models.fc_autoencoder(input_shape=(64,), hidden=16), (64,)),
}


def _small(name, n=48, seed=0):
    bb.seed(seed)
    build, shape = SMALL[name]
    model = _randomize_batch_norms(build(), seed)
    X = np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)
    return model, X


@pytest.mark.parametrize("name", sorted(SMALL))
def test_folded_float_model_equals_model_with_batch_norm(name):
    model, X = _small(name)
    model.eval()
    want = model(bb.Tensor(X)).data
    got, _, _ = run_folded(model, _folded(model), X)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _folded(model):
    return make_stages(*graph_of(model))  # folded as quantize folds them


def test_fold_batch_norm_formula():
    rng = np.random.default_rng(1)
    lin = L.Linear(3, in_features=4)
    bn = L.BatchNorm(in_channels=3)
    bn.running_mean[:] = rng.normal(size=3)
    bn.running_var[:] = rng.uniform(0.5, 2, size=3)
    bn.weight.data[:] = rng.normal(size=3)
    bn.bias.data[:] = rng.normal(size=3)
    bn.training = False
    x = rng.normal(size=(5, 4)).astype(np.float32)
    want = bn(lin(bb.Tensor(x))).data
    w, b = fold_batch_norm(lin, bn)
    np.testing.assert_allclose(x @ w.T + b, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_models_quantize_close_to_float(name):
    model, X = _small(name)
    q = bb.quantize(model, X)
    model.eval()
    f = model(bb.Tensor(X)).data
    err = np.abs(q.predict(X) - f).max()
    assert err < 0.08 * max(1.0, np.abs(f).max()), err


def test_ops_chosen_for_mobilenet_and_resnet():
    q = bb.quantize(*_small("mobilenet_v1", n=8), stream=False)  # one op per stage
    kinds = [op.kind for op in q.ops]
    assert kinds[:3] == ["conv2d_gemm", "depthwise_conv2d", "pointwise_conv2d"]
    assert kinds[-2:] == ["global_avg_pool", "linear"]
    assert not any(k in ("clamp",) for k in kinds)  # every ReLU fused, every BatchNorm folded
    # "same" padding of the stride-2 depthwise: the extra row / column at bottom / right
    dw2 = [op for op in q.ops if op.kind == "depthwise_conv2d" and op.stride == (2, 2)]
    assert dw2 and all(op.padding == (0, 1, 0, 1) for op in dw2)
    q = bb.quantize(*_small("resnet8", n=8))
    adds = [op for op in q.ops if op.kind == "add"]
    assert len(adds) == 3 and all(op.act_min == op.out_q[1] for op in adds)  # ReLU fused


def test_conv2d_gemm_gives_the_bytes_of_conv2d():
    """The im2col + 1x1 path and the direct conv kernel: the same integers (stride 2 with
    TensorFlow's asymmetric "same" padding in the ResNet-8 and MobileNet stems too)."""
    from dataclasses import fields
    from braininabox.deploy.ops import Conv2DGemmOp, Conv2DOp
    from braininabox.deploy.quantized import QuantizedModel
    for name in ("resnet8", "mobilenet_v1", "ds_cnn"):
        model, X = _small(name, n=16)
        q = bb.quantize(model, X, stream=False)
        direct = [Conv2DOp(**{f.name: getattr(op, f.name) for f in fields(op)})
                  if isinstance(op, Conv2DGemmOp) else op for op in q.ops]
        assert any(isinstance(op, Conv2DGemmOp) for op in q.ops)
        plain = QuantizedModel(direct, q.input_shape, q.input_q, q.output_shape, reads=q.reads)
        np.testing.assert_array_equal(plain.predict_int8(X), q.predict_int8(X))


def test_graph_memory_plan_keeps_residual_alive_and_runs_add_in_place():
    q = bb.quantize(*_small("resnet8", n=8))
    plan = q.memory_plan()
    first_add = next(i for i, op in enumerate(q.ops) if op.kind == "add")
    shortcut = q.reads[first_add][0]
    by_offset = plan.op_inputs[first_add]
    assert plan.op_io[first_add][1] == by_offset[0]  # in place over its first input
    # the shortcut's bytes are not reused by any op between its producer and the add
    start, size = plan.op_io[shortcut][1], q.ops[shortcut].out_size
    for t in range(shortcut + 1, first_add):
        out = plan.op_io[t][1]
        assert out + q.ops[t].out_size <= start or start + size <= out
    assert len(plan.op_live_bytes) == len(q.ops)
    assert plan.op_live_bytes[plan.peak_op] == max(plan.op_live_bytes) == plan.peak_bytes
    assert "<- peak" in str(plan)


def test_depthwise_runs_in_place_when_allowed():
    q = bb.quantize(*_small("ds_cnn", n=8))
    plan = q.memory_plan()
    dws = [i for i, op in enumerate(q.ops) if op.kind == "depthwise_conv2d"]
    assert dws and all(plan.op_io[i][0] == plan.op_io[i][1] for i in dws)


def test_concatenate_and_standalone_relu6():
    bb.seed(3)
    x = bb.Input((2, 6, 6))
    a = L.Conv2D(3, kernel=3, padding=1)(x)
    b = L.ReLU6()(L.Add()([x, L.Conv2D(2, kernel=1)(x)]))
    y = L.Concatenate()([a, b, x])
    y = L.ReLU6()(y)
    model = bb.Model(x, L.Linear(4)(L.GlobalAvgPool()(y)))
    X = np.random.default_rng(3).normal(size=(40, 2, 6, 6)).astype(np.float32) * 3
    q = bb.quantize(model, X, stream=False)  # one op per stage
    kinds = [op.kind for op in q.ops]
    assert "concat" in kinds and "clamp" in kinds and "add" in kinds
    assert q.reads[kinds.index("concat")] == [kinds.index("conv2d_gemm"), kinds.index("add"), -1]
    f = model(bb.Tensor(X)).data
    assert np.abs(q.predict(X) - f).max() < 0.1 * np.abs(f).max()
    host = bb.embedded.run(q, X[:3], target="host")
    np.testing.assert_array_equal(host.outputs_int8, q.predict_int8(X[:3]))


def test_batch_norm_without_a_layer_to_fold_into_is_refused_by_name():
    x = bb.Input((2, 4, 4))
    y = L.BatchNorm()(L.ReLU()(L.Conv2D(2, kernel=3, padding=1)(x)))
    model = bb.Model(x, L.Linear(2)(L.GlobalAvgPool()(y)))
    X = np.random.default_rng(0).normal(size=(8, 2, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"layer 'batch_norm\w*' \(BatchNorm\).*cannot be folded"):
        bb.quantize(model, X)


def test_unsupported_layers_are_refused_by_name():
    x = bb.Input((2, 4, 4))
    y = L.Sigmoid()(L.Conv2D(2, kernel=3, padding=1)(x))
    model = bb.Model(x, L.Linear(2)(L.GlobalAvgPool()(y)))
    X = np.random.default_rng(0).normal(size=(8, 2, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"layer '\w+' \(Sigmoid\) is not supported for int8"):
        bb.quantize(model, X)
    y = L.LeakyReLU(-0.5)(L.Conv2D(2, kernel=3, padding=1)(x))
    model = bb.Model(x, L.Linear(2)(L.GlobalAvgPool()(y)))
    with pytest.raises(ValueError, match=r"\(LeakyReLU\) has alpha -0.5; int8 LeakyReLU takes alpha >= 0"):
        bb.quantize(model, X)


def test_corrupted_graph_op_is_refused_by_the_runtime():
    q = bb.quantize(*_small("resnet8", n=8))
    add = next(op for op in q.ops if op.kind == "add")
    cm = q.c_model()
    index = q.ops.index(add)
    from braininabox._core import lib
    cm.ops[index].params.add.input1_shift = 5  # input shifts must be in [-31, 0]
    status = lib.bb_model_validate(cm.model, bb.deploy.runtime.ffi.new("uint32_t *"))
    assert status == lib.BB_ERR_ARGUMENT


BOARDS = [t for t in ("mps2-an385", "mps2-an386") if t in targets()]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_models_bit_exact_on_host_and_boards(name):
    model, X = _small(name, n=32)
    q = bb.quantize(model, X)
    want = q.predict_int8(X[:2])
    for target in ["host"] + BOARDS:
        r = bb.embedded.run(q, X[:2], target=target)
        np.testing.assert_array_equal(r.outputs_int8, want, err_msg=f"{name} on {target}")
        if target != "host":
            assert r.ticks > 0 and len(r.op_ticks) == len(q.ops) and min(r.op_ticks) > 0
            assert r.ram_bytes <= 128 * 1024
