/* int8 -> int8 SOFTMAX, bit-exact with TFLM's reference int8 softmax.
 * The output is always quantized with scale 1/256 and zero point -128 (TFLM
 * requires exactly that). Parameters come from tinyml_fw/aot/quant.py:
 * softmax_params(input_scale, beta). */
#ifndef TFW_SOFTMAX_H
#define TFW_SOFTMAX_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t input_multiplier;  /* beta * input_scale * 2^26, as Q31 multiplier ... */
  int32_t input_left_shift;  /* ... and left shift (0..31) */
  int32_t diff_min;          /* differences to the row max below this give exactly -128 */
  int32_t outer_size;        /* number of rows */
  int32_t depth;             /* row length (softmax axis, innermost) */
} TfwSoftmaxParams;

/* input and output are [outer_size][depth]. Returns TFW_ERR_BAD_ARG for bad
 * parameters and TFW_ERR_MODEL when a row's sum of exponentials is too large
 * for the output rescale (TFLM aborts in the same case; needs depth > 511). */
TfwStatus tfw_softmax_s8(const TfwSoftmaxParams *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_SOFTMAX_H */
