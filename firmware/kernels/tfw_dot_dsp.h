/* The pieces the fast (DSP) kernels share: the block streams the generator makes of int8 weights (fused
 * biases, weights widened to int16 and interleaved four rows at a time, per-output requantization
 * constants: tinyml_fw/aot/ops/fully_connected.py: fast_blocks), their dot products with SMLAD (tfw_dsp.h)
 * and requantization (tfw_rows_s8), and the short requantization of the kernels without a stream. Included
 * by the *_dsp.c kernels only. */
#ifndef TFW_DOT_DSP_H
#define TFW_DOT_DSP_H

#include <stdint.h>
#include <string.h>

#include "tfw_dsp.h"
#include "tfw_fixedpoint.h"

/* The loops written out in assembly, with registers fixed for LDM: on a DSP core, when optimizing (GCC
 * cannot allocate them at -O0); the same arithmetic in C otherwise. */
#if TFW_HAVE_DSP && defined(__OPTIMIZE__)
#define TFW_DSP_ASM 1
#else
#define TFW_DSP_ASM 0
#endif

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

/* The words of one output's requantization in a block stream. */
#define TFW_REQUANT_WORDS 5

/* tfw_multiply_by_quantized_multiplier(x, multiplier, shift) + output_offset for shift = -r in [-23, -1] and
 * multiplier >= 0, from q = {INT32_MIN, low and high word of 2^30 + 2^(30 + r) + output_offset 2^(31 + r),
 * multiplier, r - 1} (generate time: tinyml_fw/aot/ops/fully_connected.py: requant_table). TFLM rounds
 * twice: high = floor((x m + 2^30) / 2^31) (see tfw_mbqm_fast), then high / 2^r to nearest, ties away from
 * zero: floor((high + 2^(r-1) - [high < 0]) / 2^r). The two floors make one, floor((x m + 2^30 + 2^(30+r)
 * - [high < 0] 2^31) / 2^(31+r)), where [high < 0] may be [x < 0] (m >= 0; where they differ high is 0 and
 * both give 0), and the offset joins the start (r <= 23: no int64 overflow): from a precomputed start, two
 * SMLAL (x m, and [x < 0] INT32_MIN), the result the high word shifted by r - 1. */
static inline int32_t tfw_requant_right(int32_t x, const int32_t *q) {
  const uint64_t start = (((uint64_t)(uint32_t)q[2] << 32) | (uint32_t)q[1]) -
                         ((uint64_t)((uint32_t)x >> 31) << 31);
  const int64_t acc = (int64_t)(start + (uint64_t)((int64_t)x * (int64_t)q[3]));
  return (int32_t)(acc >> 32) >> q[4];
}

/* The same from the words at *s, and *s moved past them. */
static inline int32_t tfw_requant_right_next(int32_t x, const uint32_t **s) {
#if TFW_DSP_ASM
  const uint32_t *p = *s;
  /* One LDM for the five words: its registers in ascending order, fixed here. */
  register uint32_t c __asm("r1"), lo __asm("r2"), hi __asm("r3"), m __asm("r12"), sh __asm("lr");
  uint32_t t;
  __asm("ldmia %[p]!, {%[c], %[lo], %[hi], %[m], %[sh]}\n\t"
        "lsr %[t], %[x], #31\n\t"
        "smlal %[lo], %[hi], %[t], %[c]\n\t"
        "smlal %[lo], %[hi], %[x], %[m]\n\t"
        "asr %[hi], %[hi], %[sh]\n\t"
        : [p] "+r"(p), [c] "=&r"(c), [lo] "=&r"(lo), [hi] "=&r"(hi), [m] "=&r"(m), [sh] "=&r"(sh), [t] "=&r"(t)
        : [x] "r"(x), "m"(*(const uint32_t(*)[TFW_REQUANT_WORDS])p));
  *s = p;
  return (int32_t)hi;
#else
  const int32_t out = tfw_requant_right(x, (const int32_t *)(const void *)*s);
  *s += TFW_REQUANT_WORDS;
  return out;
#endif
}

/* The requantization modes of the fast kernels' tables (requant_table): */
#define TFW_REQUANT_ANY 0      /* q = {multiplier, shift, 0, ...}: tfw_mbqm_fast, plus the offset, clamped */
#define TFW_REQUANT_RIGHT 1    /* tfw_requant_right, clamped to [act_min, act_max] */
#define TFW_REQUANT_RIGHT_LO 2 /* tfw_requant_right, act_max 127: saturated to int8, then act_min */
#define TFW_REQUANT_RIGHT_SAT 3 /* tfw_requant_right, act_min -128 and act_max 127: saturated to int8 */

/* One output of a fast kernel from the words of its requantization at *s, *s moved past them (mode: a
 * constant where the kernel is specialised). */
static inline int8_t tfw_requant_next(int32_t acc, const uint32_t **s, int32_t mode, int32_t output_offset,
                                      int32_t act_min, int32_t act_max) {
  int32_t out;
  if (mode == TFW_REQUANT_ANY) {
    out = tfw_add_wrap32(tfw_mbqm_fast(acc, (int32_t)(*s)[0], (int32_t)(*s)[1]), output_offset);
    *s += TFW_REQUANT_WORDS;
  } else {
    out = tfw_requant_right_next(acc, s);
  }
  if (mode == TFW_REQUANT_RIGHT_SAT) return (int8_t)tfw_ssat8(out);
  if (mode == TFW_REQUANT_RIGHT_LO) {
    out = tfw_ssat8(out);
    return (int8_t)(out < act_min ? act_min : out);
  }
  if (out < act_min) out = act_min;
  if (out > act_max) out = act_max;
  return (int8_t)out;
}

/* One step of four inputs (the word xw) for four rows of int16 weights, interleaved as
 * TfwFcFastParams.weights: w[2r] pairs with bytes 0 and 2 of xw, w[2r+1] with bytes 1 and 3. */
#define TFW_DOT4W_STEP(xw)                                          \
  do {                                                              \
    const uint32_t xe_ = tfw_sxtb16(xw), xo_ = tfw_sxtb16_ror8(xw); \
    a0 = tfw_smlad(w[0], xe_, a0);                                  \
    a0 = tfw_smlad(w[1], xo_, a0);                                  \
    a1 = tfw_smlad(w[2], xe_, a1);                                  \
    a1 = tfw_smlad(w[3], xo_, a1);                                  \
    a2 = tfw_smlad(w[4], xe_, a2);                                  \
    a2 = tfw_smlad(w[5], xo_, a2);                                  \
    a3 = tfw_smlad(w[6], xe_, a3);                                  \
    a3 = tfw_smlad(w[7], xo_, a3);                                  \
    w += 8;                                                         \
  } while (0)

/* acc[r] += the dot products of four rows of interleaved int16 weights with steps * 4 inputs; returns
 * the weights after them. On a DSP core the loop is written out: per four inputs one LDR, two SXTB16
 * shared by the four rows, two LDM and eight SMLAD (GCC would reload and spill). */
static inline const uint32_t *tfw_dot4_w16(const uint32_t *w, const int8_t *x, int32_t steps, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  if (steps > 0) {
#if TFW_DSP_ASM
    const int8_t *const x_end = x + 4 * steps;
    uint32_t xe, xo;
    /* Two LDM of four words per step: their registers in ascending order, fixed here. */
    register uint32_t w0 __asm("r8"), w1 __asm("r9"), w2 __asm("r10"), w3 __asm("r11");
    __asm volatile(
        "1:\n\t"
        "ldr %[xe], [%[x]], #4\n\t"
        "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
        "sxtb16 %[xo], %[xe], ror #8\n\t"
        "sxtb16 %[xe], %[xe]\n\t"
        "smlad %[a0], %[w0], %[xe], %[a0]\n\t"
        "smlad %[a0], %[w1], %[xo], %[a0]\n\t"
        "smlad %[a1], %[w2], %[xe], %[a1]\n\t"
        "smlad %[a1], %[w3], %[xo], %[a1]\n\t"
        "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
        "smlad %[a2], %[w0], %[xe], %[a2]\n\t"
        "smlad %[a2], %[w1], %[xo], %[a2]\n\t"
        "smlad %[a3], %[w2], %[xe], %[a3]\n\t"
        "smlad %[a3], %[w3], %[xo], %[a3]\n\t"
        "cmp %[x], %[x_end]\n\t"
        "bne 1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(w),
          [xe] "=&r"(xe), [xo] "=&r"(xo), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)
        : [x_end] "r"(x_end)
        : "cc", "memory");
#else
    int32_t s;
    for (s = 0; s < steps; ++s, x += 4) TFW_DOT4W_STEP(tfw_load32(x));
#endif
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  return w;
}

/* The same for one step of inputs already in a word (the zero-padded last step). */
static inline const uint32_t *tfw_dot4_w16_word(const uint32_t *w, uint32_t xw, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  TFW_DOT4W_STEP(xw);
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  return w;
}

/* The same for a last step of one or two inputs: xp = (x[d], x[d+1]) as halfwords, one word per row. */
static inline const uint32_t *tfw_dot4_w16_pair(const uint32_t *w, uint32_t xp, int32_t acc[4]) {
#if TFW_DSP_ASM
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  register uint32_t w0 __asm("r8"), w1 __asm("r9"), w2 __asm("r10"), w3 __asm("r11");
  __asm("ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
        "smlad %[a0], %[w0], %[xp], %[a0]\n\t"
        "smlad %[a1], %[w1], %[xp], %[a1]\n\t"
        "smlad %[a2], %[w2], %[xp], %[a2]\n\t"
        "smlad %[a3], %[w3], %[xp], %[a3]\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [w0] "=&r"(w0), [w1] "=&r"(w1),
          [w2] "=&r"(w2), [w3] "=&r"(w3)
        : [xp] "r"(xp), "m"(*(const uint32_t(*)[4])w));
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  return w;
#else
  acc[0] = tfw_smlad(w[0], xp, acc[0]);
  acc[1] = tfw_smlad(w[1], xp, acc[1]);
  acc[2] = tfw_smlad(w[2], xp, acc[2]);
  acc[3] = tfw_smlad(w[3], xp, acc[3]);
  return w + 4;
#endif
}

/* The last depth & 3 inputs at x (1 to 3 bytes) in the low bytes of a word, the others 0. */
static inline uint32_t tfw_load_tail(const int8_t *x, int32_t n) {
  uint32_t v = (uint8_t)x[0];
  if (n > 1) v |= (uint32_t)(uint8_t)x[1] << 8;
  if (n > 2) v |= (uint32_t)(uint8_t)x[2] << 16;
  return v;
}

#if defined(__GNUC__)
#define TFW_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define TFW_ALWAYS_INLINE inline
#endif

/* tfw_rows_s8 for one kind of last step (a constant: 0 none, 3 a word, 1 or 2 a pair). */
static TFW_ALWAYS_INLINE void tfw_rows_tail_s8(const uint32_t *s, const int8_t *x, int32_t steps, const int32_t tail,
                                               uint32_t xt, int8_t *out, int8_t *const out_end, const int32_t mode,
                                               int32_t oo, int32_t lo, int32_t hi) {
  for (;;) {
    int32_t acc[4];
    acc[0] = (int32_t)s[0];
    acc[1] = (int32_t)s[1];
    acc[2] = (int32_t)s[2];
    acc[3] = (int32_t)s[3];
    s = tfw_dot4_w16(s + 4, x, steps, acc);
    if (tail == 3) {
      s = tfw_dot4_w16_word(s, xt, acc);
    } else if (tail) {
      s = tfw_dot4_w16_pair(s, xt, acc);
    }
    out[0] = tfw_requant_next(acc[0], &s, mode, oo, lo, hi);
    if (out + 4 > out_end) { /* the last block, with 1 to 4 rows */
      if (out + 1 < out_end) out[1] = tfw_requant_next(acc[1], &s, mode, oo, lo, hi);
      if (out + 2 < out_end) out[2] = tfw_requant_next(acc[2], &s, mode, oo, lo, hi);
      if (out + 3 < out_end) out[3] = tfw_requant_next(acc[3], &s, mode, oo, lo, hi);
      return;
    }
    out[1] = tfw_requant_next(acc[1], &s, mode, oo, lo, hi);
    out[2] = tfw_requant_next(acc[2], &s, mode, oo, lo, hi);
    out[3] = tfw_requant_next(acc[3], &s, mode, oo, lo, hi);
    out += 4;
    if (out == out_end) return;
  }
}

/* out[0 .. rows) = the requantized dot products of the rows in the block stream s (TfwFcFastParams.blocks)
 * with x[0 .. depth): four rows per block. mode (TFW_REQUANT_*) is a constant where it is inlined; the block
 * loop has a copy per kind of last step. */
static TFW_ALWAYS_INLINE void tfw_rows_s8(const uint32_t *s, const int8_t *x, int32_t depth, int8_t *out,
                                          int32_t rows, const int32_t mode, int32_t oo, int32_t lo, int32_t hi) {
  const int32_t steps = depth >> 2, tail = depth & 3;
  if (tail == 0) {
    tfw_rows_tail_s8(s, x, steps, 0, 0, out, out + rows, mode, oo, lo, hi);
  } else {
    /* The last step's inputs: tail 3, their word; tail 1 or 2, (x[d], x[d+1]) as halfwords. */
    const uint32_t xt = tfw_load_tail(x + 4 * steps, tail);
    if (tail == 3) {
      tfw_rows_tail_s8(s, x, steps, 3, xt, out, out + rows, mode, oo, lo, hi);
    } else {
      tfw_rows_tail_s8(s, x, steps, 1, tfw_pkhbt16(tfw_sxtb16(xt), tfw_sxtb16_ror8(xt)), out, out + rows, mode, oo,
                       lo, hi);
    }
  }
}

/* Copies a few bytes (a row of a convolution window) without a call to memcpy, which costs more than
 * the copy at these sizes: GCC would turn a plain byte loop back into a memcpy call. */
#if defined(__GNUC__) && !defined(__clang__)
#define TFW_NO_MEMCPY_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TFW_NO_MEMCPY_LOOPS
#endif
/* (A function with TFW_NO_MEMCPY_LOOPS inlines it; others call it.) */
TFW_NO_MEMCPY_LOOPS static inline int8_t *tfw_copy_small(int8_t *dst, const int8_t *src, int32_t n) {
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
