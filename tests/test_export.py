"""The activation memory plan (braininabox/memory_plan.py) and the C header export
(braininabox/export.py): exact offsets, no overlap of live buffers, the RAM budget,
a header that compiles warning-free as C99 and holds exactly the model, atomic writes.
"""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import braininabox as bb
from braininabox import _files
from braininabox.deploy import export as export_module
from braininabox.deploy.export import RamBudgetError, export_c
from braininabox.nn.layers import (Conv2D, DepthwiseConv2D, Flatten, GlobalAvgPool, Linear, MaxPool,
                                   ReLU, Softmax)
from braininabox.deploy.memory_plan import plan_memory
from braininabox.deploy.ops import int8_op
from braininabox.deploy.quantized import QuantizedModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GCC = shutil.which("gcc")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
          "-I", os.path.join(ROOT, "csrc"), "-I", os.path.join(ROOT, "embedded")]
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc not found")


def round4(n):
    return -(-n // 4) * 4


# ------------------------------------------------------------ hand-built models
def op(kind, in_shape, out_shape, arrays=True, **kw):
    out = int(np.prod(out_shape))
    fields = {}
    if kind in ("conv2d", "linear") and arrays:
        fields = dict(weights=np.ones((out_shape[0],) + ((in_shape[0], 3, 3) if kind == "conv2d"
                                                         else (int(np.prod(in_shape)),)), np.int8),
                      bias=np.zeros(out_shape[0], np.int32),
                      multiplier=np.full(out_shape[0], 2**30, np.int32),
                      shift=np.full(out_shape[0], -2, np.int32))
    if kind == "softmax" and arrays:
        fields = dict(exp_table=np.full(256, 1 << 20, np.int32))
    fields.update(kw)
    return int8_op(kind=kind, name=f"{kind} {out}", in_shape=tuple(in_shape), out_shape=tuple(out_shape),
                  in_q=(1.0, 0), out_q=(1.0, 0), **fields)


def hand_model():
    """input (1,10,10) 100 B -> conv 3x3 (4,8,8) 256 B -> max pool (4,4,4) 64 B -> clamp
    (in place) -> linear 10 B -> softmax 10 B."""
    ops = [op("conv2d", (1, 10, 10), (4, 8, 8), kernel=(3, 3)),
           op("max_pool2d", (4, 8, 8), (4, 4, 4), kernel=(2, 2), stride=(2, 2)),
           op("clamp", (4, 4, 4), (4, 4, 4), act_min=-5),
           op("linear", (64,), (10,)),
           op("softmax", (10,), (10,))]
    return QuantizedModel(ops, (1, 10, 10), (1.0, 0), (10,))


def check_plan_invariants(q, plan):
    buffers = plan.buffers
    assert plan.arena_bytes % 4 == 0
    for b in buffers:
        assert b.offset >= 0 and b.offset % 4 == 0, b
        assert b.offset + b.size <= plan.arena_bytes, b
    # every pair of buffers alive at the same time is disjoint
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    # each op reads the previous op's output; a clamp writes in place
    assert len(plan.op_io) == len(q.ops)
    assert plan.op_io[0][0] == buffers[0].offset
    for t, (o, (i_at, o_at)) in enumerate(zip(q.ops, plan.op_io)):
        if t:
            assert i_at == plan.op_io[t - 1][1]
        if o.kind == "clamp":
            assert i_at == o_at
    # an op's scratch is inside the arena, apart from every buffer alive while it runs
    scratch = [o.scratch_bytes() for o in q.ops]
    for t, (need, at) in enumerate(zip(scratch, plan.op_scratch or [None] * len(q.ops))):
        assert (at is None) == (need == 0)
        if need:
            assert at % 4 == 0 and at + need <= plan.arena_bytes
            assert all(at + need <= b.offset or b.offset + b.size <= at
                       for b in buffers if b.first <= t <= b.last)
    # the arena is at least the largest (input + output + scratch) of any op
    lower = max(round4(o.in_size + o.out_size) + round4(s)
                for o, s in zip(q.ops, scratch) if o.kind != "clamp")
    assert plan.arena_bytes >= lower
    assert plan.activation_bytes == sum(b.size for b in buffers)
    alive = [sum(b.size for b in buffers if b.first <= t <= b.last) + scratch[t]
             for t in range(len(q.ops))]
    assert plan.peak_bytes == max(alive) and alive[plan.peak_op] == plan.peak_bytes
    assert plan.flash_bytes == sum(o.flash_bytes() for o in q.ops)
    return lower


def test_memory_plan_of_a_hand_built_chain():
    q = hand_model()
    plan = plan_memory(q)
    assert [(b.size, b.first, b.last) for b in plan.buffers] == [
        (100, 0, 0), (256, 0, 1), (64, 1, 3), (10, 3, 4), (10, 4, 4)]
    assert [b.offset for b in plan.buffers] == [256, 0, 256, 0, 12]
    assert plan.op_io == [(256, 0), (0, 256), (256, 256), (256, 0), (0, 12)]
    assert plan.arena_bytes == 356 == 100 + 256
    assert plan.activation_bytes == 440
    assert (plan.peak_op, plan.peak_bytes) == (0, 356)
    assert plan.scratch_bytes == 0 and plan.ram_bytes == 356
    assert plan.flash_bytes == (36 + 3 * 16) + (640 + 3 * 40) + 1024
    assert check_plan_invariants(q, plan) == plan.arena_bytes
    assert plan == q.memory_plan()
    text = str(plan)
    assert "arena 356 B" in text and "peak at op 0 (conv2d 256)" in text


def test_memory_plan_random_chains_never_overlap():
    rng = np.random.default_rng(0)
    for _ in range(300):
        sizes = rng.integers(1, 300, rng.integers(2, 9)).tolist()
        ops, shape = [], (sizes[0],)
        for s in sizes[1:]:
            if rng.random() < 0.25:
                ops.append(op("clamp", shape, shape))
            ops.append(op("linear", shape, (s,), arrays=False))
            shape = (s,)
        q = QuantizedModel(ops, (sizes[0],), (1.0, 0), shape)
        plan = plan_memory(q)
        check_plan_invariants(q, plan)
        assert plan.arena_bytes <= round4(sum(round4(s) for s in sizes))


def test_memory_plan_chain_reaches_the_lower_bound():
    ops = [op("linear", (8,), (4,)), op("linear", (4,), (4,)), op("linear", (4,), (8,))]
    q = QuantizedModel(ops, (8,), (1.0, 0), (8,))
    plan = plan_memory(q)
    check_plan_invariants(q, plan)
    assert plan.arena_bytes == 12


# ------------------------------------------------------------ real models
@pytest.fixture(scope="module")
def small_q():
    """Conv2D + MaxPool + ReLU + Flatten + Linear + Softmax, unfused: the conv (its ReLU in
    its clamp) through conv2d_gemm, every activation a multiple of 4 bytes: input 144,
    conv 400 (+ 472 B of scratch: 4 x 4 B of bias terms, a packed block of 8 x 12 B, 9 x 40 B
    of im2col columns), pool 100, linear 8, softmax 8."""
    bb.seed(0)
    model = bb.Sequential([Conv2D(4, 3), MaxPool(2), ReLU(), Flatten(), Linear(8), Softmax()])
    X = np.random.default_rng(0).random((32, 1, 12, 12)).astype(np.float32)
    return bb.quantize(model, X, fuse=False, stream=False)  # one op per layer


@pytest.fixture(scope="module")
def small_fused_q():
    """small_q's model with fuse=True: Conv2D + MaxPool + ReLU are one conv2d_pool op."""
    bb.seed(0)
    model = bb.Sequential([Conv2D(4, 3), MaxPool(2), ReLU(), Flatten(), Linear(8), Softmax()])
    X = np.random.default_rng(0).random((32, 1, 12, 12)).astype(np.float32)
    return bb.quantize(model, X)


def test_memory_plan_of_a_quantized_model(small_q):
    plan = small_q.memory_plan()
    assert [o.kind for o in small_q.ops] == ["conv2d_gemm", "max_pool2d", "linear", "softmax"]
    lower = check_plan_invariants(small_q, plan)
    assert plan.arena_bytes == lower == 144 + 400 + 472
    assert plan.scratch_bytes == 472 and plan.op_scratch[1:] == [None] * 3
    assert plan.activation_bytes == 144 + 400 + 100 + 8 + 8
    assert (plan.peak_op, plan.peak_bytes) == (0, 1016)


def test_memory_plan_of_a_fused_model(small_q, small_fused_q):
    """The conv output (400 B) never exists: the arena is the input plus the pooled output."""
    plan = small_fused_q.memory_plan()
    assert [o.kind for o in small_fused_q.ops] == ["conv2d_pool", "linear", "softmax"]
    lower = check_plan_invariants(small_fused_q, plan)
    assert plan.arena_bytes == lower == 144 + 100
    assert plan.activation_bytes == 144 + 100 + 8 + 8
    assert plan.arena_bytes < small_q.memory_plan().arena_bytes
    X = np.random.default_rng(1).random((16, 1, 12, 12)).astype(np.float32)
    np.testing.assert_array_equal(small_fused_q.predict_int8(X), small_q.predict_int8(X))


# ------------------------------------------------------------ the header
def test_header_contents(small_q, tmp_path):
    path = tmp_path / "digits.h"
    plan = export_c(small_q, path, name="digits")
    assert plan == plan_memory(small_q)
    text = path.read_text()
    assert f"#define DIGITS_ARENA_BYTES {plan.arena_bytes}u\n" in text
    assert "#define DIGITS_INPUT_SIZE 144u\n" in text and "#define DIGITS_OUTPUT_SIZE 8u\n" in text
    assert re.search(r"\.format_version = 4,", text)
    assert export_module.FORMAT_VERSION == 4
    bb_model_h = open(os.path.join(ROOT, "embedded", "bb_model.h")).read()
    assert re.search(r"#define BB_MODEL_FORMAT_VERSION 4\b", bb_model_h)
    assert '.name = "digits"' in text and "#ifndef BB_MODEL_DIGITS_H" in text
    # top-level declarations: static const data, one static inline accessor and the
    # aligned arena type (no storage), nothing else
    top = [line for line in text.splitlines() if re.match(r"[A-Za-z_]", line)]
    assert top and all(line.startswith("static const ") or
                       line.startswith("static inline const bb_model *digits_model(void)") or
                       line in ("typedef union digits_arena {", "} digits_arena;")
                       for line in top), top
    assert ("typedef union digits_arena {\n    int8_t bytes[DIGITS_ARENA_BYTES];\n"
            "    uint32_t align;\n} digits_arena;\n") in text
    symbols = re.findall(r"^static const \w+ (\w+)", text, flags=re.M)
    assert set(symbols) == {"digits", "digits_ops", "digits_data"}
    assert all(s == "digits" or s.startswith("digits_") for s in symbols), symbols
    macros = re.findall(r"^#define (\w+)", text, flags=re.M)
    assert all(m.startswith(("DIGITS_", "BB_MODEL_DIGITS_")) for m in macros), macros
    # the op table carries the plan's offsets
    ats = re.findall(r"\.inputs = \{ \{ \.at = (\d+),.*?\.output = \{ \.at = (\d+),", text, flags=re.S)
    assert [(int(a), int(b)) for a, b in ats] == plan.op_io
    # the checksum is the one the runtime computes for the same model in memory
    assert f".checksum = 0x{small_q.c_model().checksum:08x}u" in text
    assert not list(tmp_path.glob(".tmp-*"))


def _compile(args, cwd):
    result = subprocess.run([GCC] + CFLAGS + args, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


@needs_gcc
def test_header_compiles_on_its_own(small_q, tmp_path):
    export_c(small_q, tmp_path / "model.h")
    _compile(["-x", "c", "-c", "model.h", "-o", "model_h.o"], tmp_path)
    # and with no non-const data: every object symbol is read-only (no -fpic relocations)
    _compile(["-fno-pic", "-x", "c", "-c", "model.h", "-o", "nopic.o"], tmp_path)
    nm = subprocess.run(["nm", "nopic.o"], cwd=tmp_path, capture_output=True, text=True)
    if nm.returncode == 0:
        kinds = {line.split()[-2] for line in nm.stdout.splitlines() if line.strip()}
        assert not kinds & set("dDbBcCgGsS"), nm.stdout


DUMP_C = r"""
#include <stdio.h>
#include "bb_runtime.h"
#include "digits.h"
#include "other.h"

typedef char arena_matches_plan[(DIGITS_ARENA_BYTES == %(arena)du) ? 1 : -1];
typedef char format_matches[(BB_MODEL_FORMAT_VERSION == 4) ? 1 : -1];

static void tensor(const char *what, const bb_tensor *t)
{
    printf(" %%s %%u %%d %%d %%d", what, (unsigned)t->at, (int)t->c, (int)t->h, (int)t->w);
}

int main(void)
{
    const bb_model *m = digits_model();
    const uint8_t *data = (const uint8_t *)m->data;
    static digits_arena arena; /* the header's aligned arena */
    bb_runtime rt;
    uint32_t i, k;
    printf("model %%u %%s %%u %%u %%u %%u %%d %%d %%.9g %%.9g %%d",
           (unsigned)m->format_version, m->name, (unsigned)m->op_count, (unsigned)m->arena_bytes,
           (unsigned)m->input_size, (unsigned)m->output_size, (int)m->input_zero_point,
           (int)m->output_zero_point, (double)m->input_scale, (double)m->output_scale,
           (int)bb_runtime_init(&rt, m, arena.bytes, sizeof arena.bytes));
    tensor("input", &m->input);
    tensor("output", &m->output);
    printf("\n");
    for (i = 0; i < m->op_count; i++) {
        const bb_op *op = &m->ops[i];
        const int32_t *params = (const int32_t *)&op->params;
        printf("op %%d %%u", (int)op->kind, (unsigned)op->input_count);
        tensor("in", &op->inputs[0]);
        tensor("out", &op->output);
        printf(" params");
        for (k = 0; k < sizeof op->params / sizeof(int32_t); k++)
            printf(" %%ld", (long)params[k]);
        printf("\n");
        for (k = 0; k < op->data_count; k++) {
            const bb_data_ref *d = &op->data[k];
            uint32_t j;
            printf("data %%u", (unsigned)d->bytes);
            for (j = 0; j < d->bytes; j++)
                printf(" %%u", (unsigned)data[d->at + j]);
            printf("\n");
        }
    }
    printf("other %%u %%s\n", (unsigned)other_model()->arena_bytes, other_model()->name);
    return m->format_version == BB_MODEL_FORMAT_VERSION ? 0 : 1;
}
"""


def _params_words(o):
    """The op's bb_op_params union as int32 words, as C lays it out (zeros past its member)."""
    from braininabox._core import ffi
    params = ffi.new("bb_op_params *", {o.params_member: o.c_params()} if o.params_member else {})
    return np.frombuffer(ffi.buffer(params), dtype="<i4").tolist()


@needs_gcc
@pytest.mark.parametrize("fused", [False, True])
def test_header_compiled_into_a_program_holds_the_model(small_q, small_fused_q, mlp_q, tmp_path,
                                                        fused):
    small_q = small_fused_q if fused else small_q
    plan = export_c(small_q, tmp_path / "digits.h", name="digits")
    other_plan = export_c(mlp_q, tmp_path / "other.h", name="other")
    (tmp_path / "main.c").write_text(DUMP_C % {"arena": plan.arena_bytes})
    _compile(["main.c", os.path.join(ROOT, "embedded", "bb_runtime.c"),
              os.path.join(ROOT, "embedded", "bb_ops.c")]
             + [os.path.join(ROOT, "csrc", f) for f in os.listdir(os.path.join(ROOT, "csrc"))
                if f.endswith("_s8.c") or f in ("bb_requantize.c", "bb_status.c", "bb_audio.c")]
             + ["-o", "main"], tmp_path)
    run = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    head = lines[0].split()
    assert head[:8] == ["model", "4", "digits", str(len(small_q.ops)), str(plan.arena_bytes), "144", "8",
                        str(small_q.input_q[1])]
    assert head[8] == str(small_q.output_q[1])
    assert float(head[9]) == pytest.approx(small_q.input_q[0], rel=1e-7)
    assert float(head[10]) == pytest.approx(1 / 256, rel=1e-7)
    assert head[11] == "0"  # bb_runtime_init accepts it: checksum and every field
    assert head[12:] == ["input", str(plan.op_io[0][0]), "1", "12", "12",
                         "output", str(plan.op_io[-1][1]), "8", "1", "1"]
    kinds = {"conv2d": 1, "linear": 2, "max_pool2d": 3, "avg_pool2d": 4, "clamp": 5, "softmax": 6,
             "conv2d_pool": 7, "conv2d_gemm": 13}
    body = lines[1:-1]
    for i, o in enumerate(small_q.ops):
        header = body.pop(0).split()
        expected = ["op", str(kinds[o.kind]), "1",
                    "in", str(plan.op_io[i][0]), *map(str, o.chw_in),
                    "out", str(plan.op_io[i][1]), *map(str, o.chw_out),
                    "params", *map(str, _params_words(o))]
        assert header == expected, (i, header)
        for field, value, dtype in o.data_arrays():
            line = body.pop(0).split()
            raw = b"" if value is None else np.asarray(value, dtype=dtype).tobytes()
            assert line[0] == "data" and [int(v) for v in line[2:]] == list(raw), (i, field)
    assert not body
    assert lines[-1] == f"other {other_plan.arena_bytes} other"


def _every_kind_q():
    """A graph with the graph op kinds (depthwise, pointwise, add, leaky ReLU, concat, global
    average pooling, linear), a band chain and avg pooling."""
    bb.seed(4)
    L = bb.layers
    x = bb.Input((2, 9, 8))
    a = L.ReLU()(L.Conv2D(4, 3, padding="same")(x))
    b = L.ReLU6()(L.DepthwiseConv2D(3, padding="same")(a))
    c = L.LeakyReLU(0.2)(L.Add()([a, L.Conv2D(4, 1)(b)]))
    y = L.Concatenate()([L.ReLU()(L.Add()([c, c])), L.AvgPool(1)(b)])
    model = bb.Model(x, L.Linear(3)(L.GlobalAvgPool()(y)))
    X = np.random.default_rng(4).normal(size=(24, 2, 9, 8)).astype(np.float32)
    return bb.quantize(model, X, stream=True), X


CPP_APP = r"""
#include <cstdio>
#include "bb_runtime.h"
%(includes)s

static void run(const bb_model *m, const int8_t *input, size_t out_size)
{
    static union { int8_t bytes[65536]; uint32_t align; } arena;
    static int8_t output[4096];
    bb_runtime rt;
    int s = bb_runtime_init(&rt, m, arena.bytes, sizeof arena.bytes);
    if (s == BB_OK)
        s = bb_runtime_invoke(&rt, input, output);
    std::printf("%%s %%d", m->name, s);
    for (size_t i = 0; i < out_size; i++)
        std::printf(" %%d", output[i]);
    std::printf("\n");
}

int main()
{
%(calls)s
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found (the C++ check needs it)")
def test_headers_compile_and_link_as_cpp(small_q, small_fused_q, mlp_q, tmp_path):
    every, X = _every_kind_q()
    assert {"band_chain", "concat", "add", "leaky_relu", "global_avg_pool", "depthwise_conv2d",
            "pointwise_conv2d"} <= {o.kind for o in every.ops}
    rng = np.random.default_rng(5)
    front_end = bb.audio.MFCC().int8_model()
    models = {"digits": (small_q, rng.random((1, 1, 12, 12)).astype(np.float32)),
              "fused": (small_fused_q, rng.random((1, 1, 12, 12)).astype(np.float32)),
              "mlp": (mlp_q, rng.normal(size=(1, 5)).astype(np.float32)),
              "every": (every, X[:1]),
              "mfcc": (front_end, rng.integers(-3000, 3000, (1, 8000)).astype(np.int16))}
    includes, calls, expected = [], [], []
    for name, (q, x) in models.items():
        export_c(q, tmp_path / f"{name}.h", name=name, ram_budget=None)
        includes.append(f'#include "{name}.h"')
        data = ", ".join(str(v) for v in q.quantize_input(x)[0])
        calls.append(f"    static const int8_t {name}_in[] = {{ {data} }};\n"
                     f"    run({name}_model(), {name}_in, {name.upper()}_OUTPUT_SIZE);")
        expected.append(" ".join([name, "0"] + [str(v) for v in q.predict_int8(x)[0].reshape(-1)]))
    (tmp_path / "app.cpp").write_text(CPP_APP % {"includes": "\n".join(includes),
                                                 "calls": "\n".join(calls)})
    # the runtime built as C, the application as C++: extern "C" makes them link
    sources = ([os.path.join(ROOT, "embedded", f) for f in ("bb_runtime.c", "bb_ops.c")]
               + [os.path.join(ROOT, "csrc", f) for f in os.listdir(os.path.join(ROOT, "csrc"))
                  if f.endswith("_s8.c") or f in ("bb_requantize.c", "bb_status.c", "bb_audio.c")])
    objects = []
    for src in sources:
        objects.append(os.path.basename(src) + ".o")
        _compile(["-c", src, "-o", objects[-1]], tmp_path)
    # (not -Wextra: its missing-field-initializers flags members the header leaves zero)
    cpp = subprocess.run(["g++", "-std=c++20", "-Wall", "-Werror", "-pedantic",
                          "-I", os.path.join(ROOT, "csrc"), "-I", os.path.join(ROOT, "embedded"),
                          "app.cpp", *objects, "-o", "app"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert cpp.returncode == 0, cpp.stderr
    run = subprocess.run([str(tmp_path / "app")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == expected


@pytest.fixture(scope="module")
def mlp_q():
    bb.seed(3)
    model = bb.Sequential([Linear(6), ReLU(), Linear(3)])
    return bb.quantize(model, np.random.default_rng(3).normal(size=(20, 5)).astype(np.float32))


@pytest.mark.parametrize("name", ["1abc", "my-model", "", "a b", "model.h", "ü", None])
def test_bad_names_are_refused(small_q, tmp_path, name):
    with pytest.raises(ValueError, match="C identifier"):
        export_c(small_q, tmp_path / "x.h", name=name)
    assert not list(tmp_path.iterdir())


def test_c_keyword_names_are_refused(small_q, tmp_path):
    with pytest.raises(ValueError):
        export_c(small_q, tmp_path / "x.h", name="int")


# ------------------------------------------------------------ the RAM budget
@pytest.fixture(scope="module")
def big_q():
    """Conv2D(64, 3) + ReLU on a 64x64 image: 4,096 + 246,016 bytes at its one op."""
    bb.seed(0)
    model = bb.Sequential([Conv2D(64, 3), ReLU()])
    return bb.quantize(model, np.random.default_rng(0).random((4, 1, 64, 64)).astype(np.float32))


def test_ram_budget_refusal_names_bytes_budget_and_peak(big_q, tmp_path):
    plan = plan_memory(big_q)
    scratch = big_q.ops[0].scratch_bytes()  # conv2d_gemm's im2col band
    assert plan.ram_bytes == 4096 + 64 * 62 * 62 + scratch and plan.peak_op == 0
    with pytest.raises(RamBudgetError) as info:
        export_c(big_q, tmp_path / "big.h", ram_budget=128 * 1024)
    message = str(info.value)
    assert f"{plan.ram_bytes:,} bytes" in message
    assert "131,072 bytes" in message
    # one conv whose output alone is over the budget: bands cannot lower that
    assert "(streaming cannot help this model: it runs in bands only a first conv" in message
    assert "op 0 (layer 0 (Conv2D) + layer 1 (ReLU))" in message
    assert isinstance(info.value, ValueError)
    assert not list(tmp_path.iterdir())
    # exactly the plan's size fits, one byte less does not; None means no limit
    export_c(big_q, tmp_path / "big.h", ram_budget=plan.ram_bytes)
    with pytest.raises(RamBudgetError):
        export_c(big_q, tmp_path / "big2.h", ram_budget=plan.ram_bytes - 1)
    export_c(big_q, tmp_path / "big3.h", ram_budget=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.h", "big3.h"]


def test_ram_budget_refusal_suggests_streaming_only_when_it_lowers_the_peak(tmp_path):
    bb.seed(0)
    rng = np.random.default_rng(0)
    conv_conv = bb.Sequential([Conv2D(16, 3, padding="same"), ReLU(), Conv2D(16, 3, padding="same"),
                               GlobalAvgPool(), Linear(3)])
    q = bb.quantize(conv_conv, rng.random((4, 3, 48, 48)).astype(np.float32))
    for budget in (40000, 0):  # no chain covers a conv -> conv peak; never "stream=0"
        with pytest.raises(RamBudgetError, match=r"bytes alive \(streaming cannot help this "
                                                 r"model: .* no such chain lowers the peak\)$"):
            export_c(q, tmp_path / "m.h", ram_budget=budget)
    # a separable model: the advice is what bb.quantize reaches, and following it fits
    separable = bb.Sequential([Conv2D(8, 3, padding="same"), ReLU(), DepthwiseConv2D(3, padding="same"),
                               ReLU(), Conv2D(8, 1), GlobalAvgPool(), Linear(3)])
    X = rng.random((8, 3, 24, 24)).astype(np.float32)
    q = bb.quantize(separable, X)
    smallest = bb.quantize(separable, X, stream=True).memory_plan().arena_bytes
    budget = (smallest + q.memory_plan().arena_bytes) // 2
    with pytest.raises(RamBudgetError, match=rf"\(bb.quantize\(\.\.\., stream={budget}\) fits it: "
                                             rf"convolutions computed in bands of rows, "
                                             rf"{smallest:,} bytes at the least\)$"):
        export_c(q, tmp_path / "m.h", ram_budget=budget)
    export_c(bb.quantize(separable, X, stream=budget), tmp_path / "m.h", ram_budget=budget)
    with pytest.raises(RamBudgetError, match=rf"\(streaming, bb.quantize\(\.\.\., stream=True\), "
                                             rf"lowers it only to {smallest:,} bytes\)$"):
        export_c(q, tmp_path / "m.h", ram_budget=smallest - 1)


# ------------------------------------------------------------ atomic writes
def _old_file(tmp_path):
    path = tmp_path / "model.h"
    path.write_text("/* the previous export */\n")
    return path


def test_failed_replace_leaves_the_old_file_and_no_temp(small_q, tmp_path, monkeypatch):
    path = _old_file(tmp_path)

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(export_module.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        export_c(small_q, path)
    assert path.read_text() == "/* the previous export */\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.h"]


@pytest.mark.parametrize("error", [OSError("no space left"), KeyboardInterrupt()])
def test_failure_midway_through_the_write(small_q, tmp_path, monkeypatch, error):
    path = _old_file(tmp_path)
    real_open = open

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def write(self, text):
            self.f.write(text[:len(text) // 2])
            self.f.flush()
            raise error

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()
            return False

    # the one atomic writer (braininabox/_files.py) opens the temporary by name
    monkeypatch.setattr(_files, "open", lambda p, *a, **k: HalfWriter(real_open(p, *a, **k)),
                        raising=False)
    with pytest.raises(type(error)):
        export_c(small_q, path)
    assert path.read_text() == "/* the previous export */\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.h"]


def test_written_files_get_the_umasks_mode_like_open(small_q, tmp_path):
    old = os.umask(0o022)
    try:
        export_c(small_q, tmp_path / "model.h")
        small_q.save(tmp_path / "model.bb")
        os.umask(0o077)
        export_c(small_q, tmp_path / "private.h")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"model.h": 0o644, "model.bb": 0o644, "private.h": 0o600}


def test_write_errors_name_the_users_path_not_the_temporary(small_q, tmp_path):
    with pytest.raises(IsADirectoryError, match=rf"Is a directory .*: '{re.escape(str(tmp_path))}'$"):
        small_q.save(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / "model.h"  # its parent is a file
    with pytest.raises(OSError, match=rf": '{re.escape(str(target))}'$"):
        export_c(small_q, target)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    # .tmp- names never reach the message
    with pytest.raises(OSError) as info:
        small_q.save(tmp_path)
    assert ".tmp-" not in str(info.value)


def test_successful_export_replaces_the_old_file(small_q, tmp_path):
    path = _old_file(tmp_path)
    export_c(small_q, str(path), name="digits")
    assert "BB_MODEL_DIGITS_H" in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["model.h"]
