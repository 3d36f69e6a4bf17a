#include "tfw_frame.h"

#include "tfw_crc32.h"

enum { kWaitSof, kType, kSeq, kLen0, kLen1, kPayload, kCrc };

static void put_bytes(TfwPutc putc, const uint8_t *bytes, size_t len) {
  for (size_t i = 0; i < len; ++i) putc(bytes[i]);
}

void tfw_frame_write(TfwPutc putc, uint8_t type, uint8_t seq, const uint8_t *head,
                     size_t head_len, const uint8_t *data, size_t data_len) {
  const size_t len = head_len + data_len;
  const uint8_t header[4] = {type, seq, (uint8_t)(len & 0xFFu), (uint8_t)(len >> 8)};
  uint32_t crc = tfw_crc32_update(TFW_CRC32_INIT, header, sizeof header);
  crc = tfw_crc32_update(crc, head, head_len);
  crc = tfw_crc32_update(crc, data, data_len);
  crc = tfw_crc32_final(crc);
  const uint8_t trailer[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                              (uint8_t)(crc >> 24)};
  putc(TFW_FRAME_SOF);
  put_bytes(putc, header, sizeof header);
  put_bytes(putc, head, head_len);
  put_bytes(putc, data, data_len);
  put_bytes(putc, trailer, sizeof trailer);
}

void tfw_frame_parser_init(TfwFrameParser *p, uint8_t *payload, uint16_t capacity) {
  p->payload = payload;
  p->capacity = capacity;
  p->state = kWaitSof;
}

TfwParseResult tfw_frame_parser_feed(TfwFrameParser *p, uint8_t byte) {
  switch (p->state) {
    case kWaitSof:
      if (byte == TFW_FRAME_SOF) {
        p->state = kType;
        p->crc = TFW_CRC32_INIT;
      }
      return TFW_PARSE_MORE;
    case kType:
      p->type = byte;
      p->state = kSeq;
      break;
    case kSeq:
      p->seq = byte;
      p->state = kLen0;
      break;
    case kLen0:
      p->len = byte;
      p->state = kLen1;
      break;
    case kLen1:
      p->len = (uint16_t)(p->len | ((uint16_t)byte << 8));
      if (p->len > p->capacity) {
        /* Too long for us (or noise that looked like SOF): drop it and hunt again. */
        p->state = kWaitSof;
        return TFW_PARSE_ERROR;
      }
      p->pos = 0;
      p->state = p->len ? kPayload : kCrc;
      break;
    case kPayload:
      p->payload[p->pos++] = byte;
      if (p->pos == p->len) {
        p->pos = 0;
        p->state = kCrc;
      }
      break;
    default: /* kCrc */
      p->crc_bytes[p->pos++] = byte;
      if (p->pos < 4) return TFW_PARSE_MORE;
      p->state = kWaitSof;
      {
        const uint32_t got = (uint32_t)p->crc_bytes[0] | ((uint32_t)p->crc_bytes[1] << 8) |
                             ((uint32_t)p->crc_bytes[2] << 16) | ((uint32_t)p->crc_bytes[3] << 24);
        return tfw_crc32_final(p->crc) == got ? TFW_PARSE_FRAME : TFW_PARSE_ERROR;
      }
  }
  /* Header and payload bytes are covered by the CRC. */
  p->crc = tfw_crc32_update(p->crc, &byte, 1);
  return TFW_PARSE_MORE;
}
