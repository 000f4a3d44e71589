/* host.c: the board interface on a desktop, for checking outputs without QEMU. */
#include <stdio.h>
#include <stdlib.h>
#include "board.h"

void board_init(void) {}

void board_print(const char *s) { fputs(s, stdout); }

/* Wall-clock time is not repeatable, so the host reports no ticks. */
int board_has_ticks(void) { return 0; }
uint64_t board_ticks(void) { return 0; }

uint32_t board_stack_peak(void) { return 0; }

void board_exit(int code)
{
    fflush(stdout);
    exit(code);
}
