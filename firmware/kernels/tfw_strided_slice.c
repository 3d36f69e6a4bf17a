/* STRIDED_SLICE (see tfw_strided_slice.h): the same element order as TFLM's
 * reference_ops::StridedSlice, which writes the output sequentially. */
#include "tfw_strided_slice.h"

#include <stddef.h>
#include <string.h>

TfwStatus tfw_strided_slice(const TfwStridedSliceParams *p, const void *input, void *output) {
  int32_t index[TFW_SLICE_MAX_DIMS] = {0};
  int32_t d, rows = 1, r, i;
  int32_t offset;
  const uint8_t *in = (const uint8_t *)input;
  uint8_t *out = (uint8_t *)output;
  size_t eb;
  if (p == NULL || input == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->dims < 1 || p->dims > TFW_SLICE_MAX_DIMS || p->start < 0) return TFW_ERR_BAD_ARG;
  if (p->element_bytes != 1 && p->element_bytes != 2 && p->element_bytes != 4) return TFW_ERR_BAD_ARG;
  for (d = 0; d < p->dims; ++d) {
    if (p->count[d] < 0) return TFW_ERR_BAD_ARG;
    if (p->count[d] == 0) return TFW_OK; /* empty result */
    if (d + 1 < p->dims) rows *= p->count[d];
  }
  eb = (size_t)p->element_bytes;
  offset = p->start;
  for (r = 0; r < rows; ++r) {
    const int32_t n = p->count[p->dims - 1], step = p->step[p->dims - 1];
    if (step == 1) {
      memcpy(out, in + (size_t)offset * eb, (size_t)n * eb);
      out += (size_t)n * eb;
    } else if (eb == 1) {
      for (i = 0; i < n; ++i) *out++ = in[offset + i * step];
    } else {
      for (i = 0; i < n; ++i) {
        memcpy(out, in + (size_t)(offset + i * step) * eb, eb);
        out += eb;
      }
    }
    /* Next row: advance the odometer over the outer dimensions. */
    for (d = p->dims - 2; d >= 0; --d) {
      offset += p->step[d];
      if (++index[d] < p->count[d]) break;
      offset -= p->step[d] * p->count[d];
      index[d] = 0;
    }
  }
  return TFW_OK;
}
