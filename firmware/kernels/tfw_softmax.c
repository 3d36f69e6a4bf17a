/* SOFTMAX (see tfw_softmax.h). int8 mirrors TFLM's reference_ops::Softmax for
 * int8 in/out: differences to the row max are scaled into Q5.26, exponentiated
 * in fixed point (Q0.31), summed in Q12.19, and each exp is multiplied by the
 * reciprocal of the sum and rescaled to 8 bits. int16 mirrors SoftmaxInt16:
 * exp and the reciprocal of the sum come from two interpolated 513-entry tables
 * computed on the host, exps are Q0.15 and their sum Q16.15. */
#include "tfw_softmax.h"

#include <stddef.h>

#include "tfw_dsp.h"
#include "tfw_fixedpoint.h"
#include "tfw_fixedpoint64.h"
#include "tfw_flash.h"

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

/* ---- int16 ------------------------------------------------------------------------------------ */

/* v as an int16_t would hold it (two's-complement wrap), like TFLM's narrowing assignments. */
static int32_t tfw_wrap16(int32_t v) { return (int32_t)(((uint32_t)v + 32768u) & 0xFFFFu) - 32768; }

/* One of the 513-entry tables at an int16 point: the top 9 bits pick a segment, the low 7 bits
 * interpolate linearly to the next entry, rounded half up. */
static int32_t tfw_softmax_lut16(const int16_t *lut, int32_t value) {
  const int32_t index = 256 + tfw_asr32(value, 7);
  const int32_t offset = value & 0x7F;
  const int32_t base = TFW_FLASH_I16(&lut[index]);
  const int32_t slope = tfw_wrap16((int32_t)TFW_FLASH_I16(&lut[index + 1]) - base);
  return tfw_wrap16(base + tfw_asr32(slope * offset + 64, 7));
}

/* exp(diff) with diff = x - row_max <= 0: the difference rescaled so that [-65535, 0] spans the
 * table's [-10, 0], moved to [-32768, 32767] and saturated there. */
static int32_t tfw_softmax_exp16(const TfwSoftmaxS16Params *p, int32_t diff) {
  int32_t v = tfw_multiply_by_quantized_multiplier(diff, p->input_multiplier, p->input_shift) + 32767;
  if (v < -32768) v = -32768;
  if (v > 32767) v = 32767;
  return tfw_softmax_lut16(p->exp_lut, v);
}

TfwStatus tfw_softmax_s16(const TfwSoftmaxS16Params *p, const int16_t *input, int16_t *output) {
  int32_t i, c;
  if (p == NULL || input == NULL || output == NULL || p->exp_lut == NULL || p->recip_lut == NULL) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->outer_size <= 0 || p->depth <= 0 || p->depth > 65536 || p->input_multiplier < 0 ||
      p->input_shift < -31 || p->input_shift > 30) {
    return TFW_ERR_BAD_ARG;
  }
  for (i = 0; i < p->outer_size; ++i) {
    const int16_t *in = input + (size_t)i * (size_t)p->depth;
    int16_t *out = output + (size_t)i * (size_t)p->depth;
    int32_t max_in_row = -32768;
    uint32_t sum_of_exps = 0; /* Q16.15 */
    int32_t headroom_plus_one, shifted_sum, reciprocal, right_shift;
    int64_t round;

    for (c = 0; c < p->depth; ++c) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    /* The exps wait in the output row (Q0.15) until the reciprocal of their sum is known. */
    for (c = 0; c < p->depth; ++c) {
      const int32_t e = tfw_softmax_exp16(p, (int32_t)in[c] - max_in_row);
      out[c] = (int16_t)e;
      sum_of_exps += (uint32_t)e;
    }
    /* 1 / sum: normalise the sum to [1, 2) with 14 fraction bits, recentre 1 + x (x in [0, 1))
     * on [-32768, 32767] for the table. A sum TFLM would shift by a negative amount is refused. */
    headroom_plus_one = tfw_clz32(sum_of_exps);
    if (headroom_plus_one < 1 || headroom_plus_one > 30) return TFW_ERR_MODEL;
    shifted_sum = (int32_t)tfw_asr64(
        ((int64_t)sum_of_exps << (headroom_plus_one - 1)) + ((int64_t)1 << 13), 14);
    shifted_sum -= ((int32_t)1 << 15) + ((int32_t)1 << 16);
    if (shifted_sum < -32768) shifted_sum = -32768;
    if (shifted_sum > 32767) shifted_sum = 32767;
    reciprocal = tfw_softmax_lut16(p->recip_lut, shifted_sum);

    right_shift = 31 - headroom_plus_one;
    round = (int64_t)1 << (right_shift - 1);
    for (c = 0; c < p->depth; ++c) {
      int32_t q = (int32_t)tfw_asr64((int64_t)out[c] * reciprocal + round, right_shift);
      if (q < 0) q = 0;
      if (q > 32767) q = 32767;
      out[c] = (int16_t)q;
    }
  }
  return TFW_OK;
}
