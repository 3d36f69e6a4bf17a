/* Constant tables the generated model places in program memory, and how kernels read them; texts the
 * device keeps there (TFW_TEXT) and how they are copied out.
 *
 * On Arm (and the host) constants already live in flash and are read like any memory: TFW_FLASH is empty
 * and each accessor is a plain load, so the code compiles exactly as before. On AVR (Harvard: flash is
 * not in the data address space) a `const` array is copied into the 2-8 KB of SRAM at start-up unless it
 * is PROGMEM; the generated model marks its weight tables TFW_FLASH and the kernels that take them read
 * every element through these accessors (avr-libc's pgm_read_*, near flash: the first 64 KB).
 *
 * Only pointers documented as "in TFW_FLASH" in a kernel's params are read this way, and texts made with
 * TFW_TEXT only through tfw_text_copy. */
#ifndef TFW_FLASH_H
#define TFW_FLASH_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define TFW_FLASH PROGMEM
#define TFW_FLASH_I8(p) ((int8_t)pgm_read_byte(p))
#define TFW_FLASH_I16(p) ((int16_t)pgm_read_word(p))
#define TFW_FLASH_I32(p) ((int32_t)pgm_read_dword(p))
#define TFW_FLASH_I64(p) \
  ((int64_t)(((uint64_t)pgm_read_dword((const uint8_t *)(p) + 4) << 32) | pgm_read_dword(p)))
#define TFW_TEXT(s) PSTR(s)
#define TFW_TEXT_IN_FLASH 1
/* Copies a TFW_TEXT into RAM: at most n - 1 bytes, then a terminator. */
static inline void tfw_text_copy(char *dst, const char *text, size_t n) {
  strncpy_P(dst, text, n - 1);
  dst[n - 1] = '\0';
}
#else
#define TFW_FLASH
#define TFW_FLASH_I8(p) (*(p))
#define TFW_FLASH_I16(p) (*(p))
#define TFW_FLASH_I32(p) (*(p))
#define TFW_FLASH_I64(p) (*(p))
#define TFW_TEXT(s) (s)
#define TFW_TEXT_IN_FLASH 0
#endif

#endif /* TFW_FLASH_H */
