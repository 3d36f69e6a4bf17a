/* PAD / PADV2 (see tfw_pad.h): rows of the innermost dimension are copied between runs of the
 * pad value; rows outside the input in any outer dimension are pad value only. */
#include "tfw_pad.h"

#include <stddef.h>
#include <string.h>

static TfwStatus tfw_pad_check(const TfwPadParams *p, const void *input, const void *output,
                               int32_t lo, int32_t hi) {
  int d;
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  for (d = 0; d < TFW_PAD_DIMS; ++d) {
    if (p->input_dims[d] <= 0 || p->before[d] < 0 || p->after[d] < 0) return TFW_ERR_BAD_ARG;
  }
  if (p->pad_value < lo || p->pad_value > hi) return TFW_ERR_BAD_ARG;
  return TFW_OK;
}

/* One implementation for both element sizes: `fill` writes n pad values at dst. */
typedef void (*TfwPadFill)(void *dst, size_t n, int32_t value);

static void tfw_fill8(void *dst, size_t n, int32_t value) { memset(dst, (int8_t)value, n); }

static void tfw_fill16(void *dst, size_t n, int32_t value) {
  int16_t *d = (int16_t *)dst;
  size_t i;
  for (i = 0; i < n; ++i) d[i] = (int16_t)value;
}

static void tfw_pad_run(const TfwPadParams *p, const uint8_t *input, uint8_t *output,
                        size_t elem, TfwPadFill fill) {
  int32_t out_dims[TFW_PAD_DIMS];
  int32_t i0, i1, i2, i3;
  int d;
  size_t row_in, row_before, row_after, row_out;
  for (d = 0; d < TFW_PAD_DIMS; ++d) out_dims[d] = p->input_dims[d] + p->before[d] + p->after[d];
  row_in = (size_t)p->input_dims[4] * elem;
  row_before = (size_t)p->before[4];
  row_after = (size_t)p->after[4];
  row_out = (size_t)out_dims[4];
  for (i0 = 0; i0 < out_dims[0]; ++i0) {
    const int in0 = i0 >= p->before[0] && i0 < p->before[0] + p->input_dims[0];
    for (i1 = 0; i1 < out_dims[1]; ++i1) {
      const int in1 = in0 && i1 >= p->before[1] && i1 < p->before[1] + p->input_dims[1];
      for (i2 = 0; i2 < out_dims[2]; ++i2) {
        const int in2 = in1 && i2 >= p->before[2] && i2 < p->before[2] + p->input_dims[2];
        for (i3 = 0; i3 < out_dims[3]; ++i3) {
          const int in3 = in2 && i3 >= p->before[3] && i3 < p->before[3] + p->input_dims[3];
          if (!in3) {
            fill(output, row_out, p->pad_value);
          } else {
            fill(output, row_before, p->pad_value);
            memcpy(output + row_before * elem, input, row_in);
            fill(output + row_before * elem + row_in, row_after, p->pad_value);
            input += row_in;
          }
          output += row_out * elem;
        }
      }
    }
  }
}

TfwStatus tfw_pad_s8(const TfwPadParams *p, const int8_t *input, int8_t *output) {
  const TfwStatus st = tfw_pad_check(p, input, output, -128, 127);
  if (st != TFW_OK) return st;
  tfw_pad_run(p, (const uint8_t *)input, (uint8_t *)output, 1, tfw_fill8);
  return TFW_OK;
}

TfwStatus tfw_pad_s16(const TfwPadParams *p, const int16_t *input, int16_t *output) {
  const TfwStatus st = tfw_pad_check(p, input, output, -32768, 32767);
  if (st != TFW_OK) return st;
  tfw_pad_run(p, (const uint8_t *)input, (uint8_t *)output, 2, tfw_fill16);
  return TFW_OK;
}
