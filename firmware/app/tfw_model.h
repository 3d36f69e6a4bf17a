/* What a generated model gives the application: its identity, its tensors and one call to run it.
 * The AOT engine and the TFLM application both implement this header. */
#ifndef TFW_MODEL_H
#define TFW_MODEL_H

#include <stdint.h>

#include "tfw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint8_t sha256[32];    /* of the .tflite the firmware was generated from */
  uint32_t input_bytes;
  uint32_t output_bytes;
  uint32_t arena_bytes;  /* AOT plan or TFLM arena */
  const char *runtime;   /* "aot" or "tflm" */
} TfwModelInfo;

extern const TfwModelInfo tfw_model_info;

/* Prepares the runtime; called once at boot. */
TfwStatus tfw_model_init(void);
/* Where the host's input bytes go, and where the output is read after tfw_model_invoke. */
int8_t *tfw_model_input(void);
const int8_t *tfw_model_output(void);
TfwStatus tfw_model_invoke(void);

#ifdef __cplusplus
}
#endif

#endif /* TFW_MODEL_H */
