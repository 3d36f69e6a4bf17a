/* DEPTHWISE_CONV_2D int8, the fast kernel for the cores that take the fast kernels (tfw_dsp.h). For an
 * output pixel whose whole window lies inside the input, each output channel is a plain sum over the
 * window's taps starting from fused_bias[oc] = bias[oc] + input_offset * (sum of filter oc): exact, every
 * tap being visited, and with the window's geometry and the offset out of the inner loop. Pixels at a
 * padded border, whose windows are cut, take the portable kernel's sum over the taps they visit.
 * Bit-exact with tfw_depthwise_conv_s8, which calls it once its checks pass and fused_bias is given. */
#include <stddef.h>

#include "tfw_depthwise_conv.h"
#include "tfw_dot_dsp.h"
#include "tfw_window.h"

TfwStatus tfw_depthwise_conv_s8_fast(const TfwDepthwiseConvParams *p, const int8_t *input, int8_t *output) {
  const int32_t in_depth = p->input_depth, dm = p->depth_multiplier;
  const int32_t out_depth = in_depth * dm;
  const int32_t fh = p->filter_height, fw = p->filter_width;
  const size_t x_step = (size_t)p->dilation_width * (size_t)in_depth;       /* next tap along x */
  const size_t y_step = (size_t)p->dilation_height * (size_t)p->input_width * (size_t)in_depth;
  int8_t *out = output;
  int32_t b, oy, ox;
  if (p->fused_bias == NULL) return TFW_ERR_BAD_ARG;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_batch = input + (size_t)b * (size_t)p->input_height * (size_t)p->input_width * (size_t)in_depth;
    for (oy = 0; oy < p->output_height; ++oy) {
      const int32_t in_y0 = oy * p->stride_height - p->pad_top;
      int32_t fy0, fy1;
      tfw_window_taps(in_y0, p->dilation_height, p->input_height, fh, &fy0, &fy1);
      for (ox = 0; ox < p->output_width; ++ox) {
        const int32_t in_x0 = ox * p->stride_width - p->pad_left;
        const int full = fy0 == 0 && fy1 == fh;
        int32_t fx0, fx1, ic, m;
        tfw_window_taps(in_x0, p->dilation_width, p->input_width, fw, &fx0, &fx1);
        for (ic = 0; ic < in_depth; ++ic) {
          for (m = 0; m < dm; ++m) {
            const int32_t oc = ic * dm + m;
            uint32_t acc;
            int32_t fy, fx;
            if (full && fx0 == 0 && fx1 == fw) {
              const int8_t *x_row = in_batch + ((size_t)in_y0 * (size_t)p->input_width + (size_t)in_x0) *
                                                   (size_t)in_depth + (size_t)ic;
              const int8_t *w = p->weights + oc;
              acc = (uint32_t)p->fused_bias[oc];
              for (fy = 0; fy < fh; ++fy, x_row += y_step) {
                const int8_t *x = x_row;
                for (fx = 0; fx < fw; ++fx, x += x_step, w += out_depth) {
                  acc += (uint32_t)((int32_t)*w * (int32_t)*x);
                }
              }
            } else {
              acc = p->bias != NULL ? (uint32_t)p->bias[oc] : 0u;
              for (fy = fy0; fy < fy1; ++fy) {
                const int32_t in_y = in_y0 + p->dilation_height * fy;
                for (fx = fx0; fx < fx1; ++fx) {
                  const int32_t in_x = in_x0 + p->dilation_width * fx;
                  const int32_t x = in_batch[((size_t)in_y * (size_t)p->input_width + (size_t)in_x) *
                                                 (size_t)in_depth + (size_t)ic];
                  const int32_t w = p->weights[((size_t)fy * (size_t)fw + (size_t)fx) * (size_t)out_depth +
                                               (size_t)oc];
                  acc += (uint32_t)(w * (x + p->input_offset));
                }
              }
            }
            *out++ = tfw_requantize_s8((int32_t)acc, p->output_multiplier[oc], p->output_shift[oc],
                                       p->output_offset, p->act_min, p->act_max);
          }
        }
      }
    }
  }
  return TFW_OK;
}
