/* CONV_2D int8, the fast kernel for cores with the DSP extension (see tfw_dsp.h). For an output pixel
 * whose whole window lies inside the input, the window's values are gathered into one contiguous patch
 * (the layout of a filter: [filter_height][filter_width][input_depth], one word per filter row when a row
 * has fewer than four values: TFW_CONV_PATCH_BYTES; zeros up to a whole word) and the output channels are dot
 * products of their filters with it, four at a time (tfw_dot_dsp.h: tfw_rows_s8, the filters a block stream of
 * int16 weights made at generate time), starting from fused_bias[oc] = bias[oc] + input_offset * (sum of the
 * filter): exact, every tap being visited, and requantized from precomputed constants. Pixels at a padded
 * border, whose windows are cut, take the portable kernel's sum over the taps they visit. Bit-exact with
 * tfw_conv_s8, which calls it on a DSP core once its checks pass (one group, patch within
 * TFW_CONV_PATCH_MAX bytes, blocks given). */
#include <stddef.h>
#include <string.h>

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

/* The kernel for one requantization mode (a constant: each mode gets its own copy). The params are read
 * into locals once: the int8 output stores may alias anything, so fields read through p would be loaded
 * again after every store. */
TFW_NO_MEMCPY_LOOPS static TFW_ALWAYS_INLINE TfwStatus tfw_conv_fast(const TfwConvParams *p, const int8_t *input,
                                                                     int8_t *output, const int32_t mode) {
  const int32_t depth = p->input_depth, fh = p->filter_height, fw = p->filter_width;
  const int32_t in_h = p->input_height, in_w = p->input_width, out_h = p->output_height, out_w = p->output_width;
  const int32_t stride_h = p->stride_height, stride_w = p->stride_width, pad_t = p->pad_top, pad_l = p->pad_left;
  const int32_t dil_h = p->dilation_height, dil_w = p->dilation_width, batches = p->batches;
  const int32_t row_bytes = fw * depth;
  const int word_rows = row_bytes < 4; /* one word per filter row (TFW_CONV_PATCH_BYTES) */
  const int32_t k = TFW_CONV_PATCH_BYTES(fh, fw, depth); /* bytes per filter and per patch */
  const int32_t steps = (k + 3) >> 2;                     /* the patch in words, zeros after its k bytes */
  const int32_t out_depth = p->output_depth;
  const int32_t oo = p->output_offset, lo = p->act_min, hi = p->act_max;
  /* A window lies inside the input when origin >= 0 and origin + span <= size. */
  const int32_t span_y = dil_h * (fh - 1) + 1, span_x = dil_w * (fw - 1) + 1;
  const size_t row_stride = (size_t)dil_h * (size_t)in_w * (size_t)depth;
  const size_t tap_stride = (size_t)dil_w * (size_t)depth;
  const uint32_t *const blocks = (const uint32_t *)(const void *)p->blocks;
  int32_t patch_words[(TFW_CONV_PATCH_MAX + 3) / 4]; /* int32: aligned */
  int8_t *const patch = (int8_t *)patch_words;
  int8_t *out = output;
  int32_t b, oy, ox;
  patch_words[steps - 1] = 0; /* the gathers below write the first k bytes only */
  for (b = 0; b < batches; ++b) {
    const int8_t *in_batch = input + (size_t)b * (size_t)in_h * (size_t)in_w * (size_t)depth;
    for (oy = 0; oy < out_h; ++oy) {
      const int32_t in_y0 = oy * stride_h - pad_t;
      const int full_y = in_y0 >= 0 && in_y0 + span_y <= in_h;
      for (ox = 0; ox < out_w; ++ox) {
        const int32_t in_x0 = ox * stride_w - pad_l;
        if (!full_y || in_x0 < 0 || in_x0 + span_x > in_w) {
          int32_t fy0, fy1, fx0, fx1, oc;
          tfw_window_taps(in_y0, dil_h, in_h, fh, &fy0, &fy1);
          tfw_window_taps(in_x0, dil_w, in_w, fw, &fx0, &fx1);
          for (oc = 0; oc < out_depth; ++oc) {
            *out++ = tfw_conv_border(p, in_batch, in_y0, in_x0, fy0, fy1, fx0, fx1, oc);
          }
          continue;
        }
        {
          const int8_t *row = in_batch + ((size_t)in_y0 * (size_t)in_w + (size_t)in_x0) * (size_t)depth;
          int32_t fy, fx;
          if (word_rows && dil_w == 1) {
            for (fy = 0; fy < fh; ++fy, row += row_stride) patch_words[fy] = (int32_t)tfw_load_tail(row, row_bytes);
          } else if (word_rows) {
            for (fy = 0; fy < fh; ++fy, row += row_stride) {
              int8_t taps[4] = {0, 0, 0, 0};
              uint32_t v;
              for (fx = 0; fx < row_bytes; ++fx) taps[fx] = row[(size_t)(fx / depth) * tap_stride + (size_t)(fx % depth)];
              memcpy(&v, taps, 4);
              patch_words[fy] = (int32_t)v;
            }
          } else {
            int8_t *dst = patch;
            for (fy = 0; fy < fh; ++fy, row += row_stride) {
              if (dil_w == 1) {
                dst = tfw_copy_small(dst, row, row_bytes);
              } else {
                for (fx = 0; fx < fw; ++fx) dst = tfw_copy_small(dst, row + (size_t)fx * tap_stride, depth);
              }
            }
          }
        }
        tfw_rows_tail_s8(blocks, patch, steps, 0, 0, out, out + out_depth, mode, oo, lo, hi);
        out += out_depth;
      }
    }
  }
  return TFW_OK;
}

TFW_NO_MEMCPY_LOOPS TfwStatus tfw_conv_s8_fast(const TfwConvParams *p, const int8_t *input, int8_t *output) {
  if (p->blocks == NULL || p->filter_depth != p->input_depth ||
      TFW_CONV_PATCH_BYTES(p->filter_height, p->filter_width, p->input_depth) > TFW_CONV_PATCH_MAX) {
    return TFW_ERR_BAD_ARG;
  }
  switch (p->requant_mode) {
    case TFW_REQUANT_RIGHT_SAT: return tfw_conv_fast(p, input, output, TFW_REQUANT_RIGHT_SAT);
    case TFW_REQUANT_RIGHT_LO: return tfw_conv_fast(p, input, output, TFW_REQUANT_RIGHT_LO);
    case TFW_REQUANT_RIGHT: return tfw_conv_fast(p, input, output, TFW_REQUANT_RIGHT);
    default: return tfw_conv_fast(p, input, output, TFW_REQUANT_ANY);
  }
}
