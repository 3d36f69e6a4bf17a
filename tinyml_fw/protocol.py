"""Frames and messages of docs/protocol.md, host side (pure data: no I/O here)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

PROTOCOL_VERSION = 1
SOF = 0xA5
MAX_PAYLOAD = 1024
_HEADER = struct.Struct("<BBH")  # type, seq, len


class Msg(IntEnum):
    HELLO = 0x01
    INFO = 0x02
    INFER = 0x10
    ACK = 0x11
    RESULT = 0x12
    LOG = 0x20
    ERROR = 0x21


class ErrorCode(IntEnum):
    """Mirrors TfwStatus in firmware/common/tfw_status.h."""

    BAD_ARG = 1
    FRAME = 2
    SEQUENCE = 3
    MODEL = 4
    UNKNOWN_TYPE = 5


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


def encode(type_: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = _HEADER.pack(type_, seq, len(payload)) + payload
    return bytes([SOF]) + body + struct.pack("<I", zlib.crc32(body))


class FrameParser:
    """Turns a byte stream into frames; noise, over-long and corrupt frames are counted and skipped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames = []
        while True:
            start = self._buf.find(SOF)
            if start < 0:
                self._buf.clear()
                return frames
            del self._buf[:start]
            if len(self._buf) < 1 + _HEADER.size:
                return frames
            type_, seq, length = _HEADER.unpack_from(self._buf, 1)
            if length > MAX_PAYLOAD:
                self.dropped += 1
                del self._buf[:1]
                continue
            end = 1 + _HEADER.size + length + 4
            if len(self._buf) < end:
                return frames
            body = bytes(self._buf[1 : end - 4])
            (crc,) = struct.unpack_from("<I", self._buf, end - 4)
            if zlib.crc32(body) != crc:
                # Resync from the next byte: the SOF may have been noise inside other data.
                self.dropped += 1
                del self._buf[:1]
                continue
            frames.append(Frame(type_, seq, body[_HEADER.size :]))
            del self._buf[:end]


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    n = buf[pos]
    return buf[pos + 1 : pos + 1 + n].decode("utf-8", "replace"), pos + 1 + n


@dataclass(frozen=True)
class Info:
    protocol: int
    rx_max: int
    model_sha256: str
    input_bytes: int
    output_bytes: int
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int
    tick_hz: int
    board: str
    runtime: str
    toolkit: str

    _FIXED = struct.Struct("<HH32s6I")

    @classmethod
    def parse(cls, payload: bytes) -> Info:
        proto, rx_max, sha, *sizes = cls._FIXED.unpack_from(payload)
        pos = cls._FIXED.size
        board, pos = _string(payload, pos)
        runtime, pos = _string(payload, pos)
        toolkit, pos = _string(payload, pos)
        return cls(proto, rx_max, sha.hex(), *sizes, board, runtime, toolkit)


@dataclass(frozen=True)
class Result:
    ticks: int
    output: bytes

    @classmethod
    def parse(cls, payload: bytes) -> Result:
        (ticks,) = struct.unpack_from("<Q", payload)
        return cls(ticks, payload[8:])


@dataclass(frozen=True)
class DeviceErrorMsg:
    code: int
    text: str

    @classmethod
    def parse(cls, payload: bytes) -> DeviceErrorMsg:
        (code,) = struct.unpack_from("<H", payload)
        return cls(code, payload[2:].decode("utf-8", "replace"))

    def __str__(self) -> str:
        try:
            name = ErrorCode(self.code).name
        except ValueError:
            name = str(self.code)
        return f"{name}: {self.text}"


def infer_chunk(offset: int, data: bytes) -> bytes:
    return struct.pack("<I", offset) + data
