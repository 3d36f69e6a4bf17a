"""Frames and messages of docs/protocol.md, host side (pure data: no I/O here)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

PROTOCOL_VERSION = 4
ALL_LAYERS = 0xFFFF  # PROBE: runs go through the whole model (as after boot)
SOF = 0xA5
MAX_PAYLOAD = 1024
_HEADER = struct.Struct("<BBH")  # type, seq, len; then the header check, a CRC-8 of these four bytes
_HEAD = 1 + _HEADER.size + 1  # SOF, header, header check


class Msg(IntEnum):
    HELLO = 0x01
    INFO = 0x02
    INFER = 0x10
    ACK = 0x11
    RESULT = 0x12
    PROBE = 0x13
    LAYER = 0x14
    PROFILE = 0x15
    TIMES = 0x16
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


def crc8(data: bytes) -> int:
    """CRC-8, polynomial 0x07, initial value 0 (CRC-8/SMBUS): the frame header's check."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode(type_: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    header = _HEADER.pack(type_, seq, len(payload))
    return bytes([SOF]) + header + bytes([crc8(header)]) + payload + struct.pack("<I", zlib.crc32(header + payload))


class FrameParser:
    """Turns a byte stream into frames; noise, bad headers, over-long and corrupt frames are counted and
    skipped, and the hunt for the next frame starts at the byte after the dropped frame's SOF.

    Frames of the types in `unchecked` are taken even when their CRC is wrong: only to show what the CRC
    protects against.
    """

    def __init__(self, unchecked: Iterable[int] = (), on_noise: Callable[[bytes], None] | None = None) -> None:
        self._buf = bytearray()
        self.dropped = 0
        self.unchecked = frozenset(unchecked)
        self.on_noise = on_noise  # gets the bytes skipped while hunting for a SOF (a monitor shows text)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while True:
            start = self._buf.find(SOF)
            if start < 0:
                if self.on_noise and self._buf:
                    self.on_noise(bytes(self._buf))
                self._buf.clear()
                return frames
            if self.on_noise and start:
                self.on_noise(bytes(self._buf[:start]))
            del self._buf[:start]
            if len(self._buf) < _HEAD:
                return frames
            status, end = self._frame_at(0)
            if status == "incomplete":
                # If a later SOF starts a complete, valid frame, this one cannot be (a mangled length, or
                # one of the rare false headers that pass the check): drop it now rather than wait.
                later = self._valid_frame_after(1)
                if later is None:
                    return frames
                self.dropped += 1
                del self._buf[:later]
                continue
            if status == "bad":
                self.dropped += 1
                del self._buf[:1]  # the SOF may have been noise inside other data: hunt from the next byte
                continue
            type_, seq, _ = _HEADER.unpack_from(self._buf, 1)
            frames.append(Frame(type_, seq, bytes(self._buf[_HEAD : end - 4])))
            del self._buf[:end]

    def _frame_at(self, pos: int) -> tuple[str, int]:
        """("ok" | "bad" | "incomplete", end) for the frame whose SOF is at `pos` (its header is there)."""
        buf = self._buf
        header = bytes(buf[pos + 1 : pos + 1 + _HEADER.size])
        type_, _, length = _HEADER.unpack(header)
        if buf[pos + 1 + _HEADER.size] != crc8(header) or length > MAX_PAYLOAD:
            return "bad", pos + _HEAD
        end = pos + _HEAD + length + 4
        if len(buf) < end:
            return "incomplete", end
        (crc,) = struct.unpack_from("<I", buf, end - 4)
        good = type_ in self.unchecked or zlib.crc32(header + buf[pos + _HEAD : end - 4]) == crc
        return ("ok" if good else "bad"), end

    def _valid_frame_after(self, start: int) -> int | None:
        """Where the first complete, valid frame at or after `start` begins, if any."""
        pos = self._buf.find(SOF, start)
        while pos >= 0:
            if len(self._buf) - pos >= _HEAD and self._frame_at(pos)[0] == "ok":
                return pos
            pos = self._buf.find(SOF, pos + 1)
        return None


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
    session: int  # 0 after boot; protocol 1 has no session
    board: str
    runtime: str
    toolkit: str
    stack_bytes: int = 0  # the stack reserved (protocol 3; 0: unknown)
    stack_used: int = 0  # its high-water mark since boot (protocol 3; 0: unknown)
    layers: int = 0  # layers a run can stop after, for PROBE (protocol 3; 0: none)

    _FIXED = struct.Struct("<HH32s9IH")
    # Older versions, read only far enough to name the device's version.
    _FIXED_OLD = ((1, struct.Struct("<HH32s6I")), (2, struct.Struct("<HH32s7I")))

    @classmethod
    def parse(cls, payload: bytes) -> Info:
        (proto,) = struct.unpack_from("<H", payload)
        fixed = dict(cls._FIXED_OLD).get(proto, cls._FIXED)  # protocol 3's INFO is protocol 4's
        proto, rx_max, sha, *sizes = fixed.unpack_from(payload)
        sizes += [0] * (10 - len(sizes))  # session, stack_bytes, stack_used, layers of older versions: 0
        pos = fixed.size
        board, pos = _string(payload, pos)
        runtime, pos = _string(payload, pos)
        toolkit, pos = _string(payload, pos)
        (input_bytes, output_bytes, flash_bytes, ram_bytes, arena_bytes, tick_hz, session, stack_bytes, stack_used,
         layers) = sizes
        return cls(proto, rx_max, sha.hex(), input_bytes, output_bytes, flash_bytes, ram_bytes, arena_bytes, tick_hz,
                   session, board, runtime, toolkit, stack_bytes, stack_used, layers)


@dataclass(frozen=True)
class Ack:
    session: int
    received: int

    @classmethod
    def parse(cls, payload: bytes) -> Ack:
        if len(payload) != 8:
            raise ValueError(f"ACK of {len(payload)} bytes, expected 8")
        return cls(*struct.unpack("<II", payload))


@dataclass(frozen=True)
class Result:
    ticks: int
    output: bytes
    session: int = 0

    @classmethod
    def parse(cls, payload: bytes) -> Result:
        if len(payload) < 12:
            raise ValueError(f"RESULT of {len(payload)} bytes, expected at least 12")
        session, ticks = struct.unpack_from("<IQ", payload)
        return cls(ticks, payload[12:], session)


@dataclass(frozen=True)
class Layer:
    """The reply to PROBE: the device's layer count, the layer named, its output's size, and a slice of it."""

    session: int
    layers: int
    layer: int
    size: int
    offset: int
    data: bytes

    _HEAD = struct.Struct("<IHHII")

    @classmethod
    def parse(cls, payload: bytes) -> Layer:
        if len(payload) < cls._HEAD.size:
            raise ValueError(f"LAYER of {len(payload)} bytes, expected at least {cls._HEAD.size}")
        session, layers, layer, size, offset = cls._HEAD.unpack_from(payload)
        return cls(session, layers, layer, size, offset, payload[cls._HEAD.size:])


@dataclass(frozen=True)
class Times:
    """The reply to PROFILE: the layers the last profiled run recorded, that run's ticks, and the ticks of
    layers `first` … as many as fit one frame."""

    session: int
    recorded: int
    first: int
    total: int
    ticks: tuple[int, ...]

    _HEAD = struct.Struct("<IHHQ")

    @classmethod
    def parse(cls, payload: bytes) -> Times:
        if len(payload) < cls._HEAD.size or (len(payload) - cls._HEAD.size) % 4:
            raise ValueError(f"TIMES of {len(payload)} bytes, expected {cls._HEAD.size} + 4 per layer")
        session, recorded, first, total = cls._HEAD.unpack_from(payload)
        body = payload[cls._HEAD.size:]
        if first + len(body) // 4 > recorded:
            raise ValueError(f"TIMES carries layers {first} … {first + len(body) // 4 - 1} of {recorded} recorded")
        return cls(session, recorded, first, total, struct.unpack(f"<{len(body) // 4}I", body))


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


def hello(session: int) -> bytes:
    return struct.pack("<I", session)


def probe(layer: int, offset: int, length: int) -> bytes:
    return struct.pack("<HIH", layer, offset, length)


def profile(on: bool, first: int = 0) -> bytes:
    return struct.pack("<BH", 1 if on else 0, first)
