/* Framing of docs/protocol.md: SOF, type, seq, u16 length, payload, CRC-32. */
#ifndef TFW_FRAME_H
#define TFW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "tfw_status.h"

#define TFW_PROTOCOL_VERSION 1
#define TFW_FRAME_SOF 0xA5u
#define TFW_MAX_PAYLOAD 1024u

enum {
  TFW_MSG_HELLO = 0x01,
  TFW_MSG_INFO = 0x02,
  TFW_MSG_INFER = 0x10,
  TFW_MSG_ACK = 0x11,
  TFW_MSG_RESULT = 0x12,
  TFW_MSG_LOG = 0x20,
  TFW_MSG_ERROR = 0x21,
};

typedef void (*TfwPutc)(uint8_t byte);

/* Writes one frame whose payload is the concatenation of up to two parts (header + data),
 * so callers never copy a tensor into a staging buffer just to frame it. */
void tfw_frame_write(TfwPutc putc, uint8_t type, uint8_t seq, const uint8_t *head,
                     size_t head_len, const uint8_t *data, size_t data_len);

typedef enum {
  TFW_PARSE_MORE = 0,  /* byte consumed, frame not complete */
  TFW_PARSE_FRAME = 1, /* a whole valid frame is in the parser */
  TFW_PARSE_ERROR = 2, /* a frame was dropped (bad length or CRC); parser re-armed */
} TfwParseResult;

/* Byte-at-a-time parser into a caller-owned payload buffer of `capacity` bytes. */
typedef struct {
  uint8_t *payload;
  uint16_t capacity;
  uint8_t type;
  uint8_t seq;
  uint16_t len;
  uint16_t pos; /* bytes of payload + CRC received */
  uint8_t state;
  uint8_t crc_bytes[4];
  uint32_t crc;
} TfwFrameParser;

void tfw_frame_parser_init(TfwFrameParser *p, uint8_t *payload, uint16_t capacity);
TfwParseResult tfw_frame_parser_feed(TfwFrameParser *p, uint8_t byte);

#endif /* TFW_FRAME_H */
