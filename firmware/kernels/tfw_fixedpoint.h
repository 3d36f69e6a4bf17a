/* Integer fixed-point helpers that reproduce, bit for bit, the arithmetic of the
 * TFLM reference kernels (gemmlowp-style Q-format maths, double rounding).
 *
 * Portability notes (C99): int32_t is two's complement by definition, so the
 * bitwise tricks below are well defined. Right shifts of negative values are
 * implementation-defined in C, so tfw_asr32() builds an arithmetic (flooring)
 * shift out of shifts of non-negative values only. Left shifts go through
 * uint32_t to avoid undefined behaviour on overflow; converting the result
 * back to int32_t wraps on gcc/clang/armcc, which is what TFLM gets too. */
#ifndef TFW_FIXEDPOINT_H
#define TFW_FIXEDPOINT_H

#include <limits.h>
#include <stdint.h>

/* floor(x / 2^s) for 0 <= s <= 31, i.e. an arithmetic right shift. */
static inline int32_t tfw_asr32(int32_t x, int32_t s) {
  return (x >= 0) ? (x >> s) : (int32_t)~((~x) >> s);
}

/* x * 2^s with two's-complement wrap-around, 0 <= s <= 31. */
static inline int32_t tfw_shl32(int32_t x, int32_t s) {
  return (int32_t)((uint32_t)x << s);
}

/* Wrapping int32 addition/subtraction (gemmlowp's plain '+'/'-' on raw values). */
static inline int32_t tfw_add_wrap32(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t tfw_sub_wrap32(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* round(a * b / 2^31), ties away from zero; the single overflow case
 * (INT32_MIN * INT32_MIN) saturates to INT32_MAX. The division (not a shift)
 * truncates toward zero, as in gemmlowp. */
static inline int32_t tfw_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
  int64_t ab, nudge;
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  ab = (int64_t)a * (int64_t)b;
  nudge = (ab >= 0) ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* round(x / 2^exponent), ties away from zero, 0 <= exponent <= 31. */
static inline int32_t tfw_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
  return tfw_asr32(x, exponent) + ((remainder > threshold) ? 1 : 0);
}

/* x * 2^exponent saturated to int32, 0 <= exponent <= 30 (gemmlowp's
 * SaturatingRoundingMultiplyByPOT with a positive exponent). */
static inline int32_t tfw_saturating_shl(int32_t x, int32_t exponent) {
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return tfw_shl32(x, exponent);
}

/* TFLM MultiplyByQuantizedMultiplier, default (double-rounding) variant:
 * x * multiplier * 2^(shift - 31), rounded first by the doubling high multiply
 * and then by the rounding right shift. shift must lie in [-31, 30]. */
static inline int32_t tfw_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                           int32_t shift) {
  const int32_t left_shift = (shift > 0) ? shift : 0;
  const int32_t right_shift = (shift > 0) ? 0 : -shift;
  return tfw_rounding_divide_by_pot(
      tfw_sat_rounding_doubling_high_mul(tfw_shl32(x, left_shift), multiplier), right_shift);
}

/* ---- gemmlowp FixedPoint pieces used by softmax -------------------------------
 * A raw int32 with N integer bits represents raw / 2^(31 - N). Multiplying two
 * such numbers is a doubling high multiply (integer bits add up). */

/* exp(a) for a in [-1/4, 0), a and result with 0 integer bits: Taylor series
 * around -1/8 (constants are round(exp(-1/8) * 2^31) and round(2^31 / 3)). */
static inline int32_t tfw_exp_on_interval_neg_quarter_to_0(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668;
  const int32_t one_third = 715827883;
  const int32_t x = tfw_add_wrap32(a, (int32_t)1 << 28); /* a + 1/8 */
  const int32_t x2 = tfw_sat_rounding_doubling_high_mul(x, x);
  const int32_t x3 = tfw_sat_rounding_doubling_high_mul(x2, x);
  const int32_t x4 = tfw_sat_rounding_doubling_high_mul(x2, x2);
  const int32_t x4_over_4 = tfw_rounding_divide_by_pot(x4, 2);
  const int32_t poly = tfw_rounding_divide_by_pot(
      tfw_add_wrap32(tfw_sat_rounding_doubling_high_mul(tfw_add_wrap32(x4_over_4, x3), one_third),
                     x2),
      1); /* x^4/24 + x^3/6 + x^2/2 */
  return tfw_add_wrap32(exp_minus_one_eighth,
                        tfw_sat_rounding_doubling_high_mul(exp_minus_one_eighth,
                                                           tfw_add_wrap32(x, poly)));
}

/* exp(a) for a <= 0; a has 5 integer bits (Q5.26), result has 0 (Q0.31).
 * Splits a = (a mod 1/4 - 1/4) - k/4: the first part goes through the series,
 * then each set bit of k multiplies by a constant exp(-2^j) (barrel shifter). */
static inline int32_t tfw_exp_on_negative_values_q5(int32_t a) {
  /* round(exp(-2^j) * 2^31) for j = -2 .. 4, applied for bits 24 .. 30 of k. */
  static const int32_t kBarrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535,   720401,     242};
  const int32_t one_quarter = (int32_t)1 << 24;
  const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  /* Rescale Q5.26 -> Q0.31: the value lies in [-1/4, 0), so << 5 cannot saturate. */
  int32_t result = tfw_exp_on_interval_neg_quarter_to_0(tfw_shl32(a_mod_quarter_minus_quarter, 5));
  const int32_t remainder = tfw_sub_wrap32(a_mod_quarter_minus_quarter, a);
  int32_t j;
  for (j = 0; j < 7; ++j) {
    if (remainder & ((int32_t)1 << (24 + j))) {
      result = tfw_sat_rounding_doubling_high_mul(result, kBarrel[j]);
    }
  }
  return (a == 0) ? INT32_MAX : result; /* exp(0) = "one" = INT32_MAX in Q0.31 */
}

/* 1 / (1 + a) for a in [0, 1) with 0 integer bits; Newton-Raphson in Q2.29
 * starting from 48/17 - 32/17 * d, where d = (1 + a) / 2. */
static inline int32_t tfw_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t c48_17 = 1515870810;      /* 48/17 in Q2.29 */
  const int32_t cneg32_17 = -1010580540;  /* -32/17 in Q2.29 */
  const int32_t one_q2 = (int32_t)1 << 29;
  /* Rounding half sum of a and one (INT32_MAX): (a + b + sign) / 2, truncating. */
  const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + ((sum >= 0) ? 1 : -1)) / 2);
  int32_t x = tfw_add_wrap32(c48_17, tfw_sat_rounding_doubling_high_mul(half_denominator, cneg32_17));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t hdx = tfw_sat_rounding_doubling_high_mul(half_denominator, x);
    const int32_t one_minus_hdx = tfw_sub_wrap32(one_q2, hdx);
    /* x * (1 - d*x) is Q4.27; rescale to Q2.29 with a saturating << 2. */
    x = tfw_add_wrap32(x, tfw_saturating_shl(tfw_sat_rounding_doubling_high_mul(x, one_minus_hdx), 2));
  }
  /* x / 2 reinterpreted as Q1.30, then Q1.30 -> Q0.31 (saturating << 1). */
  return tfw_saturating_shl(x, 1);
}

/* Number of leading zero bits of a 32-bit value (32 for 0). */
static inline int32_t tfw_clz32(uint32_t v) {
  if (v == 0) return 32;
#if defined(__GNUC__) && UINT_MAX >= 0xFFFFFFFFu
  return (int32_t)__builtin_clz(v);
#elif defined(__GNUC__)
  return (int32_t)__builtin_clzl(v); /* 16-bit int (AVR): unsigned long is the 32-bit type */
#else
  {
    int32_t n = 0;
    while ((v & 0x80000000u) == 0) {
      v <<= 1;
      ++n;
    }
    return n;
  }
#endif
}

#endif /* TFW_FIXEDPOINT_H */
