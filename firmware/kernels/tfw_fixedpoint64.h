/* 64-bit pieces of TFLM's integer arithmetic, for the 16x8 kernels (int16 activations, int8
 * weights, int64 accumulators). Same portability rules as tfw_fixedpoint.h: wrap-around goes
 * through unsigned types, negative right shifts through tfw_asr64(). */
#ifndef TFW_FIXEDPOINT64_H
#define TFW_FIXEDPOINT64_H

#include <stdint.h>

/* floor(x / 2^s) for 0 <= s <= 63, i.e. an arithmetic right shift. */
static inline int64_t tfw_asr64(int64_t x, int32_t s) {
  return (x >= 0) ? (x >> s) : (int64_t)~((~x) >> s);
}

/* Wrapping int64 addition (the sums never wrap for models the converter makes). */
static inline int64_t tfw_add_wrap64(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* TFLM MultiplyByQuantizedMultiplier(int64_t x, ...): the multiplier is first rounded to
 * 16 bits (saturating at 0x7FFF), then x * m16 is rounded half up by one shift of 15 - shift.
 * multiplier must be >= 0 and shift in [-31, 7]; the result is narrowed to int32 (wrapping),
 * as TFLM's implicit conversion does. */
static inline int32_t tfw_multiply_by_quantized_multiplier64(int64_t x, int32_t multiplier,
                                                             int32_t shift) {
  const int64_t reduced = (multiplier < 0x7FFF0000) ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int32_t total_shift = 15 - shift;
  const uint64_t round = (uint64_t)1 << (total_shift - 1);
  const int64_t r = (int64_t)((uint64_t)x * (uint64_t)reduced + round);
  return (int32_t)(uint32_t)(uint64_t)tfw_asr64(r, total_shift);
}

#endif /* TFW_FIXEDPOINT64_H */
