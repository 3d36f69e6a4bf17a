/* The one header a board implements: init, a byte-wise serial port and a cycle counter.
 * One folder per board under firmware/board/; the generated project copies the board's folder. */
#ifndef TFW_BOARD_H
#define TFW_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, serial port and cycle counter; called once before anything else. */
void tfw_board_init(void);
/* Blocking write of one byte to the serial port. */
void tfw_board_putc(uint8_t byte);
/* Next received byte (0..255), or -1 when none is waiting; never blocks. */
int tfw_board_getc(void);
/* Free-running 64-bit count of the board's timer ticks (SysTick wraps included). */
uint64_t tfw_board_ticks(void);
/* Flash the image occupies and static RAM (data + bss + reserved stack), from the linker's symbols.
 * Implemented once per core family (cortexm/tfw_memory.c), not per board. */
uint32_t tfw_board_flash_bytes(void);
uint32_t tfw_board_ram_bytes(void);
/* The stack reserved for the program, and the most of it used since boot (its high-water mark: the
 * start-up code paints the stack, and the first word still painted marks the deepest point reached), in
 * bytes; 0 when the board cannot tell. */
uint32_t tfw_board_stack_bytes(void);
uint32_t tfw_board_stack_used(void);

#ifdef __cplusplus
}
#endif

#endif /* TFW_BOARD_H */
