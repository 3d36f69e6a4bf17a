/* Constant tables the generated model places in program memory, and how kernels read them.
 *
 * On Arm (and the host) constants already live in flash and are read like any memory: TFW_FLASH is empty
 * and each accessor is a plain load, so the code compiles exactly as before. On AVR (Harvard: flash is
 * not in the data address space) a `const` array is copied into the 2-8 KB of SRAM at start-up unless it
 * is PROGMEM; the generated model marks its weight tables TFW_FLASH and the kernels that take them read
 * every element through these accessors (avr-libc's pgm_read_*, near flash: the first 64 KB).
 *
 * Only pointers documented as "in TFW_FLASH" in a kernel's params are read this way. */
#ifndef TFW_FLASH_H
#define TFW_FLASH_H

#include <stdint.h>

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define TFW_FLASH PROGMEM
#define TFW_FLASH_I8(p) ((int8_t)pgm_read_byte(p))
#define TFW_FLASH_I16(p) ((int16_t)pgm_read_word(p))
#define TFW_FLASH_I32(p) ((int32_t)pgm_read_dword(p))
#define TFW_FLASH_I64(p) \
  ((int64_t)(((uint64_t)pgm_read_dword((const uint8_t *)(p) + 4) << 32) | pgm_read_dword(p)))
#else
#define TFW_FLASH
#define TFW_FLASH_I8(p) (*(p))
#define TFW_FLASH_I16(p) (*(p))
#define TFW_FLASH_I32(p) (*(p))
#define TFW_FLASH_I64(p) (*(p))
#endif

#endif /* TFW_FLASH_H */
