/* board.h: the little a test application needs from a platform.
 *
 * Two implementations: board/host.c (stdio, for a desktop build) and board/mps2/
 * (bare-metal Cortex-M under QEMU, semihosting output). */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

void board_init(void);

/* Writes a NUL-terminated string as is (the caller adds newlines). */
void board_print(const char *s);

/* A free-running tick counter that does not wrap in practice; board_has_ticks() is 0
 * where there is no deterministic clock (the host). */
int board_has_ticks(void);
uint64_t board_ticks(void);

/* Peak stack use in bytes since reset, or 0 where it is not measured (the host). */
uint32_t board_stack_peak(void);

/* Ends the program with an exit code visible to whoever started it. */
void board_exit(int code);

#endif /* BOARD_H */
