/* semihost.c: output and exit through ARM semihosting (QEMU's -semihosting).
 *
 * Two calls made directly with `bkpt 0xab` instead of newlib's stdio, which would
 * bring malloc and several KB of flash. */
#include <stdint.h>
#include "board.h"

#define SYS_WRITE0 0x04        /* write a NUL-terminated string to the debug console */
#define SYS_EXIT 0x18          /* r1 = reason: QEMU exits 0 for ApplicationExit, else 1 */
#define SYS_EXIT_EXTENDED 0x20 /* r1 = {reason, exit code}: QEMU exits with that code */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void board_print(const char *s) { semihost(SYS_WRITE0, s); }

void board_exit(int code)
{
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    semihost(SYS_EXIT_EXTENDED, block);
    /* A debugger without the extended call: at least keep success versus failure. */
    semihost(SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT : 0));
    for (;;) {
    }
}
