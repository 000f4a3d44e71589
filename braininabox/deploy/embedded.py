"""Run an int8 model on the embedded runtime: on the host, or on a Cortex-M board in QEMU.

    r = braininabox.embedded.run(q, X_test[:10], target="mps2-an385")
    r.outputs_int8          # (N, outputs) int8, byte for byte what the board computed
    r.flash_bytes, r.ram_bytes, r.stack_bytes, r.ticks

`run` writes the model header (q.export_c) and the quantized inputs into a build
directory, builds embedded/ with its Makefile (runtime + csrc/ kernels + the test
harness embedded/app/main.c + a board), runs the image and parses its report.
The boards are QEMU's mps2-an385 (Cortex-M3) and mps2-an386 (Cortex-M4), linked
into 128 KB of RAM: a model that does not fit fails to link (RamOverflowError).
Ticks are QEMU icount ticks (`-icount shift=0`): repeatable, instruction-based, not
the cycles of a real board.
"""
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .runtime import status_name

# embedded/ of the source checkout: braininabox/deploy/embedded.py -> ../../embedded
EMBEDDED_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "embedded"))
RAM_BUDGET_BYTES = 128 * 1024      # the RAM region of embedded/board/mps2/mps2.ld
FLASH_BUDGET_BYTES = 4 * 1024 * 1024  # its FLASH region: code, the model's data, the inputs
STACK_RESERVED_BYTES = 8 * 1024    # the stack the link reserves (Makefile STACK_SIZE)
_TARGETS = ("host", "mps2-an385", "mps2-an386")


class EmbeddedError(RuntimeError):
    """A build or run of the embedded image failed; .log holds the build and run output."""

    def __init__(self, message, log=""):
        super().__init__(message + (f"\n--- log ---\n{log.rstrip()}" if log else ""))
        self.log = log


class ToolchainMissingError(EmbeddedError):
    """The compiler, make or QEMU for the target is not installed."""


class BuildError(EmbeddedError):
    """Compiling or linking the image failed."""


class RamOverflowError(BuildError):
    """The image does not fit the board's 128 KB of RAM (data + bss + reserved stack)."""

    def __init__(self, message, log, overflow_bytes):
        super().__init__(message, log)
        self.overflow_bytes = overflow_bytes
        self.budget_bytes = RAM_BUDGET_BYTES


class FlashOverflowError(BuildError):
    """The image does not fit the board's 4 MB of FLASH (code + model data + test inputs)."""

    def __init__(self, message, log, overflow_bytes):
        super().__init__(message, log)
        self.overflow_bytes = overflow_bytes
        self.budget_bytes = FLASH_BUDGET_BYTES


class RuntimeStatusError(EmbeddedError):
    """The runtime refused the model or failed (a bb_status from init or invoke)."""

    def __init__(self, message, log, status, stage):
        super().__init__(message, log)
        self.status = status
        self.status_name = status_name(status)
        self.stage = stage


class EmbeddedTimeoutError(EmbeddedError):
    """The image did not finish within the timeout."""


@dataclass
class RunResult:
    """What one run measured.

    outputs_int8: (N, output_size) int8 outputs, one row per input.
    flash_bytes:  .text + .data (code, weights, constants and .data's initial values).
    ram_bytes:    .data + .bss (which include the static arena) + the measured peak
                  stack: the RAM the image really touched, below the 128 KB budget.
    stack_bytes:  peak stack measured by painting the stack at reset.
    ticks:        per inference, in QEMU icount ticks (repeatable; not real cycles).
    Sizes, stack and ticks are None on the host.
    """
    outputs_int8: np.ndarray
    target: str
    flash_bytes: Optional[int] = None
    ram_bytes: Optional[int] = None
    stack_bytes: Optional[int] = None
    ticks: Optional[int] = None
    op_ticks: Optional[list] = None  # ticks of each op (q.ops' order) on one more inference
    log: str = ""


def targets():
    """The supported targets: "host" and the QEMU boards."""
    return list(_TARGETS)


def _required_tools(target):
    if target == "host":
        return ["make", "gcc"]
    return ["make", "arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"]


def _check_tools(target):
    missing = [t for t in _required_tools(target) if shutil.which(t) is None]
    if missing:
        raise ToolchainMissingError(
            f"embedded.run(target={target!r}) needs {', '.join(missing)}, not found on PATH; "
            "install them with `make system` (scripts/setup_system.sh)")
    if not os.path.isfile(os.path.join(EMBEDDED_DIR, "Makefile")):
        raise ToolchainMissingError(f"embedded sources not found at {EMBEDDED_DIR}: run from a "
                                    "source checkout of braininabox")


def write_inputs_header(path, inputs, input_size):
    """inputs.h for embedded/app/main.c: BB_INPUT_COUNT rows of input_size int8 values."""
    inputs = np.asarray(inputs)
    if inputs.ndim != 2 or inputs.shape[1] != input_size or len(inputs) == 0:
        raise ValueError(f"inputs must be int8 (N >= 1, {input_size}), got shape {inputs.shape}")
    rows = ",\n".join("    {" + ", ".join(str(int(v)) for v in row) + "}" for row in inputs)
    with open(path, "w") as f:
        f.write("/* Generated by braininabox.embedded: test inputs, quantized. */\n"
                "#include <stdint.h>\n"
                f"#define BB_INPUT_COUNT {len(inputs)}\n"
                "static const int8_t bb_inputs[BB_INPUT_COUNT][MODEL_INPUT_SIZE] = {\n"
                f"{rows}\n}};\n")


def _make(args, timeout):
    try:
        p = subprocess.run(["make", "--no-print-directory", "-C", EMBEDDED_DIR] + args,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        raise EmbeddedTimeoutError(f"embedded: `make {' '.join(args[:1])}` timed out after "
                                   f"{timeout} s", out) from None
    return p.returncode, p.stdout, p.stderr


def _parse_sections(size_a_output):
    """{section: bytes} from `size -A`."""
    sections = {}
    for line in size_a_output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return sections


def _parse_report(stdout):
    outputs, ticks, stack, done = {}, None, None, False
    op_ticks = None
    for line in stdout.splitlines():
        m = re.fullmatch(r"out (\d+):((?: -?\d+)*)", line.strip())
        if m:
            outputs[int(m.group(1))] = [int(v) for v in m.group(2).split()]
        elif line.startswith("ticks "):
            ticks = int(line.split()[1])
        elif line.startswith("op_ticks"):
            op_ticks = [int(v) for v in line.split()[1:]]
        elif line.startswith("stack "):
            stack = int(line.split()[1])
        elif line.strip() == "done":
            done = True
    return outputs, ticks, stack, done, op_ticks


def run(q, X, target="mps2-an385", workdir=None, keep=False, timeout=120):
    """Run quantized model q on inputs X on the embedded runtime; returns a RunResult.

    q needs q.export_c(path, name="model", ram_budget=None) and q.quantize_input(X)
    (int8 (N, input_size)). The build happens in workdir (kept) or a temporary
    directory (removed unless keep=True). timeout bounds the run in seconds.
    Raises ToolchainMissingError, RamOverflowError (the image does not fit 128 KB of
    RAM), FlashOverflowError (nor 4 MB of FLASH: too many inputs, or too large a model),
    BuildError, RuntimeStatusError (e.g. BB_ERR_VERSION from init) or
    EmbeddedTimeoutError; each carries the build and run output in .log.
    """
    if target not in _TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(_TARGETS)}")
    _check_tools(target)
    inputs = np.asarray(q.quantize_input(X))
    if inputs.dtype != np.int8:
        raise ValueError(f"q.quantize_input must return int8, got {inputs.dtype}")
    inputs = inputs.reshape(len(inputs), -1)

    own_dir = workdir is None
    build_dir = tempfile.mkdtemp(prefix="bb-embedded-") if own_dir else os.path.abspath(workdir)
    os.makedirs(build_dir, exist_ok=True)
    try:
        # The linker is the judge of the 128 KB budget, so export without one here.
        q.export_c(os.path.join(build_dir, "model.h"), name="model", ram_budget=None)
        write_inputs_header(os.path.join(build_dir, "inputs.h"), inputs, inputs.shape[1])
        return _build_and_run(build_dir, target, timeout, inputs.shape)
    finally:
        if own_dir and not keep:
            shutil.rmtree(build_dir, ignore_errors=True)


def _flash_overflow(target, over, log, inputs_shape):
    """The FLASH overflow, blaming the test inputs when dropping some of them would fit."""
    count, size = inputs_shape
    inputs_bytes = count * size
    where = (f"embedded: the image does not fit the {FLASH_BUDGET_BYTES // 2**20} MB FLASH of "
             f"{target}: it overflows by {over:,} bytes")
    if (count - 1) * size >= over:  # one input at least still fits
        fits = count - -(-over // size)
        return FlashOverflowError(
            f"{where}; the {count} test inputs take {inputs_bytes:,} bytes of it: pass fewer inputs "
            f"(at most {fits} fit)", log, over)
    return FlashOverflowError(
        f"{where}; the model's code and data are too large (with one test input of {size:,} "
        f"bytes it would not fit either)", log, over)


def _build_and_run(build_dir, target, timeout, inputs_shape):
    make_vars = [f"MODEL_DIR={build_dir}", f"TARGET={target}", f"BUILD={build_dir}/build-{target}",
                 f"STACK_SIZE={STACK_RESERVED_BYTES}"]
    jobs = f"-j{min(os.cpu_count() or 1, 8)}"
    rc, out, err = _make(["all", jobs] + make_vars, timeout=600)
    log = out + err
    if rc != 0:
        m = re.search(r"region `?RAM'? overflowed by (\d+) bytes", log)
        if m:
            over = int(m.group(1))
            raise RamOverflowError(
                f"embedded: the image does not fit the {RAM_BUDGET_BYTES // 1024} KB RAM budget of "
                f"{target}: .data + .bss (with the model's arena) + the {STACK_RESERVED_BYTES // 1024} KB "
                f"stack overflow it by {over:,} bytes", log, over)
        m = re.search(r"region `?FLASH'? overflowed by (\d+) bytes", log)
        if m:
            raise _flash_overflow(target, int(m.group(1)), log, inputs_shape)
        raise BuildError(f"embedded: building the image for {target} failed (make exit code {rc})", log)

    sections = {}
    if target != "host":
        rc, out, err = _make(["size"] + make_vars, timeout=60)
        log += out + err
        if rc != 0:
            raise BuildError("embedded: arm-none-eabi-size failed", log)
        sections = _parse_sections(out)

    rc, out, err = _make(["run", f"TIMEOUT={timeout}"] + make_vars, timeout=timeout + 30)
    log += out + err
    if "timed out after" in err:
        raise EmbeddedTimeoutError(f"embedded: {target} run timed out after {timeout} s", log)
    # make reports the image's own exit code as "[...] Error <code>".
    exit_code = re.search(r"\] Error (\d+)", err)
    exit_code = int(exit_code.group(1)) if exit_code else rc
    m = re.search(r"^(init|invoke) failed: (-?\d+) (.*)$", out, re.M)
    if m:
        status = int(m.group(2))
        name = status_name(status)
        raise RuntimeStatusError(
            f"embedded: bb_runtime_{m.group(1)} returned {status} ({name}: {m.group(3)}) on {target}; "
            f"the image ended with exit code {exit_code}", log, status, m.group(1))
    if rc != 0:
        raise EmbeddedError(f"embedded: the {target} run failed with exit code {exit_code}", log)

    outputs, ticks, stack, done, op_ticks = _parse_report(out)
    if not done or not outputs or sorted(outputs) != list(range(len(outputs))):
        raise EmbeddedError(f"embedded: incomplete report from the {target} run", log)
    rows = [outputs[i] for i in range(len(outputs))]
    if len({len(r) for r in rows}) != 1:
        raise EmbeddedError("embedded: report rows have different lengths", log)
    result = RunResult(outputs_int8=np.array(rows, dtype=np.int8), target=target, log=log)
    if target != "host":
        text = sections.get(".text", 0) + sections.get(".ARM.exidx", 0)
        data = sections.get(".data", 0)
        result.flash_bytes = text + data
        result.stack_bytes = stack
        result.ram_bytes = data + sections.get(".bss", 0) + (stack or 0)
        result.ticks = ticks
        result.op_ticks = op_ticks
    return result
