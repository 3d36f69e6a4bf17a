/* Quantized activations, bit-exact with TFLM's kernels: RELU, RELU6, LEAKY_RELU (int8 and int16),
 * LOGISTIC and TANH (int8: gemmlowp fixed point; int16: TFLM's interpolated sigmoid table) and
 * HARD_SWISH (int8 only, as in TFLM). Parameters come from tinyml_fw/aot/quant.py (relu_params,
 * relu6_params, leaky_relu_params, logistic_tanh_s8_params, lut16_params, hard_swish_params).
 * Every kernel is elementwise over `size` values and may run in place (output == input). */
#ifndef TFW_ACTIVATIONS_H
#define TFW_ACTIVATIONS_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RELU: out = clamp(output_offset + MBQM(x - input_offset, output_multiplier, output_shift)). */
typedef struct {
  int32_t input_offset;   /* input zero point (subtracted) */
  int32_t output_offset;  /* output zero point */
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
  int32_t size;
} TfwReluParams;

/* RELU6: out = clamp(x, zero, six), both in the input's quantization (TFLM does not rescale). */
typedef struct {
  int32_t zero, six;
  int32_t size;
} TfwRelu6Params;

/* LEAKY_RELU: x - input_offset >= 0 goes through the identity multiplier, below 0 through alpha's
 * (alpha_multiplier < 0 for a negative alpha: its magnitude is applied and the result negated). */
typedef struct {
  int32_t input_offset, output_offset;  /* zero points */
  int32_t identity_multiplier, identity_shift;
  int32_t alpha_multiplier, alpha_shift;
  int32_t size;
} TfwLeakyReluParams;

/* int8 LOGISTIC and TANH: the input is rescaled to Q4.27 (saturating beyond +/- radius) and run
 * through gemmlowp's fixed-point logistic / tanh. LOGISTIC's output is in steps of 1/256 from -128,
 * TANH's in steps of 1/128 around 0, whatever the output tensor says (as in TFLM). */
typedef struct {
  int32_t input_zero_point;
  int32_t input_range_radius;
  int32_t input_multiplier, input_left_shift;  /* Q4.27 rescale; shift > 30 only with radius 0 */
  int32_t size;
} TfwLogisticParams;
typedef TfwLogisticParams TfwTanhParams;

/* int16 LOGISTIC and TANH (zero points 0, output scale 2^-15): x * input_multiplier, rounded right
 * shift by input_left_shift, then linear interpolation in a 256-entry sigmoid table. */
typedef struct {
  int32_t input_multiplier;  /* 0..32767 (TFLM's power-of-two case resolved on the host) */
  int32_t input_left_shift;  /* 0..31 */
  int32_t size;
} TfwLogisticS16Params;
typedef TfwLogisticS16Params TfwTanhS16Params;

/* int8 HARD_SWISH: TFLM's 16-bit fixed-point scheme with Q15 multipliers. */
typedef struct {
  int32_t input_zero_point, output_zero_point;
  int32_t output_multiplier, output_exponent;    /* Q15 multiplier, exponent in [-15, 0] */
  int32_t reluish_multiplier, reluish_exponent;  /* Q15 multiplier, exponent in [-15, 30] */
  int32_t size;
} TfwHardSwishParams;

TfwStatus tfw_relu_s8(const TfwReluParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_relu_s16(const TfwReluParams *p, const int16_t *input, int16_t *output);
TfwStatus tfw_relu6_s8(const TfwRelu6Params *p, const int8_t *input, int8_t *output);
TfwStatus tfw_relu6_s16(const TfwRelu6Params *p, const int16_t *input, int16_t *output);
TfwStatus tfw_leaky_relu_s8(const TfwLeakyReluParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_leaky_relu_s16(const TfwLeakyReluParams *p, const int16_t *input, int16_t *output);
TfwStatus tfw_logistic_s8(const TfwLogisticParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_tanh_s8(const TfwTanhParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_logistic_s16(const TfwLogisticS16Params *p, const int16_t *input, int16_t *output);
TfwStatus tfw_tanh_s16(const TfwTanhS16Params *p, const int16_t *input, int16_t *output);
TfwStatus tfw_hard_swish_s8(const TfwHardSwishParams *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_ACTIVATIONS_H */
