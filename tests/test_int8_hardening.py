"""Issue 15's int8 items: each case below was a crash, an out-of-bounds read, code
injection or silently wrong bytes before; now a clear error or the right answer.

- int32 accumulator overflow when a bias saturates (quantize rescales; the runtime refuses
  any model where |bias| + 255 * sum|w| >= 2^31),
- a QuantizedModel whose ops were changed after quantize (C validates every length),
- corrupted in-memory models (a bounded fuzzer over every field; tests/c/test_runtime.c
  runs the same idea under AddressSanitizer),
- export_c: names written into the header, reserved names, ram_budget,
- quantize: Softmax over the wrong axis, NaN weights, constant calibration data, layer
  subclasses, batch_size.
"""
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

import braininabox as bb
from braininabox._core import ffi, lib
from braininabox.deploy.export import export_c
from braininabox.nn.layers import Conv2D, Flatten, Linear, MaxPool, ReLU, Softmax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GCC = shutil.which("gcc")


@pytest.fixture(scope="module")
def small():
    bb.seed(0)
    model = bb.Sequential([Conv2D(4, 3), ReLU(), MaxPool(2), Flatten(), Linear(5), Softmax()])
    X = np.random.default_rng(0).random((40, 1, 10, 10)).astype(np.float32)
    return bb.quantize(model, X), X


@pytest.fixture(scope="module")
def graph_small():
    """A graph model with every graph op kind: conv2d_gemm, depthwise (in place),
    pointwise, add, concat, global average pooling, linear."""
    bb.seed(1)
    L = bb.layers
    x = bb.Input((2, 6, 6))
    a = L.ReLU()(L.BatchNorm()(L.Conv2D(4, 3, padding="same")(x)))
    b = L.ReLU6()(L.DepthwiseConv2D(3, padding="same")(a))
    c = L.Conv2D(4, 1)(b)
    y = L.Concatenate()([L.ReLU()(L.Add()([a, c])), b])
    model = bb.Model(x, L.Linear(3)(L.GlobalAvgPool()(y)))
    X = np.random.default_rng(1).normal(size=(40, 2, 6, 6)).astype(np.float32)
    q = bb.quantize(model, X, stream=False)  # one op per stage
    assert {op.kind for op in q.ops} == {"conv2d_gemm", "depthwise_conv2d", "pointwise_conv2d",
                                         "add", "concat", "global_avg_pool", "linear"}
    return q, X


@pytest.fixture(scope="module")
def streamed_small(graph_small):
    """graph_small as the memory planner streams it: a band_chain op among the others."""
    from braininabox.deploy import streaming
    q, X = graph_small
    streamed = streaming.stream(q)
    assert "band_chain" in {op.kind for op in streamed.ops}
    return streamed, X


@pytest.fixture(params=["sequential", "graph", "streamed"])
def any_small(request, small, graph_small, streamed_small):
    return {"sequential": small, "graph": graph_small, "streamed": streamed_small}[request.param]


# ------------------------------------------------------------ accumulator overflow
def test_saturating_bias_no_longer_overflows_the_accumulator():
    # Weights 1e-3 and bias 1e4 on all-ones input: at the plain scale the bias needs
    # ~3e11 in int32; it used to saturate at 2^31 - 1 and the accumulation wrapped (the
    # float model said 10000, int8 the minimum).
    model = bb.Sequential([Conv2D(2, 3)])
    model.build((1, 6, 6))
    conv = model.layers[0]
    conv.weight.data[...] = 1e-3
    conv.bias.data[...] = 1e4
    X = np.ones((8, 1, 6, 6), np.float32)
    with pytest.warns(UserWarning, match="calibration"):
        q = bb.quantize(model, X, stream=False)  # the conv op's own arrays
    expected = model.predict(X[:1]).reshape(1, -1)
    got = q.predict(X[:1])
    scale = q.output_q[0]
    assert np.all(np.abs(got - expected) <= 2 * scale), (got.ravel()[:4], expected.ravel()[:4])
    op = q.ops[0]
    bound = np.abs(op.bias.astype(np.int64)) + 255 * np.abs(op.weights.astype(np.int64)).reshape(2, -1).sum(1)
    assert bound.max() < 2**31


def test_runtime_refuses_a_bias_that_could_overflow(small):
    q, X = small
    op = q.ops[1]  # the linear op
    saved = op.bias
    try:
        op.bias = op.bias.copy()
        op.bias[0] = 2**31 - 1
        with pytest.raises(ValueError, match=r"op 1 \(layer 4 \(Linear\)\): BB_ERR_ARGUMENT"):
            q.predict_int8(X[:2])
    finally:
        op.bias = saved


# ------------------------------------------------------------ mutated QuantizedModel ops
@pytest.mark.parametrize("field, value, message", [
    ("weights", lambda op: np.ones((op.weights.shape[0] + 1,) + op.weights.shape[1:], np.int8),
     "BB_ERR_SHAPE"),
    ("weights", lambda op: op.weights[:, :-1].copy(), "BB_ERR_SHAPE"),
    ("weights", lambda op: np.zeros((1, 1), np.int8), "BB_ERR_SHAPE"),
    ("weights", lambda op: op.weights.astype(np.float32), "weights must be a numpy int8 array"),
    ("multiplier", lambda op: op.multiplier[:-1].copy(), "BB_ERR_SHAPE"),
    ("shift", lambda op: np.concatenate([op.shift, op.shift]), "BB_ERR_SHAPE"),
    ("bias", lambda op: op.bias[:1].copy(), "BB_ERR_SHAPE"),
])
def test_changed_linear_arrays_are_refused_not_read_past(small, field, value, message):
    q, X = small
    op = q.ops[1]
    saved = getattr(op, field)
    try:
        setattr(op, field, value(op))
        with pytest.raises(ValueError, match=message):
            q.predict_int8(X[:2])
    finally:
        setattr(op, field, saved)
    q.predict_int8(X[:2])  # restored: runs again


@pytest.mark.parametrize("table", [np.full(10, 1 << 20, np.int32), np.full(300, 1 << 20, np.int32),
                                   np.full(256, -1, np.int32), None])
def test_changed_exp_table_is_refused(small, table):
    q, X = small
    op = q.ops[-1]
    saved = op.exp_table
    try:
        op.exp_table = table
        with pytest.raises(ValueError, match=r"op 2 \(layer 5 \(Softmax\)\): BB_ERR_(SHAPE|ARGUMENT)"):
            q.predict_int8(X[:2])
    finally:
        op.exp_table = saved


def test_changed_conv_window_is_refused(small):
    # kernel 3 -> 5 with pad 0 -> 1 keeps the output shape: the weights' length no longer does.
    q, X = small
    op = q.ops[0]
    saved = op.kernel, op.padding
    try:
        op.kernel, op.padding = (5, 5), (1, 1)
        with pytest.raises(ValueError, match=r"op 0 .*BB_ERR_SHAPE"):
            q.predict_int8(X[:2])
    finally:
        op.kernel, op.padding = saved


# ------------------------------------------------------------ corrupted in-memory models
def _run(cm, inputs, arena_bytes):
    arena = np.zeros(arena_bytes, np.uint8)
    out = np.zeros((len(inputs), cm.q.output_size), np.int8)
    rt = ffi.new("bb_runtime *")
    status = lib.bb_runtime_init(rt, cm.model, ffi.from_buffer(arena), arena.nbytes)
    if status == lib.BB_OK:
        status = lib.bb_runtime_invoke_batch(rt, len(inputs), ffi.from_buffer("int8_t[]", inputs),
                                             ffi.from_buffer("int8_t[]", out))
    return status, out


def test_every_single_field_corruption_is_refused_or_harmless(any_small):
    """Each 32-bit word of each op and each number of the model, changed alone: init
    refuses it (the checksum, or a field check), or nothing the model uses changed. With
    the checksum recomputed (a self-consistent corruption) init may accept it, and then it
    must run in bounds (tests/asan/run.sh runs this file under ASan/UBSan)."""
    q, X = any_small
    inputs = q.quantize_input(X[:3])
    cm = q.c_model()
    arena_bytes = cm.plan.arena_bytes
    status, expected = _run(cm, inputs, arena_bytes)
    assert status == lib.BB_OK
    words = ffi.cast("uint32_t *", cm.ops)
    total = len(q.ops) * ffi.sizeof("bb_op") // 4
    refused = 0
    for i in range(total):
        for delta in (1, 0xFFFFFFFF, 0x100, 0x80000000):
            saved = words[i]
            words[i] = (saved + delta) & 0xFFFFFFFF
            status, out = _run(cm, inputs, arena_bytes)
            assert status != lib.BB_OK, f"op word {i} + {delta} accepted with the old checksum"
            refused += 1
            if lib.bb_model_validate(cm.model, ffi.NULL) == lib.BB_OK:
                cm.model.checksum = lib.bb_model_checksum(cm.model)
                _run(cm, inputs, arena_bytes)  # may run; must not crash
                cm.model.checksum = cm.checksum
            words[i] = saved
    for name in ("format_version", "op_count", "ops_bytes", "data_bytes", "arena_bytes",
                 "input_size", "output_size", "input_zero_point", "output_zero_point"):
        saved = getattr(cm.model, name)
        setattr(cm.model, name, saved + 1)
        status, _ = _run(cm, inputs, arena_bytes)
        assert status != lib.BB_OK, name
        setattr(cm.model, name, saved)
    status, out = _run(cm, inputs, arena_bytes)
    assert status == lib.BB_OK and np.array_equal(out, expected)
    assert refused == 4 * total


def test_flipped_data_bit_is_refused_by_the_checksum(any_small):
    q, X = any_small
    cm = q.c_model()
    for byte in (0, 5, cm.data.nbytes // 2, cm.data.nbytes - 1):
        view = cm.data.view(np.uint8)
        view[byte] ^= 0x10
        status, _ = _run(cm, q.quantize_input(X[:1]), cm.plan.arena_bytes)
        view[byte] ^= 0x10
        # the last bytes may be alignment padding no op reads: then nothing changed
        assert status == lib.BB_ERR_CORRUPT or byte == cm.data.nbytes - 1


# ------------------------------------------------------------ export_c
@pytest.mark.parametrize("name", ["main", "NULL", "int8_t", "size_t", "bb_model", "bb_op", "BB_OK",
                                  "__LINE__", "__FILE__", "_Static_assert", "_Noreturn", "_Atomic",
                                  "_Generic", "_Thread_local", "_Alignas", "return", "uint32_t",
                                  "my_t", "_Private", "bb_mine", "BB_MODEL_FORMAT_VERSION"])
def test_reserved_names_are_refused(small, tmp_path, name):
    with pytest.raises(ValueError, match="export_c: name"):
        export_c(small[0], tmp_path / "m.h", name=name)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(GCC is None, reason="gcc not found")
def test_layer_names_cannot_inject_code_into_the_header(tmp_path):
    class Evil(ReLU):
        pass
    Evil.__name__ = 'X */ int injected(void) { return 42; } /* \\\n#error "x'
    bb.seed(1)
    model = bb.Sequential([Linear(4), Softmax()])
    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    q = bb.quantize(model, X)
    q.ops[0].name = Evil.__name__  # as a layer-derived name would arrive
    export_c(q, tmp_path / "model.h")
    text = (tmp_path / "model.h").read_text()
    line = next(l for l in text.splitlines() if "/* op 0:" in l)
    assert line.startswith("    /* op 0: X ") and line.endswith(" */") and line.count("*/") == 1, line
    assert not any(l.lstrip().startswith("#error") for l in text.splitlines())
    src = tmp_path / "use.c"
    src.write_text('#include "model.h"\nint injected(void) { return 0; }\n'
                   "int main(void) { return model_model()->op_count == 2 ? injected() : 1; }\n")
    result = subprocess.run([GCC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                             "-I", os.path.join(ROOT, "csrc"), "-I", os.path.join(ROOT, "embedded"),
                             str(src), "-o", str(tmp_path / "use")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # one definition of injected(): ours


@pytest.mark.parametrize("budget", [float("nan"), float("inf"), -1, "128k", True])
def test_bad_ram_budget_is_refused(small, tmp_path, budget):
    with pytest.raises(ValueError, match="ram_budget"):
        export_c(small[0], tmp_path / "m.h", ram_budget=budget)


# ------------------------------------------------------------ quantize
def _mlp(*extra):
    bb.seed(2)
    model = bb.Sequential([Linear(6), ReLU(), Linear(3), *extra])
    X = np.random.default_rng(2).normal(size=(30, 4)).astype(np.float32)
    model.build(X.shape[1:])
    return model, X


def test_softmax_over_the_batch_axis_is_refused():
    model, X = _mlp(Softmax(axis=0))
    with pytest.raises(ValueError, match=r"layer 3 \(Softmax\) normalizes over axis 0"):
        bb.quantize(model, X)
    model, X = _mlp(Softmax(axis=1))
    bb.quantize(model, X)  # the class axis, spelled 1


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("where", ["weight", "bias"])
def test_nonfinite_weights_are_refused_by_layer(bad, where):
    model, X = _mlp()
    getattr(model.layers[2], where).data[0] = bad
    with pytest.raises(ValueError, match=r"layer 2 \(Linear\) has NaN or infinite weights"):
        bb.quantize(model, X)


def test_constant_calibration_data_warns():
    model, X = _mlp()
    with pytest.warns(UserWarning, match="every calibration sample is the same"):
        bb.quantize(model, np.repeat(X[:1], 20, axis=0))
    with pytest.warns(UserWarning, match="one constant value"):
        bb.quantize(model, np.zeros((1, 4), np.float32))


def test_layer_subclasses_get_a_clear_error():
    class MyLinear(Linear):
        pass

    bb.seed(0)
    model = bb.Sequential([MyLinear(3)])
    X = np.ones((4, 2), np.float32) * np.arange(4, dtype=np.float32)[:, None]
    model.build(X.shape[1:])
    with pytest.raises(ValueError, match=r"layer 0 \(MyLinear, a subclass of Linear: quantize "
                                         r"converts the built-in layers only"):
        bb.quantize(model, X)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, None, True])
def test_bad_batch_size_is_refused(batch_size):
    model, X = _mlp()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        bb.quantize(model, X, batch_size=batch_size)


# ------------------------------------------------------------ the op table and scratch
def test_op_table_matches_the_c_format():
    from braininabox.deploy.ops import OPS
    members = {name for name, _ in ffi.typeof("bb_op_params").fields}
    assert len({cls.c_kind for cls in OPS.values()}) == len(OPS)
    for kind, cls in OPS.items():
        assert cls.kind == kind and 0 < cls.c_kind < lib.BB_OP_KIND_END
        assert cls.params_member is None or cls.params_member in members, kind


def test_scratch_is_planned_in_the_arena_and_handed_to_the_runtime(small):
    """An op whose kernel asks for working memory gets a buffer alive only while it runs,
    clear of that op's input and output; the runtime checks it and passes it in."""
    from dataclasses import fields
    from braininabox.deploy.memory_plan import plan_memory
    from braininabox.deploy.ops import LinearOp
    from braininabox.deploy.quantized import QuantizedModel

    class ScratchLinear(LinearOp):
        def scratch_bytes(self):
            return 24

    q, X = small
    linear = q.ops[1]
    ops = list(q.ops)
    ops[1] = ScratchLinear(**{f.name: getattr(linear, f.name) for f in fields(linear)})
    qs = QuantizedModel(ops, q.input_shape, q.input_q, q.output_shape)
    plan = plan_memory(qs)
    at = plan.op_scratch[1]
    assert plan.scratch_bytes == 24 and at is not None and plan.op_scratch[0] is None
    assert at % 4 == 0 and at + 24 <= plan.arena_bytes
    (in_at, out_at), sizes = plan.op_io[1], (linear.in_size, linear.out_size)
    for start, size in zip((in_at, out_at), sizes):
        assert at + 24 <= start or start + size <= at
    cm = qs.c_model()
    assert (cm.ops[1].scratch_at, cm.ops[1].scratch_bytes) == (at, 24)
    np.testing.assert_array_equal(qs.predict_int8(X[:5]), q.predict_int8(X[:5]))


def test_run_int8_refuses_other_dtypes_instead_of_casting(small):
    q, X = small
    inputs = q.quantize_input(X[:2])
    for bad in (inputs.astype(np.int16) + 300, inputs.astype(np.float32) + 0.7,
                inputs.astype(np.uint8)):
        with pytest.raises(TypeError, match=rf"run_int8: inputs must be an int8 array \(N, 100\), "
                                            rf"the quantized bytes .* got {bad.dtype}$"):
            q.run_int8(bad)
    with pytest.raises(TypeError, match="run_int8: inputs must be an int8 array .* got list$"):
        q.run_int8(inputs.tolist())
    np.testing.assert_array_equal(q.run_int8(inputs), q.predict_int8(X[:2]))


def test_complex_inputs_are_refused(small):
    q, X = small
    with pytest.raises(TypeError, match="quantized model: X is complex; the model takes real inputs"):
        q.predict_int8(X[:2].astype(np.complex64))


def test_an_empty_batch_is_refused_the_same_way_everywhere(small):
    q, X = small
    empty = "X is empty \\(shape \\(0, 1, 10, 10\\)\\)$"
    for call in (q.predict_int8, q.predict, q.quantize_input,
                 lambda x: bb.embedded.run(q, x, target="host")):
        with pytest.raises(ValueError, match="quantized model: " + empty):
            call(X[:0])
    with pytest.raises(ValueError, match="run_int8: inputs are empty \\(shape \\(0, 100\\)\\)$"):
        q.run_int8(np.zeros((0, 100), np.int8))
    front_end = bb.audio.MFCC().int8_model()
    with pytest.raises(ValueError, match="quantized model: X is empty \\(no recordings\\)$"):
        front_end.predict_int8(np.zeros((0, 8000), np.int16))
    with pytest.raises(ValueError, match="quantized model: X is empty \\(no recordings\\)$"):
        front_end.predict_int8([])
