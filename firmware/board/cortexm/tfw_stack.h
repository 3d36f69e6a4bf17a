/* The stack paint of the Cortex-M start-up code (startup.c) and its measurement (tfw_memory.c). */
#ifndef TFW_STACK_H
#define TFW_STACK_H

/* What every unused stack word holds after reset: a word the program is unlikely to write there. */
#define TFW_STACK_PAINT 0x5AFEC0DEu

#endif /* TFW_STACK_H */
