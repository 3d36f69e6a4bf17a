/* FULLY_CONNECTED, bit-exact with the TFLM reference kernel: int8 (tfw_fully_connected_s8)
 * and 16x8 (tfw_fully_connected_s16: int16 activations, int8 weights).
 * All quantization parameters are precomputed on the host
 * (tinyml_fw/aot/quant.py: fully_connected_params). Every array behind a pointer of the params is read
 * through tfw_flash.h: the generated model places them in TFW_FLASH (program memory on AVR). */
#ifndef TFW_FULLY_CONNECTED_H
#define TFW_FULLY_CONNECTED_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t input_offset;   /* -input zero point */
  int32_t filter_offset;  /* -filter zero point; 0 for TFLM int8 (must be 0 when per-channel) */
  int32_t output_offset;  /* output zero point */
  int32_t act_min, act_max;  /* fused activation clamp, within [-128, 127] */
  int32_t accum_depth;    /* inputs per batch row */
  int32_t output_depth;   /* outputs per batch row */
  int32_t batches;
  const int8_t *weights;  /* [output_depth][accum_depth], row-major as in the .tflite */
  const int32_t *bias;    /* [output_depth] or NULL */
  int32_t output_multiplier, output_shift;  /* per-tensor requantization */
  const int32_t *per_channel_multiplier;    /* [output_depth], or NULL when per-tensor */
  const int32_t *per_channel_shift;         /* [output_depth], or NULL when per-tensor */
  /* s16 only (the s8 kernel never reads them): */
  const int64_t *bias64;  /* [output_depth] or NULL, with wide_accum == 1 */
  int32_t wide_accum;     /* 1 = int64 accumulator and bias64 (TFLM's choice for an int64 bias),
                             0 = int32 accumulator and bias */
} TfwFullyConnectedParams;

/* The fast int8 kernel's params (tinyml_fw/aot/ops/fully_connected.py: fast_fields), emitted instead of
 * TfwFullyConnectedParams on the boards with fast kernels once the generator has made the portable
 * kernel's checks: the kernel checks nothing. */
typedef struct {
  int32_t accum_depth, output_depth, batches;
  int32_t act_min, act_max;
  int32_t output_offset;    /* read by tfw_fully_connected_s8_fast only (the others fold it into their table) */
  /* One stream, per block of four rows (the last one padded with zero rows), read in order:
   * - 4 words: fused_bias[o] = bias[o] + input_offset * sum_d w[o][d], modulo 2^32;
   * - per step of four inputs d..d+3 (the last one padded with zero weights), per row r, the words
   *   (w[r][d], w[r][d+2]) and (w[r][d+1], w[r][d+3]) of int16 halfwords, low first: what SXTB16 makes
   *   of the input word and of the input word rotated by 8; a last step of one or two inputs is one
   *   word (w[r][d], w[r][d+1]) per row;
   * - TFW_REQUANT_WORDS words per row: its requantization (tfw_dot_dsp.h: tfw_requant_next). */
  const int32_t *blocks;
} TfwFcFastParams;

/* output[b][o] = clamp(MBQM(sum_d (w[o][d] + filter_offset) * (in[b][d] + input_offset)
 *                          + bias[o]) + output_offset).
 * input is [batches][accum_depth], output is [batches][output_depth].
 * Returns TFW_ERR_BAD_ARG for NULL pointers or out-of-range parameters. */
TfwStatus tfw_fully_connected_s8(const TfwFullyConnectedParams *p, const int8_t *input,
                                 int8_t *output);

/* The same, fast (tfw_fully_connected_dsp.c, SMLAD on a core with the DSP extension, portable C
 * elsewhere): the generated model calls one of them directly on the boards with fast kernels, the one of
 * the layer's requantization (tfw_dot_dsp.h: TFW_REQUANT_*): any shifts; right shifts only, clamped to
 * [act_min, act_max]; right shifts, act_max 127 (ReLU); right shifts, no clamp but int8's. */
TfwStatus tfw_fully_connected_s8_fast(const TfwFcFastParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_fully_connected_s8_fast_r(const TfwFcFastParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_fully_connected_s8_fast_r_relu(const TfwFcFastParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_fully_connected_s8_fast_r_sat(const TfwFcFastParams *p, const int8_t *input, int8_t *output);

/* The same sum over int16 inputs, input_offset and output_offset in int16 range, act_min/act_max
 * within [-32768, 32767]; with wide_accum the shifts must lie in [-31, 7] (TFLM's int64
 * MultiplyByQuantizedMultiplier). */
TfwStatus tfw_fully_connected_s16(const TfwFullyConnectedParams *p, const int16_t *input,
                                  int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_FULLY_CONNECTED_H */
