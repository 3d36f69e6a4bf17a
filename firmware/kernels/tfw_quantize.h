/* QUANTIZE and DEQUANTIZE, bit-exact with TFLM's reference kernels: float32 -> int8/int16
 * (AffineQuantize), int8/int16 -> int8/int16 (Requantize) and int8/int16 -> float32 (Dequantize).
 * Parameters come from tinyml_fw/aot/quant.py (requantize_params) and the tensors' scales. All
 * kernels are elementwise over `size` values; those with equal input and output widths may run in
 * place. */
#ifndef TFW_QUANTIZE_H
#define TFW_QUANTIZE_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out = clamp(round_half_away(x / scale) + zero_point), the division in float32. A quotient that is
 * not a number or does not fit int32 becomes INT32_MIN before the zero point is added, as the x86
 * build of the TFLM reference interpreter does. */
typedef struct {
  float scale;  /* the output tensor's scale, exactly as stored */
  int32_t zero_point;
  int32_t size;
} TfwQuantizeParams;

/* out = clamp(MBQM(x - input_zero_point, multiplier, shift) + output_zero_point). */
typedef struct {
  int32_t input_zero_point, output_zero_point;
  int32_t multiplier, shift;  /* double(input scale) / double(output scale) */
  int32_t size;
} TfwRequantizeParams;

/* out = (float)(scale * (x - zero_point)); one float32 product gives the same value as TFLM's double
 * product rounded to float, since the double product is exact (24 + 17 bits). */
typedef struct {
  float scale;  /* the input tensor's scale */
  int32_t zero_point;
  int32_t size;
} TfwDequantizeParams;

TfwStatus tfw_quantize_f32_s8(const TfwQuantizeParams *p, const float *input, int8_t *output);
TfwStatus tfw_quantize_f32_s16(const TfwQuantizeParams *p, const float *input, int16_t *output);
TfwStatus tfw_requantize_s8_s8(const TfwRequantizeParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_requantize_s8_s16(const TfwRequantizeParams *p, const int8_t *input, int16_t *output);
TfwStatus tfw_requantize_s16_s8(const TfwRequantizeParams *p, const int16_t *input, int8_t *output);
TfwStatus tfw_requantize_s16_s16(const TfwRequantizeParams *p, const int16_t *input, int16_t *output);
TfwStatus tfw_dequantize_s8_f32(const TfwDequantizeParams *p, const int8_t *input, float *output);
TfwStatus tfw_dequantize_s16_f32(const TfwDequantizeParams *p, const int16_t *input, float *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_QUANTIZE_H */
