"""The embedded int8 runtime (embedded/) on the host and on QEMU Cortex-M boards.

A small model header is written here by hand (conv 1->2 3x3 pad 1 on 5x5, clamp, max
pool 2, linear 8->3, softmax) and its expected int8 outputs come from an independent
numpy/Python integer reference of csrc/bb_requantize.h and the kernels. A fake
quantized-model object drives braininabox.embedded.run, so these tests depend on
neither the quantizer nor the exporter.
"""
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from braininabox.deploy import embedded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = ["mps2-an385", "mps2-an386"]
HAVE_BOARD = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None
HAVE_HOST = shutil.which("gcc") is not None and shutil.which("make") is not None
needs_board = pytest.mark.skipif(
    not HAVE_BOARD, reason="arm-none-eabi-gcc or qemu-system-arm not on PATH (run `make system`)")
needs_host = pytest.mark.skipif(not HAVE_HOST, reason="gcc or make not on PATH")
ALL_TARGETS = [pytest.param("host", marks=needs_host)] + [pytest.param(b, marks=needs_board) for b in BOARDS]


# ---------------------------------------------------------------- the test model

def make_model(seed=0):
    """Parameters of the test model as plain numpy arrays and ints."""
    rng = np.random.default_rng(seed)
    m = {
        "in_zp": -3,
        "conv_w": rng.integers(-127, 128, (2, 1, 3, 3)).astype(np.int8),
        "conv_b": rng.integers(-2000, 2000, 2).astype(np.int32),
        # Q31 multipliers in [2^30, 2^31); one channel takes the left-shift path.
        "conv_m": np.array([1_518_500_250, 1_150_000_000], np.int32),
        "conv_s": np.array([-9, 1], np.int32),
        "conv_zp": 5,
        "lin_w": rng.integers(-127, 128, (3, 8)).astype(np.int8),
        "lin_b": rng.integers(-3000, 3000, 3).astype(np.int32),
        "lin_m": np.array([1_300_000_000, 1_700_000_000, 2_000_000_000], np.int32),
        "lin_s": np.array([-7, -8, -6], np.int32),
        "lin_zp": -10,
        "exp_table": np.array([round(2 ** 20 * math.exp(-d * 0.05)) for d in range(256)], np.int32),
    }
    return m


class Data:
    """The model's one data array: little-endian, each slot at a 4-byte boundary."""

    def __init__(self):
        self.raw = b""

    def add(self, values, dtype):
        raw = np.asarray(values, dtype=dtype).tobytes()
        ref = (len(self.raw), len(raw))
        self.raw += raw + b"\0" * (-len(raw) % 4)
        return ref

    def c_array(self):
        words = np.frombuffer(self.raw, dtype="<u4")
        return ("static const uint32_t model_data[] = {"
                + ", ".join(f"0x{int(w):08x}u" for w in words) + "};\n")


def fnv1a(h, data):
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def u32(*values):
    return b"".join(int(v & 0xFFFFFFFF).to_bytes(4, "little") for v in values)


def checksum(model, ops, data):
    """bb_model_checksum as bb_runtime.h defines it, written again from its comment:
    FNV-1a over the model's numbers, each op's numbers (its params words, its used data
    refs) and the bytes each data ref names."""
    f32 = lambda x: np.float32(x).view(np.uint32)
    h = fnv1a(2166136261, u32(4, len(ops), len(ops) * OP_BYTES, len(data.raw), model["arena"],
                              *model["input"], *model["output"], model["input_size"],
                              model["output_size"], f32(model["input_scale"]), model["input_zp"],
                              f32(model["output_scale"]), model["output_zp"]))
    for op in ops:
        h = fnv1a(h, u32(op["kind"], 1, *op["input"], *op["output"], 0, 0, *op["params"],
                         len(op["data"])))
        for at, n in op["data"]:
            h = fnv1a(h, u32(at, n) + data.raw[at:at + n])
    return h


OP_BYTES = 284  # sizeof(bb_op): 71 int32 words
KINDS = {"BB_OP_CONV2D": 1, "BB_OP_LINEAR": 2, "BB_OP_MAX_POOL2D": 3, "BB_OP_CLAMP": 5,
         "BB_OP_SOFTMAX": 6, "BB_OP_CONV2D_POOL": 7}


def model_header(m, format_version=4, arena_macro=None, conv_out_h=5, fused=False, pool_out_h=2):
    """A model.h in format 4, written by hand (not by the exporter). Arena plan (75 bytes):
    input [0,25) -> conv [25,75) -> clamp in place -> pool [0,8) -> linear [8,11) -> softmax [11,14).
    fused: conv + clamp + pool as one BB_OP_CONV2D_POOL op, input [0,25) -> pooled [28,36)
    -> linear [0,3) -> softmax [4,7); the same bytes out."""
    conv_zp, lin_zp = m["conv_zp"], m["lin_zp"]
    data = Data()
    conv_data = [data.add(m["conv_w"], np.int8), data.add(m["conv_b"], np.int32),
                 data.add(m["conv_m"], np.int32), data.add(m["conv_s"], np.int32)]
    lin_data = [data.add(m["lin_w"], np.int8), data.add(m["lin_b"], np.int32),
                data.add(m["lin_m"], np.int32), data.add(m["lin_s"], np.int32)]
    table = [data.add(m["exp_table"], np.int32)]
    conv3 = [3, 3, 1, 1, 1, 1, 1, 1]

    def op(kind, inp, out, params, refs, c_params=None):
        return {"kind": KINDS[kind], "name": kind, "input": inp, "output": out, "params": params,
                "data": refs, "c_params": c_params}

    if fused:
        quant = [-m["in_zp"], conv_zp, conv_zp, 127]
        ops = [op("BB_OP_CONV2D_POOL", (0, 1, 5, 5), (28, 2, pool_out_h, 2), quant + conv3 + [2, 2, 2, 2, 0, 0, 0, 0],
                  conv_data, ".conv_pool = { { %d, %d, %d, 127 }, { 3, 3, 1, 1, 1, 1, 1, 1 }, { 2, 2, 2, 2, 0, 0, 0, 0 } }"
                  % tuple(quant[:3])),
               op("BB_OP_LINEAR", (28, 8, 1, 1), (0, 3, 1, 1), [-conv_zp, lin_zp, -128, 127], lin_data,
                  ".linear = { { %d, %d, -128, 127 } }" % (-conv_zp, lin_zp)),
               op("BB_OP_SOFTMAX", (0, 3, 1, 1), (4, 3, 1, 1), [], table)]
    else:
        ops = [op("BB_OP_CONV2D", (0, 1, 5, 5), (25, 2, conv_out_h, 5), [-m["in_zp"], conv_zp, -128, 127] + conv3,
                  conv_data, ".conv = { { %d, %d, -128, 127 }, { 3, 3, 1, 1, 1, 1, 1, 1 } }" % (-m["in_zp"], conv_zp)),
               op("BB_OP_CLAMP", (25, 2, 5, 5), (25, 2, 5, 5), [conv_zp, 127], [],
                  ".clamp = { %d, 127 }" % conv_zp),
               op("BB_OP_MAX_POOL2D", (25, 2, 5, 5), (0, 2, 2, 2), [2, 2, 2, 2, 0, 0, 0, 0], [],
                  ".pool = { { 2, 2, 2, 2, 0, 0, 0, 0 } }"),
               op("BB_OP_LINEAR", (0, 8, 1, 1), (8, 3, 1, 1), [-conv_zp, lin_zp, -128, 127], lin_data,
                  ".linear = { { %d, %d, -128, 127 } }" % (-conv_zp, lin_zp)),
               op("BB_OP_SOFTMAX", (8, 3, 1, 1), (11, 3, 1, 1), [], table)]
    model = {"arena": 75, "input": (0, 1, 5, 5), "output": ops[-1]["output"], "input_size": 25,
             "output_size": 3, "input_scale": 0.02, "input_zp": -3, "output_scale": 0.00390625,
             "output_zp": -128}

    def tensor(t):
        return "{ %du, %d, %d, %d }" % t

    entries = []
    for o in ops:
        refs = ", ".join("{ %du, %du }" % r for r in o["data"])
        entries.append(
            f"{{ .kind = {o['name']}, .input_count = 1, .inputs = {{ {tensor(o['input'])} }},"
            f" .output = {tensor(o['output'])}"
            + (f", .params = {{ {o['c_params']} }}" if o["c_params"] else "")
            + f", .data_count = {len(o['data'])}" + (f", .data = {{ {refs} }}" if refs else "") + " }")
    arena = 75 if arena_macro is None else arena_macro
    return (
        "/* test model for tests/test_embedded_runtime.py */\n"
        "#include \"bb_model.h\"\n"
        f"#define MODEL_ARENA_BYTES {arena}u\n#define MODEL_INPUT_SIZE 25u\n#define MODEL_OUTPUT_SIZE 3u\n"
        "#define MODEL_OP_KINDS 0xfeu\n"  # the kinds of format 3's first table: no graph kernel linked
        + data.c_array()
        + "static const bb_op model_ops[] = {\n    " + ",\n    ".join(entries) + "\n};\n"
        f"static const bb_model model = {{ .format_version = {format_version}, .name = \"test\","
        f" .op_count = {len(ops)}, .ops = model_ops, .ops_bytes = sizeof model_ops,"
        f" .data = model_data, .data_bytes = sizeof model_data, .arena_bytes = 75u,"
        f" .input = {tensor(model['input'])}, .output = {tensor(model['output'])},"
        " .input_size = 25u, .output_size = 3u, .input_scale = 0.02f, .input_zero_point = -3,"
        " .output_scale = 0.00390625f, .output_zero_point = -128,"
        f" .checksum = 0x{checksum(model, ops, data):08x}u }};\n"
    )


# ---------------------------------------------------- integer reference (Python ints)

INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul: (a*b + 2^30) >> 31, rounding half away from zero."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    num = ab + nudge
    q = abs(num) // (1 << 31)  # C division truncates toward zero
    return q if num >= 0 else -q


def rounding_divide_by_pot(x, exponent):
    """Arithmetic right shift rounding half away from zero."""
    if exponent <= 0:
        return x
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def requantize(x, multiplier, shift):
    left, right = max(shift, 0), max(-shift, 0)
    shifted = min(max(x * (1 << left), INT32_MIN), INT32_MAX)
    return rounding_divide_by_pot(srdhm(shifted, int(multiplier)), right)


def reference(m, x):
    """Expected int8 outputs for one input (25 int8 values)."""
    img = np.asarray(x, np.int64).reshape(5, 5) - m["in_zp"]  # + input_offset
    padded = np.zeros((7, 7), np.int64)  # padding is real zero: contributes nothing
    padded[1:6, 1:6] = img
    conv = np.zeros((2, 5, 5), np.int64)
    for oc in range(2):
        for oy in range(5):
            for ox in range(5):
                acc = int(m["conv_b"][oc]) + int((padded[oy:oy + 3, ox:ox + 3] * m["conv_w"][oc, 0]).sum())
                v = requantize(acc, int(m["conv_m"][oc]), int(m["conv_s"][oc])) + m["conv_zp"]
                conv[oc, oy, ox] = min(max(v, -128), 127)
    relu = np.clip(conv, m["conv_zp"], 127)
    pooled = relu[:, :4, :4].reshape(2, 2, 2, 2, 2).max(axis=(2, 4)).ravel()
    logits = []
    for o in range(3):
        acc = int(m["lin_b"][o]) + int(((pooled - m["conv_zp"]) * m["lin_w"][o]).sum())
        v = requantize(acc, int(m["lin_m"][o]), int(m["lin_s"][o])) + m["lin_zp"]
        logits.append(min(max(v, -128), 127))
    top = max(logits)
    e = [int(m["exp_table"][top - v]) for v in logits]
    total = sum(e)
    return np.array([min((ei * 256 + total // 2) // total - 128, 127) for ei in e], np.int8)


def test_reference_requantize_examples():
    # M = 2^30 * 2^(shift - 31). TFLite's nudge rounds a negative exact half toward zero
    # in the high multiply, and the two roundings compound ("double rounding").
    assert requantize(3, 1 << 30, 0) == 2 and requantize(-3, 1 << 30, 0) == -1
    assert requantize(6, 1 << 30, -1) == 2 and requantize(-6, 1 << 30, -1) == -2  # 1.5
    assert requantize(5, 1 << 30, -1) == 2  # 1.25: 2.5 -> 3, then 1.5 -> 2
    assert requantize(INT32_MAX, INT32_MAX, 30) == INT32_MAX - 1  # saturated left shift


@needs_host
def test_reference_requantize_matches_c(tmp_path):
    rng = np.random.default_rng(2)
    cases = [(int(x), int(m), int(s)) for x, m, s in zip(
        rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True),
        rng.integers(1 << 30, INT32_MAX, 2000, endpoint=True), rng.integers(-31, 31, 2000))]
    cases += [(x, 1 << 30, s) for x in range(-40, 41) for s in (-3, -1, 0, 1)]
    cases += [(INT32_MIN, INT32_MIN, 0), (INT32_MIN, INT32_MAX, 30), (INT32_MAX, INT32_MAX, 30)]
    src = tmp_path / "rq.c"
    src.write_text(
        "#include <stdio.h>\n#include \"bb_requantize.h\"\n"
        "int main(void) { long long x, m, s; while (scanf(\"%lld %lld %lld\", &x, &m, &s) == 3)"
        " printf(\"%ld\\n\", (long)bb_requantize((int32_t)x, (int32_t)m, (int32_t)s)); return 0; }\n")
    exe = tmp_path / "rq"
    subprocess.run(["gcc", "-std=c99", "-O2", "-I", os.path.join(ROOT, "csrc"), str(src),
                    os.path.join(ROOT, "csrc", "bb_requantize.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], input="\n".join(f"{x} {m} {s}" for x, m, s in cases),
                         capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [requantize(x, m, s) for x, m, s in cases]


# --------------------------------------------------------------- fake model object

class FakeQuantized:
    """Stands in for a quantized model: export_c writes a hand-made header."""

    def __init__(self, header):
        self.header = header
        self.input_size = 25

    def export_c(self, path, name="model", ram_budget=None):
        with open(path, "w") as f:
            f.write(self.header)

    def quantize_input(self, X):
        return np.asarray(X, np.int8).reshape(len(X), -1)


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    X = rng.integers(-128, 128, (4, 25)).astype(np.int8)
    X[2] = 127
    X[3] = -128
    return X


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_outputs_match_reference_byte_for_byte(model, inputs, target):
    expected = np.stack([reference(model, x) for x in inputs])
    assert len(set(map(tuple, expected))) > 1, "test model should not be degenerate"
    r = embedded.run(FakeQuantized(model_header(model)), inputs, target=target)
    assert r.target == target
    assert r.outputs_int8.dtype == np.int8 and r.outputs_int8.shape == (4, 3)
    np.testing.assert_array_equal(r.outputs_int8, expected)
    if target == "host":
        assert r.ticks is None
    else:
        assert r.ticks > 0
        assert 0 < r.flash_bytes < 16 * 1024, "flash should stay small: no stdio, no malloc"
        assert r.ram_bytes >= 75 + r.stack_bytes


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_fused_conv_pool_op_gives_the_same_bytes(model, inputs, target):
    expected = np.stack([reference(model, x) for x in inputs])
    r = embedded.run(FakeQuantized(model_header(model, fused=True)), inputs, target=target)
    np.testing.assert_array_equal(r.outputs_int8, expected)


@needs_host
def test_inconsistent_fused_op_is_refused(model, inputs):
    # A pooled height that disagrees with the conv window and the pooling window (the
    # checksum matches it: init refuses it for its shape, not for corruption).
    q = FakeQuantized(model_header(model, fused=True, pool_out_h=3))
    with pytest.raises(embedded.RuntimeStatusError, match="BB_ERR_SHAPE"):
        embedded.run(q, inputs, target="host")


@needs_board
@pytest.mark.parametrize("target", BOARDS)
def test_ticks_repeat_and_stack_is_measured(model, inputs, target):
    q = FakeQuantized(model_header(model))
    a = embedded.run(q, inputs, target=target)
    b = embedded.run(q, inputs, target=target)
    assert a.ticks == b.ticks
    assert a.stack_bytes == b.stack_bytes
    assert 0 < a.stack_bytes < embedded.STACK_RESERVED_BYTES


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_arena_too_small_is_refused_at_init(model, inputs, target):
    q = FakeQuantized(model_header(model, arena_macro=74))
    with pytest.raises(embedded.RuntimeStatusError) as info:
        embedded.run(q, inputs, target=target)
    assert info.value.status == -7 and info.value.status_name == "BB_ERR_ARENA"
    assert "init failed: -7" in info.value.log and "exit code 2" in str(info.value)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_other_format_version_is_refused(model, inputs, target):
    q = FakeQuantized(model_header(model, format_version=2))  # the format before graphs
    with pytest.raises(embedded.RuntimeStatusError, match="BB_ERR_VERSION") as info:
        embedded.run(q, inputs, target=target)
    assert info.value.status == -6


@needs_host
def test_inconsistent_op_is_refused(model, inputs):
    # A conv whose output height disagrees with kernel, stride and padding.
    q = FakeQuantized(model_header(model, conv_out_h=4))
    with pytest.raises(embedded.RuntimeStatusError, match="BB_ERR_SHAPE"):
        embedded.run(q, inputs, target="host")


@needs_board
def test_arena_over_128k_fails_to_link(model, inputs):
    q = FakeQuantized(model_header(model, arena_macro=200000))
    with pytest.raises(embedded.RamOverflowError) as info:
        embedded.run(q, inputs, target="mps2-an385")
    err = info.value
    assert err.budget_bytes == 128 * 1024
    # The arena alone is 200000 bytes: over by at least that minus the budget.
    assert err.overflow_bytes >= 200000 - 128 * 1024
    assert "128 KB" in str(err) and f"{err.overflow_bytes:,}" in str(err)
    assert "overflowed" in err.log


@needs_board
def test_qemu_timeout_is_reported(model, inputs):
    with pytest.raises(embedded.EmbeddedTimeoutError, match="timed out"):
        embedded.run(FakeQuantized(model_header(model)), inputs, target="mps2-an385", timeout=0.001)


def test_unknown_target_and_targets():
    assert embedded.targets() == ["host", "mps2-an385", "mps2-an386"]
    with pytest.raises(ValueError, match="mps2-an385"):
        embedded.run(FakeQuantized(""), np.zeros((1, 25), np.int8), target="stm32")


def test_missing_toolchain_names_the_fix(model, inputs, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(embedded.ToolchainMissingError, match="make system"):
        embedded.run(FakeQuantized(model_header(model)), inputs, target="mps2-an385")


@needs_board
def test_make_check_compiles_warning_free():
    out = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "embedded"), "check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("warning-free") == 3


def test_flash_overflow_names_the_bytes_and_the_inputs_or_the_model(monkeypatch):
    """The linker's FLASH overflow (as it prints it) becomes FlashOverflowError, blaming the
    test inputs when dropping some of them would fit (the make call is stubbed: a real
    overflow needs 4 MB of inputs)."""
    import braininabox as bb
    bb.seed(0)
    model = bb.Sequential([bb.layers.Linear(3)])
    X = np.random.default_rng(0).random((10, 1000)).astype(np.float32)
    q = bb.quantize(model, X)
    over = {"bytes": 0}

    def failed_link(args, timeout):
        return 2, "", (f"ld: image.elf section `.rodata' will not fit in region `FLASH'\n"
                       f"ld: region `FLASH' overflowed by {over['bytes']} bytes\n")

    monkeypatch.setattr(embedded, "_check_tools", lambda target: None)
    monkeypatch.setattr(embedded, "_make", failed_link)
    over["bytes"] = 2500  # 3 of the 10 inputs of 1,000 bytes: 7 fit
    with pytest.raises(embedded.FlashOverflowError,
                       match=r"does not fit the 4 MB FLASH of mps2-an385: it overflows by 2,500 "
                             r"bytes; the 10 test inputs take 10,000 bytes of it: pass fewer inputs "
                             r"\(at most 7 fit\)") as info:
        embedded.run(q, X, target="mps2-an385")
    assert info.value.overflow_bytes == 2500 and info.value.budget_bytes == 4 * 2**20
    assert isinstance(info.value, embedded.BuildError) and "overflowed by 2500" in info.value.log
    over["bytes"] = 9500  # even one input over: the model is what does not fit
    with pytest.raises(embedded.FlashOverflowError,
                       match=r"overflows by 9,500 bytes; the model's code and data are too large "
                             r"\(with one test input of 1,000 bytes it would not fit either\)"):
        embedded.run(q, X, target="mps2-an385")
