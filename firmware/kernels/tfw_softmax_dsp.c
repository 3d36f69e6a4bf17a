/* SOFTMAX int8, the fast kernel (selected with the other fast kernels, tfw_dsp.h): the exponential of
 * every int8 difference to the row max the row can have comes from a table the generator computed
 * (exp_table[k] = exp of the difference -k, bit for bit what tfw_softmax_s8 computes, and 0 past diff_min),
 * so each value costs a load instead of two fixed-point exponentials; the reciprocal's doubling high
 * multiplies skip the saturation their operands cannot reach, and each output's two roundings are one
 * (as tfw_requant_right). Bit-exact with tfw_softmax_s8; the generated model calls it directly once the
 * generator has made tfw_softmax_s8's checks. */
#include <stddef.h>

#include "tfw_dsp.h"
#include "tfw_fixedpoint.h"
#include "tfw_softmax.h"

/* tfw_sat_rounding_doubling_high_mul for a and b not both INT32_MIN: floor((ab + 2^30) / 2^31), equal to
 * TFLM's division of ab + nudge, truncating, for either sign (see tfw_mbqm_fast). */
static inline int32_t tfw_srdhm_nosat(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* tfw_one_over_one_plus_x_for_x_in_0_1(a) for a = normalized - 2^31 >= 0 (normalized: the sum of exps
 * shifted to its top bit), with tfw_srdhm_nosat: half_denominator, the rounding half sum of a and INT32_MAX,
 * is normalized / 2 in [2^30, 2^31), x, in Q2.29, lies in (1, 2): no product reaches INT32_MIN^2. */
static int32_t tfw_reciprocal(uint32_t normalized) {
  const int32_t one_q2 = (int32_t)1 << 29;
  const int32_t half_denominator = (int32_t)(normalized >> 1);
  int32_t x = tfw_add_wrap32(1515870810, tfw_srdhm_nosat(half_denominator, -1010580540));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus_hdx = tfw_sub_wrap32(one_q2, tfw_srdhm_nosat(half_denominator, x));
    x = tfw_add_wrap32(x, tfw_saturating_shl(tfw_srdhm_nosat(x, one_minus_hdx), 2));
  }
  return tfw_saturating_shl(x, 1);
}

TfwStatus tfw_softmax_s8_fast(const TfwSoftmaxParams *p, const int8_t *input, int8_t *output) {
  const int32_t *const table = p->exp_table;
  const int32_t depth = p->depth;
  int32_t i, c;
  if (table == NULL) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->outer_size; ++i) {
    const int8_t *const in = input + (size_t)i * (size_t)depth;
    int8_t *const out = output + (size_t)i * (size_t)depth;
    int32_t max_in_row = -128;
    uint32_t sum_of_exps = 0;
    int32_t headroom_plus_one, exponent, shifted_scale;
    uint32_t start_hi;
    for (c = 0; c < depth; ++c) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    /* Q0.31 -> Q12.19, rounding (the exponentials are positive): (e + 2^11) >> 12. */
    for (c = 0; c < depth; ++c) sum_of_exps += ((uint32_t)table[max_in_row - in[c]] + 2048u) >> 12;
    headroom_plus_one = tfw_clz32(sum_of_exps);
    exponent = 12 - headroom_plus_one + 31 - 8;
    if (sum_of_exps == 0 || exponent < 0 || exponent > 31) return TFW_ERR_MODEL;
    shifted_scale = tfw_reciprocal(sum_of_exps << headroom_plus_one);
    /* exponent >= 3 (headroom_plus_one <= 32). Both factors are positive: the probability is
     * floor((s e + 2^30) / 2^31), and its division by 2^exponent to nearest, ties up, makes with it one
     * floor((s e + 2^30 + 2^(30 + exponent)) / 2^(31 + exponent)): the high word of s e + start, shifted
     * by exponent - 1. */
    start_hi = (uint32_t)1 << (exponent - 2);
    for (c = 0; c < depth; ++c) {
      const uint64_t start = ((uint64_t)start_hi << 32) | ((uint32_t)1 << 30);
      const uint64_t acc = start + (uint64_t)((int64_t)shifted_scale * (int64_t)table[max_in_row - in[c]]);
      out[c] = (int8_t)tfw_ssat8((int32_t)((uint32_t)(acc >> 32) >> (exponent - 1)) - 128);
    }
  }
  return TFW_OK;
}
