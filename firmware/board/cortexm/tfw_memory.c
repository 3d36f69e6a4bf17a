/* Flash and RAM figures for INFO, from the symbols the platform's generated linker script exports. */
#include <stdint.h>

#include "tfw_board.h"

extern const uint8_t __flash_used[]; /* absolute symbols: their addresses are the values */
extern const uint8_t __ram_used[];
extern const uint8_t __stack_size[];

uint32_t tfw_board_flash_bytes(void) { return (uint32_t)(uintptr_t)__flash_used; }

uint32_t tfw_board_ram_bytes(void) {
  return (uint32_t)(uintptr_t)__ram_used + (uint32_t)(uintptr_t)__stack_size;
}
