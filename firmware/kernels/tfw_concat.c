/* CONCATENATION (see tfw_concat.h), the copy order of TFLM's reference_ops::Concatenation. */
#include "tfw_concat.h"

#include <stddef.h>
#include <string.h>

TfwStatus tfw_concatenation(const TfwConcatParams *p, const void *const *inputs, void *output) {
  int32_t o, i;
  uint8_t *out = (uint8_t *)output;
  if (p == NULL || inputs == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (p->inputs < 1 || p->inputs > TFW_CONCAT_MAX_INPUTS || p->outer < 0) return TFW_ERR_BAD_ARG;
  for (i = 0; i < p->inputs; ++i) {
    if (inputs[i] == NULL || p->chunk_bytes[i] < 0) return TFW_ERR_BAD_ARG;
  }
  for (o = 0; o < p->outer; ++o) {
    for (i = 0; i < p->inputs; ++i) {
      const size_t n = (size_t)p->chunk_bytes[i];
      memcpy(out, (const uint8_t *)inputs[i] + (size_t)o * n, n);
      out += n;
    }
  }
  return TFW_OK;
}
