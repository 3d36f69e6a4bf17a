/* FULLY_CONNECTED int8, the fast kernels for cores with the DSP extension (see tfw_dsp.h): four output
 * rows at once, four inputs per step, two multiply-accumulates per SMLAD (tfw_dot_dsp.h: tfw_rows_s8), the
 * weights widened to int16 and interleaved at generate time so that the two SXTB16 of an input word serve
 * the four rows. The input offset is folded at generate time into fused_bias[o] = bias[o] + input_offset *
 * sum_d w[o][d] (exact: both sums are taken modulo 2^32, as the portable kernel's), so the inner loop
 * multiplies raw int8 values, and the requantization comes precomputed per output (tfw_requant_next), one
 * kernel per requantization mode. Bit-exact with tfw_fully_connected_s8; the generated model calls them
 * directly once the generator has made tfw_fully_connected_s8's checks (tinyml_fw/aot/ops/fully_connected.py). */
#include <stddef.h>

#include "tfw_dot_dsp.h"
#include "tfw_fully_connected.h"

/* The kernel for one requantization mode (a constant: each mode gets its own copy). */
static TFW_ALWAYS_INLINE TfwStatus tfw_fc_fast(const TfwFcFastParams *p, const int8_t *input, int8_t *output,
                                               const int32_t mode) {
  /* Held in locals: the int8 output stores may alias anything, so fields read through p would be loaded
   * again after every store. */
  const int32_t depth = p->accum_depth, rows = p->output_depth, batches = p->batches;
  const int32_t oo = p->output_offset, lo = p->act_min, hi = p->act_max;
  const uint32_t *const blocks = (const uint32_t *)(const void *)p->blocks;
  int32_t b;
  for (b = 0; b < batches; ++b) {
    tfw_rows_s8(blocks, input + (size_t)b * (size_t)depth, depth, output + (size_t)b * (size_t)rows, rows, mode,
                oo, lo, hi);
  }
  return TFW_OK;
}

TfwStatus tfw_fully_connected_s8_fast(const TfwFcFastParams *p, const int8_t *input, int8_t *output) {
  return tfw_fc_fast(p, input, output, TFW_REQUANT_ANY);
}

TfwStatus tfw_fully_connected_s8_fast_r(const TfwFcFastParams *p, const int8_t *input, int8_t *output) {
  return tfw_fc_fast(p, input, output, TFW_REQUANT_RIGHT);
}

TfwStatus tfw_fully_connected_s8_fast_r_relu(const TfwFcFastParams *p, const int8_t *input, int8_t *output) {
  return tfw_fc_fast(p, input, output, TFW_REQUANT_RIGHT_LO);
}

TfwStatus tfw_fully_connected_s8_fast_r_sat(const TfwFcFastParams *p, const int8_t *input, int8_t *output) {
  return tfw_fc_fast(p, input, output, TFW_REQUANT_RIGHT_SAT);
}
