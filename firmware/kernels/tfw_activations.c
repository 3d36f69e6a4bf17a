/* Quantized activations (see tfw_activations.h). Mirrors TFLM's ReluQuantized, Relu6Quantized,
 * reference_ops::QuantizeLeakyRelu, reference_integer_ops::Logistic / Tanh and
 * reference_ops::HardSwish. */
#include "tfw_activations.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"

static int32_t tfw_act_clamp(int32_t v, int32_t lo, int32_t hi) {
  if (v < lo) return lo;
  if (v > hi) return hi;
  return v;
}

static int tfw_act_shift_ok(int32_t shift) { return shift >= -31 && shift <= 30; }

/* ---- RELU, RELU6, LEAKY_RELU ---------------------------------------------------------------- */

static int tfw_relu_ok(const TfwReluParams *p, int32_t qmin, int32_t qmax) {
  if (p->size < 0 || !tfw_act_shift_ok(p->output_shift) || p->output_multiplier < 0) return 0;
  if (p->input_offset < qmin || p->input_offset > qmax) return 0;
  if (p->output_offset < qmin || p->output_offset > qmax) return 0;
  return p->act_min >= qmin && p->act_max <= qmax && p->act_min <= p->act_max;
}

static int32_t tfw_relu_one(const TfwReluParams *p, int32_t x) {
  const int32_t v = tfw_add_wrap32(
      p->output_offset,
      tfw_multiply_by_quantized_multiplier(x - p->input_offset, p->output_multiplier, p->output_shift));
  return tfw_act_clamp(v, p->act_min, p->act_max);
}

TfwStatus tfw_relu_s8(const TfwReluParams *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_relu_ok(p, INT8_MIN, INT8_MAX)) {
    return TFW_ERR_BAD_ARG;
  }
  for (i = 0; i < p->size; ++i) output[i] = (int8_t)tfw_relu_one(p, input[i]);
  return TFW_OK;
}

TfwStatus tfw_relu_s16(const TfwReluParams *p, const int16_t *input, int16_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_relu_ok(p, INT16_MIN, INT16_MAX)) {
    return TFW_ERR_BAD_ARG;
  }
  for (i = 0; i < p->size; ++i) output[i] = (int16_t)tfw_relu_one(p, input[i]);
  return TFW_OK;
}

TfwStatus tfw_relu6_s8(const TfwRelu6Params *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || p->size < 0) return TFW_ERR_BAD_ARG;
  if (p->zero < INT8_MIN || p->six > INT8_MAX) return TFW_ERR_BAD_ARG;
  /* As TFLM: the upper bound is tested first, so zero > six gives six. */
  for (i = 0; i < p->size; ++i) {
    const int32_t v = input[i];
    output[i] = (int8_t)(v > p->six ? p->six : (v < p->zero ? p->zero : v));
  }
  return TFW_OK;
}

TfwStatus tfw_relu6_s16(const TfwRelu6Params *p, const int16_t *input, int16_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || p->size < 0) return TFW_ERR_BAD_ARG;
  if (p->zero < INT16_MIN || p->six > INT16_MAX) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    const int32_t v = input[i];
    output[i] = (int16_t)(v > p->six ? p->six : (v < p->zero ? p->zero : v));
  }
  return TFW_OK;
}

static int tfw_leaky_ok(const TfwLeakyReluParams *p, int32_t qmin, int32_t qmax) {
  if (p->size < 0 || !tfw_act_shift_ok(p->identity_shift) || !tfw_act_shift_ok(p->alpha_shift)) return 0;
  if (p->identity_multiplier < 0 || p->alpha_multiplier == INT32_MIN) return 0;
  return p->input_offset >= qmin && p->input_offset <= qmax && p->output_offset >= qmin &&
         p->output_offset <= qmax;
}

static int32_t tfw_leaky_one(const TfwLeakyReluParams *p, int32_t x, int32_t qmin, int32_t qmax) {
  const int32_t v = x - p->input_offset;
  int32_t out = p->output_offset;
  if (v >= 0) {
    out += tfw_multiply_by_quantized_multiplier(v, p->identity_multiplier, p->identity_shift);
  } else {
    const int negative = p->alpha_multiplier < 0;
    const int32_t scaled = tfw_multiply_by_quantized_multiplier(
        v, negative ? -p->alpha_multiplier : p->alpha_multiplier, p->alpha_shift);
    out = tfw_add_wrap32(out, negative ? -scaled : scaled);
  }
  return tfw_act_clamp(out, qmin, qmax);
}

TfwStatus tfw_leaky_relu_s8(const TfwLeakyReluParams *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_leaky_ok(p, INT8_MIN, INT8_MAX)) {
    return TFW_ERR_BAD_ARG;
  }
  for (i = 0; i < p->size; ++i) output[i] = (int8_t)tfw_leaky_one(p, input[i], INT8_MIN, INT8_MAX);
  return TFW_OK;
}

TfwStatus tfw_leaky_relu_s16(const TfwLeakyReluParams *p, const int16_t *input, int16_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_leaky_ok(p, INT16_MIN, INT16_MAX)) {
    return TFW_ERR_BAD_ARG;
  }
  for (i = 0; i < p->size; ++i) output[i] = (int16_t)tfw_leaky_one(p, input[i], INT16_MIN, INT16_MAX);
  return TFW_OK;
}

/* ---- int8 LOGISTIC and TANH: gemmlowp fixed point ----------------------------------------------- */

/* exp(a) for a <= 0 with 4 integer bits (Q4.27), result in Q0.31: the residue in [-1/4, 0) goes
 * through the series, then one constant round(exp(-2^j) * 2^31) per set bit of the rest
 * (j = -2 .. 3, bits 25 .. 30). */
static int32_t tfw_exp_on_negative_values_q4(int32_t a) {
  static const int32_t kBarrel[6] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401};
  const int32_t one_quarter = (int32_t)1 << 25;
  const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  int32_t result = tfw_exp_on_interval_neg_quarter_to_0(tfw_shl32(a_mod_quarter_minus_quarter, 4));
  const int32_t remainder = tfw_sub_wrap32(a_mod_quarter_minus_quarter, a);
  int32_t j;
  for (j = 0; j < 6; ++j) {
    if (remainder & ((int32_t)1 << (25 + j))) result = tfw_sat_rounding_doubling_high_mul(result, kBarrel[j]);
  }
  return (a == 0) ? INT32_MAX : result;
}

/* Newton-Raphson for 1 / d with d = (1 + a) / 2 in Q0.31, a in [0, 1): x in Q2.29 (gemmlowp's
 * 48/17 - 32/17 * d start, three steps). */
static int32_t tfw_newton_reciprocal_q2(int32_t a) {
  const int32_t c48_17 = 1515870810;     /* 48/17 in Q2.29 */
  const int32_t cneg32_17 = -1010580540; /* -32/17 in Q2.29 */
  const int32_t one_q2 = (int32_t)1 << 29;
  const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + ((sum >= 0) ? 1 : -1)) / 2);
  int32_t x = tfw_add_wrap32(c48_17, tfw_sat_rounding_doubling_high_mul(half_denominator, cneg32_17));
  int i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus_hdx =
        tfw_sub_wrap32(one_q2, tfw_sat_rounding_doubling_high_mul(half_denominator, x));
    x = tfw_add_wrap32(x, tfw_saturating_shl(tfw_sat_rounding_doubling_high_mul(x, one_minus_hdx), 2));
  }
  return x;
}

/* logistic(a) for a in Q4.27, result in Q0.31. */
static int32_t tfw_logistic_q4(int32_t a) {
  const int32_t abs_a = (a > 0) ? a : -a;
  /* 1 / (1 + exp(-|a|)): the reciprocal (Q2.29) halved is Q1.30, then saturating << 1 to Q0.31. */
  const int32_t positive =
      tfw_saturating_shl(tfw_newton_reciprocal_q2(tfw_exp_on_negative_values_q4(-abs_a)), 1);
  if (a == 0) return (int32_t)1 << 30;
  return (a > 0) ? positive : tfw_sub_wrap32(INT32_MAX, positive);
}

/* tanh(a) for a in Q4.27, result in Q0.31: (1 - exp(-2|a|)) / (1 + exp(-2|a|)). The raw -|a| read
 * with 5 integer bits is -2|a|. */
static int32_t tfw_tanh_q4(int32_t a) {
  const int32_t n = (a < 0) ? a : -a;
  const int32_t t = tfw_saturating_shl(
      tfw_sub_wrap32(tfw_newton_reciprocal_q2(tfw_exp_on_negative_values_q5(n)), (int32_t)1 << 29), 2);
  if (a == 0) return 0;
  return (a < 0) ? -t : t;
}

static int tfw_sigmoid_s8_ok(const TfwLogisticParams *p) {
  /* Past a shift of 30 the radius is 0: every input saturates and the multiplier is never used. */
  return p->size >= 0 && p->input_multiplier >= 0 && p->input_left_shift >= 0 &&
         (p->input_left_shift <= 30 || p->input_range_radius == 0) && p->input_range_radius >= 0 &&
         p->input_zero_point >= INT8_MIN && p->input_zero_point <= INT8_MAX;
}

TfwStatus tfw_logistic_s8(const TfwLogisticParams *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_sigmoid_s8_ok(p)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)input[i] - p->input_zero_point;
    int32_t q;
    if (x <= -p->input_range_radius) {
      q = INT8_MIN;
    } else if (x >= p->input_range_radius) {
      q = INT8_MAX;
    } else {
      const int32_t in_q4 = tfw_multiply_by_quantized_multiplier(x, p->input_multiplier, p->input_left_shift);
      q = tfw_act_clamp(tfw_rounding_divide_by_pot(tfw_logistic_q4(in_q4), 23) - 128, INT8_MIN, INT8_MAX);
    }
    output[i] = (int8_t)q;
  }
  return TFW_OK;
}

TfwStatus tfw_tanh_s8(const TfwTanhParams *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_sigmoid_s8_ok(p)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)input[i] - p->input_zero_point;
    int32_t q;
    if (x <= -p->input_range_radius) {
      q = INT8_MIN;
    } else if (x >= p->input_range_radius) {
      q = INT8_MAX;
    } else {
      const int32_t in_q4 = tfw_multiply_by_quantized_multiplier(x, p->input_multiplier, p->input_left_shift);
      q = tfw_act_clamp(tfw_rounding_divide_by_pot(tfw_tanh_q4(in_q4), 24), INT8_MIN, INT8_MAX);
    }
    output[i] = (int8_t)q;
  }
  return TFW_OK;
}

/* ---- int16 LOGISTIC and TANH: the interpolated table -------------------------------------------- */

/* sigmoid(i / 24) in unsigned Q0.16, i = 0 .. 255: the table TFLM interpolates, recovered entry by
 * entry from the tflite-micro interpreter's int16 LOGISTIC/TANH outputs (unique fit; the host tests
 * compare every int16 input at many scales). Entries sit up to ~1 above round(65536 * sigmoid) to
 * cut the interpolation error. */
static const uint16_t kTfwSigmoidTable[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,};

static int tfw_lut16_ok(const TfwLogisticS16Params *p) {
  return p->size >= 0 && p->input_multiplier >= 0 && p->input_multiplier <= 32767 &&
         p->input_left_shift >= 0 && p->input_left_shift <= 31;
}

/* x * multiplier / 2^shift rounded half up, as TFLM's (x * m + round) >> shift (no overflow: both
 * factors are at most 2^15 in magnitude). */
static int32_t tfw_lut16_rescale(const TfwLogisticS16Params *p, int32_t x) {
  const int32_t round = (p->input_left_shift > 0) ? ((int32_t)1 << (p->input_left_shift - 1)) : 0;
  return tfw_asr32(x * p->input_multiplier + round, p->input_left_shift);
}

TfwStatus tfw_logistic_s16(const TfwLogisticS16Params *p, const int16_t *input, int16_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_lut16_ok(p)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    const int32_t v = tfw_lut16_rescale(p, input[i]);
    const uint32_t abs_v = (uint32_t)((v < 0) ? -v : v);
    const uint32_t uh = abs_v >> 9; /* table step: 2^9 input units */
    uint32_t result;
    if (uh >= 255) {
      result = (uint32_t)0x7FFF << 10;
    } else {
      const uint32_t ua = kTfwSigmoidTable[uh], ub = kTfwSigmoidTable[uh + 1];
      result = (ua << 9) + (abs_v & 0x1FFu) * (ub - ua);
    }
    result = (v >= 0) ? (result + (1u << 9)) : (((uint32_t)1 << 25) - result + (1u << 9) - 1u);
    output[i] = (int16_t)(result >> 10);
  }
  return TFW_OK;
}

TfwStatus tfw_tanh_s16(const TfwTanhS16Params *p, const int16_t *input, int16_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || !tfw_lut16_ok(p)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    /* tanh(x) = 2 sigmoid(2x) - 1: the same table with a step of 2^8 input units. */
    const int32_t v = tfw_lut16_rescale(p, input[i]);
    const uint32_t abs_v = (uint32_t)((v < 0) ? -v : v);
    const uint32_t uh = abs_v >> 8;
    int32_t result;
    if (uh >= 255) {
      result = (int32_t)0xFFFF << 8;
    } else {
      const uint32_t ua = kTfwSigmoidTable[uh], ub = kTfwSigmoidTable[uh + 1];
      result = (int32_t)((ua << 8) + (abs_v & 0xFFu) * (ub - ua));
    }
    result = (v >= 0) ? (result - ((int32_t)1 << 23) + (1 << 7))
                      : (-result + ((int32_t)1 << 23) + (1 << 7) - 1);
    output[i] = (int16_t)tfw_asr32(result, 8);
  }
  return TFW_OK;
}

/* ---- int8 HARD_SWISH: 16-bit fixed point ---------------------------------------------------- */

/* Conversion to int16 with two's-complement wrap-around (what TFLM's int16_t arithmetic does). */
static int16_t tfw_wrap16(int32_t v) {
  const int32_t low = v & 0xFFFF;
  return (int16_t)((low >= 0x8000) ? low - 0x10000 : low);
}

/* gemmlowp SaturatingRoundingDoublingHighMul on int16: round(a * b / 2^15), ties away from zero. */
static int16_t tfw_srdhm16(int16_t a, int16_t b) {
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = (ab >= 0) ? (1 << 14) : (1 - (1 << 14));
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* The same without rounding: the product divided by 2^15, truncated toward zero. */
static int16_t tfw_sdhm16(int16_t a, int16_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* gemmlowp RoundingDivideByPOT on int16, 0 <= exponent <= 15. */
static int16_t tfw_rdbpot16(int16_t x, int32_t exponent) {
  const int32_t mask = (1 << exponent) - 1;
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
  return (int16_t)(tfw_asr32(x, exponent) + ((remainder > threshold) ? 1 : 0));
}

static int16_t tfw_saturating_shl16(int16_t x, int32_t amount) {
  const int64_t v = (int64_t)x * ((int64_t)1 << amount);
  return (int16_t)((v > INT16_MAX) ? INT16_MAX : ((v < INT16_MIN) ? INT16_MIN : v));
}

TfwStatus tfw_hard_swish_s8(const TfwHardSwishParams *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || p->size < 0) return TFW_ERR_BAD_ARG;
  if (p->output_exponent < -15 || p->output_exponent > 0 || p->reluish_exponent < -15 ||
      p->reluish_exponent > 30 || p->output_multiplier < 0 || p->output_multiplier > INT16_MAX ||
      p->reluish_multiplier < 0 || p->reluish_multiplier > INT16_MAX || p->input_zero_point < INT8_MIN ||
      p->input_zero_point > INT8_MAX || p->output_zero_point < INT8_MIN || p->output_zero_point > INT8_MAX) {
    return TFW_ERR_BAD_ARG;
  }
  for (i = 0; i < p->size; ++i) {
    /* |x - zp| <= 255, so the value fits 16 bits even after << 7. */
    const int16_t hires = (int16_t)(((int32_t)input[i] - p->input_zero_point) * 128);
    const int16_t preshift_out = tfw_srdhm16(hires, (int16_t)p->output_multiplier);
    int16_t reluish = hires;
    int16_t out;
    /* Rescale so that 3.0 is 32768 (saturating), in [-1, 1]; then map to [0, 1]. */
    if (p->reluish_exponent > 0) reluish = tfw_saturating_shl16(reluish, p->reluish_exponent - 1);
    reluish = tfw_srdhm16(reluish, (int16_t)p->reluish_multiplier);
    if (p->reluish_exponent > 0) reluish = tfw_saturating_shl16(reluish, 1);
    if (p->reluish_exponent < 0) reluish = tfw_rdbpot16(reluish, -p->reluish_exponent);
    reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);
    out = tfw_rdbpot16(tfw_sdhm16(reluish, preshift_out), -p->output_exponent);
    out = tfw_wrap16((int32_t)out + p->output_zero_point);
    output[i] = (int8_t)tfw_act_clamp(out, INT8_MIN, INT8_MAX);
  }
  return TFW_OK;
}
