/* startup.c: the vector table and reset handler of a bare-metal Cortex-M image.
 *
 * Reset copies .data from flash, zeroes .bss and paints the stack before main, so
 * that C code sees initialized statics and the peak stack can be measured later.
 * Symbols come from mps2.ld. */
#include <stdint.h>
#include "board.h"
#include "mps2.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);

void Reset_Handler(void)
{
    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end; dst++)
        *dst = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end; dst++)
        *dst = 0;
    stack_paint();
    board_exit(main());
}

/* Any fault or unexpected interrupt: say so and stop QEMU instead of hanging. */
static void Fault_Handler(void)
{
    board_print("fault\n");
    board_exit(4);
}

/* Cortex-M vector table: initial stack pointer, then handler addresses (Thumb bit set
 * by the compiler). Placed first in flash by mps2.ld. */
__attribute__((section(".vectors"), used))
static const uintptr_t vectors[16] = {
    (uintptr_t)__stack_top,
    (uintptr_t)Reset_Handler,
    (uintptr_t)Fault_Handler, /* NMI */
    (uintptr_t)Fault_Handler, /* HardFault */
    (uintptr_t)Fault_Handler, /* MemManage */
    (uintptr_t)Fault_Handler, /* BusFault */
    (uintptr_t)Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    (uintptr_t)Fault_Handler, /* SVCall */
    (uintptr_t)Fault_Handler, /* DebugMonitor */
    0,
    (uintptr_t)Fault_Handler, /* PendSV */
    (uintptr_t)SysTick_Handler,
};
