/* FULLY_CONNECTED (see tfw_fully_connected.h). Mirrors TFLM's
 * reference_integer_ops::FullyConnected / FullyConnectedPerChannel. */
#include "tfw_fully_connected.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"
#include "tfw_fixedpoint64.h"
#include "tfw_flash.h"

/* MultiplyByQuantizedMultiplier is only defined for shifts in [-31, 30]
 * (QuantizeMultiplier never produces less than -31). */
static int tfw_shift_ok(int32_t shift) { return shift >= -31 && shift <= 30; }

static TfwStatus tfw_fc_check(const TfwFullyConnectedParams *p, const int8_t *input,
                              const int8_t *output) {
  int32_t o;
  if (p == NULL || input == NULL || output == NULL || p->weights == NULL) return TFW_ERR_BAD_ARG;
  if (p->accum_depth <= 0 || p->output_depth <= 0 || p->batches <= 0) return TFW_ERR_BAD_ARG;
  /* Offsets are (negated) int8 zero points; this also keeps w * x within int32. */
  if (p->input_offset < -127 || p->input_offset > 128) return TFW_ERR_BAD_ARG;
  if (p->filter_offset < -127 || p->filter_offset > 128) return TFW_ERR_BAD_ARG;
  if (p->output_offset < -128 || p->output_offset > 127) return TFW_ERR_BAD_ARG;
  if (p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) return TFW_ERR_BAD_ARG;
  if ((p->per_channel_multiplier == NULL) != (p->per_channel_shift == NULL)) return TFW_ERR_BAD_ARG;
  if (p->per_channel_multiplier == NULL) return tfw_shift_ok(p->output_shift) ? TFW_OK : TFW_ERR_BAD_ARG;
  /* TFLM's per-channel kernel ignores the filter zero point (int8 weights are symmetric). */
  if (p->filter_offset != 0) return TFW_ERR_BAD_ARG;
  for (o = 0; o < p->output_depth; ++o) {
    if (!tfw_shift_ok(TFW_FLASH_I32(&p->per_channel_shift[o]))) return TFW_ERR_BAD_ARG;
  }
  return TFW_OK;
}

TfwStatus tfw_fully_connected_s8(const TfwFullyConnectedParams *p, const int8_t *input,
                                 int8_t *output) {
  int32_t b, o, d;
  const TfwStatus st = tfw_fc_check(p, input, output);
  if (st != TFW_OK) return st;

  for (b = 0; b < p->batches; ++b) {
    const int8_t *in_row = input + (size_t)b * (size_t)p->accum_depth;
    int8_t *out_row = output + (size_t)b * (size_t)p->output_depth;
    for (o = 0; o < p->output_depth; ++o) {
      const int8_t *w_row = p->weights + (size_t)o * (size_t)p->accum_depth;
      /* Accumulate modulo 2^32: identical to TFLM's int32 sum whenever that one
       * does not overflow, and free of undefined behaviour when it would. */
      uint32_t acc = 0;
      int32_t multiplier, shift, out;
      for (d = 0; d < p->accum_depth; ++d) {
        const int32_t w = (int32_t)TFW_FLASH_I8(&w_row[d]) + p->filter_offset;
        const int32_t x = (int32_t)in_row[d] + p->input_offset;
        acc += (uint32_t)(w * x);
      }
      if (p->bias != NULL) acc += (uint32_t)TFW_FLASH_I32(&p->bias[o]);
      if (p->per_channel_multiplier != NULL) {
        multiplier = TFW_FLASH_I32(&p->per_channel_multiplier[o]);
        shift = TFW_FLASH_I32(&p->per_channel_shift[o]);
      } else {
        multiplier = p->output_multiplier;
        shift = p->output_shift;
      }
      out = tfw_multiply_by_quantized_multiplier((int32_t)acc, multiplier, shift);
      out = tfw_add_wrap32(out, p->output_offset);
      if (out < p->act_min) out = p->act_min;
      if (out > p->act_max) out = p->act_max;
      out_row[o] = (int8_t)out;
    }
  }
  return TFW_OK;
}

/* ---- 16x8: TFLM's FullyConnected / FullyConnectedPerChannel<int16_t, int8_t, int16_t, Bias>,
 * where Bias (int32_t or int64_t) is also the accumulator type. */

static TfwStatus tfw_fc16_check(const TfwFullyConnectedParams *p, const int16_t *input,
                                const int16_t *output) {
  int32_t o;
  const int32_t max_shift = (p != NULL && p->wide_accum) ? 7 : 30;
  if (p == NULL || input == NULL || output == NULL || p->weights == NULL) return TFW_ERR_BAD_ARG;
  if (p->accum_depth <= 0 || p->output_depth <= 0 || p->batches <= 0) return TFW_ERR_BAD_ARG;
  if (p->wide_accum != 0 && p->wide_accum != 1) return TFW_ERR_BAD_ARG;
  if (p->wide_accum ? p->bias != NULL : p->bias64 != NULL) return TFW_ERR_BAD_ARG;
  if (p->input_offset < -32767 || p->input_offset > 32768) return TFW_ERR_BAD_ARG;
  if (p->filter_offset < -127 || p->filter_offset > 128) return TFW_ERR_BAD_ARG;
  if (p->output_offset < -32768 || p->output_offset > 32767) return TFW_ERR_BAD_ARG;
  if (p->act_min < -32768 || p->act_max > 32767 || p->act_min > p->act_max) return TFW_ERR_BAD_ARG;
  if ((p->per_channel_multiplier == NULL) != (p->per_channel_shift == NULL)) return TFW_ERR_BAD_ARG;
  if (p->per_channel_multiplier == NULL) {
    return (p->output_multiplier >= 0 && p->output_shift >= -31 && p->output_shift <= max_shift)
               ? TFW_OK : TFW_ERR_BAD_ARG;
  }
  if (p->filter_offset != 0) return TFW_ERR_BAD_ARG;
  for (o = 0; o < p->output_depth; ++o) {
    const int32_t multiplier = TFW_FLASH_I32(&p->per_channel_multiplier[o]);
    const int32_t shift = TFW_FLASH_I32(&p->per_channel_shift[o]);
    if (multiplier < 0 || shift < -31 || shift > max_shift) {
      return TFW_ERR_BAD_ARG;
    }
  }
  return TFW_OK;
}

TfwStatus tfw_fully_connected_s16(const TfwFullyConnectedParams *p, const int16_t *input,
                                  int16_t *output) {
  int32_t b, o, d;
  const TfwStatus st = tfw_fc16_check(p, input, output);
  if (st != TFW_OK) return st;

  for (b = 0; b < p->batches; ++b) {
    const int16_t *in_row = input + (size_t)b * (size_t)p->accum_depth;
    int16_t *out_row = output + (size_t)b * (size_t)p->output_depth;
    for (o = 0; o < p->output_depth; ++o) {
      const int8_t *w_row = p->weights + (size_t)o * (size_t)p->accum_depth;
      /* int64 sum, or, without wide_accum, its low 32 bits (TFLM's int32 sum, wrapping). */
      uint64_t acc = 0;
      int32_t multiplier, shift, out;
      for (d = 0; d < p->accum_depth; ++d) {
        const int32_t w = (int32_t)TFW_FLASH_I8(&w_row[d]) + p->filter_offset;
        const int32_t x = (int32_t)in_row[d] + p->input_offset;
        acc += (uint64_t)(int64_t)(w * x);
      }
      if (p->per_channel_multiplier != NULL) {
        multiplier = TFW_FLASH_I32(&p->per_channel_multiplier[o]);
        shift = TFW_FLASH_I32(&p->per_channel_shift[o]);
      } else {
        multiplier = p->output_multiplier;
        shift = p->output_shift;
      }
      if (p->wide_accum) {
        if (p->bias64 != NULL) acc += (uint64_t)TFW_FLASH_I64(&p->bias64[o]);
        out = tfw_multiply_by_quantized_multiplier64((int64_t)acc, multiplier, shift);
      } else {
        uint32_t acc32 = (uint32_t)acc;
        if (p->bias != NULL) acc32 += (uint32_t)TFW_FLASH_I32(&p->bias[o]);
        out = tfw_multiply_by_quantized_multiplier((int32_t)acc32, multiplier, shift);
      }
      out = tfw_add_wrap32(out, p->output_offset);
      if (out < p->act_min) out = p->act_min;
      if (out > p->act_max) out = p->act_max;
      out_row[o] = (int16_t)out;
    }
  }
  return TFW_OK;
}
