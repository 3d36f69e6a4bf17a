/* Framing of docs/protocol.md: SOF, type, seq, u16 length, CRC-8 of those, payload, CRC-32. */
#ifndef TFW_FRAME_H
#define TFW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "tfw_status.h"

#define TFW_PROTOCOL_VERSION 4
#define TFW_FRAME_SOF 0xA5u
#define TFW_MAX_PAYLOAD 1024u

enum {
  TFW_MSG_HELLO = 0x01,
  TFW_MSG_INFO = 0x02,
  TFW_MSG_INFER = 0x10,
  TFW_MSG_ACK = 0x11,
  TFW_MSG_RESULT = 0x12,
  TFW_MSG_PROBE = 0x13,
  TFW_MSG_LAYER = 0x14,
  TFW_MSG_PROFILE = 0x15,
  TFW_MSG_TIMES = 0x16,
  TFW_MSG_LOG = 0x20,
  TFW_MSG_ERROR = 0x21,
};

typedef void (*TfwPutc)(uint8_t byte);

/* CRC-8 (polynomial 0x07, initial 0): the header check over type, seq and length. */
uint8_t tfw_crc8(const uint8_t *data, size_t len);

/* Writes one frame whose payload is the concatenation of up to two parts (header + data),
 * so callers never copy a tensor into a staging buffer just to frame it. */
void tfw_frame_write(TfwPutc putc, uint8_t type, uint8_t seq, const uint8_t *head,
                     size_t head_len, const uint8_t *data, size_t data_len);

typedef enum {
  TFW_PARSE_MORE = 0,  /* byte consumed, frame not complete */
  TFW_PARSE_FRAME = 1, /* a whole valid frame is in the parser */
  TFW_PARSE_ERROR = 2, /* a frame was dropped (bad header, length or CRC); parser re-armed */
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
  uint8_t header[5]; /* type, seq, len, header check: looked at again when the check fails */
  uint8_t crc_bytes[4];
  uint32_t crc;
} TfwFrameParser;

void tfw_frame_parser_init(TfwFrameParser *p, uint8_t *payload, uint16_t capacity);
TfwParseResult tfw_frame_parser_feed(TfwFrameParser *p, uint8_t byte);
/* True while a frame is partly received (after its SOF, before its last CRC byte). */
int tfw_frame_parser_busy(const TfwFrameParser *p);
/* Abandons a partly received frame and hunts for SOF again. */
void tfw_frame_parser_reset(TfwFrameParser *p);
/* The CRC of the frame just parsed; valid right after TFW_PARSE_FRAME. */
uint32_t tfw_frame_parser_crc(const TfwFrameParser *p);

#endif /* TFW_FRAME_H */
