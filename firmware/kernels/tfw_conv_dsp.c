/* CONV_2D int8, the fast kernel for cores with the DSP extension (see tfw_dsp.h). For an output pixel
 * whose whole window lies inside the input, the window's values are gathered into one contiguous patch
 * (the layout of a filter: [filter_height][filter_width][input_depth]) and the output channels are dot
 * products of their filters with it, four at a time (tfw_dot_dsp.h), starting from fused_bias[oc] =
 * bias[oc] + input_offset * (sum of the filter): exact, every tap being visited. Pixels at a padded
 * border, whose windows are cut, take the portable kernel's sum over the taps they visit. Bit-exact with
 * tfw_conv_s8, which calls it on a DSP core once its checks pass (one group, patch within
 * TFW_CONV_PATCH_MAX bytes, fused_bias given). */
#include <stddef.h>

#include "tfw_conv.h"
#include "tfw_dot_dsp.h"
#include "tfw_window.h"

static int8_t tfw_conv_border(const TfwConvParams *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                              int32_t fy0, int32_t fy1, int32_t fx0, int32_t fx1, int32_t oc) {
  const int32_t depth = p->input_depth;
  const int8_t *w_oc = p->weights + (size_t)oc * (size_t)p->filter_height * (size_t)p->filter_width * (size_t)depth;
  uint32_t acc = p->bias != NULL ? (uint32_t)p->bias[oc] : 0u;
  int32_t fy, fx, c;
  for (fy = fy0; fy < fy1; ++fy) {
    const int32_t in_y = in_y0 + p->dilation_height * fy;
    for (fx = fx0; fx < fx1; ++fx) {
      const int32_t in_x = in_x0 + p->dilation_width * fx;
      const int8_t *x = in_batch + ((size_t)in_y * (size_t)p->input_width + (size_t)in_x) * (size_t)depth;
      const int8_t *w = w_oc + ((size_t)fy * (size_t)p->filter_width + (size_t)fx) * (size_t)depth;
      for (c = 0; c < depth; ++c) acc += (uint32_t)((int32_t)w[c] * ((int32_t)x[c] + p->input_offset));
    }
  }
  return tfw_requantize_s8((int32_t)acc, p->output_multiplier[oc], p->output_shift[oc], p->output_offset,
                           p->act_min, p->act_max);
}

TfwStatus tfw_conv_s8_fast(const TfwConvParams *p, const int8_t *input, int8_t *output) {
  const int32_t depth = p->input_depth, fh = p->filter_height, fw = p->filter_width;
  const int32_t k = fh * fw * depth; /* values per filter and per patch */
  const int32_t row_bytes = fw * depth;
  const int32_t out_depth = p->output_depth;
  int32_t patch_words[(TFW_CONV_PATCH_MAX + 3) / 4]; /* int32: aligned */
  int8_t *const patch = (int8_t *)patch_words;
  int8_t *out = output;
  int32_t b, oy, ox;
  if (p->fused_bias == NULL || p->filter_depth != depth || k > TFW_CONV_PATCH_MAX) return TFW_ERR_BAD_ARG;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_batch = input + (size_t)b * (size_t)p->input_height * (size_t)p->input_width * (size_t)depth;
    for (oy = 0; oy < p->output_height; ++oy) {
      const int32_t in_y0 = oy * p->stride_height - p->pad_top;
      int32_t fy0, fy1;
      tfw_window_taps(in_y0, p->dilation_height, p->input_height, fh, &fy0, &fy1);
      for (ox = 0; ox < p->output_width; ++ox) {
        const int32_t in_x0 = ox * p->stride_width - p->pad_left;
        int32_t fx0, fx1, oc;
        tfw_window_taps(in_x0, p->dilation_width, p->input_width, fw, &fx0, &fx1);
        if (fy0 != 0 || fy1 != fh || fx0 != 0 || fx1 != fw) {
          for (oc = 0; oc < out_depth; ++oc) {
            *out++ = tfw_conv_border(p, in_batch, in_y0, in_x0, fy0, fy1, fx0, fx1, oc);
          }
          continue;
        }
        {
          int8_t *dst = patch;
          int32_t fy, fx;
          for (fy = 0; fy < fh; ++fy) {
            const int8_t *row = in_batch + ((size_t)(in_y0 + p->dilation_height * fy) * (size_t)p->input_width +
                                            (size_t)in_x0) * (size_t)depth;
            if (p->dilation_width == 1) {
              dst = tfw_copy_small(dst, row, row_bytes);
            } else {
              for (fx = 0; fx < fw; ++fx) {
                dst = tfw_copy_small(dst, row + (size_t)(p->dilation_width * fx) * (size_t)depth, depth);
              }
            }
          }
        }
        {
          const int8_t *w = p->weights;
          for (oc = 0; oc + 4 <= out_depth; oc += 4) {
            int32_t acc[4], j;
            for (j = 0; j < 4; ++j) acc[j] = p->fused_bias[oc + j];
            tfw_dot4_s8(w, k, patch, k, acc);
            for (j = 0; j < 4; ++j) {
              *out++ = tfw_requantize_s8(acc[j], p->output_multiplier[oc + j], p->output_shift[oc + j],
                                         p->output_offset, p->act_min, p->act_max);
            }
            w += 4 * k;
          }
          for (; oc < out_depth; ++oc) {
            *out++ = tfw_requantize_s8(tfw_dot1_s8(w, patch, k, p->fused_bias[oc]), p->output_multiplier[oc],
                                       p->output_shift[oc], p->output_offset, p->act_min, p->act_max);
            w += k;
          }
        }
      }
    }
  }
  return TFW_OK;
}
