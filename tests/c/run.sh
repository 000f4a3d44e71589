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

# The embedded int8 runtime and its bounded corruption fuzzer, on the int8 files and the
# integer audio front end only (the image's source list: no float kernel may be needed to link it).
gcc -std=c99 -g -O1 -Wall -Wextra -Werror \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    -Icsrc -Iembedded tests/c/test_runtime.c embedded/bb_runtime.c embedded/bb_ops.c \
    csrc/*_s8.c csrc/bb_requantize.c csrc/bb_status.c csrc/bb_audio.c -o "$build_dir/test_runtime"

# Band chains against their stages run whole by the reference kernels (same sanitizers).
gcc -std=c99 -g -O1 -Wall -Wextra -Werror \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    -Icsrc tests/c/test_band_chain.c csrc/*_s8.c csrc/bb_requantize.c csrc/bb_status.c \
    -o "$build_dir/test_band_chain"
"$build_dir/test_band_chain"
"$build_dir/test_runtime"

# The OpenMP build (what the Python extension uses), with two threads splitting the work.
gcc -std=c99 -O2 -fopenmp -Wall -Wextra -Werror \
    -Icsrc tests/c/test_kernels.c csrc/*.c -lm -o "$build_dir/test_kernels_omp"
OMP_NUM_THREADS=2 "$build_dir/test_kernels_omp" | sed 's/^/OpenMP, 2 threads: /'

# The int8 graph kernels: fast paths against reference paths, portable and with the
# Cortex-M4 DSP path emulated in C (bb_dsp.h), under ASan/UBSan, with the host board file.
graph_srcs="tests/c/test_graph_kernels.c embedded/board/host.c $(ls csrc/*_s8.c) csrc/bb_requantize.c csrc/bb_status.c"
for dsp in portable emulated-dsp; do
    flags=""
    [ "$dsp" = emulated-dsp ] && flags="-DBB_EMULATE_DSP"
    # shellcheck disable=SC2086
    gcc -std=c99 -g -O1 -Wall -Wextra -Werror $flags \
        -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
        -Icsrc -Iembedded/board $graph_srcs -o "$build_dir/test_graph_$dsp"
    "$build_dir/test_graph_$dsp" | sed "s/^/$dsp: /"
done

if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    for cpu in cortex-m3 cortex-m4; do
        for src in csrc/*.c embedded/bb_runtime.c embedded/bb_ops.c; do
            arm-none-eabi-gcc -std=c99 -mcpu="$cpu" -mthumb -O2 -Wall -Wextra -Werror -Icsrc -Iembedded \
                -c "$src" -o "$build_dir/$(basename "$src" .c).$cpu.o"
        done
        echo "Cortex-M check: csrc/*.c and the embedded runtime compiled cleanly for -mcpu=$cpu"
    done
else
    echo "Cortex-M check skipped: arm-none-eabi-gcc not on PATH"
fi

# The same graph-kernel test bare metal on the QEMU M3 and M4 boards (real SMLAD).
tests/c/run_board.sh
