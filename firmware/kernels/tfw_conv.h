/* CONV_2D, NHWC, bit-exact with TFLM's reference_integer_ops::ConvPerChannel:
 * int8 (tfw_conv_s8) and 16x8 (tfw_conv_s16: int16 activations, int8 weights).
 * Geometry (output size, padding) and requantization are precomputed on the host
 * (tinyml_fw/aot/ops/conv.py, tinyml_fw/aot/quant.py: conv_quant_params, compute_padding). */
#ifndef TFW_CONV_H
#define TFW_CONV_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t input_offset;   /* -input zero point (s8); must be 0 for s16 */
  int32_t output_offset;  /* output zero point (s8); must be 0 for s16 */
  int32_t act_min, act_max;  /* fused activation clamp, within the output type's range */
  int32_t batches;
  int32_t input_height, input_width, input_depth;
  int32_t filter_height, filter_width;
  int32_t filter_depth;   /* input channels per group: groups = input_depth / filter_depth */
  int32_t output_height, output_width, output_depth;
  int32_t stride_height, stride_width;
  int32_t dilation_height, dilation_width;
  int32_t pad_top, pad_left;  /* TFLM's padding_values: rows/columns of implicit zeros before */
  int32_t wide_accum;     /* s16 only: 1 = int64 accumulator with bias64, 0 = int32 with bias */
  const int8_t *weights;  /* [output_depth][filter_height][filter_width][filter_depth] */
  const int32_t *bias;    /* [output_depth] or NULL (s8, and s16 with wide_accum == 0) */
  const int64_t *bias64;  /* [output_depth] or NULL (s16 with wide_accum == 1) */
  const int32_t *output_multiplier;  /* [output_depth], Q31 */
  const int32_t *output_shift;       /* [output_depth], power of two */
  /* s8 with one group only, read by the fast kernel alone: the filters as a block stream over the patch
   * [filter_height][filter_width][input_depth] (tfw_dot_dsp.h: tfw_rows_s8; fused biases bias[oc] +
   * input_offset * (sum of filter oc), int16 interleaved weights, requantization), or NULL (then the
   * portable kernel runs on every core); and the mode of its requantization (TFW_REQUANT_*). */
  const int32_t *blocks;
  int32_t requant_mode;
} TfwConvParams;

/* The largest patch the fast kernel takes (it lives on the stack), and the bytes of a filter's patch:
 * filter_height * filter_width * input_depth values, or, when a filter row has fewer than four values,
 * one word per filter row (its values in the low bytes, zeros above; the blocks' filters padded alike:
 * tinyml_fw/aot/ops/conv.py: patch_bytes); the kernel zero-pads the patch to whole words. */
#define TFW_CONV_PATCH_MAX 320
#define TFW_CONV_PATCH_BYTES(fh, fw, depth) ((fw) * (depth) < 4 ? 4 * (fh) : (fh) * (fw) * (depth))

/* input [batches][input_height][input_width][input_depth],
 * output [batches][output_height][output_width][output_depth].
 * Returns TFW_ERR_BAD_ARG for NULL pointers or inconsistent parameters. */
TfwStatus tfw_conv_s8(const TfwConvParams *p, const int8_t *input, int8_t *output);
/* The same, fast (tfw_conv_dsp.c, SMLAD on a core with the DSP extension, portable C elsewhere):
 * tfw_conv_s8 calls it when TFW_FAST_KERNELS and its checks pass. Needs blocks, one group and a
 * filter of at most TFW_CONV_PATCH_MAX values (else TFW_ERR_BAD_ARG); checks nothing else. */
TfwStatus tfw_conv_s8_fast(const TfwConvParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_conv_s16(const TfwConvParams *p, const int16_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_CONV_H */
