/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 and int16 NHWC, bit-exact with TFLM's
 * reference_integer_ops::AveragePool / MaxPool. Input and output share scale and zero point
 * (TFLM requires it), so there is no requantization: the average is rounded half away from
 * zero over the window's taps inside the image, then clamped. Geometry comes from the host
 * (tinyml_fw/aot/ops/pooling.py). */
#ifndef TFW_POOLING_H
#define TFW_POOLING_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t act_min, act_max;  /* fused activation clamp, within the element type's range */
  int32_t batches;
  int32_t input_height, input_width, depth;
  int32_t filter_height, filter_width;
  int32_t output_height, output_width;
  int32_t stride_height, stride_width;
  int32_t pad_top, pad_left;
} TfwPoolParams;

/* Both return TFW_ERR_BAD_ARG for NULL pointers or bad parameters; the average pool also for a
 * window with no tap inside the image (TFLM fails the same way). */
TfwStatus tfw_average_pool_s8(const TfwPoolParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_max_pool_s8(const TfwPoolParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_average_pool_s16(const TfwPoolParams *p, const int16_t *input, int16_t *output);
TfwStatus tfw_max_pool_s16(const TfwPoolParams *p, const int16_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_POOLING_H */
