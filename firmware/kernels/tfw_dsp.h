/* The Armv7E-M / Armv8-M DSP instructions the fast kernels use, as inline functions: the ACLE
 * intrinsics on a core with the DSP extension (Cortex-M4, M7, M33, M55: __ARM_FEATURE_DSP), and the
 * same arithmetic in portable C everywhere else, so the host tests run the fast kernels' exact
 * algorithm. TFW_FAST_KERNELS (1 on a DSP core, else 0; -DTFW_FAST_KERNELS=0 forces the portable
 * kernels) selects the fast kernels at compile time. */
#ifndef TFW_DSP_H
#define TFW_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TFW_HAVE_DSP 1
#include <arm_acle.h>
#else
#define TFW_HAVE_DSP 0
#endif

#ifndef TFW_FAST_KERNELS
#define TFW_FAST_KERNELS TFW_HAVE_DSP
#endif

/* Four bytes from any address (an unaligned LDR on Armv7-M and later). */
static inline uint32_t tfw_load32(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

#if TFW_HAVE_DSP
/* Bytes 0 and 2 of x, sign-extended to two halfwords. */
static inline uint32_t tfw_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int32_t)x); }
/* Bytes 1 and 3 of x, sign-extended to two halfwords (SXTB16 with ROR #8). */
static inline uint32_t tfw_sxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
/* acc + a.lo * b.lo + a.hi * b.hi (signed halfwords), modulo 2^32. */
static inline int32_t tfw_smlad(uint32_t a, uint32_t b, int32_t acc) {
  return __smlad((int32_t)a, (int32_t)b, acc);
}
/* The low halfword of a, the low halfword of b as the high one (PKHBT). */
static inline uint32_t tfw_pkhbt16(uint32_t a, uint32_t b) {
  uint32_t r;
  __asm("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
/* x saturated to [-128, 127] (SSAT #8). */
static inline int32_t tfw_ssat8(int32_t x) { return __ssat(x, 8); }
#else
static inline int32_t tfw_ssat8(int32_t x) { return x < -128 ? -128 : x > 127 ? 127 : x; }
static inline uint32_t tfw_pkhbt16(uint32_t a, uint32_t b) { return (a & 0xFFFFu) | (b << 16); }
static inline uint32_t tfw_pack16(int32_t lo, int32_t hi) {
  return ((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16);
}
static inline uint32_t tfw_sxtb16(uint32_t x) {
  return tfw_pack16((int8_t)(uint8_t)x, (int8_t)(uint8_t)(x >> 16));
}
static inline uint32_t tfw_sxtb16_ror8(uint32_t x) {
  return tfw_pack16((int8_t)(uint8_t)(x >> 8), (int8_t)(uint8_t)(x >> 24));
}
static inline int32_t tfw_smlad(uint32_t a, uint32_t b, int32_t acc) {
  const int32_t lo = (int32_t)(int16_t)(uint16_t)a * (int32_t)(int16_t)(uint16_t)b;
  const int32_t hi = (int32_t)(int16_t)(uint16_t)(a >> 16) * (int32_t)(int16_t)(uint16_t)(b >> 16);
  return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}
#endif

#endif /* TFW_DSP_H */
