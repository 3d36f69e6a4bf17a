/* ADD, SUB and MUL (see tfw_elementwise.h). Mirrors TFLM's reference_integer_ops::Add / Mul and
 * reference_ops::Sub for int8 and int16 operands; broadcasting visits the output in order, as
 * TFLM's BroadcastBinaryOpSimple does, with the per-element arithmetic of the elementwise path. */
#include "tfw_elementwise.h"

#include <stddef.h>

#include "tfw_fixedpoint.h"

static int32_t tfw_ew_clamp(int32_t v, int32_t lo, int32_t hi) {
  if (v < lo) return lo;
  if (v > hi) return hi;
  return v;
}

static int tfw_broadcast_ok(const TfwBroadcast *b) {
  int32_t d;
  if (b->dims < 1 || b->dims > TFW_BROADCAST_MAX_DIMS) return 0;
  for (d = 0; d < b->dims; ++d) {
    if (b->shape[d] < 1 || b->stride1[d] < 0 || b->stride2[d] < 0) return 0;
  }
  return 1;
}

/* Where the next innermost row of the loop nest starts in each input. */
typedef struct {
  int32_t index[TFW_BROADCAST_MAX_DIMS];
  int32_t offset1, offset2;
} TfwBroadcastCursor;

static int32_t tfw_broadcast_rows(const TfwBroadcast *b) {
  int32_t d, rows = 1;
  for (d = 0; d + 1 < b->dims; ++d) rows *= b->shape[d];
  return rows;
}

static void tfw_broadcast_start(TfwBroadcastCursor *c) {
  int32_t d;
  for (d = 0; d < TFW_BROADCAST_MAX_DIMS; ++d) c->index[d] = 0;
  c->offset1 = 0;
  c->offset2 = 0;
}

static void tfw_broadcast_next_row(const TfwBroadcast *b, TfwBroadcastCursor *c) {
  int32_t d;
  for (d = b->dims - 2; d >= 0; --d) {
    c->offset1 += b->stride1[d];
    c->offset2 += b->stride2[d];
    if (++c->index[d] < b->shape[d]) return;
    c->offset1 -= b->stride1[d] * b->shape[d];
    c->offset2 -= b->stride2[d] * b->shape[d];
    c->index[d] = 0;
  }
}

/* Runs ELEM(params, a, b) over the loop nest, writing the output in order. In place is safe when the
 * output is an input with the output's own strides: each element is read before it is written. */
#define TFW_BROADCAST_LOOP(p, input1, input2, output, OUT_T, ELEM)                           \
  do {                                                                                       \
    const TfwBroadcast *b_ = &(p)->bcast;                                                    \
    const int32_t rows_ = tfw_broadcast_rows(b_);                                            \
    const int32_t n_ = b_->shape[b_->dims - 1];                                              \
    const int32_t s1_ = b_->stride1[b_->dims - 1], s2_ = b_->stride2[b_->dims - 1];          \
    TfwBroadcastCursor c_;                                                                   \
    int32_t r_, i_;                                                                          \
    OUT_T *o_ = (output);                                                                    \
    tfw_broadcast_start(&c_);                                                                \
    for (r_ = 0; r_ < rows_; ++r_) {                                                         \
      const size_t a0_ = (size_t)c_.offset1, b0_ = (size_t)c_.offset2;                       \
      for (i_ = 0; i_ < n_; ++i_) {                                                          \
        const int32_t x1_ = (input1)[a0_ + (size_t)(i_ * s1_)];                              \
        const int32_t x2_ = (input2)[b0_ + (size_t)(i_ * s2_)];                              \
        *o_++ = (OUT_T)ELEM((p), x1_, x2_);                                                  \
      }                                                                                      \
      tfw_broadcast_next_row(b_, &c_);                                                       \
    }                                                                                        \
  } while (0)

/* ---- ADD / SUB ------------------------------------------------------------------------ */

static int tfw_add_params_ok(const TfwAddParams *p, int32_t qmin, int32_t qmax) {
  if (!tfw_broadcast_ok(&p->bcast)) return 0;
  /* Offsets are negated zero points of the operand type (TFLM DCHECKs the same ranges). */
  if (p->input1_offset < -qmax || p->input1_offset > -qmin) return 0;
  if (p->input2_offset < -qmax || p->input2_offset > -qmin) return 0;
  if (p->output_offset < qmin || p->output_offset > qmax) return 0;
  /* (2 * qmax + 1) << left_shift must stay within int32. */
  if (p->left_shift < 0 || p->left_shift > ((qmax > 127) ? 15 : 22)) return 0;
  if (p->input1_shift < -31 || p->input1_shift > 0 || p->input2_shift < -31 || p->input2_shift > 0 ||
      p->output_shift < -31 || p->output_shift > 0) {
    return 0;
  }
  if (p->input1_multiplier < 0 || p->input2_multiplier < 0 || p->output_multiplier < 0) return 0;
  return p->act_min >= qmin && p->act_max <= qmax && p->act_min <= p->act_max;
}

static int32_t tfw_add_scaled(const TfwAddParams *p, int32_t x1, int32_t x2, int32_t *s2) {
  *s2 = tfw_multiply_by_quantized_multiplier(tfw_shl32(x2 + p->input2_offset, p->left_shift),
                                             p->input2_multiplier, p->input2_shift);
  return tfw_multiply_by_quantized_multiplier(tfw_shl32(x1 + p->input1_offset, p->left_shift),
                                              p->input1_multiplier, p->input1_shift);
}

static int32_t tfw_add_finish(const TfwAddParams *p, int32_t raw) {
  const int32_t out = tfw_add_wrap32(
      tfw_multiply_by_quantized_multiplier(raw, p->output_multiplier, p->output_shift), p->output_offset);
  return tfw_ew_clamp(out, p->act_min, p->act_max);
}

static int32_t tfw_add_elem(const TfwAddParams *p, int32_t x1, int32_t x2) {
  int32_t s2;
  const int32_t s1 = tfw_add_scaled(p, x1, x2, &s2);
  return tfw_add_finish(p, tfw_add_wrap32(s1, s2));
}

static int32_t tfw_sub_elem(const TfwAddParams *p, int32_t x1, int32_t x2) {
  int32_t s2;
  const int32_t s1 = tfw_add_scaled(p, x1, x2, &s2);
  return tfw_add_finish(p, tfw_sub_wrap32(s1, s2));
}

TfwStatus tfw_add_s8(const TfwAddParams *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
  if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (!tfw_add_params_ok(p, INT8_MIN, INT8_MAX)) return TFW_ERR_BAD_ARG;
  TFW_BROADCAST_LOOP(p, input1, input2, output, int8_t, tfw_add_elem);
  return TFW_OK;
}

TfwStatus tfw_sub_s8(const TfwAddParams *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
  if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (!tfw_add_params_ok(p, INT8_MIN, INT8_MAX)) return TFW_ERR_BAD_ARG;
  TFW_BROADCAST_LOOP(p, input1, input2, output, int8_t, tfw_sub_elem);
  return TFW_OK;
}

TfwStatus tfw_add_s16(const TfwAddParams *p, const int16_t *input1, const int16_t *input2,
                      int16_t *output) {
  if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (!tfw_add_params_ok(p, INT16_MIN, INT16_MAX)) return TFW_ERR_BAD_ARG;
  TFW_BROADCAST_LOOP(p, input1, input2, output, int16_t, tfw_add_elem);
  return TFW_OK;
}

TfwStatus tfw_sub_s16(const TfwAddParams *p, const int16_t *input1, const int16_t *input2,
                      int16_t *output) {
  if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (!tfw_add_params_ok(p, INT16_MIN, INT16_MAX)) return TFW_ERR_BAD_ARG;
  TFW_BROADCAST_LOOP(p, input1, input2, output, int16_t, tfw_sub_elem);
  return TFW_OK;
}

/* ---- MUL -------------------------------------------------------------------------------- */

static int tfw_mul_params_ok(const TfwMulParams *p, int32_t qmin, int32_t qmax) {
  if (!tfw_broadcast_ok(&p->bcast)) return 0;
  if (qmax > 127) {
    /* TFLM requires zero points of 0 for int16 MUL; that also keeps the product within int32. */
    if (p->input1_offset != 0 || p->input2_offset != 0 || p->output_offset != 0) return 0;
  } else {
    if (p->input1_offset < -qmax || p->input1_offset > -qmin) return 0;
    if (p->input2_offset < -qmax || p->input2_offset > -qmin) return 0;
    if (p->output_offset < qmin || p->output_offset > qmax) return 0;
  }
  if (p->output_shift < -31 || p->output_shift > 30 || p->output_multiplier < 0) return 0;
  return p->act_min >= qmin && p->act_max <= qmax && p->act_min <= p->act_max;
}

static int32_t tfw_mul_elem(const TfwMulParams *p, int32_t x1, int32_t x2) {
  const int32_t prod = (x1 + p->input1_offset) * (x2 + p->input2_offset);
  const int32_t out = tfw_add_wrap32(
      tfw_multiply_by_quantized_multiplier(prod, p->output_multiplier, p->output_shift), p->output_offset);
  return tfw_ew_clamp(out, p->act_min, p->act_max);
}

TfwStatus tfw_mul_s8(const TfwMulParams *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
  if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (!tfw_mul_params_ok(p, INT8_MIN, INT8_MAX)) return TFW_ERR_BAD_ARG;
  TFW_BROADCAST_LOOP(p, input1, input2, output, int8_t, tfw_mul_elem);
  return TFW_OK;
}

TfwStatus tfw_mul_s16(const TfwMulParams *p, const int16_t *input1, const int16_t *input2,
                      int16_t *output) {
  if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) return TFW_ERR_BAD_ARG;
  if (!tfw_mul_params_ok(p, INT16_MIN, INT16_MAX)) return TFW_ERR_BAD_ARG;
  TFW_BROADCAST_LOOP(p, input1, input2, output, int16_t, tfw_mul_elem);
  return TFW_OK;
}
