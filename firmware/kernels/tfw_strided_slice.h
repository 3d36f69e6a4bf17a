/* STRIDED_SLICE with constant begin/end/strides, for any element type: a gather with an affine index
 * per dimension. The begin/end/mask logic of TFLM (StridedSliceStartForAxis / EndForAxis) runs on
 * the host (tinyml_fw/aot/ops/slicing.py); the kernel only walks the result. */
#ifndef TFW_STRIDED_SLICE_H
#define TFW_STRIDED_SLICE_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TFW_SLICE_MAX_DIMS 5

typedef struct {
  int32_t dims;                       /* 1..TFW_SLICE_MAX_DIMS */
  int32_t count[TFW_SLICE_MAX_DIMS];  /* output extent per dimension, outermost first */
  int32_t step[TFW_SLICE_MAX_DIMS];   /* input elements between neighbours along it (may be < 0) */
  int32_t start;                      /* input element of the first output element */
  int32_t element_bytes;              /* 1, 2 or 4 */
} TfwStridedSliceParams;

/* output (contiguous) = input[start + sum_d i_d * step[d]] in row-major order of (i_0, i_1, ...).
 * The output must not overlap the input. */
TfwStatus tfw_strided_slice(const TfwStridedSliceParams *p, const void *input, void *output);

#ifdef __cplusplus
}
#endif

#endif /* TFW_STRIDED_SLICE_H */
