/* mps2.h: what the mps2 board files share with each other (not with the app). */
#ifndef MPS2_H
#define MPS2_H

void SysTick_Handler(void);

/* Fills the unused stack with a pattern; called once at reset, before main. */
void stack_paint(void);

#endif /* MPS2_H */
