/* CRC-32 (IEEE 802.3, reflected, as zlib.crc32), updated a byte at a time. */
#ifndef TFW_CRC32_H
#define TFW_CRC32_H

#include <stddef.h>
#include <stdint.h>

#define TFW_CRC32_INIT 0xFFFFFFFFu

/* Start with TFW_CRC32_INIT, feed bytes, finish with tfw_crc32_final. */
uint32_t tfw_crc32_update(uint32_t state, const uint8_t *data, size_t len);
static inline uint32_t tfw_crc32_final(uint32_t state) { return state ^ 0xFFFFFFFFu; }

#endif /* TFW_CRC32_H */
