/* MEAN (see tfw_mean.h). */
#include "tfw_mean.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"

TfwStatus tfw_mean_s8(const TfwMeanParams *p, const int8_t *input, int8_t *output) {
  int32_t o, i, r;
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->outer <= 0 || p->reduced <= 0 || p->inner <= 0) return TFW_ERR_BAD_ARG;
  if (p->input_zero_point < -128 || p->input_zero_point > 127) return TFW_ERR_BAD_ARG;
  if (p->output_zero_point < -128 || p->output_zero_point > 127) return TFW_ERR_BAD_ARG;
  if (p->multiplier < 0 || p->shift < -31 || p->shift > 30) return TFW_ERR_BAD_ARG;
  /* TFLM: int32 sums; the zero point correction is computed in int64 and narrowed to int32. */
  {
    const uint32_t correction = (uint32_t)((int64_t)p->input_zero_point * (int64_t)p->reduced);
    for (o = 0; o < p->outer; ++o) {
      const int8_t *in_outer = input + (size_t)o * (size_t)p->reduced * (size_t)p->inner;
      for (i = 0; i < p->inner; ++i) {
        uint32_t sum = 0;
        int32_t v;
        for (r = 0; r < p->reduced; ++r) sum += (uint32_t)(int32_t)in_outer[(size_t)r * (size_t)p->inner + (size_t)i];
        v = tfw_multiply_by_quantized_multiplier((int32_t)(sum - correction), p->multiplier, p->shift);
        v = tfw_add_wrap32(v, p->output_zero_point);
        if (v < -128) v = -128;
        if (v > 127) v = 127;
        output[(size_t)o * (size_t)p->inner + (size_t)i] = (int8_t)v;
      }
    }
  }
  return TFW_OK;
}
