/* AVERAGE_POOL_2D and MAX_POOL_2D (see tfw_pooling.h). */
#include "tfw_pooling.h"

#include <stddef.h>

#include "tfw_window.h"

static TfwStatus tfw_pool_check(const TfwPoolParams *p, const int8_t *input, const int8_t *output) {
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->batches <= 0 || p->input_height <= 0 || p->input_width <= 0 || p->depth <= 0 ||
      p->filter_height <= 0 || p->filter_width <= 0 || p->output_height <= 0 ||
      p->output_width <= 0 || p->stride_height <= 0 || p->stride_width <= 0 ||
      p->pad_top < 0 || p->pad_left < 0) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) return TFW_ERR_BAD_ARG;
  return TFW_OK;
}

/* Reduces one channel of one window (taps [fy0, fy1) x [fx0, fx1)); clears *ok on failure. */
typedef int32_t (*TfwPoolReduce)(const TfwPoolParams *p, const int8_t *in_batch, int32_t channel,
                                 int32_t in_y0, int32_t fy0, int32_t fy1, int32_t in_x0,
                                 int32_t fx0, int32_t fx1, int *ok);

/* The loop both pools share: every output pixel and channel, reduced, then clamped. */
static TfwStatus tfw_pool(const TfwPoolParams *p, const int8_t *input, int8_t *output,
                          TfwPoolReduce reduce) {
  int32_t b, oy, ox, c;
  int8_t *out = output;
  const TfwStatus st = tfw_pool_check(p, input, output);
  if (st != TFW_OK) return st;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_batch =
        input + (size_t)b * (size_t)p->input_height * (size_t)p->input_width * (size_t)p->depth;
    for (oy = 0; oy < p->output_height; ++oy) {
      const int32_t in_y0 = oy * p->stride_height - p->pad_top;
      int32_t fy0, fy1;
      tfw_window_taps(in_y0, 1, p->input_height, p->filter_height, &fy0, &fy1);
      for (ox = 0; ox < p->output_width; ++ox) {
        const int32_t in_x0 = ox * p->stride_width - p->pad_left;
        int32_t fx0, fx1;
        tfw_window_taps(in_x0, 1, p->input_width, p->filter_width, &fx0, &fx1);
        for (c = 0; c < p->depth; ++c) {
          int ok = 1;
          int32_t v = reduce(p, in_batch, c, in_y0, fy0, fy1, in_x0, fx0, fx1, &ok);
          if (!ok) return TFW_ERR_BAD_ARG;
          if (v < p->act_min) v = p->act_min;
          if (v > p->act_max) v = p->act_max;
          *out++ = (int8_t)v;
        }
      }
    }
  }
  return TFW_OK;
}

static int32_t tfw_pool_average(const TfwPoolParams *p, const int8_t *in_batch, int32_t channel,
                                int32_t in_y0, int32_t fy0, int32_t fy1, int32_t in_x0,
                                int32_t fx0, int32_t fx1, int *ok) {
  int32_t fy, fx, acc = 0;
  const int32_t count = (fy1 - fy0) * (fx1 - fx0);
  if (count <= 0) {
    *ok = 0;
    return 0;
  }
  for (fy = fy0; fy < fy1; ++fy) {
    const int8_t *row = in_batch + ((size_t)(in_y0 + fy) * (size_t)p->input_width) * (size_t)p->depth;
    for (fx = fx0; fx < fx1; ++fx) {
      acc += row[(size_t)(in_x0 + fx) * (size_t)p->depth + (size_t)channel];
    }
  }
  /* Rounded half away from zero; C99 division truncates toward zero, as C++'s does. */
  return (acc > 0) ? (acc + count / 2) / count : (acc - count / 2) / count;
}

static int32_t tfw_pool_max(const TfwPoolParams *p, const int8_t *in_batch, int32_t channel,
                            int32_t in_y0, int32_t fy0, int32_t fy1, int32_t in_x0, int32_t fx0,
                            int32_t fx1, int *ok) {
  int32_t fy, fx, best = -128; /* TFLM starts from the lowest int8, even for an empty window */
  (void)ok;
  for (fy = fy0; fy < fy1; ++fy) {
    const int8_t *row = in_batch + ((size_t)(in_y0 + fy) * (size_t)p->input_width) * (size_t)p->depth;
    for (fx = fx0; fx < fx1; ++fx) {
      const int32_t v = row[(size_t)(in_x0 + fx) * (size_t)p->depth + (size_t)channel];
      if (v > best) best = v;
    }
  }
  return best;
}

TfwStatus tfw_average_pool_s8(const TfwPoolParams *p, const int8_t *input, int8_t *output) {
  return tfw_pool(p, input, output, tfw_pool_average);
}

TfwStatus tfw_max_pool_s8(const TfwPoolParams *p, const int8_t *input, int8_t *output) {
  return tfw_pool(p, input, output, tfw_pool_max);
}
