/* The device side of docs/protocol.md (version 4) apart from main(): bytes in, replies out.
 * The board's main loop (tfw_app.c) and the host-side tests and fuzzer drive this same code; it reaches
 * the board and the model only through tfw_board.h and tfw_model.h. */
#ifndef TFW_DEVICE_H
#define TFW_DEVICE_H

#include <stdint.h>

#include "tfw_config.h"
#include "tfw_frame.h"

#ifndef TFW_PROFILE_LAYERS
#define TFW_PROFILE_LAYERS 0u /* layers a PROFILE run records: the generated tfw_config.h gives the model's */
#endif

#ifndef TFW_RX_GAP_MS
#define TFW_RX_GAP_MS 200u /* a frame that stops arriving for this long is dropped */
#endif

/* One reply: a message type, a small fixed head and an optional body that is not copied. */
typedef struct {
  uint8_t type;
  uint8_t head_len;
  uint8_t head[16];
  const uint8_t *data;
  uint32_t data_len;
} TfwReply;

typedef struct {
  TfwFrameParser parser;
  uint32_t received;        /* input bytes held so far */
  uint32_t session;         /* opened by the last HELLO; 0 after boot */
  uint16_t stop;            /* runs stop after this layer (the last PROBE's); TFW_ALL_LAYERS after boot */
  /* PROFILE: runs a layer at a time and records each layer's ticks (less the cost of timing a layer). */
  uint8_t profile;          /* on: set by PROFILE; off after boot */
  uint16_t recorded;        /* layers the last profiled run recorded (0: none since PROFILE switched it on) */
  uint32_t read_cost;       /* ticks between two back-to-back timer readings, measured at boot */
  uint32_t layer_cost;      /* ticks that timing an empty layer takes, measured at boot */
  uint64_t profile_total;   /* ticks of the last profiled run, as its RESULT said */
  uint32_t layer_ticks[TFW_PROFILE_LAYERS > 0u ? TFW_PROFILE_LAYERS : 1u];
  uint64_t quiet_since;     /* a timer reading taken while no byte was waiting, mid-frame */
  uint8_t quiet;            /* quiet_since is valid: no byte arrived since it was taken */
  uint8_t idle_polls;       /* the timer is read every 256 idle polls only */
  /* The last request answered (to recognise a retransmission) and its reply (to replay it). */
  uint8_t has_last;
  uint8_t last_type;
  uint8_t last_seq;
  uint16_t last_len;
  uint32_t last_crc;
  TfwReply last_reply;
} TfwDevice;

/* Clears all state; `rx` (rx_max bytes) receives frame payloads. */
void tfw_device_init(TfwDevice *dev, uint8_t *rx, uint16_t rx_max);
/* Initialises the model (ERROR MODEL if that fails) and sends the boot INFO. */
void tfw_device_boot(TfwDevice *dev);
/* One received byte; answers each complete frame. */
void tfw_device_feed(TfwDevice *dev, uint8_t byte);
/* Call when no byte is waiting: drops a frame that stopped arriving TFW_RX_GAP_MS ago. */
void tfw_device_idle(TfwDevice *dev);

#endif /* TFW_DEVICE_H */
