/* int8 SOFTMAX (see tfw_softmax.h). Mirrors TFLM's reference_ops::Softmax for
 * int8 in/out: differences to the row max are scaled into Q5.26, exponentiated
 * in fixed point (Q0.31), summed in Q12.19, and each exp is multiplied by the
 * reciprocal of the sum and rescaled to 8 bits. */
#include "tfw_softmax.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"

/* exp(beta * input_scale * diff) in Q0.31 for diff = x - row_max <= 0 with
 * diff >= diff_min (which keeps diff << left_shift from overflowing). */
static int32_t tfw_softmax_exp(const TfwSoftmaxParams *p, int32_t diff) {
  const int32_t scaled = tfw_sat_rounding_doubling_high_mul(tfw_shl32(diff, p->input_left_shift),
                                                            p->input_multiplier);
  return tfw_exp_on_negative_values_q5(scaled);
}

TfwStatus tfw_softmax_s8(const TfwSoftmaxParams *p, const int8_t *input, int8_t *output) {
  int32_t i, c;
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->outer_size <= 0 || p->depth <= 0) return TFW_ERR_BAD_ARG;
  if (p->input_left_shift < 0 || p->input_left_shift > 31 || p->input_multiplier < 0 ||
      p->diff_min > 0) {
    return TFW_ERR_BAD_ARG;
  }

  for (i = 0; i < p->outer_size; ++i) {
    const int8_t *in = input + (size_t)i * (size_t)p->depth;
    int8_t *out = output + (size_t)i * (size_t)p->depth;
    int32_t max_in_row = -128;
    uint32_t sum_of_exps = 0; /* Q12.19; wraps like TFLM's int32 sum would */
    int32_t headroom_plus_one, num_bits_over_unit, shifted_scale, exponent;

    for (c = 0; c < p->depth; ++c) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        /* Q0.31 -> Q12.19 */
        sum_of_exps += (uint32_t)tfw_rounding_divide_by_pot(tfw_softmax_exp(p, diff), 12);
      }
    }

    /* Reciprocal of the sum: normalise it to 1 + x with x in [0, 1), invert,
     * and remember how many bits above 1.0 the sum had (GetReciprocal). */
    headroom_plus_one = tfw_clz32(sum_of_exps);
    num_bits_over_unit = 12 - headroom_plus_one;
    /* Q0.31 probability -> 8 output bits: divide by 2^(31 - 8) more, plus the
     * bits the sum had over one. TFLM checks the same 0..31 range. A zero sum
     * (only reachable by wrap-around) would make the shift below undefined. */
    exponent = num_bits_over_unit + 31 - 8;
    if (sum_of_exps == 0 || exponent < 0 || exponent > 31) return TFW_ERR_MODEL;
    shifted_scale = tfw_one_over_one_plus_x_for_x_in_0_1(
        (int32_t)((sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));

    for (c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      int32_t q = -128;
      if (diff >= p->diff_min) {
        const int32_t prob = tfw_sat_rounding_doubling_high_mul(shifted_scale, tfw_softmax_exp(p, diff));
        q = tfw_rounding_divide_by_pot(prob, exponent) - 128;
        if (q > 127) q = 127;
        if (q < -128) q = -128;
      }
      out[c] = (int8_t)q;
    }
  }
  return TFW_OK;
}
