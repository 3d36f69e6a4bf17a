/* The pieces the fast (DSP) kernels share: dot products of int8 rows with SMLAD (tfw_dsp.h) and a
 * short requantization. Included by the *_dsp.c kernels only. */
#ifndef TFW_DOT_DSP_H
#define TFW_DOT_DSP_H

#include <stdint.h>
#include <string.h>

#include "tfw_dsp.h"
#include "tfw_fixedpoint.h"

/* tfw_multiply_by_quantized_multiplier in fewer instructions, for the multipliers QuantizeMultiplier
 * makes (never INT32_MIN, so the doubling high multiply cannot saturate). Its division by 2^31
 * rounding ties away from zero, (ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31 truncated, equals
 * floor((ab + 2^30) / 2^31) for every ab: one SMULL, an add and a shift. */
static inline int32_t tfw_mbqm_fast(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int64_t ab = (int64_t)tfw_shl32(x, left) * (int64_t)multiplier;
  const int32_t high = (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
  return right == 0 ? high : tfw_rounding_divide_by_pot(high, right);
}

/* acc[r] += sum_d w[r * stride + d] * x[d] for the four rows r = 0..3, modulo 2^32. One pointer walks
 * row 0 and rows 1..3 sit at fixed distances (fewer registers than four pointers: the loop keeps
 * everything in registers); four inputs per step, two multiply-accumulates per SMLAD. */
#define TFW_DOT4_STEP()                                   \
  do {                                                    \
    const uint32_t xw = tfw_load32(x);                    \
    const uint32_t xe = tfw_sxtb16(xw), xo = tfw_sxtb16_ror8(xw); \
    uint32_t ww;                                          \
    x += 4;                                               \
    ww = tfw_load32(w + d1);                              \
    a1 = tfw_smlad(tfw_sxtb16(ww), xe, a1);               \
    a1 = tfw_smlad(tfw_sxtb16_ror8(ww), xo, a1);          \
    ww = tfw_load32(w + d2);                              \
    a2 = tfw_smlad(tfw_sxtb16(ww), xe, a2);               \
    a2 = tfw_smlad(tfw_sxtb16_ror8(ww), xo, a2);          \
    ww = tfw_load32(w + d3);                              \
    a3 = tfw_smlad(tfw_sxtb16(ww), xe, a3);               \
    a3 = tfw_smlad(tfw_sxtb16_ror8(ww), xo, a3);          \
    ww = tfw_load32(w);                                   \
    w += 4;                                               \
    a0 = tfw_smlad(tfw_sxtb16(ww), xe, a0);               \
    a0 = tfw_smlad(tfw_sxtb16_ror8(ww), xo, a0);          \
  } while (0)

static inline void tfw_dot4_s8(const int8_t *w, int32_t stride, const int8_t *x, int32_t depth,
                               int32_t acc[4]) {
  const int32_t d1 = stride, d2 = 2 * stride, d3 = 3 * stride;
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int8_t *x_end = x + (depth & ~3);
  /* (Two steps per turn spill registers on the Cortex-M4: more instructions, not fewer.) */
  while (x != x_end) TFW_DOT4_STEP();
  for (x_end = x + (depth & 3); x != x_end; ++x, ++w) {
    const int32_t xv = *x;
    a0 = (int32_t)((uint32_t)a0 + (uint32_t)((int32_t)w[0] * xv));
    a1 = (int32_t)((uint32_t)a1 + (uint32_t)((int32_t)w[d1] * xv));
    a2 = (int32_t)((uint32_t)a2 + (uint32_t)((int32_t)w[d2] * xv));
    a3 = (int32_t)((uint32_t)a3 + (uint32_t)((int32_t)w[d3] * xv));
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}
#undef TFW_DOT4_STEP

/* One row: acc + sum_d w[d] * x[d], modulo 2^32. */
static inline int32_t tfw_dot1_s8(const int8_t *w, const int8_t *x, int32_t depth, int32_t acc) {
  int32_t d = depth >> 2;
  while (d--) {
    const uint32_t xw = tfw_load32(x), ww = tfw_load32(w);
    x += 4;
    w += 4;
    acc = tfw_smlad(tfw_sxtb16(ww), tfw_sxtb16(xw), acc);
    acc = tfw_smlad(tfw_sxtb16_ror8(ww), tfw_sxtb16_ror8(xw), acc);
  }
  for (d = depth & 3; d > 0; --d) {
    acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)*w++ * (int32_t)*x++));
  }
  return acc;
}

/* Copies a few bytes (a row of a convolution window) without a call to memcpy, which costs more than
 * the copy at these sizes: GCC would turn a plain byte loop back into a memcpy call. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static inline int8_t *tfw_copy_small(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 4; n -= 4, dst += 4, src += 4) {
    const uint32_t v = tfw_load32(src);
    memcpy(dst, &v, 4);
  }
  for (; n > 0; --n) *dst++ = *src++;
  return dst;
}

/* Requantize to int8: multiplier/shift, output offset, activation clamp. */
static inline int8_t tfw_requantize_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                       int32_t act_min, int32_t act_max) {
  int32_t out = tfw_add_wrap32(tfw_mbqm_fast(acc, multiplier, shift), output_offset);
  if (out < act_min) out = act_min;
  if (out > act_max) out = act_max;
  return (int8_t)out;
}

#endif /* TFW_DOT_DSP_H */
