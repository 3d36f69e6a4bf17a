/* Message handling of docs/protocol.md (version 3): handshake, input chunks, inference, replies,
 * replay of the last reply for a retransmitted request, ERROR for every dropped frame, and PROBE: runs that
 * stop after a layer, and that layer's output read back. */
#include "tfw_device.h"

#include <stddef.h>
#include <string.h>

#include "tfw_board.h"
#include "tfw_config.h"
#include "tfw_model.h"

static void put_u16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
  put_u16(p, v);
  put_u16(p + 2, v >> 16);
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | ((unsigned)p[1] << 8u)); }
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
/* INFO's strings are short (a board id, a runtime, a version): capped so that INFO's buffer, on the stack,
 * stays small (the stack's high-water mark counts it). */
#define TFW_INFO_STRING_MAX 63u

static size_t put_str(uint8_t *p, const char *s) {
  size_t n = strlen(s);
  if (n > TFW_INFO_STRING_MAX) n = TFW_INFO_STRING_MAX;
  p[0] = (uint8_t)n;
  memcpy(p + 1, s, n);
  return n + 1;
}

static void send_info(const TfwDevice *dev, uint8_t seq) {
  uint8_t msg[2 + 2 + 32 + 9 * 4 + 2 + 3 * (1 + TFW_INFO_STRING_MAX)];
  uint8_t *p = msg;
  put_u16(p, TFW_PROTOCOL_VERSION);
  put_u16(p + 2, dev->parser.capacity);
  memcpy(p + 4, tfw_model_info.sha256, 32);
  p += 36;
  put_u32(p, tfw_model_info.input_bytes);
  put_u32(p + 4, tfw_model_info.output_bytes);
  put_u32(p + 8, tfw_board_flash_bytes());
  put_u32(p + 12, tfw_board_ram_bytes());
  put_u32(p + 16, tfw_model_info.arena_bytes);
  put_u32(p + 20, TFW_TICK_HZ);
  put_u32(p + 24, dev->session);
  put_u32(p + 28, tfw_board_stack_bytes());
  put_u32(p + 32, tfw_board_stack_used());
  put_u16(p + 36, tfw_model_layer_count());
  p += 38;
  p += put_str(p, TFW_BOARD_ID);
  p += put_str(p, tfw_model_info.runtime);
  p += put_str(p, TFW_TOOLKIT_VERSION);
  tfw_frame_write(tfw_board_putc, TFW_MSG_INFO, seq, msg, (size_t)(p - msg), NULL, 0);
}

static void send_reply(const TfwDevice *dev, uint8_t seq, const TfwReply *r) {
  if (r->type == TFW_MSG_INFO) {
    send_info(dev, seq); /* rebuilt: the same bytes, since only a HELLO changes what it says */
    return;
  }
  tfw_frame_write(tfw_board_putc, r->type, seq, r->head, r->head_len, r->data, r->data_len);
}

static TfwReply error_reply(TfwStatus code, const char *text) {
  TfwReply r = {TFW_MSG_ERROR, 2, {0}, (const uint8_t *)text, (uint32_t)strlen(text)};
  put_u16(r.head, (uint32_t)code);
  return r;
}

/* Frames the device sends on its own (seq 0): not replies, never replayed. */
static void send_error(TfwStatus code, const char *text) {
  const TfwReply r = error_reply(code, text);
  tfw_frame_write(tfw_board_putc, r.type, 0, r.head, r.head_len, r.data, r.data_len);
}

static TfwReply on_hello(TfwDevice *dev, const uint8_t *payload, uint16_t len) {
  if (len == 4) {
    const uint32_t session = get_u32(payload);
    if (session == 0) return error_reply(TFW_ERR_BAD_ARG, "HELLO session must not be 0");
    dev->session = session;
  } else if (len != 0) {
    return error_reply(TFW_ERR_BAD_ARG, "HELLO takes a u32 session or nothing");
  }
  const TfwReply r = {TFW_MSG_INFO, 0, {0}, NULL, 0};
  return r;
}

/* Runs the model, or its layers up to the one the last PROBE named: then the RESULT carries no output (the
 * host reads that layer's output with PROBE). */
static TfwReply run_model(const TfwDevice *dev) {
  const int whole = (uint32_t)dev->stop + 1u >= tfw_model_layer_count();
  const uint64_t start = tfw_board_ticks();
  const TfwStatus status = whole ? tfw_model_invoke() : tfw_model_invoke_until(dev->stop);
  const uint64_t ticks = tfw_board_ticks() - start;
  if (status != TFW_OK) return error_reply(TFW_ERR_MODEL, "model invoke failed");
  TfwReply r = {TFW_MSG_RESULT, 12, {0}, NULL, 0};
  if (whole) {
    r.data = (const uint8_t *)tfw_model_output();
    r.data_len = tfw_model_info.output_bytes;
  }
  put_u32(r.head, dev->session);
  put_u32(r.head + 4, (uint32_t)ticks);
  put_u32(r.head + 8, (uint32_t)(ticks >> 32));
  return r;
}

static TfwReply on_infer(TfwDevice *dev, const uint8_t *payload, uint16_t len) {
  if (len < 4) return error_reply(TFW_ERR_BAD_ARG, "INFER needs an offset");
  const uint32_t offset = get_u32(payload);
  const uint32_t n = len - 4u;
  if (offset == 0) dev->received = 0;
  if (offset != dev->received || n > tfw_model_info.input_bytes - dev->received) {
    dev->received = 0;
    return error_reply(TFW_ERR_SEQUENCE, "INFER chunk out of order or past the input");
  }
  if (n) memcpy((uint8_t *)tfw_model_input() + offset, payload + 4, n);
  dev->received += n;
  if (dev->received < tfw_model_info.input_bytes) {
    TfwReply r = {TFW_MSG_ACK, 8, {0}, NULL, 0};
    put_u32(r.head, dev->session);
    put_u32(r.head + 4, dev->received);
    return r;
  }
  dev->received = 0;
  return run_model(dev);
}

/* PROBE: u16 layer, u32 offset, u16 length. Later runs stop after `layer` (TFW_ALL_LAYERS: run the whole
 * model); the reply carries up to `length` bytes of that layer's output from `offset`, as memory holds it
 * now. */
static TfwReply on_probe(TfwDevice *dev, const uint8_t *payload, uint16_t len) {
  if (len != 8) return error_reply(TFW_ERR_BAD_ARG, "PROBE takes a u16 layer, a u32 offset and a u16 length");
  const uint16_t layer = get_u16(payload);
  const uint32_t offset = get_u32(payload + 2);
  const uint16_t want = get_u16(payload + 6);
  const int8_t *out = NULL;
  uint32_t size = 0;
  if (layer != TFW_ALL_LAYERS) {
    out = tfw_model_layer_output(layer, &size);
    if (out == NULL) return error_reply(TFW_ERR_BAD_ARG, "PROBE of a layer the model does not have");
  }
  if (offset > size) return error_reply(TFW_ERR_BAD_ARG, "PROBE offset past the layer's output");
  uint32_t n = size - offset;
  if (n > want) n = want;
  if (n > TFW_MAX_PAYLOAD - 16u) n = TFW_MAX_PAYLOAD - 16u;
  dev->stop = layer;
  TfwReply r = {TFW_MSG_LAYER, 16, {0}, out != NULL ? (const uint8_t *)out + offset : NULL, n};
  put_u32(r.head, dev->session);
  put_u16(r.head + 4, tfw_model_layer_count());
  put_u16(r.head + 6, layer);
  put_u32(r.head + 8, size);
  put_u32(r.head + 12, offset);
  return r;
}

static void on_frame(TfwDevice *dev) {
  const TfwFrameParser *f = &dev->parser;
  const uint32_t crc = tfw_frame_parser_crc(f);
  if (dev->has_last && f->type == dev->last_type && f->seq == dev->last_seq && f->len == dev->last_len &&
      crc == dev->last_crc) {
    /* A retransmission of the request answered last: answer it again, do not execute it again. */
    send_reply(dev, f->seq, &dev->last_reply);
    return;
  }
  TfwReply r;
  switch (f->type) {
    case TFW_MSG_HELLO:
      r = on_hello(dev, f->payload, f->len);
      break;
    case TFW_MSG_INFER:
      r = on_infer(dev, f->payload, f->len);
      break;
    case TFW_MSG_PROBE:
      r = on_probe(dev, f->payload, f->len);
      break;
    default:
      r = error_reply(TFW_ERR_UNKNOWN_TYPE, "unknown message type");
      break;
  }
  dev->has_last = 1;
  dev->last_type = f->type;
  dev->last_seq = f->seq;
  dev->last_len = f->len;
  dev->last_crc = crc;
  dev->last_reply = r;
  send_reply(dev, f->seq, &r);
}

void tfw_device_init(TfwDevice *dev, uint8_t *rx, uint16_t rx_max) {
  memset(dev, 0, sizeof *dev);
  dev->stop = TFW_ALL_LAYERS;
  tfw_frame_parser_init(&dev->parser, rx, rx_max);
}

void tfw_device_boot(TfwDevice *dev) {
  if (tfw_model_init() != TFW_OK) send_error(TFW_ERR_MODEL, "model init failed");
  send_info(dev, 0);
}

void tfw_device_feed(TfwDevice *dev, uint8_t byte) {
  dev->quiet = 0;
  const TfwParseResult r = tfw_frame_parser_feed(&dev->parser, byte);
  if (r == TFW_PARSE_FRAME) {
    on_frame(dev);
  } else if (r == TFW_PARSE_ERROR) {
    send_error(TFW_ERR_FRAME, "frame dropped (length or CRC)");
  }
}

void tfw_device_idle(TfwDevice *dev) {
#if TFW_TICK_HZ > 0
  /* Reading the timer costs more than polling the UART (on QEMU above all): read it on the first idle
   * poll after a byte and then every 256 polls, which leaves byte-by-byte reception at full speed. */
  if (!tfw_frame_parser_busy(&dev->parser)) return;
  if (dev->quiet && (uint8_t)++dev->idle_polls != 0) return;
  const uint64_t now = tfw_board_ticks();
  if (!dev->quiet) {
    dev->quiet = 1;
    dev->idle_polls = 0;
    dev->quiet_since = now;
    return;
  }
  const uint64_t gap = (uint64_t)(TFW_TICK_HZ) * (uint64_t)(TFW_RX_GAP_MS) / 1000u;
  if (now - dev->quiet_since > gap) {
    tfw_frame_parser_reset(&dev->parser);
    dev->quiet = 0;
    send_error(TFW_ERR_FRAME, "frame dropped (stopped arriving midway)");
  }
#else
  (void)dev;
#endif
}
