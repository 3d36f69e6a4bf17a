/* DEPTHWISE_CONV_2D, NHWC, any depth multiplier, bit-exact with TFLM's
 * reference_integer_ops::DepthwiseConvPerChannel: int8 (tfw_depthwise_conv_s8) and 16x8
 * (tfw_depthwise_conv_s16: int16 activations, int8 weights, int64 bias and accumulator).
 * Geometry and requantization come from the host (tinyml_fw/aot/ops/depthwise_conv.py). */
#ifndef TFW_DEPTHWISE_CONV_H
#define TFW_DEPTHWISE_CONV_H

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
  int32_t depth_multiplier;  /* output_depth = input_depth * depth_multiplier */
  int32_t output_height, output_width;
  int32_t stride_height, stride_width;
  int32_t dilation_height, dilation_width;
  int32_t pad_top, pad_left;
  const int8_t *weights;  /* [filter_height][filter_width][output_depth] */
  const int32_t *bias;    /* s8: [output_depth] or NULL; must be NULL for s16 */
  const int64_t *bias64;  /* s16: [output_depth] or NULL; must be NULL for s8 */
  const int32_t *output_multiplier;  /* [output_depth] */
  const int32_t *output_shift;       /* [output_depth] */
  /* s8 only, read by the fast kernel alone: bias[oc] + input_offset * (sum of filter oc over its taps),
   * modulo 2^32, or NULL (then the portable kernel runs on every core). */
  const int32_t *fused_bias;
} TfwDepthwiseConvParams;

/* output channel ic * depth_multiplier + m filters input channel ic.
 * Returns TFW_ERR_BAD_ARG for NULL pointers or inconsistent parameters. */
TfwStatus tfw_depthwise_conv_s8(const TfwDepthwiseConvParams *p, const int8_t *input,
                                int8_t *output);
/* The same, fast (tfw_depthwise_conv_dsp.c): tfw_depthwise_conv_s8 calls it when TFW_FAST_KERNELS and its
 * checks pass. Needs fused_bias (else TFW_ERR_BAD_ARG); checks nothing else. */
TfwStatus tfw_depthwise_conv_s8_fast(const TfwDepthwiseConvParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_depthwise_conv_s16(const TfwDepthwiseConvParams *p, const int16_t *input,
                                 int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_DEPTHWISE_CONV_H */
