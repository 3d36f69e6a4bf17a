/* libFuzzer target: the device's frame parser and message handling (firmware/protocol, firmware/app/
 * tfw_device.c) on the fake board, checked against an independent model of docs/protocol.md.
 *
 * Input: one mode byte, then either raw serial bytes (mode even) or records framed here with valid CRCs
 * (mode odd: type selector, seq, length, payload), so that mutations reach the message handling behind
 * the CRC too. After the bytes, the line goes quiet for longer than TFW_RX_GAP_MS.
 *
 * The oracle (abort() on any violation, which libFuzzer reports as a crash with the input saved):
 * - everything the device sends parses as valid frames, nothing left over;
 * - the boot INFO comes first; then exactly one frame per event of the reference parser, in order:
 *   ERROR(FRAME) with seq 0 for each dropped frame (bad header, too long, bad CRC, or cut off by the quiet
 *   line),
 *   and for each valid frame one reply carrying its seq, the one the reference model predicts: a replay
 *   (byte for byte the previous reply) for a repeated request, INFO with the session, ACK with the count,
 *   RESULT with the fake model's output of the assembled input and the ticks of the layers that ran (the fake
 *   model's layers advance the fake timer by known amounts), TIMES with the ticks of each layer of the last
 *   profiled run, or ERROR with the right code.
 * Set TFW_FUZZ_DUMP=path to write what the device sent for the last input (used by tests/test_fuzz.py);
 * set TFW_FUZZ_BREAK_ORACLE=1 to hide ERROR frames from the oracle (proves that the oracle fires). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_board.h"
#include "tfw_config.h"
#include "tfw_frame.h"

#define MAX_STREAM (1u << 16)
#define MAX_SENT (1u << 20)

static uint8_t g_stream[MAX_STREAM];
static size_t g_stream_len;
static uint8_t g_sent[MAX_SENT];

#define CHECK(cond, ...)                        \
  do {                                          \
    if (!(cond)) {                              \
      fprintf(stderr, "oracle: " __VA_ARGS__);  \
      fprintf(stderr, " (%s)\n", #cond);        \
      abort();                                  \
    }                                           \
  } while (0)

/* ---------------------------------------------------------------- an independent parser (bitwise CRC) */

static uint32_t ref_crc32_update(uint32_t c, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c;
}

static uint8_t ref_crc8(const uint8_t *p, size_t n) {
  unsigned c = 0;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 0x80u) ? ((c << 1) ^ 0x07u) & 0xFFu : (c << 1) & 0xFFu;
  }
  return (uint8_t)c;
}

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

typedef struct {
  int dropped; /* 1: a dropped frame (the device owes ERROR(FRAME)) */
  uint8_t type, seq;
  uint16_t len;
  const uint8_t *payload;
  uint32_t crc;
} Event;

/* Next event from s[*pos..n): returns 1 with *ev filled, 0 at the end. A bad header (check or length)
 * drops the frame and the hunt goes on from the byte after its SOF; a bad CRC, from the byte after the CRC.
 * A frame cut off by the end is a dropped frame (the quiet line after the input drops it) when
 * `cut_is_drop`. */
static int ref_next(const uint8_t *s, size_t n, size_t *pos, uint16_t cap, int cut_is_drop, Event *ev) {
  while (*pos < n && s[*pos] != TFW_FRAME_SOF) ++*pos;
  if (*pos >= n) return 0;
  const size_t at = *pos;
  memset(ev, 0, sizeof *ev);
  ev->dropped = 1;
  if (n - at < 6) {
    *pos = n;
    return cut_is_drop;
  }
  const uint16_t len = (uint16_t)(s[at + 3] | (s[at + 4] << 8));
  if (s[at + 5] != ref_crc8(s + at + 1, 4) || len > cap) {
    *pos = at + 1;
    return 1;
  }
  const size_t end = at + 6 + len + 4;
  if (end > n) {
    *pos = n;
    return cut_is_drop;
  }
  *pos = end;
  ev->crc = ~ref_crc32_update(ref_crc32_update(0xFFFFFFFFu, s + at + 1, 4), s + at + 6, len);
  if (ev->crc != le32(s + end - 4)) return 1;
  ev->dropped = 0;
  ev->type = s[at + 1];
  ev->seq = s[at + 2];
  ev->len = len;
  ev->payload = s + at + 6;
  return 1;
}

/* ------------------------------------------------------------------- a model of the protocol's device */

typedef struct {
  uint32_t session, received;
  uint32_t stop; /* the layer the last PROBE named: 0xFFFF (whole model) after boot */
  int profile;     /* the last PROFILE's on */
  uint32_t recorded; /* layers the last profiled run recorded */
  uint32_t profile_total; /* ticks of the last profiled run */
  uint8_t input[FAKE_INPUT_BYTES]; /* the fake model's memory: the input, its start overwritten by outputs */
  int has_last;
  uint8_t last_type, last_seq;
  uint16_t last_len;
  uint32_t last_crc;
  const uint8_t *last_reply; /* where the device's previous reply is in g_sent */
  size_t last_reply_len;
} Model;

enum { kBadArg = 1, kFrame = 2, kSequence = 3, kModel = 4, kUnknownType = 5 };

static void expect_error(const Event *reply, int code) {
  CHECK(reply->type == TFW_MSG_ERROR && reply->len >= 2, "type 0x%02x, expected ERROR %d", reply->type, code);
  const int got = reply->payload[0] | (reply->payload[1] << 8);
  CHECK(got == code, "ERROR code %d, expected %d", got, code);
}

static void expect_request_reply(Model *m, const Event *req, const Event *reply) {
  CHECK(reply->seq == req->seq, "reply seq %u to request seq %u", reply->seq, req->seq);
  switch (req->type) {
    case TFW_MSG_HELLO:
      if (req->len == 4 && le32(req->payload) != 0) {
        m->session = le32(req->payload);
      } else if (req->len != 0) {
        expect_error(reply, kBadArg);
        return;
      }
      CHECK(reply->type == TFW_MSG_INFO && reply->len >= 64, "HELLO answered with 0x%02x", reply->type);
      CHECK(reply->payload[0] == TFW_PROTOCOL_VERSION && reply->payload[1] == 0, "INFO version");
      CHECK(le32(reply->payload + 60) == m->session, "INFO session");
      CHECK(le32(reply->payload + 64) == 512u && le32(reply->payload + 68) == 128u, "INFO stack");
      CHECK(le16(reply->payload + 72) == FAKE_LAYERS, "INFO layers");
      return;
    case TFW_MSG_PROBE: {
      if (req->len != 8) {
        expect_error(reply, kBadArg);
        return;
      }
      const uint32_t layer = le16(req->payload), offset = le32(req->payload + 2), want = le16(req->payload + 6);
      uint32_t size = 0;
      if (layer == 0) size = FAKE_INPUT_BYTES;
      else if (layer == 1) size = FAKE_OUTPUT_BYTES;
      else if (layer != 0xFFFFu) {
        expect_error(reply, kBadArg);
        return;
      }
      if (offset > size) {
        expect_error(reply, kBadArg);
        return;
      }
      uint32_t n = size - offset;
      if (n > want) n = want;
      if (n > TFW_MAX_PAYLOAD - 16u) n = TFW_MAX_PAYLOAD - 16u;
      m->stop = layer;
      CHECK(reply->type == TFW_MSG_LAYER && reply->len == 16 + n, "PROBE answered with 0x%02x of %u bytes",
            reply->type, reply->len);
      CHECK(le32(reply->payload) == m->session && le16(reply->payload + 4) == FAKE_LAYERS &&
                le16(reply->payload + 6) == layer && le32(reply->payload + 8) == size &&
                le32(reply->payload + 12) == offset, "LAYER fields");
      CHECK(n == 0 || memcmp(reply->payload + 16, m->input + offset, n) == 0, "LAYER data");
      return;
    }
    case TFW_MSG_PROFILE: {
      if (req->len != 3 || req->payload[0] > 1u) {
        expect_error(reply, kBadArg);
        return;
      }
      const uint32_t first = le16(req->payload + 1);
      const uint32_t recorded = req->payload[0] && !m->profile ? 0u : m->recorded;
      if (first > recorded) {
        expect_error(reply, kBadArg);
        return;
      }
      m->profile = req->payload[0];
      m->recorded = recorded;
      const uint32_t n = recorded - first;
      CHECK(reply->type == TFW_MSG_TIMES && reply->len == 16 + 4 * n, "PROFILE answered with 0x%02x of %u bytes",
            reply->type, reply->len);
      CHECK(le32(reply->payload) == m->session && le16(reply->payload + 4) == recorded &&
                le16(reply->payload + 6) == first && le32(reply->payload + 8) == m->profile_total &&
                le32(reply->payload + 12) == 0, "TIMES fields");
      for (uint32_t i = 0; i < n; ++i) {
        CHECK(le32(reply->payload + 16 + 4 * i) == FAKE_LAYER_TICKS(first + i), "TIMES of layer %u", first + i);
      }
      return;
    }
    case TFW_MSG_INFER: {
      if (req->len < 4) {
        expect_error(reply, kBadArg);
        return;
      }
      const uint32_t offset = le32(req->payload), n = req->len - 4u;
      if (offset == 0) m->received = 0;
      if (offset != m->received || n > FAKE_INPUT_BYTES - m->received) {
        m->received = 0;
        expect_error(reply, kSequence);
        return;
      }
      memcpy(m->input + offset, req->payload + 4, n);
      m->received += n;
      if (m->received < FAKE_INPUT_BYTES) {
        CHECK(reply->type == TFW_MSG_ACK && reply->len == 8, "INFER answered with 0x%02x, not ACK", reply->type);
        CHECK(le32(reply->payload) == m->session && le32(reply->payload + 4) == m->received, "ACK fields");
        return;
      }
      m->received = 0;
      if (m->profile) m->recorded = m->stop == 0 ? 1u : 2u;
      if (m->stop == 0) { /* stopped after layer 0: a RESULT without output */
        CHECK(reply->type == TFW_MSG_RESULT && reply->len == 12, "a stopped run answered with 0x%02x of %u bytes",
              reply->type, reply->len);
        CHECK(le32(reply->payload) == m->session, "RESULT session");
        CHECK(le32(reply->payload + 4) == FAKE_LAYER_TICKS(0) && le32(reply->payload + 8) == 0, "RESULT ticks");
        if (m->profile) m->profile_total = FAKE_LAYER_TICKS(0);
        return;
      }
      uint8_t out[FAKE_OUTPUT_BYTES];
      if (fake_model(m->input, out) != 0) {
        expect_error(reply, kModel);
        return;
      }
      CHECK(reply->type == TFW_MSG_RESULT && reply->len == 12 + FAKE_OUTPUT_BYTES, "INFER answered with 0x%02x, "
            "not RESULT", reply->type);
      CHECK(le32(reply->payload) == m->session, "RESULT session");
      CHECK(le32(reply->payload + 4) == FAKE_LAYER_TICKS(0) + FAKE_LAYER_TICKS(1) && le32(reply->payload + 8) == 0,
            "RESULT ticks");
      if (m->profile) m->profile_total = FAKE_LAYER_TICKS(0) + FAKE_LAYER_TICKS(1);
      CHECK(memcmp(reply->payload + 12, out, FAKE_OUTPUT_BYTES) == 0, "RESULT output");
      memcpy(m->input, out, FAKE_OUTPUT_BYTES); /* the output overwrites the start of the input */
      return;
    }
    default:
      expect_error(reply, kUnknownType);
      return;
  }
}

/* ---------------------------------------------------------------------------------------- the target */

static void put_frame(uint8_t type, uint8_t seq, const uint8_t *payload, size_t len) {
  if (g_stream_len + 10 + len > MAX_STREAM) return;
  uint8_t *p = g_stream + g_stream_len;
  p[0] = TFW_FRAME_SOF;
  p[1] = type;
  p[2] = seq;
  p[3] = (uint8_t)len;
  p[4] = (uint8_t)(len >> 8);
  p[5] = ref_crc8(p + 1, 4);
  memcpy(p + 6, payload, len);
  const uint32_t crc = ~ref_crc32_update(ref_crc32_update(0xFFFFFFFFu, p + 1, 4), payload, len);
  for (int i = 0; i < 4; ++i) p[6 + len + i] = (uint8_t)(crc >> (8 * i));
  g_stream_len += 10 + len;
}

static void build_stream(const uint8_t *data, size_t size) {
  g_stream_len = 0;
  if (size == 0) return;
  const int structured = data[0] & 1;
  ++data;
  --size;
  if (!structured) {
    if (size > MAX_STREAM) size = MAX_STREAM;
    memcpy(g_stream, data, size);
    g_stream_len = size;
    return;
  }
  static const uint8_t kTypes[4] = {TFW_MSG_HELLO, TFW_MSG_INFER, TFW_MSG_INFER, 0};
  size_t i = 0;
  while (i + 3 <= size) {
    const uint8_t sel = data[i], seq = data[i + 1];
    size_t len = data[i + 2];
    i += 3;
    /* An INFER record of length 255 means "as long as the device takes" (rx_max), to reach the edges. */
    if (len == 255) len = TFW_RX_MAX;
    if (len > size - i) len = size - i;
    const uint8_t type = kTypes[sel & 3] ? kTypes[sel & 3] : (uint8_t)(sel >> 2);
    put_frame(type, seq, data + i, len);
    i += len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int hide_errors = -1;
  static const char *dump;
  if (hide_errors < 0) {
    hide_errors = getenv("TFW_FUZZ_BREAK_ORACLE") != NULL;
    dump = getenv("TFW_FUZZ_DUMP");
  }
  build_stream(data, size);

  harness_reset();
  harness_boot();
  harness_feed(g_stream, g_stream_len);
  harness_idle(1000u * 1000u); /* a quiet second: a frame cut off must be dropped */
  const size_t sent = harness_take(g_sent, sizeof g_sent);
  CHECK(sent <= sizeof g_sent, "device sent %zu bytes", sent);

  if (dump) {
    FILE *f = fopen(dump, "wb");
    if (f) {
      fwrite(g_sent, 1, sent, f);
      fclose(f);
    }
  }

  /* What the device sent: valid frames only, back to back. */
  size_t out_pos = 0;
  Event reply;
  CHECK(ref_next(g_sent, sent, &out_pos, TFW_MAX_PAYLOAD, 1, &reply) && !reply.dropped, "no boot frame");
  CHECK(reply.type == TFW_MSG_INFO && reply.seq == 0 && reply.len >= 64, "boot frame is not INFO seq 0");
  CHECK(le32(reply.payload + 60) == 0, "boot INFO session is not 0");

  Model m;
  memset(&m, 0, sizeof m);
  m.stop = 0xFFFFu;
  size_t in_pos = 0;
  Event req;
  while (ref_next(g_stream, g_stream_len, &in_pos, TFW_RX_MAX, 1, &req)) {
    const size_t reply_at = out_pos;
    do {
      CHECK(ref_next(g_sent, sent, &out_pos, TFW_MAX_PAYLOAD, 0, &reply), "a request got no reply");
      CHECK(g_sent[reply_at] == TFW_FRAME_SOF && !reply.dropped, "device sent a malformed frame");
    } while (hide_errors && reply.type == TFW_MSG_ERROR);
    if (req.dropped) {
      CHECK(reply.seq == 0, "ERROR(FRAME) seq %u", reply.seq);
      expect_error(&reply, kFrame);
      continue;
    }
    if (m.has_last && req.type == m.last_type && req.seq == m.last_seq && req.len == m.last_len &&
        req.crc == m.last_crc) {
      CHECK(out_pos - reply_at == m.last_reply_len &&
                memcmp(g_sent + reply_at, m.last_reply, m.last_reply_len) == 0,
            "a repeated request was not answered with the same reply");
    } else {
      expect_request_reply(&m, &req, &reply);
    }
    m.has_last = 1;
    m.last_type = req.type;
    m.last_seq = req.seq;
    m.last_len = req.len;
    m.last_crc = req.crc;
    m.last_reply = g_sent + reply_at;
    m.last_reply_len = out_pos - reply_at;
  }
  CHECK(out_pos == sent, "device sent %zu bytes more than its replies", sent - out_pos);
  return 0;
}
