/* CONV_2D (see tfw_conv.h). The loops visit the same taps as TFLM's reference kernel; the
 * int32 sums wrap modulo 2^32 (identical whenever TFLM's do not overflow, and free of
 * undefined behaviour when they would). */
#include "tfw_conv.h"

#include <stddef.h>

#include "tfw_dsp.h"
#include "tfw_fixedpoint.h"
#include "tfw_fixedpoint64.h"
#include "tfw_window.h"

static TfwStatus tfw_conv_check(const TfwConvParams *p, const void *input, const void *output,
                                int32_t qmin, int32_t qmax, int32_t max_shift) {
  int32_t o;
  if (p == NULL || input == NULL || output == NULL || p->weights == NULL) return TFW_ERR_BAD_ARG;
  if (p->output_multiplier == NULL || p->output_shift == NULL) return TFW_ERR_BAD_ARG;
  if (p->batches <= 0 || p->input_height <= 0 || p->input_width <= 0 || p->input_depth <= 0 ||
      p->filter_height <= 0 || p->filter_width <= 0 || p->filter_depth <= 0 ||
      p->output_height <= 0 || p->output_width <= 0 || p->output_depth <= 0) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->stride_height <= 0 || p->stride_width <= 0 || p->dilation_height <= 0 ||
      p->dilation_width <= 0 || p->pad_top < 0 || p->pad_left < 0) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->input_depth % p->filter_depth != 0) return TFW_ERR_BAD_ARG;
  if (p->output_depth % (p->input_depth / p->filter_depth) != 0) return TFW_ERR_BAD_ARG;
  if (p->act_min < qmin || p->act_max > qmax || p->act_min > p->act_max) return TFW_ERR_BAD_ARG;
  for (o = 0; o < p->output_depth; ++o) {
    if (p->output_multiplier[o] < 0 || p->output_shift[o] < -31 || p->output_shift[o] > max_shift) {
      return TFW_ERR_BAD_ARG;
    }
  }
  return TFW_OK;
}

TfwStatus tfw_conv_s8(const TfwConvParams *p, const int8_t *input, int8_t *output) {
  int32_t b, oy, ox, oc;
  TfwStatus st = tfw_conv_check(p, input, output, -128, 127, 30);
  if (st != TFW_OK) return st;
  if (p->input_offset < -127 || p->input_offset > 128) return TFW_ERR_BAD_ARG;
  if (p->output_offset < -128 || p->output_offset > 127 || p->bias64 != NULL) return TFW_ERR_BAD_ARG;
#if TFW_FAST_KERNELS
  if (p->blocks != NULL && p->filter_depth == p->input_depth &&
      TFW_CONV_PATCH_BYTES(p->filter_height, p->filter_width, p->filter_depth) <= TFW_CONV_PATCH_MAX) {
    return tfw_conv_s8_fast(p, input, output);
  }
#endif
  {
    const int32_t groups = p->input_depth / p->filter_depth;
    const int32_t filters_per_group = p->output_depth / groups;
    const size_t filter_size = (size_t)p->filter_height * (size_t)p->filter_width * (size_t)p->filter_depth;
    int8_t *out = output;
    for (b = 0; b < p->batches; ++b) {
      const int8_t *in_batch = input + (size_t)b * (size_t)p->input_height * (size_t)p->input_width *
                                           (size_t)p->input_depth;
      for (oy = 0; oy < p->output_height; ++oy) {
        const int32_t in_y0 = oy * p->stride_height - p->pad_top;
        int32_t fy0, fy1;
        tfw_window_taps(in_y0, p->dilation_height, p->input_height, p->filter_height, &fy0, &fy1);
        for (ox = 0; ox < p->output_width; ++ox) {
          const int32_t in_x0 = ox * p->stride_width - p->pad_left;
          int32_t fx0, fx1;
          tfw_window_taps(in_x0, p->dilation_width, p->input_width, p->filter_width, &fx0, &fx1);
          for (oc = 0; oc < p->output_depth; ++oc) {
            const int32_t channel0 = (oc / filters_per_group) * p->filter_depth;
            const int8_t *w_oc = p->weights + (size_t)oc * filter_size;
            uint32_t acc = 0;
            int32_t fy, fx, c, v;
            for (fy = fy0; fy < fy1; ++fy) {
              const int32_t in_y = in_y0 + p->dilation_height * fy;
              for (fx = fx0; fx < fx1; ++fx) {
                const int32_t in_x = in_x0 + p->dilation_width * fx;
                const int8_t *x = in_batch + ((size_t)in_y * (size_t)p->input_width + (size_t)in_x) *
                                                 (size_t)p->input_depth + (size_t)channel0;
                const int8_t *w = w_oc + ((size_t)fy * (size_t)p->filter_width + (size_t)fx) *
                                             (size_t)p->filter_depth;
                for (c = 0; c < p->filter_depth; ++c) {
                  acc += (uint32_t)((int32_t)w[c] * ((int32_t)x[c] + p->input_offset));
                }
              }
            }
            if (p->bias != NULL) acc += (uint32_t)p->bias[oc];
            v = tfw_multiply_by_quantized_multiplier((int32_t)acc, p->output_multiplier[oc],
                                                     p->output_shift[oc]);
            v = tfw_add_wrap32(v, p->output_offset);
            if (v < p->act_min) v = p->act_min;
            if (v > p->act_max) v = p->act_max;
            *out++ = (int8_t)v;
          }
        }
      }
    }
  }
  return TFW_OK;
}

TfwStatus tfw_conv_s16(const TfwConvParams *p, const int16_t *input, int16_t *output) {
  int32_t b, oy, ox, oc;
  TfwStatus st;
  if (p == NULL) return TFW_ERR_BAD_ARG;
  /* The int64 MultiplyByQuantizedMultiplier takes shifts up to 7 only. */
  st = tfw_conv_check(p, input, output, -32768, 32767, p->wide_accum ? 7 : 30);
  if (st != TFW_OK) return st;
  /* TFLM's 16x8 kernel has no zero points (the converter makes them 0). */
  if (p->input_offset != 0 || p->output_offset != 0) return TFW_ERR_BAD_ARG;
  if (p->wide_accum != 0 && p->wide_accum != 1) return TFW_ERR_BAD_ARG;
  if (p->wide_accum ? p->bias != NULL : p->bias64 != NULL) return TFW_ERR_BAD_ARG;
  {
    const int32_t groups = p->input_depth / p->filter_depth;
    const int32_t filters_per_group = p->output_depth / groups;
    const size_t filter_size = (size_t)p->filter_height * (size_t)p->filter_width * (size_t)p->filter_depth;
    int16_t *out = output;
    for (b = 0; b < p->batches; ++b) {
      const int16_t *in_batch = input + (size_t)b * (size_t)p->input_height *
                                            (size_t)p->input_width * (size_t)p->input_depth;
      for (oy = 0; oy < p->output_height; ++oy) {
        const int32_t in_y0 = oy * p->stride_height - p->pad_top;
        int32_t fy0, fy1;
        tfw_window_taps(in_y0, p->dilation_height, p->input_height, p->filter_height, &fy0, &fy1);
        for (ox = 0; ox < p->output_width; ++ox) {
          const int32_t in_x0 = ox * p->stride_width - p->pad_left;
          int32_t fx0, fx1;
          tfw_window_taps(in_x0, p->dilation_width, p->input_width, p->filter_width, &fx0, &fx1);
          for (oc = 0; oc < p->output_depth; ++oc) {
            const int32_t channel0 = (oc / filters_per_group) * p->filter_depth;
            const int8_t *w_oc = p->weights + (size_t)oc * filter_size;
            uint64_t acc = 0; /* int64 or, without wide_accum, its low 32 bits */
            int32_t fy, fx, c, v;
            for (fy = fy0; fy < fy1; ++fy) {
              const int32_t in_y = in_y0 + p->dilation_height * fy;
              for (fx = fx0; fx < fx1; ++fx) {
                const int32_t in_x = in_x0 + p->dilation_width * fx;
                const int16_t *x = in_batch + ((size_t)in_y * (size_t)p->input_width + (size_t)in_x) *
                                                  (size_t)p->input_depth + (size_t)channel0;
                const int8_t *w = w_oc + ((size_t)fy * (size_t)p->filter_width + (size_t)fx) *
                                             (size_t)p->filter_depth;
                for (c = 0; c < p->filter_depth; ++c) {
                  acc += (uint64_t)(int64_t)((int32_t)w[c] * (int32_t)x[c]);
                }
              }
            }
            if (p->wide_accum) {
              if (p->bias64 != NULL) acc += (uint64_t)p->bias64[oc];
              v = tfw_multiply_by_quantized_multiplier64((int64_t)acc, p->output_multiplier[oc],
                                                         p->output_shift[oc]);
            } else {
              uint32_t acc32 = (uint32_t)acc;
              if (p->bias != NULL) acc32 += (uint32_t)p->bias[oc];
              v = tfw_multiply_by_quantized_multiplier((int32_t)acc32, p->output_multiplier[oc],
                                                       p->output_shift[oc]);
            }
            if (v < p->act_min) v = p->act_min;
            if (v > p->act_max) v = p->act_max;
            *out++ = (int16_t)v;
          }
        }
      }
    }
  }
  return TFW_OK;
}
