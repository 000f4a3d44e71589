#!/usr/bin/env bash
# Runs tests/c/test_graph_kernels.c bare metal on the QEMU boards: mps2-an385 (Cortex-M3,
# portable C) and mps2-an386 (Cortex-M4, the SMLAD fast paths), with the embedded
# runtime's board files and flags (embedded/Makefile). The fast paths must give the
# reference paths' bytes on the real instruction set; the report adds QEMU icount ticks
# (-icount shift=0: one tick per instruction) of a DS-CNN layer.
#   tests/c/run_board.sh [mps2-an385|mps2-an386 ...]     (default: both)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1 || ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "board check skipped: arm-none-eabi-gcc or qemu-system-arm not on PATH"
    exit 0
fi
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT

kernels="$(cd csrc && ls *_s8.c | sed 's/\.c$//') bb_requantize bb_status"  # every int8 kernel
board="embedded/board/mps2"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mps2-an385 mps2-an386)
for target in "${targets[@]}"; do
    case "$target" in
        mps2-an385) cpu="-mcpu=cortex-m3 -mthumb" ;;
        mps2-an386) cpu="-mcpu=cortex-m4 -mthumb -mfloat-abi=soft" ;;
        *) echo "unknown board $target" >&2; exit 2 ;;
    esac
    srcs="tests/c/test_graph_kernels.c $board/startup.c $board/semihost.c $board/systick.c $board/stack.c"
    for k in $kernels; do srcs="$srcs csrc/$k.c"; done
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -std=c99 -O2 -ffunction-sections -fdata-sections -Wall -Wextra -Werror $cpu \
        -Icsrc -Iembedded/board -Iembedded $srcs \
        -nostartfiles --specs=nano.specs -T $board/mps2.ld -Wl,--defsym=STACK_SIZE=8192 \
        -Wl,--gc-sections -Wl,--no-warn-rwx-segments -o "$build_dir/graph_$target.elf"
    timeout 300 qemu-system-arm -M "$target" -nographic -monitor none -serial none \
        -chardev stdio,id=semihosting -semihosting-config enable=on,target=native,chardev=semihosting \
        -icount shift=0 -kernel "$build_dir/graph_$target.elf" | sed "s/^/$target: /"
done
