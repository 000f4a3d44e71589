#!/usr/bin/env bash
# Builds and runs the C kernel tests under AddressSanitizer and UBSan, then with OpenMP
# threads, then checks
# that the library compiles warning-free for Cortex-M (when the toolchain exists).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT

gcc -std=c99 -g -O1 -Wall -Wextra -Werror \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    -Icsrc tests/c/test_kernels.c csrc/*.c -lm -o "$build_dir/test_kernels"

# The integer audio front end against its double-precision reference (same sanitizers).
gcc -std=c99 -g -O1 -Wall -Wextra -Werror \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    -Icsrc tests/c/test_audio.c csrc/*.c -lm -o "$build_dir/test_audio"
"$build_dir/test_audio"
"$build_dir/test_kernels"

# The OpenMP build (what the Python extension uses), with two threads splitting the work.
gcc -std=c99 -O2 -fopenmp -Wall -Wextra -Werror \
    -Icsrc tests/c/test_kernels.c csrc/*.c -lm -o "$build_dir/test_kernels_omp"
OMP_NUM_THREADS=2 "$build_dir/test_kernels_omp" | sed 's/^/OpenMP, 2 threads: /'

if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    for cpu in cortex-m3 cortex-m4; do
        for src in csrc/*.c; do
            arm-none-eabi-gcc -std=c99 -mcpu="$cpu" -mthumb -O2 -Wall -Wextra -Werror \
                -c "$src" -o "$build_dir/$(basename "$src" .c).$cpu.o"
        done
        echo "Cortex-M check: csrc/*.c compiled cleanly for -mcpu=$cpu"
    done
else
    echo "Cortex-M check skipped: arm-none-eabi-gcc not on PATH"
fi
