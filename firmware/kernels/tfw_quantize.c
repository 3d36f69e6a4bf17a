/* QUANTIZE / DEQUANTIZE (see tfw_quantize.h). Mirrors TFLM's reference_ops::AffineQuantize,
 * Requantize and Dequantize. */
#include "tfw_quantize.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"

/* round_half_away(x / scale) as an int32; INT32_MIN for NaN or out of range (x86 cvttss2si). */
static int32_t tfw_quantize_one(float x, float scale) {
  const float q = x / scale;
  int32_t t;
  float frac;
  if (!(q < 2147483648.0f && q > -2147483648.0f)) return INT32_MIN;
  t = (int32_t)q; /* toward zero, exact */
  frac = q - (float)t; /* exact: q and t share q's binade (or q is already an integer) */
  if (frac >= 0.5f) ++t;
  if (frac <= -0.5f) --t;
  return t;
}

static int32_t tfw_q_clamp(int32_t v, int32_t lo, int32_t hi) {
  if (v < lo) return lo;
  if (v > hi) return hi;
  return v;
}

static int tfw_quantize_ok(const TfwQuantizeParams *p, const void *input, const void *output,
                           int32_t qmin, int32_t qmax) {
  return p != NULL && input != NULL && output != NULL && p->size >= 0 && p->scale > 0.0f &&
         p->zero_point >= qmin && p->zero_point <= qmax;
}

TfwStatus tfw_quantize_f32_s8(const TfwQuantizeParams *p, const float *input, int8_t *output) {
  int32_t i;
  if (!tfw_quantize_ok(p, input, output, INT8_MIN, INT8_MAX)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    const int32_t q = tfw_add_wrap32(tfw_quantize_one(input[i], p->scale), p->zero_point);
    output[i] = (int8_t)tfw_q_clamp(q, INT8_MIN, INT8_MAX);
  }
  return TFW_OK;
}

TfwStatus tfw_quantize_f32_s16(const TfwQuantizeParams *p, const float *input, int16_t *output) {
  int32_t i;
  if (!tfw_quantize_ok(p, input, output, INT16_MIN, INT16_MAX)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) {
    const int32_t q = tfw_add_wrap32(tfw_quantize_one(input[i], p->scale), p->zero_point);
    output[i] = (int16_t)tfw_q_clamp(q, INT16_MIN, INT16_MAX);
  }
  return TFW_OK;
}

static int tfw_requantize_ok(const TfwRequantizeParams *p, const void *input, const void *output) {
  return p != NULL && input != NULL && output != NULL && p->size >= 0 && p->multiplier >= 0 &&
         p->shift >= -31 && p->shift <= 30 && p->input_zero_point >= INT16_MIN &&
         p->input_zero_point <= INT16_MAX && p->output_zero_point >= INT16_MIN &&
         p->output_zero_point <= INT16_MAX;
}

static int32_t tfw_requantize_one(const TfwRequantizeParams *p, int32_t x, int32_t qmin, int32_t qmax) {
  const int32_t v = tfw_multiply_by_quantized_multiplier(x - p->input_zero_point, p->multiplier, p->shift);
  return tfw_q_clamp(tfw_add_wrap32(v, p->output_zero_point), qmin, qmax);
}

TfwStatus tfw_requantize_s8_s8(const TfwRequantizeParams *p, const int8_t *input, int8_t *output) {
  int32_t i;
  if (!tfw_requantize_ok(p, input, output)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) output[i] = (int8_t)tfw_requantize_one(p, input[i], INT8_MIN, INT8_MAX);
  return TFW_OK;
}

TfwStatus tfw_requantize_s8_s16(const TfwRequantizeParams *p, const int8_t *input, int16_t *output) {
  int32_t i;
  if (!tfw_requantize_ok(p, input, output)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) output[i] = (int16_t)tfw_requantize_one(p, input[i], INT16_MIN, INT16_MAX);
  return TFW_OK;
}

TfwStatus tfw_requantize_s16_s8(const TfwRequantizeParams *p, const int16_t *input, int8_t *output) {
  int32_t i;
  if (!tfw_requantize_ok(p, input, output)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) output[i] = (int8_t)tfw_requantize_one(p, input[i], INT8_MIN, INT8_MAX);
  return TFW_OK;
}

TfwStatus tfw_requantize_s16_s16(const TfwRequantizeParams *p, const int16_t *input, int16_t *output) {
  int32_t i;
  if (!tfw_requantize_ok(p, input, output)) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) output[i] = (int16_t)tfw_requantize_one(p, input[i], INT16_MIN, INT16_MAX);
  return TFW_OK;
}

TfwStatus tfw_dequantize_s8_f32(const TfwDequantizeParams *p, const int8_t *input, float *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || p->size < 0) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
  return TFW_OK;
}

TfwStatus tfw_dequantize_s16_f32(const TfwDequantizeParams *p, const int16_t *input, float *output) {
  int32_t i;
  if (p == NULL || input == NULL || output == NULL || p->size < 0) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->size; ++i) output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
  return TFW_OK;
}
