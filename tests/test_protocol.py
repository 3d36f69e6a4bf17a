"""The serial protocol: host encoder/parser against the device's C framing, compiled for the host."""

from __future__ import annotations

import ctypes
import random
import struct
import zlib

import pytest

from tinyml_fw import protocol
from tinyml_fw.paths import FIRMWARE, ROOT
from tinyml_fw.protocol import FrameParser, Info, Msg


@pytest.fixture(scope="module")
def device_framing(tmp_path_factory, host_library):
    lib = host_library(
        [FIRMWARE / "protocol/tfw_frame.c", FIRMWARE / "protocol/tfw_crc32.c",
         ROOT / "tests/c/frame_harness.c"],
        tmp_path_factory.mktemp("frame") / "libframe.so",
        [FIRMWARE / "protocol", FIRMWARE / "common"])
    lib.harness_encode.restype = ctypes.c_size_t
    return lib


def device_encode(lib, type_: int, seq: int, head: bytes, data: bytes = b"") -> bytes:
    out = ctypes.create_string_buffer(2048)
    n = lib.harness_encode(type_, seq, head, len(head), data, len(data), out)
    return out.raw[:n]


def device_parse(lib, stream: bytes, capacity: int = 1024) -> tuple[list[protocol.Frame], int]:
    buf = ctypes.create_string_buffer(len(stream) * 2 + 64)
    errors = ctypes.c_int()
    count = lib.harness_parse(stream, len(stream), capacity, buf, ctypes.byref(errors))
    frames, pos, raw = [], 0, buf.raw
    for _ in range(count):
        type_, seq, length = struct.unpack_from("<BBH", raw, pos)
        frames.append(protocol.Frame(type_, seq, raw[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return frames, errors.value


def test_crc_is_zlibs_and_the_header_check_crc8():
    frame = protocol.encode(Msg.LOG, 0, b"hello")
    assert struct.unpack("<I", frame[-4:])[0] == zlib.crc32(frame[1:5] + frame[6:-4])
    assert frame[5] == protocol.crc8(frame[1:5])
    assert protocol.crc8(b"123456789") == 0xF4  # the CRC-8/SMBUS check value


def test_device_and_host_encode_the_same_bytes(device_framing):
    rng = random.Random(1)
    for _ in range(50):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1025)))
        cut = rng.randrange(0, len(payload) + 1)
        assert device_encode(device_framing, 0x12, 7, payload[:cut], payload[cut:]) == \
            protocol.encode(0x12, 7, payload)


def test_device_parses_host_frames_through_noise(device_framing):
    rng = random.Random(2)
    sent, stream = [], b""
    for i in range(40):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        sent.append(protocol.Frame(Msg.INFER, i % 255 + 1, payload))
        noise = bytes(rng.choice([0x00, 0x13, 0x5A]) for _ in range(rng.randrange(0, 5)))
        stream += noise + protocol.encode(Msg.INFER, i % 255 + 1, payload)
    frames, errors = device_parse(device_framing, stream)
    assert frames == sent
    assert errors == 0


def test_device_drops_corrupt_and_oversized_frames(device_framing):
    good = protocol.encode(Msg.HELLO, 1, b"")
    corrupt = bytearray(protocol.encode(Msg.INFER, 2, b"abcdef"))
    corrupt[8] ^= 0x40  # a payload byte
    oversized = protocol.encode(Msg.INFER, 3, bytes(300))
    frames, errors = device_parse(device_framing, bytes(corrupt) + oversized + good, capacity=256)
    assert frames[-1] == protocol.Frame(Msg.HELLO, 1, b"")
    assert errors >= 2


def test_host_parser_resyncs_after_noise_and_corruption():
    parser = FrameParser()
    corrupt = bytearray(protocol.encode(Msg.RESULT, 4, b"\x01" * 20))
    corrupt[10] ^= 1
    stream = b"\xa5\xa5noise" + bytes(corrupt) + protocol.encode(Msg.RESULT, 5, b"ok")
    frames = []
    for i in range(0, len(stream), 3):  # arrives in pieces, as from a serial port
        frames += parser.feed(stream[i : i + 3])
    assert frames == [protocol.Frame(Msg.RESULT, 5, b"ok")]
    assert parser.dropped >= 1


def test_host_parses_device_info(device_framing):
    head = struct.pack("<HH32s9IH", 4, 256, bytes(range(32)), 784, 10, 20000, 3000, 832, 25_000_000, 0xC0FFEE,
                       4096, 600, 3)
    head += b"\x0amps2-an386" + b"\x03aot" + b"\x050.1.0"
    frames = FrameParser().feed(device_encode(device_framing, Msg.INFO, 0, head))
    info = Info.parse(frames[0].payload)
    assert (info.protocol, info.rx_max, info.input_bytes, info.output_bytes) == (4, 256, 784, 10)
    assert info.model_sha256 == bytes(range(32)).hex()
    assert info.session == 0xC0FFEE
    assert (info.stack_bytes, info.stack_used, info.layers) == (4096, 600, 3)
    assert (info.board, info.runtime, info.toolkit) == ("mps2-an386", "aot", "0.1.0")


def test_host_reads_a_version_2_info_far_enough_to_name_its_version():
    head = struct.pack("<HH32s7I", 2, 256, bytes(32), 784, 10, 20000, 3000, 832, 25_000_000, 0xC0FFEE)
    info = Info.parse(head + b"\x0amps2-an386" + b"\x03aot" + b"\x050.1.0")
    assert (info.protocol, info.session, info.stack_used, info.layers, info.board) == (2, 0xC0FFEE, 0, 0, "mps2-an386")


def test_host_reads_a_version_1_info_far_enough_to_name_its_version():
    head = struct.pack("<HH32s6I", 1, 256, bytes(32), 784, 10, 20000, 3000, 832, 25_000_000)
    info = Info.parse(head + b"\x0amps2-an386" + b"\x03aot" + b"\x050.1.0")
    assert (info.protocol, info.input_bytes, info.session, info.toolkit) == (1, 784, 0, "0.1.0")


@pytest.mark.parametrize("fix_check", [False, True])
def test_host_parser_does_not_wait_on_a_mangled_length(fix_check):
    """A corrupted length field must not make the host swallow the good frames behind it: the header check
    catches it, and when the check happens to pass too, the complete frame behind it still wins."""
    mangled = bytearray(protocol.encode(Msg.ACK, 3, bytes(8)))
    mangled[3:5] = (1000).to_bytes(2, "little")  # claims 1,000 bytes of payload
    if fix_check:
        mangled[5] = protocol.crc8(bytes(mangled[1:5]))
    parser = FrameParser()
    frames = parser.feed(bytes(mangled))
    frames += parser.feed(protocol.encode(Msg.ACK, 4, b"\x01" * 8))
    assert frames == [protocol.Frame(Msg.ACK, 4, b"\x01" * 8)]
    assert parser.dropped == 1


def test_device_finds_a_frame_right_behind_a_noise_sof(device_framing):
    """Noise 0xA5 then a frame: the noise's header (the frame's first bytes) fails its check, and the device
    finds the frame's SOF among the bytes it had taken for that header."""
    frame = protocol.encode(Msg.HELLO, 7, protocol.hello(3))
    frames, errors = device_parse(device_framing, b"\xa5" + frame + b"\xa5\xa5" + frame)
    assert frames == [protocol.Frame(Msg.HELLO, 7, protocol.hello(3))] * 2
    assert errors == 3  # one per noise SOF: each is dropped in turn


def test_a_0xa5_inside_a_payload_does_not_swallow_the_next_frame(device_framing):
    """The device, resynchronising after a damaged frame, meets a 0xA5 inside the payload: its header check
    fails at once instead of waiting for the bytes a bogus length promises."""
    first = bytearray(protocol.encode(Msg.INFER, 1, b"\x00\x00\x00\x00" + b"\x11\xa5\x10\x02\xf0\x00" + bytes(20)))
    first[2] ^= 0x01  # the header of the first frame is damaged: the device hunts inside its payload
    second = protocol.encode(Msg.INFER, 2, protocol.infer_chunk(0, b"ok"))
    frames, errors = device_parse(device_framing, bytes(first) + second)
    assert frames == [protocol.Frame(Msg.INFER, 2, protocol.infer_chunk(0, b"ok"))]
    assert errors >= 2


def test_unchecked_types_take_corrupt_frames():
    corrupt = bytearray(protocol.encode(Msg.RESULT, 4, b"\x01" * 20))
    corrupt[10] ^= 1
    assert FrameParser().feed(bytes(corrupt)) == []
    assert FrameParser(unchecked=[Msg.RESULT]).feed(bytes(corrupt))[0].payload[4] == 0x01 ^ 1
    corrupt_ack = bytearray(protocol.encode(Msg.ACK, 4, b"\x01" * 8))
    corrupt_ack[10] ^= 1
    assert FrameParser(unchecked=[Msg.RESULT]).feed(bytes(corrupt_ack)) == []


def test_encode_refuses_oversized_payload():
    with pytest.raises(ValueError):
        protocol.encode(Msg.LOG, 0, bytes(protocol.MAX_PAYLOAD + 1))


# ------------------------------------------------------------------------------------------------------------
# The device's message handling (firmware/app/tfw_device.c), compiled for the host on the fake board of
# tests/fuzz/fake_board.c: 600-byte input, 10-byte output sharing the input's memory, rx_max 256, a 1 MHz timer.

FUZZ = ROOT / "tests" / "fuzz"
INPUT, OUTPUT, CHUNK = 600, 10, 252


def fake_model(x: bytes) -> bytes:
    """The fake board's model (fake_board.c)."""
    out = []
    for j in range(OUTPUT):
        acc = j
        for i in range(j, INPUT, OUTPUT):
            acc = (acc * 31 + x[i]) & 0xFFFFFFFF
        out.append(acc & 0xFF)
    return bytes(out)


class FakeBoard:
    def __init__(self, lib) -> None:
        self.lib = lib
        self._buf = ctypes.create_string_buffer(1 << 20)

    def boot(self) -> list[protocol.Frame]:
        self.lib.harness_reset()
        self.lib.harness_boot()
        return self.take()

    def take(self) -> list[protocol.Frame]:
        n = self.lib.harness_take(self._buf, len(self._buf))
        parser = FrameParser()
        frames = parser.feed(self._buf.raw[:n])
        assert parser.dropped == 0, "the device sent a corrupt frame"
        return frames

    def send(self, raw: bytes) -> list[protocol.Frame]:
        self.lib.harness_feed(raw, len(raw))
        return self.take()

    def request(self, type_: int, seq: int, payload: bytes = b"") -> list[protocol.Frame]:
        return self.send(protocol.encode(type_, seq, payload))

    def idle(self, microseconds: int) -> list[protocol.Frame]:
        self.lib.harness_idle(ctypes.c_uint64(microseconds))
        return self.take()

    @property
    def invokes(self) -> int:
        return self.lib.harness_invokes()


@pytest.fixture(scope="module")
def device(tmp_path_factory, host_library) -> FakeBoard:
    lib = host_library(
        [FIRMWARE / "protocol/tfw_frame.c", FIRMWARE / "protocol/tfw_crc32.c", FIRMWARE / "app/tfw_device.c",
         FUZZ / "fake_board.c"],
        tmp_path_factory.mktemp("device") / "libdevice.so",
        [FIRMWARE / "protocol", FIRMWARE / "common", FIRMWARE / "app", FIRMWARE / "board", FUZZ])
    lib.harness_take.restype = ctypes.c_size_t
    lib.harness_idle.argtypes = [ctypes.c_uint64]
    board = FakeBoard(lib)
    board.boot()
    return board


def error_of(frame: protocol.Frame) -> tuple[int, int]:
    assert frame.type == Msg.ERROR
    return frame.seq, protocol.DeviceErrorMsg.parse(frame.payload).code


def vector_requests(x: bytes, first_seq: int) -> list[tuple[int, bytes]]:
    return [(first_seq + i, protocol.infer_chunk(off, x[off : off + CHUNK]))
            for i, off in enumerate(range(0, len(x), CHUNK))]


def test_boot_info_has_no_session(device):
    (boot,) = device.boot()
    info = Info.parse(boot.payload)
    assert (boot.type, boot.seq) == (Msg.INFO, 0)
    assert (info.protocol, info.session, info.rx_max, info.input_bytes, info.output_bytes) == (4, 0, 256, 600, 10)
    assert (info.stack_bytes, info.stack_used, info.layers) == (512, 128, 2)  # the fake board's
    assert info.board == "host" and info.runtime == "fake"


def test_the_session_of_hello_comes_back_in_every_reply(device):
    device.boot()
    (info,) = device.request(Msg.HELLO, 1, protocol.hello(0xDEADBEEF))
    assert (info.type, info.seq, Info.parse(info.payload).session) == (Msg.INFO, 1, 0xDEADBEEF)
    x = bytes(random.Random(3).randrange(256) for _ in range(INPUT))
    replies = [device.request(Msg.INFER, seq, chunk) for seq, chunk in vector_requests(x, 2)]
    acks = [protocol.Ack.parse(r[0].payload) for r in replies[:-1]]
    assert [(a.session, a.received) for a in acks] == [(0xDEADBEEF, 252), (0xDEADBEEF, 504)]
    (result,) = replies[-1]
    parsed = protocol.Result.parse(result.payload)
    assert (result.type, result.seq, parsed.session) == (Msg.RESULT, 4, 0xDEADBEEF)
    assert parsed.output == fake_model(x)
    (info,) = device.request(Msg.HELLO, 5, b"")  # an empty HELLO asks, and changes nothing
    assert Info.parse(info.payload).session == 0xDEADBEEF


def test_a_retransmitted_request_is_answered_again_not_run_again(device):
    device.boot()
    device.request(Msg.HELLO, 1, protocol.hello(7))
    x = bytes(random.Random(4).randrange(256) for _ in range(INPUT))
    (first, ack), (second, ack2), (last, final) = vector_requests(x, 2)
    assert device.request(Msg.INFER, first, ack) == device.request(Msg.INFER, first, ack)  # its ACK was lost
    assert device.request(Msg.INFER, second, ack2)[0].type == Msg.ACK
    result = device.request(Msg.INFER, last, final)
    invokes = device.invokes
    # The RESULT was lost: the retransmission gets the same bytes; the model does not run on an input whose
    # start its own output has overwritten.
    assert device.request(Msg.INFER, last, final) == device.request(Msg.INFER, last, final) == result
    assert device.invokes == invokes
    assert protocol.Result.parse(result[0].payload).output == fake_model(x)
    # Only the last request is remembered: after another request the old one is a new (out of order) one.
    device.request(Msg.HELLO, 5, protocol.hello(8))
    assert error_of(device.request(Msg.INFER, last, final)[0]) == (last, protocol.ErrorCode.SEQUENCE)


def test_same_seq_other_content_is_a_new_request(device):
    device.boot()
    (a,) = device.request(Msg.HELLO, 9, protocol.hello(1))
    (b,) = device.request(Msg.HELLO, 9, protocol.hello(2))
    assert Info.parse(a.payload).session == 1 and Info.parse(b.payload).session == 2


@pytest.mark.parametrize("type_, payload, code", [
    (Msg.HELLO, protocol.hello(0), protocol.ErrorCode.BAD_ARG),
    (Msg.HELLO, b"xy", protocol.ErrorCode.BAD_ARG),
    (Msg.INFER, b"\x00\x00\x00", protocol.ErrorCode.BAD_ARG),
    (Msg.INFER, protocol.infer_chunk(8, b"abc"), protocol.ErrorCode.SEQUENCE),
    (0x77, b"?", protocol.ErrorCode.UNKNOWN_TYPE),
])
def test_device_refuses_malformed_requests(device, type_, payload, code):
    device.boot()
    assert [error_of(f) for f in device.request(type_, 3, payload)] == [(3, code)]


def test_an_input_past_the_tensor_is_refused_and_discarded(device):
    device.boot()
    assert device.request(Msg.INFER, 1, protocol.infer_chunk(0, bytes(250)))[0].type == Msg.ACK
    assert device.request(Msg.INFER, 2, protocol.infer_chunk(250, bytes(250)))[0].type == Msg.ACK
    assert error_of(device.request(Msg.INFER, 3, protocol.infer_chunk(500, bytes(101)))[0]) == \
        (3, protocol.ErrorCode.SEQUENCE)
    assert error_of(device.request(Msg.INFER, 4, protocol.infer_chunk(500, bytes(100)))[0]) == \
        (4, protocol.ErrorCode.SEQUENCE)  # the input was discarded: offset 500 is out of order now


def test_a_failing_model_is_reported(device):
    device.boot()
    replies = [device.request(Msg.INFER, seq, chunk)
               for seq, chunk in vector_requests(b"\x7f\x80" + bytes(INPUT - 2), 1)]
    assert error_of(replies[-1][0]) == (3, protocol.ErrorCode.MODEL)


def test_every_dropped_frame_is_answered_with_error_frame(device):
    device.boot()
    corrupt = bytearray(protocol.encode(Msg.HELLO, 1, protocol.hello(5)))
    corrupt[6] ^= 0x08
    too_long = protocol.encode(Msg.INFER, 2, b"\x11" * 300)  # more than rx_max
    frames = device.send(bytes(corrupt) + too_long + protocol.encode(Msg.HELLO, 3, protocol.hello(6)))
    assert [error_of(f) for f in frames[:-1]] == [(0, protocol.ErrorCode.FRAME)] * 2
    assert (frames[-1].type, frames[-1].seq) == (Msg.INFO, 3)


def test_a_frame_that_stops_arriving_is_dropped_after_the_gap(device):
    device.boot()
    frame = protocol.encode(Msg.HELLO, 1, protocol.hello(5))
    assert device.send(frame[:7]) == []
    assert device.idle(150_000) == []  # 150 ms: still waiting for the rest
    assert [error_of(f) for f in device.idle(100_000)] == [(0, protocol.ErrorCode.FRAME)]  # 250 ms > 200 ms
    assert device.idle(1_000_000) == []  # once
    (info,) = device.send(frame)  # and the next frame is taken whole
    assert (info.type, info.seq) == (Msg.INFO, 1)


def test_probe_stops_runs_after_a_layer_and_reads_its_output(device):
    """PROBE (protocol 3): a run stopped after layer 0 leaves the input in place and its RESULT carries no
    output; the layer's output is read back in slices; PROBE of the whole model restores full runs."""
    device.boot()
    device.request(Msg.HELLO, 1, protocol.hello(7))
    (reply,) = device.request(Msg.PROBE, 2, protocol.probe(0, 0, 0))
    layer = protocol.Layer.parse(reply.payload)
    assert (reply.type, layer.session, layer.layers, layer.layer, layer.size, layer.data) == (Msg.LAYER, 7, 2, 0, INPUT, b"")
    x = bytes(random.Random(5).randrange(256) for _ in range(INPUT))
    replies = [device.request(Msg.INFER, seq, chunk) for seq, chunk in vector_requests(x, 3)]
    result = protocol.Result.parse(replies[-1][0].payload)
    assert replies[-1][0].type == Msg.RESULT and result.output == b""
    got, seq = b"", 10
    while len(got) < INPUT:
        (reply,) = device.request(Msg.PROBE, seq, protocol.probe(0, len(got), 250))
        part = protocol.Layer.parse(reply.payload)
        assert part.offset == len(got) and len(part.data) == min(250, INPUT - len(got))
        got, seq = got + part.data, seq + 1
    assert got == x  # layer 0 of the fake model is the input as it is
    device.request(Msg.PROBE, seq, protocol.probe(protocol.ALL_LAYERS, 0, 0))
    replies = [device.request(Msg.INFER, seq + 1 + i, chunk) for i, (_, chunk) in enumerate(vector_requests(x, 0))]
    assert protocol.Result.parse(replies[-1][0].payload).output == fake_model(x)
    for payload, why in [(b"\x00", "short"), (protocol.probe(2, 0, 1), "no layer 2"),
                         (protocol.probe(1, 11, 1), "past the output")]:
        seq += 10
        (reply,) = device.request(Msg.PROBE, seq, payload)
        assert error_of(reply) == (seq, protocol.ErrorCode.BAD_ARG), why


LAYER_TICKS = (70, 100)  # fake_board.h: FAKE_LAYER_TICKS(k), the fake timer's ticks per layer


def test_profile_times_every_layer_of_one_run(device):
    """PROFILE (protocol 4): after PROFILE on, a run is timed layer by layer; TIMES returns each layer's ticks
    (the fake layers advance the fake timer by known amounts) and the run's total, as its RESULT said;
    PROFILE off ends it. A run stopped by PROBE records only its layers."""
    device.boot()
    device.request(Msg.HELLO, 1, protocol.hello(9))
    (reply,) = device.request(Msg.PROFILE, 2, protocol.profile(True))
    times = protocol.Times.parse(reply.payload)
    assert (reply.type, times.session, times.recorded, times.first, times.ticks) == (Msg.TIMES, 9, 0, 0, ())
    x = bytes(random.Random(6).randrange(256) for _ in range(INPUT))
    replies = [device.request(Msg.INFER, seq, chunk) for seq, chunk in vector_requests(x, 3)]
    result = protocol.Result.parse(replies[-1][0].payload)
    assert result.output == fake_model(x) and result.ticks == sum(LAYER_TICKS)
    (reply,) = device.request(Msg.PROFILE, 10, protocol.profile(False))
    times = protocol.Times.parse(reply.payload)
    assert (times.recorded, times.first, times.ticks, times.total) == (2, 0, LAYER_TICKS, result.ticks)
    (reply,) = device.request(Msg.PROFILE, 11, protocol.profile(False, 1))  # a later page
    assert protocol.Times.parse(reply.payload).ticks == LAYER_TICKS[1:]
    # Off: runs are not timed, the last profile stays readable; on again starts a new one.
    [device.request(Msg.INFER, seq, chunk) for seq, chunk in vector_requests(x, 12)]
    assert protocol.Times.parse(device.request(Msg.PROFILE, 20, protocol.profile(False))[0].payload).recorded == 2
    assert protocol.Times.parse(device.request(Msg.PROFILE, 21, protocol.profile(True))[0].payload).recorded == 0
    device.request(Msg.PROBE, 22, protocol.probe(0, 0, 0))
    [device.request(Msg.INFER, seq, chunk) for seq, chunk in vector_requests(x, 23)]
    times = protocol.Times.parse(device.request(Msg.PROFILE, 30, protocol.profile(False))[0].payload)
    assert (times.recorded, times.ticks, times.total) == (1, LAYER_TICKS[:1], LAYER_TICKS[0])
    device.request(Msg.PROBE, 31, protocol.probe(protocol.ALL_LAYERS, 0, 0))
    for seq, (payload, why) in enumerate([(b"\x01", "short"), (b"\x02\x00\x00", "on is 0 or 1"),
                                          (protocol.profile(False, 2), "first past the layers recorded"),
                                          (protocol.profile(True, 1), "a new profile has none recorded")], 40):
        (reply,) = device.request(Msg.PROFILE, seq, payload)
        assert error_of(reply) == (seq, protocol.ErrorCode.BAD_ARG), why


def test_host_refuses_a_malformed_times():
    head = struct.pack("<IHHQ", 1, 2, 0, 170)
    assert protocol.Times.parse(head + struct.pack("<2I", 70, 100)).ticks == (70, 100)
    for payload in (head[:10], head + b"\x01\x02", head + struct.pack("<3I", 1, 2, 3)):
        with pytest.raises(ValueError):
            protocol.Times.parse(payload)
