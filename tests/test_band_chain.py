"""Streaming of op chains (issue #13): band chains give the bytes of their stages run
whole, on the host build and both QEMU boards; the planner takes one only where it lowers
the arena and reports its live bytes (scratch included); the runtime refuses a corrupted
chain op."""
import shutil

import numpy as np
import pytest

import braininabox as bb
from test_quantize_graph import _randomize_batch_norms
from braininabox._core import ffi, lib
from braininabox.deploy import embedded, streaming
from braininabox.deploy.ops import BandChainOp

L = bb.layers
BOARDS = ["mps2-an385", "mps2-an386"]
needs_board = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc / qemu-system-arm not installed (make system installs them)")


def _bn_relu(x, relu=True):
    x = L.BatchNorm()(x)
    return L.ReLU()(x) if relu else x


def separable(shape=(1, 13, 7), stride=2, channels=(6, 8), extreme=False):
    """A first conv (stride 2, "same": asymmetric padding), then depthwise -> pointwise
    twice: a DS-CNN / MobileNet in small. The depthwise of the second block has `stride`."""
    x = inputs = bb.Input(shape)
    x = _bn_relu(L.Conv2D(channels[0], kernel=(4, 3), stride=2, padding="same")(x))
    x = _bn_relu(L.DepthwiseConv2D(3, padding="same")(x))
    x = _bn_relu(L.Conv2D(channels[1], kernel=1)(x))
    x = _bn_relu(L.DepthwiseConv2D(3, stride=stride, padding="same")(x))
    x = L.Conv2D(channels[1], kernel=1)(x)  # no ReLU: the full int8 range out
    return bb.Model(inputs, L.Linear(3)(L.GlobalAvgPool()(x)))


def _randomized(model, seed):
    return _randomize_batch_norms(model, seed)


def _quantized(shape, seed=0, extreme=False, **kw):
    bb.seed(seed)
    rng = np.random.default_rng(seed)
    model = _randomized(separable(shape, **kw), seed)
    X = rng.normal(size=(24,) + shape).astype(np.float32)
    if extreme:  # all-positive inputs: the input zero point at -128
        X = np.abs(X) * 4
    model._build_for(X)
    return bb.quantize(model, X, stream=False), X


SHAPES = [((1, 13, 7), {}),                 # odd sizes, DS-CNN-like
          ((3, 17, 15), {"stride": 1}),     # every chain keeps the shape: in place
          ((2, 5, 9), {}),                  # output heights 3 and 2: bands taller than them
          ((1, 2, 3), {"stride": 1}),       # one or two rows in all
          ((1, 11, 4), {"extreme": True})]  # zero points at the extremes


def _every_chain(q):
    """Every chain the planner could form, at every band height."""
    for start in range(len(q.ops)):
        for start_, count in streaming.candidates(q, start):
            if start_ != start:
                continue
            probe = BandChainOp.of(q.ops[start:start + count], 1)
            for rows in range(1, probe.out_shape[1] + 1):
                yield start, count, rows


@pytest.mark.parametrize("shape,kw", SHAPES)
def test_every_chain_and_band_gives_the_bytes_of_the_ops_whole(shape, kw):
    q, X = _quantized(shape, **kw)
    want = q.predict_int8(X[:6])
    kinds, tried = set(), 0
    for start, count, rows in _every_chain(q):
        fused = streaming.fuse(q, start, count, rows)
        chain = fused.ops[start]
        kinds.add(tuple(s.kind for s in chain.stages))
        np.testing.assert_array_equal(fused.predict_int8(X[:6]), want,
                                      err_msg=f"{chain.name}, {rows} rows per band")
        tried += 1
    # the kinds of chain this model offers: a first conv, depthwise -> pointwise,
    # pointwise -> depthwise (stride 2 where the model has it), each alone
    assert {("conv2d_gemm",), ("depthwise_conv2d", "pointwise_conv2d"),
            ("pointwise_conv2d", "depthwise_conv2d"), ("pointwise_conv2d",)} <= kinds
    assert tried >= 8


def test_chains_run_in_place_where_every_stage_keeps_the_shape():
    q, X = _quantized((3, 17, 15), stride=1)
    assert [op.kind for op in q.ops[3:5]] == ["depthwise_conv2d", "pointwise_conv2d"]
    fused = streaming.fuse(q, 3, 2, 3)  # 8 channels through both: in place
    assert fused.ops[3].runs_in_place()
    plan = fused.memory_plan()
    assert plan.op_io[3][0] == plan.op_io[3][1]
    np.testing.assert_array_equal(fused.predict_int8(X), q.predict_int8(X))
    assert not streaming.fuse(q, 1, 2, 3).ops[1].runs_in_place()  # 6 -> 8 channels


def test_planner_takes_chains_only_where_they_lower_the_arena():
    q, X = _quantized((1, 25, 10))
    streamed = streaming.stream(q)
    before, after = q.memory_plan(), streamed.memory_plan()
    assert after.arena_bytes < before.arena_bytes
    assert any(op.kind == "band_chain" for op in streamed.ops)
    np.testing.assert_array_equal(streamed.predict_int8(X), q.predict_int8(X))
    # bb.quantize(stream=True) is the planner's smallest arena; the default keeps ops whole
    bb.seed(0)
    model = _randomized(separable((1, 25, 10)), 0)
    assert [op.kind for op in bb.quantize(model, X, stream=True).ops] == [op.kind for op in streamed.ops]
    assert [op.kind for op in bb.quantize(model, X).ops] == [op.kind for op in q.ops]
    # a model with no convolution to chain comes back as it was
    x = bb.Input((6,))
    mlp = bb.Model(x, L.Linear(3)(L.ReLU()(L.Linear(8)(x))))
    Y = np.random.default_rng(1).normal(size=(16, 6)).astype(np.float32)
    plain = bb.quantize(mlp, Y, stream=False)
    assert streaming.stream(plain) is plain


def test_planner_reports_the_chains_live_bytes_with_their_scratch():
    q, X = _quantized((1, 25, 10))
    streamed = streaming.stream(q)
    plan = streamed.memory_plan()
    for t, op in enumerate(streamed.ops):
        if op.kind != "band_chain":
            continue
        # a chain model: nothing else is alive while it runs (its intermediates never are)
        alive = op.scratch_bytes() + op.out_size + (0 if op.runs_in_place() else op.in_size)
        assert plan.op_live_bytes[t] == alive
        assert op.scratch_bytes() == lib.bb_band_chain_s8_scratch_size(
            ffi.new("bb_s8_dims *", {"batch": 1, "channels": op.chw_in[0], "height": op.chw_in[1],
                                     "width": op.chw_in[2]}),
            len(op.stages), op._c_stages(), op.band_rows)
    assert plan.arena_bytes >= plan.peak_bytes == max(plan.op_live_bytes)


def test_an_arena_budget_lets_the_bands_grow():
    q, X = _quantized((1, 49, 10))
    smallest = streaming.stream(q)
    budget = smallest.memory_plan().arena_bytes + 600
    assert budget < q.memory_plan().arena_bytes  # below the unstreamed arena: still streamed
    roomier = streaming.stream(q, arena_limit=budget)
    assert smallest.memory_plan().arena_bytes <= roomier.memory_plan().arena_bytes <= budget
    rows = lambda m: [op.band_rows for op in m.ops if op.kind == "band_chain"]
    assert sum(rows(roomier)) > sum(rows(smallest))
    np.testing.assert_array_equal(roomier.predict_int8(X), q.predict_int8(X))
    with pytest.raises(ValueError, match="stream must be True, False or an arena budget"):
        bb.quantize(separable((1, 25, 10)), X, stream=-1)


def test_a_budget_the_unstreamed_model_fits_gives_the_unstreamed_model():
    q, X = _quantized((3, 12, 12), stride=2)
    whole = q.memory_plan().arena_bytes
    assert streaming.stream(q).memory_plan().arena_bytes < whole  # streaming can lower it
    for budget in (whole, whole + 200, 10**6):  # it fits: whole ops are the fastest
        assert streaming.stream(q, arena_limit=budget) is q
    # a budget below it: streamed, and never past the unstreamed arena
    for budget in (0, whole - 1):
        streamed = streaming.stream(q, arena_limit=budget)
        assert any(op.kind == "band_chain" for op in streamed.ops)
        assert streamed.memory_plan().arena_bytes < whole
    bb.seed(0)
    model = _randomized(separable((3, 12, 12), stride=2), 0)
    assert [op.kind for op in bb.quantize(model, X, stream=whole).ops] == [op.kind for op in q.ops]


def test_a_chain_the_kernel_cannot_run_is_refused_by_name():
    q, _ = _quantized((1, 13, 7))
    with pytest.raises(ValueError, match="band chain: .* a chain's stages are"):
        BandChainOp.of([q.ops[-1]], 1)  # the linear op
    with pytest.raises(ValueError, match="band chain: 3 stages"):
        BandChainOp.of(q.ops[1:4], 1)
    # a pointwise whose output a residual add reads too: not a chain with the depthwise
    x = bb.Input((2, 6, 6))
    a = L.Conv2D(4, kernel=1)(x)
    y = L.Add()([a, L.DepthwiseConv2D(3, padding="same")(a)])
    model = bb.Model(x, L.Linear(2)(L.GlobalAvgPool()(y)))
    X = np.random.default_rng(2).normal(size=(16, 2, 6, 6)).astype(np.float32)
    residual = bb.quantize(model, X, stream=False)
    assert [op.kind for op in residual.ops[:3]] == ["pointwise_conv2d", "depthwise_conv2d", "add"]
    assert (0, 2) not in streaming.candidates(residual, 1)
    with pytest.raises(ValueError, match="does not read only op 0, or op 0 has other readers"):
        streaming.fuse(residual, 0, 2, 1)


# ------------------------------------------------------------- the runtime's checks
def _chain_model():
    q, X = _quantized((1, 13, 7))
    streamed = streaming.fuse(streaming.fuse(q, 1, 2, 2), 0, 1, 3)
    assert [op.kind for op in streamed.ops[:2]] == ["band_chain", "band_chain"]
    return streamed, X


@pytest.mark.parametrize("field,value,status", [
    ("stage_count", 3, "BB_ERR_ARGUMENT"),
    ("stage_count", 0, "BB_ERR_ARGUMENT"),
    ("band_rows", 0, "BB_ERR_ARGUMENT"),
    ("band_rows", 99, "BB_ERR_ARGUMENT"),
    ("stages[1].type", 1, "BB_ERR_ARGUMENT"),       # a conv after the first stage
    ("stages[1].type", 9, "BB_ERR_ARGUMENT"),
    ("stages[0].out_channels", 5, "BB_ERR_SHAPE"),   # a depthwise changing channels
    ("stages[1].conv.pad_top", 1, "BB_ERR_ARGUMENT"),  # a padded pointwise
    ("stages[0].conv.pad_bottom", 3, "BB_ERR_ARGUMENT"),
    ("stages[0].quant.input_offset", 129, "BB_ERR_ARGUMENT"),
])
def test_runtime_refuses_a_corrupted_chain_field(field, value, status):
    q, _ = _chain_model()
    cm = q.c_model()
    target = cm.ops[1].params.band_chain
    *path, last = field.replace("]", "").replace("[", ".").split(".")
    for part in path:
        target = target[int(part)] if part.isdigit() else getattr(target, part)
    setattr(target, last, value)
    failed = ffi.new("uint32_t *")
    got = lib.bb_model_validate(cm.model, failed)
    assert got == getattr(lib, status) and failed[0] == 1, (field, got)


def test_runtime_refuses_unused_stage_words_and_wrong_slots():
    q, _ = _chain_model()
    cm = q.c_model()
    one_stage = cm.ops[0].params.band_chain
    assert one_stage.stage_count == 1
    one_stage.stages[1].out_channels = 1  # an unused stage must be zero
    assert lib.bb_model_validate(cm.model, ffi.NULL) == lib.BB_ERR_ARGUMENT
    cm = q.c_model()
    cm.ops[1].data_count = 4  # a two-stage chain has 8 data slots
    assert lib.bb_model_validate(cm.model, ffi.NULL) != lib.BB_OK
    cm = q.c_model()
    cm.ops[1].data[5].bytes += 4  # the second stage's bias one channel too long
    assert lib.bb_model_validate(cm.model, ffi.NULL) != lib.BB_OK
    cm = q.c_model()
    cm.ops[0].output.at = cm.ops[0].inputs[0].at  # in place where the shape changes
    assert lib.bb_model_validate(cm.model, ffi.NULL) != lib.BB_OK


def test_every_single_word_corruption_of_a_chain_op_is_refused():
    """Each 32-bit word of the chain ops, changed alone, with the old checksum: refused."""
    q, X = _chain_model()
    cm = q.c_model()
    inputs = q.quantize_input(X[:2])
    words = ffi.cast("uint32_t *", cm.ops)
    per_op = ffi.sizeof("bb_op") // 4
    arena = np.zeros(cm.plan.arena_bytes, np.uint8)
    out = np.zeros((2, q.output_size), np.int8)
    for i in range(2 * per_op):  # ops 0 and 1: the chains
        for delta in (1, 0xFFFFFFFF, 0x80000000):
            saved = words[i]
            words[i] = (saved + delta) & 0xFFFFFFFF
            rt = ffi.new("bb_runtime *")
            status = lib.bb_runtime_init(rt, cm.model, ffi.from_buffer(arena), arena.nbytes)
            assert status != lib.BB_OK, f"word {i} + {delta:#x} accepted"
            if lib.bb_model_validate(cm.model, ffi.NULL) == lib.BB_OK:  # self-consistent: runs in bounds
                cm.model.checksum = lib.bb_model_checksum(cm.model)
                if lib.bb_runtime_init(rt, cm.model, ffi.from_buffer(arena), arena.nbytes) == lib.BB_OK:
                    lib.bb_runtime_invoke_batch(rt, 2, ffi.from_buffer("int8_t[]", inputs),
                                                ffi.from_buffer("int8_t[]", out))
                cm.model.checksum = cm.checksum
            words[i] = saved


# ------------------------------------------------------------- host build and boards
@pytest.mark.parametrize("target", ["host"] + [pytest.param(b, marks=needs_board) for b in BOARDS])
def test_boards_run_chains_byte_for_byte(target):
    """Small models with every chain kind (in place, stride 2, a first conv) on the
    embedded runtime: the board's bytes are predict_int8's and the unstreamed model's."""
    for shape, kw in (((1, 13, 7), {}), ((3, 9, 11), {"stride": 1, "extreme": True})):
        q, X = _quantized(shape, **kw)
        streamed = streaming.fuse(streaming.fuse(q, 3, 2, 2), 1, 2, 3)  # pw -> dw, then dw -> pw
        streamed = streaming.fuse(streamed, 0, 1, 1)  # the first conv, a row at a time
        assert sum(op.kind == "band_chain" for op in streamed.ops) == 3
        result = embedded.run(streamed, X[:3], target=target)
        np.testing.assert_array_equal(result.outputs_int8, q.predict_int8(X[:3]))
