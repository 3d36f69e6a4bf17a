"""The serial link to a device: open a port or URL, shake hands, run inferences (docs/protocol.md)."""

from __future__ import annotations

import time
from collections.abc import Callable

import serial

from tinyml_fw import protocol
from tinyml_fw.errors import DeviceError
from tinyml_fw.protocol import Frame, Info, Msg, Result


class DeviceLink:
    """One connected device. Works with any pyserial URL: a port, socket://, rfc2217://, loop://."""

    def __init__(self, url: str, baud: int = 115200, timeout: float = 10.0,
                 on_log: Callable[[str], None] | None = None) -> None:
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceError(f"Cannot open serial port {url}: {exc}") from None
        self.url = url
        self.timeout = timeout
        self._parser = protocol.FrameParser()
        self._pending: list[Frame] = []
        self._seq = 0
        self._on_log = on_log
        self.info: Info | None = None

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> DeviceLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1
        return self._seq

    def _read_frame(self, deadline: float) -> Frame | None:
        while not self._pending:
            if time.monotonic() > deadline:
                return None
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"Serial link {self.url} failed: {exc}") from None
            self._pending.extend(self._parser.feed(data))
        return self._pending.pop(0)

    def _request(self, type_: int, payload: bytes, expect: set[int]) -> Frame:
        """Sends one request and returns the reply carrying its seq; LOG frames go to on_log."""
        seq = self._next_seq()
        try:
            self._port.write(protocol.encode(type_, seq, payload))
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"Serial link {self.url} failed: {exc}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            frame = self._read_frame(deadline)
            if frame is None:
                raise DeviceError(
                    f"The device on {self.url} did not answer {Msg(type_).name} within "
                    f"{self.timeout:g} s. Is the firmware running and the port right?")
            if frame.type == Msg.LOG:
                if self._on_log:
                    self._on_log(frame.payload.decode("utf-8", "replace"))
                continue
            if frame.seq != seq:
                continue  # a boot INFO or a stale reply: not the answer to this request
            if frame.type == Msg.ERROR:
                raise DeviceError(f"The device refused {Msg(type_).name}: "
                                  f"{protocol.DeviceErrorMsg.parse(frame.payload)}")
            if frame.type not in expect:
                raise DeviceError(f"The device answered {Msg(type_).name} with "
                                  f"unexpected message type 0x{frame.type:02x}")
            return frame

    def hello(self) -> Info:
        frame = self._request(Msg.HELLO, b"", {Msg.INFO})
        try:
            self.info = Info.parse(frame.payload)
        except (ValueError, IndexError, Exception) as exc:  # struct.error is an Exception
            raise DeviceError(f"The device sent a malformed INFO: {exc}") from None
        return self.info

    def check(self, model_sha256: str) -> Info:
        """Handshake, refusing a device of another protocol version or another model."""
        info = self.info or self.hello()
        if info.protocol != protocol.PROTOCOL_VERSION:
            raise DeviceError(
                f"The device speaks protocol {info.protocol}, this host {protocol.PROTOCOL_VERSION}: "
                "regenerate and rebuild the firmware with this tinyml-fw.")
        if info.model_sha256 != model_sha256:
            raise DeviceError(
                f"The device runs model {info.model_sha256[:12]}…, not {model_sha256[:12]}…: "
                "flash the firmware generated from this model.")
        return info

    def infer(self, data: bytes) -> Result:
        info = self.info or self.hello()
        if len(data) != info.input_bytes:
            raise DeviceError(f"Input has {len(data)} bytes; the device's model takes {info.input_bytes}.")
        chunk = max(1, min(info.rx_max, protocol.MAX_PAYLOAD) - 4)
        for offset in range(0, len(data), chunk):
            part = data[offset : offset + chunk]
            last = offset + len(part) == len(data)
            frame = self._request(Msg.INFER, protocol.infer_chunk(offset, part),
                                  {Msg.RESULT} if last else {Msg.ACK})
            if last:
                result = Result.parse(frame.payload)
                if len(result.output) != info.output_bytes:
                    raise DeviceError(f"RESULT carries {len(result.output)} bytes, "
                                      f"expected {info.output_bytes}.")
                return result
        raise DeviceError("The device reports a model with an empty input tensor.")
