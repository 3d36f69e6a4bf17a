/* Quantized binary elementwise ops with broadcasting: ADD, SUB, MUL on int8 (and int16 for the 16x8
 * scheme), bit-exact with TFLM's reference kernels. Every parameter is precomputed on the host
 * (tinyml_fw/aot/quant.py: add_params, mul_params; tinyml_fw/aot/ops/elementwise.py: the loop nest). */
#ifndef TFW_ELEMENTWISE_H
#define TFW_ELEMENTWISE_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TFW_BROADCAST_MAX_DIMS 6

/* The loop nest that walks the (contiguous) output once: dimensions whose strides line up are fused
 * on the host, so an elementwise op without broadcasting is one loop of `size` elements. */
typedef struct {
  int32_t dims;                             /* 1..TFW_BROADCAST_MAX_DIMS */
  int32_t shape[TFW_BROADCAST_MAX_DIMS];    /* output extent of each loop, outermost first */
  int32_t stride1[TFW_BROADCAST_MAX_DIMS];  /* input1 element stride per loop; 0 = broadcast */
  int32_t stride2[TFW_BROADCAST_MAX_DIMS];  /* input2 element stride per loop; 0 = broadcast */
} TfwBroadcast;

/* ADD and SUB (TFLM's general rescaling path, also used for int16):
 * x_i' = MBQM((x_i + input_i_offset) << left_shift, input_i_multiplier, input_i_shift),
 * out = clamp(MBQM(x1' +/- x2', output_multiplier, output_shift) + output_offset). */
typedef struct {
  int32_t input1_offset, input2_offset;  /* minus the inputs' zero points */
  int32_t output_offset;                 /* output zero point */
  int32_t left_shift;                    /* 20 for int8, 15 for int16 */
  int32_t input1_multiplier, input1_shift;  /* shifts <= 0 */
  int32_t input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;              /* fused activation clamp */
  TfwBroadcast bcast;
} TfwAddParams;

/* MUL: out = clamp(MBQM((x1 + input1_offset) * (x2 + input2_offset), output_multiplier,
 * output_shift) + output_offset). */
typedef struct {
  int32_t input1_offset, input2_offset;  /* minus the inputs' zero points */
  int32_t output_offset;
  int32_t output_multiplier, output_shift;  /* shift in [-31, 30] */
  int32_t act_min, act_max;
  TfwBroadcast bcast;
} TfwMulParams;

/* All of them return TFW_ERR_BAD_ARG for NULL pointers or parameters outside the ranges TFLM
 * produces. The output may be the same buffer as an input that is not broadcast. */
TfwStatus tfw_add_s8(const TfwAddParams *p, const int8_t *input1, const int8_t *input2, int8_t *output);
TfwStatus tfw_sub_s8(const TfwAddParams *p, const int8_t *input1, const int8_t *input2, int8_t *output);
TfwStatus tfw_add_s16(const TfwAddParams *p, const int16_t *input1, const int16_t *input2,
                      int16_t *output);
TfwStatus tfw_sub_s16(const TfwAddParams *p, const int16_t *input1, const int16_t *input2,
                      int16_t *output);
TfwStatus tfw_mul_s8(const TfwMulParams *p, const int8_t *input1, const int8_t *input2, int8_t *output);
TfwStatus tfw_mul_s16(const TfwMulParams *p, const int16_t *input1, const int16_t *input2,
                      int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_ELEMENTWISE_H */
