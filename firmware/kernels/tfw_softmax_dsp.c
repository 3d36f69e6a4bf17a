/* SOFTMAX int8, the fast kernel (selected with the other fast kernels, tfw_dsp.h): the exponential of
 * every int8 difference to the row max the row can have comes from a table the generator computed
 * (exp_table[k] = exp of the difference -k, bit for bit what tfw_softmax_s8 computes), so each value
 * costs a load instead of two fixed-point exponentials. Bit-exact with tfw_softmax_s8, which calls it
 * once its checks pass and exp_table is given. */
#include <stddef.h>

#include "tfw_fixedpoint.h"
#include "tfw_softmax.h"

TfwStatus tfw_softmax_s8_fast(const TfwSoftmaxParams *p, const int8_t *input, int8_t *output) {
  const int32_t kmax = p->diff_min < -255 ? 255 : -p->diff_min; /* differences -kmax .. 0 count */
  const int32_t *table = p->exp_table;
  int32_t i, c;
  if (table == NULL) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->outer_size; ++i) {
    const int8_t *in = input + (size_t)i * (size_t)p->depth;
    int8_t *out = output + (size_t)i * (size_t)p->depth;
    int32_t max_in_row = -128;
    uint32_t sum_of_exps = 0;
    int32_t headroom_plus_one, exponent, shifted_scale;
    for (c = 0; c < p->depth; ++c) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    for (c = 0; c < p->depth; ++c) {
      const int32_t k = max_in_row - in[c];
      if (k <= kmax) sum_of_exps += (uint32_t)tfw_rounding_divide_by_pot(table[k], 12);
    }
    headroom_plus_one = tfw_clz32(sum_of_exps);
    exponent = 12 - headroom_plus_one + 31 - 8;
    if (sum_of_exps == 0 || exponent < 0 || exponent > 31) return TFW_ERR_MODEL;
    shifted_scale = tfw_one_over_one_plus_x_for_x_in_0_1(
        (int32_t)((sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));
    for (c = 0; c < p->depth; ++c) {
      const int32_t k = max_in_row - in[c];
      int32_t q = -128;
      if (k <= kmax) {
        /* Both factors are positive: the doubling high multiply is floor((ab + 2^30) / 2^31). */
        const int32_t prob = (int32_t)(((int64_t)shifted_scale * (int64_t)table[k] + ((int64_t)1 << 30)) >> 31);
        q = tfw_rounding_divide_by_pot(prob, exponent) - 128;
        if (q > 127) q = 127;
      }
      out[c] = (int8_t)q;
    }
  }
  return TFW_OK;
}
