/* MEAN, int8 and int16, bit-exact with TFLM's reference_ops::QuantizedMeanOrSum (the integer
 * path the int8 and int16 kernels take for every axis set): int32 sum, minus zero point times
 * count, one MultiplyByQuantizedMultiplier whose multiplier already folds in 1/count, plus the
 * output zero point, clamped to the element type. The host (tinyml_fw/aot/ops/mean.py) views the reduced axes, which
 * must be contiguous, as the middle of [outer][reduced][inner]. */
#ifndef TFW_MEAN_H
#define TFW_MEAN_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t outer, reduced, inner;  /* input [outer][reduced][inner] -> output [outer][inner] */
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier, shift;  /* input_scale / output_scale / reduced, as TFLM rescales it */
} TfwMeanParams;

/* Returns TFW_ERR_BAD_ARG for NULL pointers or out-of-range parameters. */
TfwStatus tfw_mean_s8(const TfwMeanParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_mean_s16(const TfwMeanParams *p, const int16_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_MEAN_H */
