/* See fake_board.h. The model's output shares memory with its input, as the AOT engine's memory plan may
 * arrange, so that a RESULT replayed after the input was overwritten would show. */
#include "fake_board.h"

#include <string.h>

#include "tfw_board.h"
#include "tfw_config.h"
#include "tfw_device.h"
#include "tfw_model.h"

static uint8_t g_sent[1u << 20];
static size_t g_sent_len;
static uint64_t g_ticks;
static int g_invokes;
static int8_t g_arena[FAKE_INPUT_BYTES]; /* input at 0, output at 0 too */
static uint8_t g_rx[TFW_RX_MAX];
static TfwDevice g_device;

const TfwModelInfo tfw_model_info = {
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
     0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f},
    FAKE_INPUT_BYTES,
    FAKE_OUTPUT_BYTES,
    FAKE_INPUT_BYTES,
    "fake",
};

void tfw_board_init(void) {}
void tfw_board_putc(uint8_t byte) {
  if (g_sent_len < sizeof g_sent) g_sent[g_sent_len] = byte;
  ++g_sent_len;
}
int tfw_board_getc(void) { return -1; }
uint64_t tfw_board_ticks(void) { return g_ticks; }
uint32_t tfw_board_flash_bytes(void) { return 4096u; }
uint32_t tfw_board_ram_bytes(void) { return 1024u; }
uint32_t tfw_board_stack_bytes(void) { return 512u; }
uint32_t tfw_board_stack_used(void) { return 128u; }

int fake_model(const uint8_t *input, uint8_t *output) {
  if (input[0] == 0x7Fu && input[1] == 0x80u) return -1;
  for (unsigned j = 0; j < FAKE_OUTPUT_BYTES; ++j) {
    uint32_t acc = j;
    for (unsigned i = j; i < FAKE_INPUT_BYTES; i += FAKE_OUTPUT_BYTES) acc = acc * 31u + input[i];
    output[j] = (uint8_t)acc;
  }
  return 0;
}

TfwStatus tfw_model_init(void) { return TFW_OK; }
int8_t *tfw_model_input(void) { return g_arena; }
const int8_t *tfw_model_output(void) { return g_arena; }
static TfwStatus run_fake_model(void) {
  uint8_t out[FAKE_OUTPUT_BYTES];
  if (fake_model((const uint8_t *)g_arena, out) != 0) return TFW_ERR_MODEL;
  memcpy(g_arena, out, sizeof out); /* overwrites the start of the input */
  return TFW_OK;
}

/* Two layers: layer 0 leaves the input as it is (its output is the whole arena), layer 1 is the model. Each
 * layer advances the timer by FAKE_LAYER_TICKS(k), so a profile has known figures. */
uint16_t tfw_model_layer_count(void) { return FAKE_LAYERS; }
TfwStatus tfw_model_invoke_layers(uint16_t first, uint16_t last) {
  if (first == 0) ++g_invokes; /* a run starts at layer 0 */
  for (uint16_t k = first; k < FAKE_LAYERS; ++k) {
    g_ticks += FAKE_LAYER_TICKS(k);
    if (k == 1 && run_fake_model() != TFW_OK) return TFW_ERR_MODEL;
    if (k == last) break;
  }
  return TFW_OK;
}
TfwStatus tfw_model_invoke(void) { return tfw_model_invoke_layers(0, TFW_ALL_LAYERS); }
const int8_t *tfw_model_layer_output(uint16_t layer, uint32_t *bytes) {
  if (layer >= FAKE_LAYERS) return NULL;
  *bytes = layer == 0 ? FAKE_INPUT_BYTES : FAKE_OUTPUT_BYTES;
  return g_arena;
}

void harness_reset(void) {
  g_sent_len = 0;
  g_ticks = 0;
  g_invokes = 0;
  memset(g_arena, 0, sizeof g_arena);
  tfw_device_init(&g_device, g_rx, TFW_RX_MAX);
}

void harness_boot(void) { tfw_device_boot(&g_device); }

void harness_feed(const uint8_t *bytes, size_t n) {
  for (size_t i = 0; i < n; ++i) tfw_device_feed(&g_device, bytes[i]);
}

void harness_idle(uint64_t ticks) {
  tfw_device_idle(&g_device); /* the line is quiet from now (the device notes the time) */
  g_ticks += ticks;
  for (int i = 0; i < 256; ++i) tfw_device_idle(&g_device); /* it reads its timer every 256 polls */
}

size_t harness_take(uint8_t *out, size_t cap) {
  const size_t n = g_sent_len;
  memcpy(out, g_sent, n < cap ? n : cap);
  g_sent_len = 0;
  return n;
}

int harness_invokes(void) { return g_invokes; }
