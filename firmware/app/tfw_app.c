/* The device side of docs/protocol.md: announce the model, take input chunks, run, reply. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tfw_board.h"
#include "tfw_config.h"
#include "tfw_frame.h"
#include "tfw_model.h"

#ifndef TFW_RX_MAX
#define TFW_RX_MAX 256u /* receive buffer: what one INFER frame may carry */
#endif

static uint8_t g_rx[TFW_RX_MAX];
static uint32_t g_received; /* input bytes held so far */

static void put_u16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
  put_u16(p, v);
  put_u16(p + 2, v >> 16);
}
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static size_t put_str(uint8_t *p, const char *s) {
  size_t n = strlen(s);
  if (n > 255) n = 255;
  p[0] = (uint8_t)n;
  memcpy(p + 1, s, n);
  return n + 1;
}

static void send_info(uint8_t seq) {
  uint8_t msg[2 + 2 + 32 + 6 * 4 + 3 * 256];
  uint8_t *p = msg;
  put_u16(p, TFW_PROTOCOL_VERSION);
  put_u16(p + 2, TFW_RX_MAX);
  memcpy(p + 4, tfw_model_info.sha256, 32);
  p += 36;
  put_u32(p, tfw_model_info.input_bytes);
  put_u32(p + 4, tfw_model_info.output_bytes);
  put_u32(p + 8, tfw_board_flash_bytes());
  put_u32(p + 12, tfw_board_ram_bytes());
  put_u32(p + 16, tfw_model_info.arena_bytes);
  put_u32(p + 20, TFW_TICK_HZ);
  p += 24;
  p += put_str(p, TFW_BOARD_ID);
  p += put_str(p, tfw_model_info.runtime);
  p += put_str(p, TFW_TOOLKIT_VERSION);
  tfw_frame_write(tfw_board_putc, TFW_MSG_INFO, seq, msg, (size_t)(p - msg), NULL, 0);
}

static void send_error(uint8_t seq, TfwStatus code, const char *text) {
  uint8_t head[2];
  put_u16(head, (uint32_t)code);
  tfw_frame_write(tfw_board_putc, TFW_MSG_ERROR, seq, head, 2, (const uint8_t *)text, strlen(text));
}

static void run_model(uint8_t seq) {
  const uint64_t start = tfw_board_ticks();
  const TfwStatus status = tfw_model_invoke();
  const uint64_t ticks = tfw_board_ticks() - start;
  if (status != TFW_OK) {
    send_error(seq, TFW_ERR_MODEL, "model invoke failed");
    return;
  }
  uint8_t head[8];
  put_u32(head, (uint32_t)ticks);
  put_u32(head + 4, (uint32_t)(ticks >> 32));
  tfw_frame_write(tfw_board_putc, TFW_MSG_RESULT, seq, head, sizeof head,
                  (const uint8_t *)tfw_model_output(), tfw_model_info.output_bytes);
}

static void on_infer(uint8_t seq, const uint8_t *payload, uint16_t len) {
  if (len < 4) {
    send_error(seq, TFW_ERR_BAD_ARG, "INFER needs an offset");
    return;
  }
  const uint32_t offset = get_u32(payload);
  const uint32_t n = len - 4u;
  if (offset == 0) g_received = 0;
  if (offset != g_received || n > tfw_model_info.input_bytes - g_received) {
    g_received = 0;
    send_error(seq, TFW_ERR_SEQUENCE, "INFER chunk out of order or past the input");
    return;
  }
  memcpy((uint8_t *)tfw_model_input() + offset, payload + 4, n);
  g_received += n;
  if (g_received < tfw_model_info.input_bytes) {
    uint8_t ack[4];
    put_u32(ack, g_received);
    tfw_frame_write(tfw_board_putc, TFW_MSG_ACK, seq, ack, sizeof ack, NULL, 0);
    return;
  }
  g_received = 0;
  run_model(seq);
}

static void dispatch(const TfwFrameParser *f) {
  switch (f->type) {
    case TFW_MSG_HELLO:
      send_info(f->seq);
      break;
    case TFW_MSG_INFER:
      on_infer(f->seq, f->payload, f->len);
      break;
    default:
      send_error(f->seq, TFW_ERR_UNKNOWN_TYPE, "unknown message type");
      break;
  }
}

int main(void) {
  tfw_board_init();
  TfwFrameParser parser;
  tfw_frame_parser_init(&parser, g_rx, TFW_RX_MAX);
  if (tfw_model_init() != TFW_OK) send_error(0, TFW_ERR_MODEL, "model init failed");
  send_info(0);
  for (;;) {
    const int c = tfw_board_getc();
    if (c < 0) continue;
    const TfwParseResult r = tfw_frame_parser_feed(&parser, (uint8_t)c);
    if (r == TFW_PARSE_FRAME) dispatch(&parser);
    else if (r == TFW_PARSE_ERROR) send_error(0, TFW_ERR_FRAME, "frame dropped (length or CRC)");
  }
}
