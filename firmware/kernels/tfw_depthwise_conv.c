/* DEPTHWISE_CONV_2D (see tfw_depthwise_conv.h): the taps TFLM's reference kernel visits,
 * int32 sums wrapping modulo 2^32 for s8, int64 sums for s16. */
#include "tfw_depthwise_conv.h"

#include <stddef.h>

#include "tfw_dsp.h"
#include "tfw_fixedpoint.h"
#include "tfw_fixedpoint64.h"
#include "tfw_window.h"

static TfwStatus tfw_dw_check(const TfwDepthwiseConvParams *p, const void *input,
                              const void *output, int32_t qmin, int32_t qmax, int32_t max_shift) {
  int32_t o, depth;
  if (p == NULL || input == NULL || output == NULL || p->weights == NULL) return TFW_ERR_BAD_ARG;
  if (p->output_multiplier == NULL || p->output_shift == NULL) return TFW_ERR_BAD_ARG;
  if (p->batches <= 0 || p->input_height <= 0 || p->input_width <= 0 || p->input_depth <= 0 ||
      p->filter_height <= 0 || p->filter_width <= 0 || p->depth_multiplier <= 0 ||
      p->output_height <= 0 || p->output_width <= 0) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->stride_height <= 0 || p->stride_width <= 0 || p->dilation_height <= 0 ||
      p->dilation_width <= 0 || p->pad_top < 0 || p->pad_left < 0) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->act_min < qmin || p->act_max > qmax || p->act_min > p->act_max) return TFW_ERR_BAD_ARG;
  depth = p->input_depth * p->depth_multiplier;
  for (o = 0; o < depth; ++o) {
    if (p->output_multiplier[o] < 0 || p->output_shift[o] < -31 || p->output_shift[o] > max_shift) {
      return TFW_ERR_BAD_ARG;
    }
  }
  return TFW_OK;
}

TfwStatus tfw_depthwise_conv_s8(const TfwDepthwiseConvParams *p, const int8_t *input,
                                int8_t *output) {
  int32_t b, oy, ox, ic, m;
  const TfwStatus st = tfw_dw_check(p, input, output, -128, 127, 30);
  if (st != TFW_OK) return st;
  if (p->input_offset < -127 || p->input_offset > 128) return TFW_ERR_BAD_ARG;
  if (p->output_offset < -128 || p->output_offset > 127 || p->bias64 != NULL) return TFW_ERR_BAD_ARG;
#if TFW_FAST_KERNELS
  if (p->fused_bias != NULL) return tfw_depthwise_conv_s8_fast(p, input, output);
#endif
  {
    const size_t out_depth = (size_t)p->input_depth * (size_t)p->depth_multiplier;
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
          for (ic = 0; ic < p->input_depth; ++ic) {
            for (m = 0; m < p->depth_multiplier; ++m) {
              const size_t oc = (size_t)ic * (size_t)p->depth_multiplier + (size_t)m;
              uint32_t acc = 0;
              int32_t fy, fx, v;
              for (fy = fy0; fy < fy1; ++fy) {
                const int32_t in_y = in_y0 + p->dilation_height * fy;
                for (fx = fx0; fx < fx1; ++fx) {
                  const int32_t in_x = in_x0 + p->dilation_width * fx;
                  const int32_t x = in_batch[((size_t)in_y * (size_t)p->input_width + (size_t)in_x) *
                                                 (size_t)p->input_depth + (size_t)ic];
                  const int32_t w = p->weights[((size_t)fy * (size_t)p->filter_width + (size_t)fx) *
                                                   out_depth + oc];
                  acc += (uint32_t)(w * (x + p->input_offset));
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
  }
  return TFW_OK;
}

TfwStatus tfw_depthwise_conv_s16(const TfwDepthwiseConvParams *p, const int16_t *input,
                                 int16_t *output) {
  int32_t b, oy, ox, ic, m;
  /* The int64 MultiplyByQuantizedMultiplier takes shifts up to 7 only. */
  const TfwStatus st = tfw_dw_check(p, input, output, -32768, 32767, 7);
  if (st != TFW_OK) return st;
  if (p->input_offset != 0 || p->output_offset != 0 || p->bias != NULL) return TFW_ERR_BAD_ARG;
  {
    const size_t out_depth = (size_t)p->input_depth * (size_t)p->depth_multiplier;
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
          for (ic = 0; ic < p->input_depth; ++ic) {
            for (m = 0; m < p->depth_multiplier; ++m) {
              const size_t oc = (size_t)ic * (size_t)p->depth_multiplier + (size_t)m;
              int64_t acc = 0;
              int32_t fy, fx, v;
              for (fy = fy0; fy < fy1; ++fy) {
                const int32_t in_y = in_y0 + p->dilation_height * fy;
                for (fx = fx0; fx < fx1; ++fx) {
                  const int32_t in_x = in_x0 + p->dilation_width * fx;
                  const int32_t x = in_batch[((size_t)in_y * (size_t)p->input_width + (size_t)in_x) *
                                                 (size_t)p->input_depth + (size_t)ic];
                  const int32_t w = p->weights[((size_t)fy * (size_t)p->filter_width + (size_t)fx) *
                                                   out_depth + oc];
                  acc = tfw_add_wrap64(acc, (int64_t)(w * x));
                }
              }
              if (p->bias64 != NULL) acc = tfw_add_wrap64(acc, p->bias64[oc]);
              v = tfw_multiply_by_quantized_multiplier64(acc, p->output_multiplier[oc],
                                                         p->output_shift[oc]);
              if (v < p->act_min) v = p->act_min;
              if (v > p->act_max) v = p->act_max;
              *out++ = (int16_t)v;
            }
          }
        }
      }
    }
  }
  return TFW_OK;
}
