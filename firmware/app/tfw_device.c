/* Message handling of docs/protocol.md (version 4): handshake, input chunks, inference, replies,
 * replay of the last reply for a retransmitted request, ERROR for every dropped frame, PROBE: runs that
 * stop after a layer, and that layer's output read back, and PROFILE: runs that time every layer. */
/* This code runs at the pace of the serial line: it is compiled for size (2.6 KB at -O2, 1 KB at -Os on the
 * Cortex-M4), which also leaves the kernels' speed untouched. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
#include "tfw_device.h"

#include <stddef.h>
#include <string.h>

#include "tfw_board.h"
#include "tfw_config.h"
#include "tfw_flash.h"
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

#if TFW_TEXT_IN_FLASH
/* The error texts stay in flash (TFW_TEXT: on AVR, RAM would hold them all); the one being sent is copied
 * here: one buffer for replies (a replay is of the latest reply, whose text is still here) and one for the
 * frames the device sends on its own. */
static char g_reply_text[64];
static char g_own_text[48];
static const char *in_ram(char *buf, size_t n, const char *text) {
  tfw_text_copy(buf, text, n);
  return buf;
}
#define REPLY_TEXT(text) in_ram(g_reply_text, sizeof g_reply_text, (text))
#define OWN_TEXT(text) in_ram(g_own_text, sizeof g_own_text, (text))
#else
#define REPLY_TEXT(text) (text)
#define OWN_TEXT(text) (text)
#endif

static TfwReply error_with(TfwStatus code, const char *text) {
  TfwReply r = {TFW_MSG_ERROR, 2, {0}, (const uint8_t *)text, (uint32_t)strlen(text)};
  put_u16(r.head, (uint32_t)code);
  return r;
}

/* ERROR replies; `text` is a TFW_TEXT. */
static TfwReply error_reply(TfwStatus code, const char *text) { return error_with(code, REPLY_TEXT(text)); }

/* Frames the device sends on its own (seq 0): not replies, never replayed. */
static void send_error(TfwStatus code, const char *text) {
  const TfwReply r = error_with(code, OWN_TEXT(text));
  tfw_frame_write(tfw_board_putc, r.type, 0, r.head, r.head_len, r.data, r.data_len);
}

static TfwReply on_hello(TfwDevice *dev, const uint8_t *payload, uint16_t len) {
  if (len == 4) {
    const uint32_t session = get_u32(payload);
    if (session == 0) return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("HELLO session must not be 0"));
    dev->session = session;
  } else if (len != 0) {
    return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("HELLO takes a u32 session or nothing"));
  }
  const TfwReply r = {TFW_MSG_INFO, 0, {0}, NULL, 0};
  return r;
}

/* Runs layers first … first + n - 1 one at a time, the timer read between them: out[i] gets layer first + i's
 * ticks, from the reading before its call to the reading after it, less `cost`. Stops at a failing layer
 * (*done: the layers timed). */
static TfwStatus time_layers(uint16_t first, uint16_t n, uint32_t cost, uint32_t *out, uint16_t *done) {
  /* 32-bit readings: a layer takes less than 2^32 ticks, and 64-bit arithmetic is long code on AVR. */
  uint32_t before = (uint32_t)tfw_board_ticks();
  TfwStatus status = TFW_OK;
  uint16_t i = 0;
  while (i < n && status == TFW_OK) {
    status = tfw_model_invoke_layers((uint16_t)(first + i), (uint16_t)(first + i));
    const uint32_t after = (uint32_t)tfw_board_ticks();
    const uint32_t spent = after - before;
    out[i++] = spent > cost ? spent - cost : 0u;
    before = after;
  }
  *done = i;
  return status;
}

/* What timing a layer costs by itself (the call, the readings, the loop): the second of two layers past the
 * last, which run nothing, timed by the same code; the least of a few. Taken off every profiled layer, so the
 * layers add up to an untimed run's ticks. */
static uint32_t layer_timing_cost(void) {
  const uint16_t count = tfw_model_layer_count();
  uint32_t least = UINT32_MAX, ticks[2];
  uint16_t done;
  for (int k = 0; k < 4; ++k) {
    (void)time_layers(count, 2u, 0u, ticks, &done);
    if (ticks[1] < least) least = ticks[1];
  }
  return least;
}

/* The ticks between two back-to-back readings of the timer (the tail of one, the head of the next): the
 * least of a few. Taken off a run's ticks, which then count the run alone. */
static uint32_t timer_read_cost(void) {
  uint32_t least = UINT32_MAX;
  for (int k = 0; k < 4; ++k) {
    const uint32_t before = (uint32_t)tfw_board_ticks();
    const uint32_t spent = (uint32_t)tfw_board_ticks() - before;
    if (spent < least) least = spent;
  }
  return least;
}

/* Runs the model, or its layers up to the one the last PROBE named: then the RESULT carries no output (the
 * host reads that layer's output with PROBE). With PROFILE on, one layer at a time. */
static TfwReply run_model(TfwDevice *dev) {
  const uint16_t count = tfw_model_layer_count();
  const int whole = (uint32_t)dev->stop + 1u >= count;
  const int profiled = dev->profile; /* (PROFILE switches it on only where every layer can be timed) */
  const uint16_t layers = whole ? count : (uint16_t)(dev->stop + 1u);
  const uint64_t start = tfw_board_ticks();
  const TfwStatus status = profiled ? time_layers(0u, layers, dev->layer_cost, dev->layer_ticks, &dev->recorded)
                           : whole  ? tfw_model_invoke()
                                    : tfw_model_invoke_layers(0u, dev->stop);
  const uint64_t spent = tfw_board_ticks() - start;
  const uint64_t ticks = spent > dev->read_cost ? spent - dev->read_cost : 0u;
  if (status != TFW_OK) return error_reply(TFW_ERR_MODEL, TFW_TEXT("model invoke failed"));
  if (profiled) dev->profile_total = ticks;
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
  if (len < 4) return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("INFER needs an offset"));
  const uint32_t offset = get_u32(payload);
  const uint32_t n = len - 4u;
  if (offset == 0) dev->received = 0;
  if (offset != dev->received || n > tfw_model_info.input_bytes - dev->received) {
    dev->received = 0;
    return error_reply(TFW_ERR_SEQUENCE, TFW_TEXT("INFER chunk out of order or past the input"));
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
  if (len != 8) {
    return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("PROBE takes a u16 layer, a u32 offset and a u16 length"));
  }
  const uint16_t layer = get_u16(payload);
  const uint32_t offset = get_u32(payload + 2);
  const uint16_t want = get_u16(payload + 6);
  const int8_t *out = NULL;
  uint32_t size = 0;
  if (layer != TFW_ALL_LAYERS) {
    out = tfw_model_layer_output(layer, &size);
    if (out == NULL) {
      return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("PROBE of a layer the model does not have"));
    }
  }
  if (offset > size) return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("PROBE offset past the layer's output"));
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

/* PROFILE: u8 on, u16 first. Later runs record every layer's ticks (on = 1) or run as usual (on = 0); the
 * reply carries the ticks the last profiled run recorded, from layer `first` (as many as fit a frame). */
static TfwReply on_profile(TfwDevice *dev, const uint8_t *payload, uint16_t len) {
  if (len != 3 || payload[0] > 1u) {
    return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("PROFILE takes a u8 on (0 or 1) and a u16 first"));
  }
  const uint16_t count = tfw_model_layer_count();
  if (count == 0u || count > TFW_PROFILE_LAYERS) {
    return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("PROFILE needs a runtime with layers (AOT)"));
  }
  const uint16_t first = get_u16(payload + 1);
  /* Switching it on starts a new profile: no run recorded yet. */
  const uint16_t recorded = payload[0] && !dev->profile ? 0u : dev->recorded;
  if (first > recorded) {
    return error_reply(TFW_ERR_BAD_ARG, TFW_TEXT("PROFILE first past the layers recorded"));
  }
  dev->profile = payload[0];
  dev->recorded = recorded;
  uint32_t n = (uint32_t)(recorded - first);
  if (n > (TFW_MAX_PAYLOAD - 16u) / 4u) n = (TFW_MAX_PAYLOAD - 16u) / 4u;
  /* The u32s as memory holds them: every core the toolkit targets is little-endian, as the protocol. */
  TfwReply r = {TFW_MSG_TIMES, 16, {0}, (const uint8_t *)(dev->layer_ticks + first), n * 4u};
  put_u32(r.head, dev->session);
  put_u16(r.head + 4, dev->recorded);
  put_u16(r.head + 6, first);
  put_u32(r.head + 8, (uint32_t)dev->profile_total);
  put_u32(r.head + 12, (uint32_t)(dev->profile_total >> 32));
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
    case TFW_MSG_PROFILE:
      r = on_profile(dev, f->payload, f->len);
      break;
    default:
      r = error_reply(TFW_ERR_UNKNOWN_TYPE, TFW_TEXT("unknown message type"));
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
  if (tfw_model_init() != TFW_OK) send_error(TFW_ERR_MODEL, TFW_TEXT("model init failed"));
  dev->read_cost = timer_read_cost();
  const uint16_t count = tfw_model_layer_count();
  if (count > 0u && count <= TFW_PROFILE_LAYERS) dev->layer_cost = layer_timing_cost();
  send_info(dev, 0);
}

void tfw_device_feed(TfwDevice *dev, uint8_t byte) {
  dev->quiet = 0;
  const TfwParseResult r = tfw_frame_parser_feed(&dev->parser, byte);
  if (r == TFW_PARSE_FRAME) {
    on_frame(dev);
  } else if (r == TFW_PARSE_ERROR) {
    send_error(TFW_ERR_FRAME, TFW_TEXT("frame dropped (length or CRC)"));
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
    send_error(TFW_ERR_FRAME, TFW_TEXT("frame dropped (stopped arriving midway)"));
  }
#else
  (void)dev;
#endif
}
