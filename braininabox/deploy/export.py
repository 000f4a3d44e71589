"""Export a QuantizedModel to one self-contained C header for the embedded runtime.

The header holds the model's bb_model (embedded/bb_model.h): the op table with each op's
tensors at the memory plan's arena offsets and its per-kind params, all weights, biases,
requantization parameters and tables in one `static const` data array (flash on a
microcontroller), the input/output shapes and quantization, the format version and the
checksum the runtime checks. The fields are those of the bb_model the host library runs
(runtime.CModel), rendered as C, so the header and the host agree by construction. It
compiles on its own as C99 given the csrc/ and embedded/ include paths, and allocates
nothing.

Nothing from the model reaches the header unchecked: `name` must be a C identifier that
no header symbol or C reserved word can collide with, numbers are written from ints, and
op names (from layer class names) go into comments only after whitelisting their
characters.
"""
import math
import os
import re

import numpy as np

from .._core import lib
from .._files import atomic_write
from .._version import __version__
from . import streaming
from .memory_plan import plan_memory
from .runtime import CModel

FORMAT_VERSION = lib.BB_MODEL_FORMAT_VERSION  # embedded/bb_model.h, read through cffi
_KIND_NAMES = {getattr(lib, n): n for n in dir(lib) if n.startswith("BB_OP_") and n != "BB_OP_KIND_END"
               and n not in ("BB_OP_MAX_INPUTS", "BB_OP_MAX_DATA")}

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic "
    "_Generic _Noreturn _Static_assert _Thread_local".split())
# Names the header's own includes (bb_model.h, stdint.h, stddef.h) or the C library define.
_RESERVED = frozenset(
    "main NULL bool true false errno assert offsetof size_t ptrdiff_t wchar_t max_align_t "
    "int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t "
    "intmax_t uintmax_t memcpy memset malloc free printf exit abort".split())


class RamBudgetError(ValueError):
    """The model's memory plan does not fit the RAM budget."""


def check_name(name):
    """Refuse a model name that would not give a header that compiles on its own."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"export_c: name must be a C identifier, got {name!r}")
    if name in _C_KEYWORDS or name in _RESERVED:
        raise ValueError(f"export_c: name {name!r} is a C keyword or a name C or the header "
                         f"already uses; choose another")
    if (name.startswith("__") or re.match(r"_[A-Z]", name) or name.upper().startswith("BB_")
            or name.startswith("bb_") or name.endswith("_t")):
        raise ValueError(f"export_c: name {name!r} is reserved (C reserves __x, _X and *_t; "
                         f"braininabox uses bb_ and BB_); choose another")


def comment_text(text):
    """text safe inside a C block comment: letters, digits and plain punctuation only
    (no '*/', no '/*', no backslash or newline), everything else as '?'."""
    return re.sub(r"[^A-Za-z0-9 _.,:;()+\-=#<>\[\]]", "?", str(text))


def _c_value(value, key=None):
    """A cffi initializer (dict, list, int, float) as C99 designated-initializer text."""
    if isinstance(value, dict):  # empty members are left out: ISO C has no empty braces
        return "{ " + ", ".join(f".{k} = {_c_value(v, k)}" for k, v in value.items()
                                if v not in ([], {})) + " }"
    if isinstance(value, (list, tuple)):
        return "{ " + ", ".join(_c_value(v) for v in value) + " }"
    if key == "kind":
        return _KIND_NAMES[value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"export_c: a scale is {value}; the model is not valid")
        text = f"{float(np.float32(value)):.9g}"
        # "1" would read as an int and "1f" does not compile: a float constant needs a
        # point or an exponent.
        return (text if any(c in text for c in ".e") else text + ".0") + "f"
    value = int(value)
    return f"{value}u" if value > 2**31 - 1 else str(value)


def _data_array(symbol, cm):
    """The data words, with a comment naming each slot (op index and field only)."""
    words = cm.data
    lines = []
    starts = {at // 4: (i, field, n) for i, field, at, n in cm.layout.slots}
    row = []

    def flush():
        if row:
            lines.append("    " + ", ".join(row) + ",")
            row.clear()

    for w in range(len(words)):
        if w in starts:
            flush()
            i, field, n = starts[w]
            lines.append(f"    /* op {i} {field}: {n} bytes at {4 * w} */")
        row.append(f"0x{int(words[w]):08x}u")
        if len(row) == 8:
            flush()
    flush()
    return f"static const uint32_t {symbol}[{len(words)}] = {{\n" + "\n".join(lines) + "\n};\n\n"


def render_header(q, name, plan, cm=None):
    """The header text for QuantizedModel q."""
    check_name(name)
    cm = cm if cm is not None else CModel(q, plan)
    upper = name.upper()
    guard = f"BB_MODEL_{upper}_H"
    parts = [f"/* Generated by braininabox {comment_text(__version__)} (export_c): model {name}. "
             f"Do not edit.\n"
             f" * {len(q.ops)} int8 ops; input {q.input_shape}"
             f"{' int16 PCM (its bytes)' if getattr(q, 'frontend', None) is not None else ''}, "
             f"output {q.output_shape}.\n"
             f" * Arena {plan.arena_bytes} bytes (activations unshared: {plan.activation_bytes}, "
             f"scratch {plan.scratch_bytes}); weights {plan.flash_bytes} bytes.\n"
             f" * Include it in one .c file; use {name}_model() or `{name}` with bb_runtime_init:\n"
             f" *   static {name}_arena arena;\n"
             f" *   bb_runtime_init(&rt, {name}_model(), arena.bytes, sizeof arena.bytes); */\n",
             f"#ifndef {guard}\n#define {guard}\n\n#include \"bb_model.h\"\n\n",
             f"#define {upper}_ARENA_BYTES {plan.arena_bytes}u\n",
             f"#define {upper}_INPUT_SIZE {q.input_size}u\n",
             f"#define {upper}_OUTPUT_SIZE {q.output_size}u\n",
             f"#define {upper}_OP_COUNT {len(q.ops)}u\n",
             "/* the op kinds used, bit (1 << kind): an image may link only their kernels */\n",
             f"#define {upper}_OP_KINDS 0x{sum(1 << k for k in set(op.c_kind for op in q.ops)):x}u\n\n",
             "/* The arena, 4-byte aligned as bb_runtime_init requires (a plain int8_t array\n"
             " * need not be): the uint32_t member only sets the alignment. */\n",
             f"typedef union {name}_arena {{\n    int8_t bytes[{upper}_ARENA_BYTES];\n"
             f"    uint32_t align;\n}} {name}_arena;\n\n",
             _data_array(f"{name}_data", cm) if cm.data.size else ""]
    entries = []
    for i, (op, fields) in enumerate(zip(q.ops, cm.op_fields)):
        members = ",\n        ".join(f".{k} = {_c_value(v, k)}" for k, v in fields.items()
                                      if v not in ([], {}))
        entries.append(f"    /* op {i}: {comment_text(op.name)} */\n    {{\n        {members}\n    }}")
    parts.append(f"static const bb_op {name}_ops[{len(q.ops)}] = {{\n" + ",\n".join(entries) + "\n};\n\n")
    model = dict(cm.model_fields)
    del model["ops_bytes"], model["data_bytes"]  # the lengths of the two arrays: sizeof them
    fields = [f"    .format_version = {model.pop('format_version')}",
              f"    .name = \"{name}\"",
              f"    .op_count = {model.pop('op_count')}",
              f"    .ops = {name}_ops",
              f"    .ops_bytes = sizeof {name}_ops",
              f"    .data = {name}_data" if cm.data.size else "    .data = NULL",
              f"    .data_bytes = sizeof {name}_data" if cm.data.size else "    .data_bytes = 0"]
    fields += [f"    .{k} = {_c_value(v, k)}" for k, v in model.items()]
    fields.append(f"    .checksum = 0x{cm.checksum:08x}u")
    parts.append(
        f"static const bb_model {name} = {{\n" + ",\n".join(fields) + "\n};\n\n"
        f"/* A function, so that a file including this header without using the model still\n"
        f" * compiles warning-free (unused static inline functions are not diagnosed). */\n"
        f"static inline const bb_model *{name}_model(void) {{ return &{name}; }}\n\n"
        f"#endif /* {guard} */\n")
    return "".join(parts)


def _streaming_hint(q, plan, ram_budget):
    """What bb.quantize(..., stream=...) would do for a plan over the budget: asked of the
    streaming planner itself, so that the advice is never one that changes nothing."""
    if any(op.kind == "band_chain" for op in q.ops):
        return ""  # already streamed
    smallest = plan_memory(streaming.stream(q)).ram_bytes
    if smallest <= ram_budget:
        return (f" (bb.quantize(..., stream={int(ram_budget)}) fits it: convolutions computed "
                f"in bands of rows, {smallest:,} bytes at the least)")
    if smallest < plan.ram_bytes:
        return (f" (streaming, bb.quantize(..., stream=True), lowers it only to {smallest:,} "
                f"bytes)")
    return (" (streaming cannot help this model: it runs in bands only a first conv followed by "
            "depthwise and pointwise convolutions, and no such chain lowers the peak)")


def export_c(q, path, name="model", ram_budget=128 * 1024):
    """Write q as a C header at path; refuse a plan whose arena exceeds ram_budget bytes.

    ram_budget bounds the activation arena (kernel scratch is inside it; None: no limit).
    The whole image must also fit its board's RAM with its stack and static data; the
    board's linker script checks that.
    """
    check_name(name)
    if ram_budget is not None:
        if isinstance(ram_budget, bool) or not isinstance(ram_budget, (int, float, np.integer,
                                                                      np.floating)):
            raise ValueError(f"export_c: ram_budget must be a number of bytes or None, got "
                             f"{ram_budget!r}")
        if not math.isfinite(ram_budget) or ram_budget < 0:
            raise ValueError(f"export_c: ram_budget must be a finite, non-negative number of "
                             f"bytes, got {ram_budget!r}")
    plan = plan_memory(q)
    if ram_budget is not None and plan.ram_bytes > ram_budget:
        raise RamBudgetError(
            f"export_c: the model needs {plan.ram_bytes:,} bytes of RAM for activations, over "
            f"the ram_budget of {ram_budget:,} bytes; the peak is at op {plan.peak_op} "
            f"({plan.op_names[plan.peak_op]}) with {plan.peak_bytes:,} bytes alive"
            + _streaming_hint(q, plan, ram_budget))
    text = render_header(q, name, plan)
    path = os.fspath(path)
    with atomic_write(path, "w", fsync=False) as f:
        f.write(text)
    return plan
