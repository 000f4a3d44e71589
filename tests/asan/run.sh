#!/usr/bin/env bash
# The Python kernel tests against an AddressSanitizer + UBSan build of the extension.
#
# tests/c/run.sh checks the C kernels from C; this checks them as Python reaches them:
# every _core wrapper, the autograd ops and the optimizers run with the sanitizers on,
# so a wrapper that hands C a buffer shorter than the shapes it passes fails here.
# The build goes to a temporary folder (the in-place build is untouched); the Python
# interpreter is not instrumented, so libasan is preloaded and leak checks are off.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-python3}"
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY="$PWD/.venv/bin/python"; fi

build_dir="$(mktemp -d)"
trap "rm -rf $build_dir" EXIT

mkdir "$build_dir/braininabox"
tar -C braininabox --exclude='*.so' --exclude=__pycache__ -cf - . | tar -C "$build_dir/braininabox" -xf -
root="$PWD"
# cffi compiles in its tmpdir and _build_ffi.py names sources and include folders relative
# to the repository: every top-level folder but the package is linked there.
for entry in "$root"/*/; do
    name="$(basename "$entry")"
    [ "$name" = braininabox ] || ln -s "$root/$name" "$build_dir/$name"
done

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="$SAN -g" LDFLAGS="$SAN" "$PY" - "$build_dir" <<'PYEOF' >"$build_dir/build.log" 2>&1 \
    || { cat "$build_dir/build.log"; exit 1; }
import runpy, sys
ffibuilder = runpy.run_path("braininabox/_build_ffi.py")["ffibuilder"]
ffibuilder.compile(tmpdir=sys.argv[1], target="_bb_c.*")
PYEOF

libasan="$(gcc -print-file-name=libasan.so)"
# Check the build carries the sanitizers (a silent non-sanitized build would prove nothing).
nm -D "$build_dir"/braininabox/_bb_c*.so | grep -c __asan_report >/dev/null || {
    echo "tests/asan/run.sh: the extension was built without AddressSanitizer" >&2; exit 1; }

echo "ASan/UBSan build of the extension: running the Python kernel tests"
cd "$build_dir"  # so `import braininabox` finds this build, not the in-place one
export LD_PRELOAD="$libasan" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
PYTHONPATH="$build_dir"
"$PY" -c "import braininabox, sys; sys.exit(not braininabox.__file__.startswith('$build_dir'))" || {
    echo "tests/asan/run.sh: python imports another braininabox build" >&2; exit 1; }
# And that the harness catches a deliberate overflow (a relu over 64 floats of an 8-float
# buffer, straight through cffi): if this passes silently, the run below would prove nothing.
if "$PY" -c "
import numpy as np; from braininabox._core import ffi, lib
x = np.zeros(8, np.float32); lib.bb_relu_f32(64, ffi.from_buffer('float[]', x), ffi.from_buffer('float[]', x))
" >/dev/null 2>&1; then
    echo "tests/asan/run.sh: AddressSanitizer did not catch a deliberate overflow" >&2; exit 1
fi

"$PY" -m pytest -q -p no:cacheprovider --rootdir="$root" "$@" \
    "$root"/tests/test_core_checks.py "$root"/tests/test_functional.py \
    "$root"/tests/test_optimizers.py "$root"/tests/test_tensor.py "$root"/tests/test_layers.py \
    "$root"/tests/test_recurrent.py "$root"/tests/test_model.py "$root"/tests/test_int8_hardening.py \
    "$root"/tests/test_band_chain.py
