"""Builds braininabox._bb_c, the cffi extension over csrc/ (out-of-line API mode).

setuptools runs this through `cffi_modules` in setup.py. The cdef is derived from
the public C headers themselves, so the Python view of the C API cannot drift from it.
The embedded int8 runtime (embedded/bb_runtime.c and its op table) is compiled in too:
QuantizedModel.predict_int8 runs its models through it, so the host and the boards run
one int8 executor.

Build flags: optimized for the building machine (-march=native) unless the
environment sets BB_PORTABLE=1, which builds a binary for any x86-64 / aarch64 CPU.
On Linux the kernels use OpenMP threads (csrc/bb_threads.h) unless BB_OPENMP=0.
"""
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
EMBEDDED = ROOT / "embedded"
UMBRELLA = "braininabox.h"
# The runtime's public headers (after csrc's: bb_model.h uses bb_int8.h's types) and sources.
RUNTIME_HEADERS = ["bb_model.h", "bb_runtime.h"]
RUNTIME_SOURCES = ["bb_runtime.c", "bb_ops.c"]


def public_headers():
    """The headers braininabox.h includes, in its order, then the runtime's, as paths."""
    text = (CSRC / UMBRELLA).read_text()
    return ([CSRC / h for h in re.findall(r'#include "([^"]+)"', text)]
            + [EMBEDDED / h for h in RUNTIME_HEADERS])


def cdef_from_header(text):
    """Strip comments, the C++ `extern "C"` guards and preprocessor lines (but keep
    `#define NAME <integer>`, which cffi reads as a constant): what is left is plain
    declarations cffi parses."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"#ifdef __cplusplus\n[^#]*#endif\n", "", text)
    text = re.sub(r"//[^\n]*", "", text)
    keep = re.compile(r"#define [A-Z_][A-Z0-9_]* \d+$")
    return "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith("#") or keep.fullmatch(line.strip()))


def compile_args():
    # -fno-math-errno: sqrtf and friends need not set errno, so loops using them vectorize.
    # -fno-wrapv undoes the -fwrapv in Python's own CFLAGS: with wrapping int arithmetic
    # the compiler cannot widen int indices, and loops stop vectorizing (max-pool measured
    # 7.0 ms with it, 1.5 ms without). The kernels never overflow (UBSan checks in CI).
    args = ["-std=c99", "-O3", "-fno-math-errno", "-fno-wrapv", "-Wall", "-Wextra"]
    if sys.platform == "win32":
        return ["/O2"]
    if os.environ.get("BB_PORTABLE", "") not in ("1", "true", "yes"):
        args.append("-march=native")
    if compiler_is_gcc():
        # gcc turns short copy loops (im2col's 11-float rows, packing panels) into memcpy
        # calls whose overhead exceeds the copy: the seed CNN's conv2 forward + backward
        # spent 11 % of its time entering memmove. (clang rejects the flag.)
        args.append("-fno-tree-loop-distribute-patterns")
    return args + openmp_args()


def compiler_is_gcc():
    """Whether the C compiler setuptools will use is GCC: asked, not guessed from its name
    (macOS's `gcc` is clang)."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    try:
        version = subprocess.run(cc[:1] + ["--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in version and "clang" not in version


def openmp_args():
    """-fopenmp for gcc on Linux, unless BB_OPENMP=0 (then every kernel is single-threaded)."""
    if not sys.platform.startswith("linux") or os.environ.get("BB_OPENMP", "1") in ("0", "no", "false"):
        return []
    return ["-fopenmp"]


ffibuilder = FFI()
ffibuilder.cdef("\n".join(cdef_from_header(h.read_text()) for h in public_headers()))
ffibuilder.set_source(
    "braininabox._bb_c",
    f'#include "{UMBRELLA}"\n' + "".join(f'#include "{h}"\n' for h in RUNTIME_HEADERS),
    sources=[str(p.relative_to(ROOT)) for p in sorted(CSRC.glob("*.c"))]
    + [str((EMBEDDED / s).relative_to(ROOT)) for s in RUNTIME_SOURCES],
    include_dirs=[str(CSRC.relative_to(ROOT)), str(EMBEDDED.relative_to(ROOT))],
    extra_compile_args=compile_args(),
    extra_link_args=openmp_args(),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
