/* Host harness for firmware/protocol: parses a byte stream into frames, and writes frames, through a
 * flat C API that ctypes can call without mirroring the parser struct. */
#include <stdint.h>
#include <string.h>

#include "tfw_frame.h"

static uint8_t g_out[1 << 16];
static size_t g_out_len;

static void capture(uint8_t byte) { g_out[g_out_len++] = byte; }

/* Encodes one frame into `out`; returns its length. */
size_t harness_encode(uint8_t type, uint8_t seq, const uint8_t *head, size_t head_len,
                      const uint8_t *data, size_t data_len, uint8_t *out) {
  g_out_len = 0;
  tfw_frame_write(capture, type, seq, head, head_len, data, data_len);
  memcpy(out, g_out, g_out_len);
  return g_out_len;
}

/* Feeds `len` bytes; writes each parsed frame to `frames` as type, seq, u16 len, payload; returns the
 * number of frames, and counts dropped frames in *errors. */
int harness_parse(const uint8_t *bytes, size_t len, uint16_t capacity, uint8_t *frames, int *errors) {
  static uint8_t payload[TFW_MAX_PAYLOAD];
  TfwFrameParser parser;
  tfw_frame_parser_init(&parser, payload, capacity);
  int count = 0;
  *errors = 0;
  for (size_t i = 0; i < len; ++i) {
    TfwParseResult r = tfw_frame_parser_feed(&parser, bytes[i]);
    if (r == TFW_PARSE_ERROR) ++*errors;
    if (r != TFW_PARSE_FRAME) continue;
    frames[0] = parser.type;
    frames[1] = parser.seq;
    frames[2] = (uint8_t)parser.len;
    frames[3] = (uint8_t)(parser.len >> 8);
    memcpy(frames + 4, parser.payload, parser.len);
    frames += 4 + parser.len;
    ++count;
  }
  return count;
}
