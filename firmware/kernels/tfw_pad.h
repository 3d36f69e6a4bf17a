/* PAD and PADV2 (constant padding), bit-exact with TFLM's reference_ops::Pad for int8 and int16:
 * up to 5 dimensions, each padded before and after with one constant value. The shape is
 * left-extended to 5 dimensions on the host (tinyml_fw/aot/ops/pad.py). */
#ifndef TFW_PAD_H
#define TFW_PAD_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TFW_PAD_DIMS 5

typedef struct {
  int32_t input_dims[TFW_PAD_DIMS];  /* input shape, outermost first, left-extended with 1s */
  int32_t before[TFW_PAD_DIMS];      /* values inserted before each dimension */
  int32_t after[TFW_PAD_DIMS];       /* values appended after each dimension */
  int32_t pad_value;  /* the padding, in the tensor's type: the output zero point for int8 PAD,
                         0 for int16 PAD, the constant_values tensor for PADV2 */
} TfwPadParams;

/* output dimension d has input_dims[d] + before[d] + after[d] values.
 * Returns TFW_ERR_BAD_ARG for NULL pointers, negative sizes or a pad value out of range. */
TfwStatus tfw_pad_s8(const TfwPadParams *p, const int8_t *input, int8_t *output);
TfwStatus tfw_pad_s16(const TfwPadParams *p, const int16_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_PAD_H */
