/* stack.c: peak stack use by painting the stack at reset and scanning it later.
 *
 * The stack grows down from __stack_top to __stack_limit (mps2.ld). The lowest word
 * that no longer holds the pattern marks the deepest the stack has been. */
#include <stdint.h>
#include "board.h"
#include "mps2.h"

#define PATTERN 0xDEADBEEFu

extern uint32_t __stack_limit[], __stack_top[];

void stack_paint(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    /* Only below the live frame: this function's own words are in use. */
    for (volatile uint32_t *p = __stack_limit; p < sp; p++)
        *p = PATTERN;
}

uint32_t board_stack_peak(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == PATTERN)
        p++;
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}
