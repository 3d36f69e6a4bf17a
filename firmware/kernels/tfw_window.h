/* Sliding-window geometry shared by the convolution and pooling kernels. */
#ifndef TFW_WINDOW_H
#define TFW_WINDOW_H

#include <stdint.h>

/* The taps t in [*start, *end) of a window whose input index origin + dilation * t lies in
 * [0, in_size): TFLM's reference kernels visit the same taps (they skip the others, which is
 * how zero padding works without padding the input). dilation >= 1, taps >= 0. */
static inline void tfw_window_taps(int32_t origin, int32_t dilation, int32_t in_size, int32_t taps,
                                   int32_t *start, int32_t *end) {
  int32_t s = 0, e = taps;
  if (origin < 0) s = (-origin + dilation - 1) / dilation;
  if (in_size - origin <= 0) {
    e = 0;
  } else {
    const int32_t last = (in_size - origin + dilation - 1) / dilation;
    if (last < e) e = last;
  }
  if (s > e) s = e;
  *start = s;
  *end = e;
}

#endif /* TFW_WINDOW_H */
