/* main.c: run an exported model over test inputs and print a machine-readable report.
 *
 *   out <i>: <v0> <v1> ...     one line per input, int8 outputs in decimal
 *   ticks <n>                  per inference (boards with a deterministic clock only)
 *   op_ticks <t0> <t1> ...     per op of one more inference of input 0 (same boards)
 *   stack <bytes>              peak stack use (boards only)
 *   done
 *
 * On a failed init it prints "init failed: <status> <message>" and exits with 2; on a
 * failed invoke "invoke failed: ..." and exits with 3. braininabox/embedded.py parses
 * this report. model.h and inputs.h are generated per model. */
#include <stddef.h>
#include <stdint.h>
#include "bb_runtime.h"
#include "board.h"
#include "model.h"
#include "inputs.h"

/* 4-byte aligned, as a kernel may someday want word access to its buffers. */
static union {
    int8_t bytes[MODEL_ARENA_BYTES];
    uint32_t align;
} arena;

static int8_t output[MODEL_OUTPUT_SIZE];

#ifdef MODEL_OP_COUNT
static uint32_t op_ticks[MODEL_OP_COUNT];
#endif

/* v /= d, returning the remainder, for 0 < d < 2^16: 32-bit steps over 16-bit chunks, as
 * a plain 64-bit division would link libgcc's ~800-byte routine into an image that
 * otherwise needs none. */
static uint32_t divide(uint64_t *v, uint32_t d)
{
    uint64_t q = 0;
    uint32_t rest = 0;
    for (int bit = 48; bit >= 0; bit -= 16) {
        uint32_t part = (rest << 16) | (uint32_t)((*v >> bit) & 0xFFFFu); /* < d * 2^16 */
        q |= (uint64_t)(part / d) << bit;
        rest = part % d;
    }
    *v = q;
    return rest;
}

/* Decimal without stdio (newlib's printf would pull in malloc and kilobytes of flash). */
static void print_u64(uint64_t v)
{
    char buf[21];
    char *p = buf + sizeof buf - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + divide(&v, 10));
    } while (v != 0);
    board_print(p);
}

static void print_int(int32_t v)
{
    if (v < 0)
        board_print("-");
    print_u64(v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v);
}

static void fail(const char *what, bb_status s, int code)
{
    board_print(what);
    board_print(" failed: ");
    print_int(s);
    board_print(" ");
    board_print(bb_status_message(s));
    board_print("\n");
    board_exit(code);
}

int main(void)
{
    bb_runtime rt;
    board_init();
    bb_status s = bb_runtime_init(&rt, &model, arena.bytes, sizeof arena.bytes);
    if (s != BB_OK)
        fail("init", s, 2);
    /* Warm-up: the first run is not timed, so the report measures steady state. */
    if ((s = bb_runtime_invoke(&rt, bb_inputs[0], output)) != BB_OK)
        fail("invoke", s, 3);

    uint64_t total = 0;
    for (size_t i = 0; i < (size_t)BB_INPUT_COUNT; i++) {
        uint64_t start = board_ticks();
        s = bb_runtime_invoke(&rt, bb_inputs[i], output);
        total += board_ticks() - start;
        if (s != BB_OK)
            fail("invoke", s, 3);
        board_print("out ");
        print_u64(i);
        board_print(":");
        for (size_t j = 0; j < (size_t)MODEL_OUTPUT_SIZE; j++) {
            board_print(" ");
            print_int(output[j]);
        }
        board_print("\n");
    }
    if (board_has_ticks()) {
        board_print("ticks ");
        divide(&total, (uint32_t)BB_INPUT_COUNT); /* a few inputs: far below 2^16 */
        print_u64(total);
        board_print("\n");
#ifdef MODEL_OP_COUNT
        /* A run of its own, after the timed ones: reading the clock per op costs ticks. */
        if ((s = bb_runtime_invoke_profiled(&rt, bb_inputs[0], output, board_ticks, op_ticks)) != BB_OK)
            fail("invoke", s, 3);
        board_print("op_ticks");
        for (size_t i = 0; i < (size_t)MODEL_OP_COUNT; i++) {
            board_print(" ");
            print_u64(op_ticks[i]);
        }
        board_print("\n");
#endif
    }
    uint32_t stack = board_stack_peak();
    if (stack != 0) {
        board_print("stack ");
        print_u64(stack);
        board_print("\n");
    }
    board_print("done\n");
    board_exit(0);
    return 0;
}
