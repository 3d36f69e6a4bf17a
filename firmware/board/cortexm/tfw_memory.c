/* Flash, RAM and stack figures for INFO, from the symbols the platform's generated linker script exports,
 * and the stack's high-water mark, from the paint startup.c put on it. */
#include <stdint.h>

#include "tfw_board.h"
#include "tfw_stack.h"

extern const uint8_t __flash_used[]; /* absolute symbols: their addresses are the values */
extern const uint8_t __ram_used[];
extern const uint8_t __stack_size[];
extern const uint32_t __stack_limit[]; /* the lowest stack address */
extern const uint32_t _estack[];       /* one past the highest */

uint32_t tfw_board_flash_bytes(void) { return (uint32_t)(uintptr_t)__flash_used; }

uint32_t tfw_board_ram_bytes(void) {
  return (uint32_t)(uintptr_t)__ram_used + (uint32_t)(uintptr_t)__stack_size;
}

uint32_t tfw_board_stack_bytes(void) { return (uint32_t)(uintptr_t)__stack_size; }

/* From the bottom of the stack up to the first word that lost its paint: the deepest the stack has been
 * since reset (a pushed word equal to the paint would hide 4 bytes; the figure is a lower bound). */
uint32_t tfw_board_stack_used(void) {
  const volatile uint32_t *p = __stack_limit;
  while (p < _estack && *p == TFW_STACK_PAINT) {
    ++p;
  }
  return (uint32_t)((uintptr_t)_estack - (uintptr_t)p);
}
