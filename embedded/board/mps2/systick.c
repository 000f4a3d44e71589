/* systick.c: a 64-bit tick counter from the 24-bit SysTick timer.
 *
 * SysTick counts down from 0xFFFFFF at the processor clock and interrupts on each
 * wrap; the handler counts wraps, so long inferences never wrap silently. Under
 * `qemu-system-arm -icount shift=0` the clock follows the instruction count, so the
 * readings repeat exactly from run to run ("QEMU icount ticks", not real cycles). */
#include <stdint.h>
#include "board.h"
#include "mps2.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define CSR_ENABLE 1u
#define CSR_TICKINT 2u
#define CSR_CLKSOURCE 4u          /* the processor clock */
#define ICSR_PENDSTSET (1u << 26) /* a SysTick interrupt is pending */
#ifndef RELOAD
#define RELOAD 0xFFFFFFu /* the 24-bit maximum; smaller only to test the wrap logic */
#endif

static volatile uint32_t wraps;

void SysTick_Handler(void) { wraps++; }

void board_init(void)
{
    SYST_RVR = RELOAD;
    SYST_CVR = 0; /* any write clears the counter; it reloads on the next clock */
    SYST_CSR = CSR_CLKSOURCE | CSR_TICKINT | CSR_ENABLE;
}

int board_has_ticks(void) { return 1; }

uint64_t board_ticks(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    uint32_t high = wraps, value = SYST_CVR;
    /* A wrap not yet counted by the (masked) handler: count it here, and re-read the
     * counter so that it is certainly from after the wrap. */
    if (SCB_ICSR & ICSR_PENDSTSET) {
        high++;
        value = SYST_CVR;
    }
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
    /* A period runs 0 (the wrap), RELOAD, ..., 1: value 0 is the start of one. */
    uint32_t elapsed = value == 0 ? 0 : RELOAD + 1u - value;
    return (uint64_t)high * (RELOAD + 1u) + elapsed;
}
