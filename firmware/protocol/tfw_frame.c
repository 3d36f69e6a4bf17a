#include "tfw_frame.h"

#include "tfw_crc32.h"

enum { kWaitSof, kType, kSeq, kLen0, kLen1, kHeaderCheck, kPayload, kCrc };

static void put_bytes(TfwPutc putc, const uint8_t *bytes, size_t len) {
  for (size_t i = 0; i < len; ++i) putc(bytes[i]);
}

uint8_t tfw_crc8(const uint8_t *data, size_t len) {
  unsigned crc = 0;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = ((crc & 0x80u) ? (crc << 1) ^ 0x07u : crc << 1) & 0xFFu;
  }
  return (uint8_t)crc;
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
  putc(tfw_crc8(header, sizeof header));
  put_bytes(putc, head, head_len);
  put_bytes(putc, data, data_len);
  put_bytes(putc, trailer, sizeof trailer);
}

void tfw_frame_parser_init(TfwFrameParser *p, uint8_t *payload, uint16_t capacity) {
  p->payload = payload;
  p->capacity = capacity;
  p->state = kWaitSof;
}

/* A header that failed its check or is too long for us: the SOF was noise (or the header was damaged).
 * Hunt again from the byte after that SOF, i.e. look at the five header bytes already taken first. */
static void rescan_header(TfwFrameParser *p) {
  const uint8_t taken[5] = {p->header[0], p->header[1], p->header[2], p->header[3], p->header[4]};
  p->state = kWaitSof;
  for (int i = 0; i < 5; ++i) {
    if (taken[i] != TFW_FRAME_SOF) continue;
    (void)tfw_frame_parser_feed(p, taken[i]);
    for (int j = i + 1; j < 5; ++j) (void)tfw_frame_parser_feed(p, taken[j]); /* < 5 bytes: no header */
    return;
  }
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
      p->header[0] = p->type = byte;
      p->state = kSeq;
      break;
    case kSeq:
      p->header[1] = p->seq = byte;
      p->state = kLen0;
      break;
    case kLen0:
      p->header[2] = byte;
      p->len = byte;
      p->state = kLen1;
      break;
    case kLen1:
      p->header[3] = byte;
      p->len = (uint16_t)(p->len | ((uint16_t)byte << 8));
      p->state = kHeaderCheck;
      break;
    case kHeaderCheck:
      p->header[4] = byte;
      if (byte != tfw_crc8(p->header, 4) || p->len > p->capacity) {
        rescan_header(p);
        return TFW_PARSE_ERROR;
      }
      p->pos = 0;
      p->state = p->len ? kPayload : kCrc;
      return TFW_PARSE_MORE; /* the header check is not under the CRC */
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

int tfw_frame_parser_busy(const TfwFrameParser *p) { return p->state != kWaitSof; }

void tfw_frame_parser_reset(TfwFrameParser *p) { p->state = kWaitSof; }

uint32_t tfw_frame_parser_crc(const TfwFrameParser *p) { return tfw_crc32_final(p->crc); }
