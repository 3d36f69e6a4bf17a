/* CONCATENATION along any axis, for any element type (TFLM requires the inputs to share the
 * output's quantization, so it is a copy). Parameters come from tinyml_fw/aot/ops/concat.py. */
#ifndef TFW_CONCAT_H
#define TFW_CONCAT_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TFW_CONCAT_MAX_INPUTS 10 /* TFLM's kMaxInputNum */

typedef struct {
  int32_t inputs;                              /* 1..TFW_CONCAT_MAX_INPUTS */
  int32_t outer;                               /* product of the dimensions before the axis */
  int32_t chunk_bytes[TFW_CONCAT_MAX_INPUTS];  /* bytes of input i per outer index (axis * inner) */
} TfwConcatParams;

/* output[o] = input0[o] ++ input1[o] ++ ... for each outer index o. `inputs` holds p->inputs
 * pointers; the output must not overlap them. */
TfwStatus tfw_concatenation(const TfwConcatParams *p, const void *const *inputs, void *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_CONCAT_H */
