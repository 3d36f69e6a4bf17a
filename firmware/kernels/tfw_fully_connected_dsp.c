/* FULLY_CONNECTED int8, the fast kernel for cores with the DSP extension (see tfw_dsp.h): four
 * output rows at once, four inputs per step, two multiply-accumulates per SMLAD (tfw_dot_dsp.h). The
 * input offset is folded at generate time into fused_bias[o] = bias[o] + input_offset * sum_d w[o][d]
 * (exact: both sums are taken modulo 2^32, as the portable kernel's), so the inner loop multiplies raw
 * int8 values. Bit-exact with tfw_fully_connected_s8, which calls it on a DSP core once its checks
 * pass; it needs filter_offset == 0 and fused_bias (the portable kernel keeps everything else). */
#include <stddef.h>

#include "tfw_dot_dsp.h"
#include "tfw_fully_connected.h"

/* The requantization of the params, held in locals: the int8 output stores may alias anything, so
 * fields read through p would be loaded again after every store. */
typedef struct {
  const int32_t *multipliers, *shifts; /* per channel, or NULL */
  int32_t multiplier, shift, output_offset, act_min, act_max;
} TfwFcRequant;

static inline int8_t tfw_fc_requantize(const TfwFcRequant *q, int32_t acc, int32_t o) {
  return tfw_requantize_s8(acc, q->multipliers != NULL ? q->multipliers[o] : q->multiplier,
                           q->multipliers != NULL ? q->shifts[o] : q->shift, q->output_offset, q->act_min,
                           q->act_max);
}

TfwStatus tfw_fully_connected_s8_fast(const TfwFullyConnectedParams *p, const int8_t *input,
                                      int8_t *output) {
  const int32_t depth = p->accum_depth;
  const int32_t rows = p->output_depth;
  const int32_t batches = p->batches;
  const int8_t *const weights = p->weights;
  const int32_t *const fused = p->fused_bias;
  int32_t b;
  TfwFcRequant q;
  if (fused == NULL || p->filter_offset != 0) return TFW_ERR_BAD_ARG;
  q.multipliers = p->per_channel_multiplier;
  q.shifts = p->per_channel_shift;
  q.multiplier = p->output_multiplier;
  q.shift = p->output_shift;
  q.output_offset = p->output_offset;
  q.act_min = p->act_min;
  q.act_max = p->act_max;
  for (b = 0; b < batches; ++b) {
    const int8_t *in_row = input + (size_t)b * (size_t)depth;
    int8_t *out_row = output + (size_t)b * (size_t)rows;
    const int8_t *w = weights;
    int32_t o = 0;
    for (; o + 4 <= rows; o += 4) {
      int32_t acc[4];
      acc[0] = fused[o];
      acc[1] = fused[o + 1];
      acc[2] = fused[o + 2];
      acc[3] = fused[o + 3];
      tfw_dot4_s8(w, depth, in_row, depth, acc);
      out_row[o] = tfw_fc_requantize(&q, acc[0], o);
      out_row[o + 1] = tfw_fc_requantize(&q, acc[1], o + 1);
      out_row[o + 2] = tfw_fc_requantize(&q, acc[2], o + 2);
      out_row[o + 3] = tfw_fc_requantize(&q, acc[3], o + 3);
      w += 4 * depth;
    }
    for (; o < rows; ++o) {
      out_row[o] = tfw_fc_requantize(&q, tfw_dot1_s8(w, in_row, depth, fused[o]), o);
      w += depth;
    }
  }
  return TFW_OK;
}
