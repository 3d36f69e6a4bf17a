/* MEAN (see tfw_mean.h). */
#include "tfw_mean.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"

static TfwStatus tfw_mean_check(const TfwMeanParams *p, const void *input, const void *output,
                                int32_t lo, int32_t hi) {
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->outer <= 0 || p->reduced <= 0 || p->inner <= 0) return TFW_ERR_BAD_ARG;
  if (p->input_zero_point < lo || p->input_zero_point > hi) return TFW_ERR_BAD_ARG;
  if (p->output_zero_point < lo || p->output_zero_point > hi) return TFW_ERR_BAD_ARG;
  if (p->multiplier < 0 || p->shift < -31 || p->shift > 30) return TFW_ERR_BAD_ARG;
  return TFW_OK;
}

/* Every output of [outer][inner] from input elements of elem bytes (1: int8, 2: int16), clamped
 * to [lo, hi]. TFLM: int32 sums; the zero point correction is computed in int64 and narrowed to
 * int32. */
static void tfw_mean_run(const TfwMeanParams *p, const void *input, void *output, size_t elem,
                         int32_t lo, int32_t hi) {
  const uint32_t correction = (uint32_t)((int64_t)p->input_zero_point * (int64_t)p->reduced);
  const size_t stride = (size_t)p->inner;
  int32_t o, i, r;
  for (o = 0; o < p->outer; ++o) {
    const size_t base = (size_t)o * (size_t)p->reduced * stride;
    for (i = 0; i < p->inner; ++i) {
      const size_t at = (size_t)o * stride + (size_t)i;
      uint32_t sum = 0;
      int32_t v;
      if (elem == 2) {
        const int16_t *in = (const int16_t *)input + base + (size_t)i;
        for (r = 0; r < p->reduced; ++r) sum += (uint32_t)(int32_t)in[(size_t)r * stride];
      } else {
        const int8_t *in = (const int8_t *)input + base + (size_t)i;
        for (r = 0; r < p->reduced; ++r) sum += (uint32_t)(int32_t)in[(size_t)r * stride];
      }
      v = tfw_multiply_by_quantized_multiplier((int32_t)(sum - correction), p->multiplier, p->shift);
      v = tfw_add_wrap32(v, p->output_zero_point);
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      if (elem == 2) {
        ((int16_t *)output)[at] = (int16_t)v;
      } else {
        ((int8_t *)output)[at] = (int8_t)v;
      }
    }
  }
}

TfwStatus tfw_mean_s8(const TfwMeanParams *p, const int8_t *input, int8_t *output) {
  const TfwStatus st = tfw_mean_check(p, input, output, -128, 127);
  if (st == TFW_OK) tfw_mean_run(p, input, output, 1, -128, 127);
  return st;
}

TfwStatus tfw_mean_s16(const TfwMeanParams *p, const int16_t *input, int16_t *output) {
  const TfwStatus st = tfw_mean_check(p, input, output, -32768, 32767);
  if (st == TFW_OK) tfw_mean_run(p, input, output, 2, -32768, 32767);
  return st;
}
