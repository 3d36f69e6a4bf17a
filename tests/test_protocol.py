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


def test_crc_is_zlibs():
    frame = protocol.encode(Msg.LOG, 0, b"hello")
    assert struct.unpack("<I", frame[-4:])[0] == zlib.crc32(frame[1:-4])


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
    corrupt[7] ^= 0x40
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
    head = struct.pack("<HH32s6I", 1, 256, bytes(range(32)), 784, 10, 20000, 3000, 832, 25_000_000)
    head += b"\x0amps2-an386" + b"\x03aot" + b"\x050.1.0"
    frames = FrameParser().feed(device_encode(device_framing, Msg.INFO, 0, head))
    info = Info.parse(frames[0].payload)
    assert (info.protocol, info.rx_max, info.input_bytes, info.output_bytes) == (1, 256, 784, 10)
    assert info.model_sha256 == bytes(range(32)).hex()
    assert (info.board, info.runtime, info.toolkit) == ("mps2-an386", "aot", "0.1.0")


def test_encode_refuses_oversized_payload():
    with pytest.raises(ValueError):
        protocol.encode(Msg.LOG, 0, bytes(protocol.MAX_PAYLOAD + 1))
