/* SOFTMAX over the innermost axis, bit-exact with TFLM's reference kernels:
 * int8 -> int8 (output scale 1/256, zero point -128, as TFLM requires; parameters
 * from tinyml_fw/aot/quant.py: softmax_params) and int16 -> int16 (zero points 0,
 * output scale 1/32768; parameters and the two interpolation tables from
 * quant.py: softmax_s16_params and softmax_s16_tables). */
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
  /* Read by the fast kernel alone: exp_table[k] = the Q0.31 exponential of the difference -k, for
   * k = 0 .. min(255, -diff_min), 0 for the larger k up to 255 (tinyml_fw/aot/fixedpoint.py), or NULL. */
  const int32_t *exp_table;
} TfwSoftmaxParams;

/* input and output are [outer_size][depth]. Returns TFW_ERR_BAD_ARG for bad
 * parameters and TFW_ERR_MODEL when a row's sum of exponentials is too large
 * for the output rescale (TFLM aborts in the same case; needs depth > 511). */
TfwStatus tfw_softmax_s8(const TfwSoftmaxParams *p, const int8_t *input, int8_t *output);

/* The same from the table (tfw_softmax_dsp.c): the generated model calls it directly on the boards with
 * fast kernels, once the generator has made tfw_softmax_s8's checks. Needs exp_table (else
 * TFW_ERR_BAD_ARG). */
TfwStatus tfw_softmax_s8_fast(const TfwSoftmaxParams *p, const int8_t *input, int8_t *output);

/* Entries of each int16 interpolation table: 512 segments and the end point. */
#define TFW_SOFTMAX_S16_LUT_SIZE 513

typedef struct {
  int32_t input_multiplier;  /* beta * input_scale * 65535 / 10 as a Q31 multiplier ... */
  int32_t input_shift;       /* ... and its power of two, in [-31, 30] */
  int32_t outer_size;        /* number of rows */
  int32_t depth;             /* row length, 1..65536 (the int32 sum of exps must not overflow) */
  const int16_t *exp_lut;    /* exp(x) for x in [-10, 0], output steps of 2/65535 */
  const int16_t *recip_lut;  /* 1 / (1 + x) for x in [0, 1], output steps of 2/65535 */
                             /* both tables in TFW_FLASH (tfw_flash.h) */
} TfwSoftmaxS16Params;

/* input and output are [outer_size][depth]; output values are probabilities in steps
 * of 1/32768 (0..32767). The output may be the input (rows are read before written).
 * Returns TFW_ERR_BAD_ARG for NULL pointers or bad parameters, TFW_ERR_MODEL when a
 * table gives a row a sum of exps TFLM could not rescale either. */
TfwStatus tfw_softmax_s16(const TfwSoftmaxS16Params *p, const int16_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_SOFTMAX_H */
