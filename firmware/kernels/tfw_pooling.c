/* AVERAGE_POOL_2D and MAX_POOL_2D (see tfw_pooling.h). */
#include "tfw_pooling.h"

#include <stddef.h>

#include "tfw_window.h"

static TfwStatus tfw_pool_check(const TfwPoolParams *p, const void *input, const void *output,
                                int32_t lo, int32_t hi) {
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->batches <= 0 || p->input_height <= 0 || p->input_width <= 0 || p->depth <= 0 ||
      p->filter_height <= 0 || p->filter_width <= 0 || p->output_height <= 0 ||
      p->output_width <= 0 || p->stride_height <= 0 || p->stride_width <= 0 ||
      p->pad_top < 0 || p->pad_left < 0) {
    return TFW_ERR_BAD_ARG;
  }
  if (p->act_min < lo || p->act_max > hi || p->act_min > p->act_max) return TFW_ERR_BAD_ARG;
  return TFW_OK;
}

/* The taps [fy0, fy1) x [fx0, fx1) of one window whose top left input pixel is (in_y0, in_x0). */
typedef struct {
  int32_t in_y0, fy0, fy1, in_x0, fx0, fx1;
} TfwPoolWindow;

/* Reduces one channel of one window of a batch's input; clears *ok on failure. */
typedef int32_t (*TfwPoolReduce)(const TfwPoolParams *p, const void *in_batch, int32_t channel,
                                 const TfwPoolWindow *w, int *ok);

/* The loop every pool shares: every output pixel and channel, reduced, clamped and stored as an
 * element of elem bytes (1: int8, 2: int16). */
static TfwStatus tfw_pool(const TfwPoolParams *p, const void *input, void *output, size_t elem,
                          TfwPoolReduce reduce) {
  int32_t b, oy, ox, c;
  size_t k = 0;
  const size_t batch_size =
      (size_t)p->input_height * (size_t)p->input_width * (size_t)p->depth * elem;
  for (b = 0; b < p->batches; ++b) {
    const void *in_batch = (const uint8_t *)input + (size_t)b * batch_size;
    for (oy = 0; oy < p->output_height; ++oy) {
      TfwPoolWindow w;
      w.in_y0 = oy * p->stride_height - p->pad_top;
      tfw_window_taps(w.in_y0, 1, p->input_height, p->filter_height, &w.fy0, &w.fy1);
      for (ox = 0; ox < p->output_width; ++ox) {
        w.in_x0 = ox * p->stride_width - p->pad_left;
        tfw_window_taps(w.in_x0, 1, p->input_width, p->filter_width, &w.fx0, &w.fx1);
        for (c = 0; c < p->depth; ++c, ++k) {
          int ok = 1;
          int32_t v = reduce(p, in_batch, c, &w, &ok);
          if (!ok) return TFW_ERR_BAD_ARG;
          if (v < p->act_min) v = p->act_min;
          if (v > p->act_max) v = p->act_max;
          if (elem == 2) {
            ((int16_t *)output)[k] = (int16_t)v;
          } else {
            ((int8_t *)output)[k] = (int8_t)v;
          }
        }
      }
    }
  }
  return TFW_OK;
}

/* Offset of the input row a window's tap row fy reads (in_y0 + fy >= 0 for taps inside). */
static size_t tfw_pool_row(const TfwPoolParams *p, const TfwPoolWindow *w, int32_t fy) {
  return (size_t)(w->in_y0 + fy) * (size_t)p->input_width * (size_t)p->depth;
}

/* The mean of acc over count taps, rounded half away from zero (C99 division truncates toward
 * zero, as C++'s does); an empty window is a failure, as in TFLM. */
static int32_t tfw_pool_divide(int32_t acc, int32_t count, int *ok) {
  if (count <= 0) {
    *ok = 0;
    return 0;
  }
  return (acc > 0) ? (acc + count / 2) / count : (acc - count / 2) / count;
}

static int32_t tfw_pool_average8(const TfwPoolParams *p, const void *in_batch, int32_t channel,
                                 const TfwPoolWindow *w, int *ok) {
  int32_t fy, fx, acc = 0;
  for (fy = w->fy0; fy < w->fy1; ++fy) {
    const int8_t *row = (const int8_t *)in_batch + tfw_pool_row(p, w, fy) + (size_t)channel;
    for (fx = w->fx0; fx < w->fx1; ++fx) acc += row[(size_t)(w->in_x0 + fx) * (size_t)p->depth];
  }
  return tfw_pool_divide(acc, (w->fy1 - w->fy0) * (w->fx1 - w->fx0), ok);
}

static int32_t tfw_pool_average16(const TfwPoolParams *p, const void *in_batch, int32_t channel,
                                  const TfwPoolWindow *w, int *ok) {
  int32_t fy, fx, acc = 0;
  for (fy = w->fy0; fy < w->fy1; ++fy) {
    const int16_t *row = (const int16_t *)in_batch + tfw_pool_row(p, w, fy) + (size_t)channel;
    for (fx = w->fx0; fx < w->fx1; ++fx) acc += row[(size_t)(w->in_x0 + fx) * (size_t)p->depth];
  }
  return tfw_pool_divide(acc, (w->fy1 - w->fy0) * (w->fx1 - w->fx0), ok);
}

/* MAX_POOL_2D int8, channels innermost: each tap of a window is `depth` contiguous bytes, so a window's
 * maximum is taken a tap at a time over every channel, straight into the output pixel (no call and no
 * address arithmetic per channel: ~7x fewer instructions than the shared loop). Pooling is never planned
 * in place, so the output does not overlap the input. As TFLM, the maximum starts from -128, even for an
 * empty window, and is then clamped. */
static void tfw_max_pool_s8_run(const TfwPoolParams *p, const int8_t *input, int8_t *output) {
  const int32_t depth = p->depth;
  const size_t row_stride = (size_t)p->input_width * (size_t)depth;
  int32_t b, oy, ox, fy, fx, c;
  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_batch = input + (size_t)b * (size_t)p->input_height * row_stride;
    for (oy = 0; oy < p->output_height; ++oy) {
      TfwPoolWindow w;
      w.in_y0 = oy * p->stride_height - p->pad_top;
      tfw_window_taps(w.in_y0, 1, p->input_height, p->filter_height, &w.fy0, &w.fy1);
      for (ox = 0; ox < p->output_width; ++ox, output += depth) {
        w.in_x0 = ox * p->stride_width - p->pad_left;
        tfw_window_taps(w.in_x0, 1, p->input_width, p->filter_width, &w.fx0, &w.fx1);
        for (c = 0; c < depth; ++c) output[c] = -128;
        for (fy = w.fy0; fy < w.fy1; ++fy) {
          const int8_t *tap =
              in_batch + (size_t)(w.in_y0 + fy) * row_stride + (size_t)(w.in_x0 + w.fx0) * (size_t)depth;
          for (fx = w.fx0; fx < w.fx1; ++fx, tap += depth) {
            for (c = 0; c < depth; ++c) {
              if (tap[c] > output[c]) output[c] = tap[c];
            }
          }
        }
        for (c = 0; c < depth; ++c) {
          if (output[c] < p->act_min) output[c] = (int8_t)p->act_min;
          if (output[c] > p->act_max) output[c] = (int8_t)p->act_max;
        }
      }
    }
  }
}

static int32_t tfw_pool_max16(const TfwPoolParams *p, const void *in_batch, int32_t channel,
                              const TfwPoolWindow *w, int *ok) {
  int32_t fy, fx, best = -32768;
  (void)ok;
  for (fy = w->fy0; fy < w->fy1; ++fy) {
    const int16_t *row = (const int16_t *)in_batch + tfw_pool_row(p, w, fy) + (size_t)channel;
    for (fx = w->fx0; fx < w->fx1; ++fx) {
      const int32_t v = row[(size_t)(w->in_x0 + fx) * (size_t)p->depth];
      if (v > best) best = v;
    }
  }
  return best;
}

TfwStatus tfw_average_pool_s8(const TfwPoolParams *p, const int8_t *input, int8_t *output) {
  const TfwStatus st = tfw_pool_check(p, input, output, -128, 127);
  return (st != TFW_OK) ? st : tfw_pool(p, input, output, 1, tfw_pool_average8);
}

TfwStatus tfw_max_pool_s8(const TfwPoolParams *p, const int8_t *input, int8_t *output) {
  const TfwStatus st = tfw_pool_check(p, input, output, -128, 127);
  if (st != TFW_OK) return st;
  tfw_max_pool_s8_run(p, input, output);
  return TFW_OK;
}

TfwStatus tfw_average_pool_s16(const TfwPoolParams *p, const int16_t *input, int16_t *output) {
  const TfwStatus st = tfw_pool_check(p, input, output, -32768, 32767);
  return (st != TFW_OK) ? st : tfw_pool(p, input, output, 2, tfw_pool_average16);
}

TfwStatus tfw_max_pool_s16(const TfwPoolParams *p, const int16_t *input, int16_t *output) {
  const TfwStatus st = tfw_pool_check(p, input, output, -32768, 32767);
  return (st != TFW_OK) ? st : tfw_pool(p, input, output, 2, tfw_pool_max16);
}
