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

/* Per-layer inspection (docs/protocol.md, PROBE and PROFILE). A layer is one step of the runtime (the AOT
 * engine: one kernel call; a runtime that cannot stop between layers has none). */
#define TFW_ALL_LAYERS 0xFFFFu
/* How many layers the runtime can stop after (0: none). */
uint16_t tfw_model_layer_count(void);
/* Runs layers first … last only (last >= the count: to the end; first >= the count: nothing), on the memory
 * as the layer before `first` left it. tfw_model_invoke_layers(0, TFW_ALL_LAYERS) is tfw_model_invoke. After
 * it, the output of layer `last` is in memory. */
TfwStatus tfw_model_invoke_layers(uint16_t first, uint16_t last);
/* Where layer `layer`'s output tensor lives and its size in bytes (*bytes); NULL when there is no such
 * layer. It holds that layer's output right after a run that stopped there. */
const int8_t *tfw_model_layer_output(uint16_t layer, uint32_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* TFW_MODEL_H */
