"""An interactive serial monitor: frames decoded into readable lines, plain text passed through.

Works on a real port, a pty, or any pyserial URL (`socket://` an emulator's UART, `rfc2217://`). It asks for
INFO with an empty HELLO (the board's session is left alone) and asks again every few seconds while none
came, so a board that is still booting, or whose first lines were lost, is caught. Lines typed while it
runs are commands (`help`); `--raw` shows the bytes as they come, undecoded. Every line shown can also go to
a log file, with the time. Ctrl-C stops it (the caller decides what that means; the CLI exits 0).
"""

from __future__ import annotations

import queue
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinyml_fw import boards, protocol
from tinyml_fw.errors import BadInput, DeviceError
from tinyml_fw.ports import explain_open_error, open_port

HELP = ("commands: hello (ask for INFO) · infer [zeros|ramp] (send one input vector) · probe LAYER (stop "
        "later runs after LAYER, read its first bytes; probe all: whole runs again) · profile on|off (time "
        "every layer of later runs; either shows the last profiled run's times) · quit; any other line is sent "
        "to the device as text")
SHOWN_VALUES = 16  # output values shown per RESULT or LAYER


def describe(info: protocol.Info) -> str:
    stack = (f", stack {info.stack_used:,} of {info.stack_bytes:,} B used" if info.stack_bytes else "")
    layers = f", {info.layers} layers" if info.layers else ""
    return (f"INFO: board {info.board}, runtime {info.runtime}, model {info.model_sha256[:12]}…, "
            f"input {info.input_bytes} B, output {info.output_bytes} B, arena {info.arena_bytes:,} B, "
            f"flash {info.flash_bytes:,} B, RAM {info.ram_bytes:,} B{stack}{layers}, protocol {info.protocol}, "
            f"tinyml-fw {info.toolkit}")


def _values(data: bytes) -> str:
    vals = list(struct.unpack(f"<{len(data)}b", data))
    more = f", … ({len(vals)} values)" if len(vals) > SHOWN_VALUES else ""
    return "[" + ", ".join(map(str, vals[:SHOWN_VALUES])) + more + "]"


class Decoder:
    """Bytes in, readable lines out, in the order they came: each frame as one line, text outside frames
    line by line (a line holding bytes that are not text is summarised, not printed)."""

    def __init__(self, board: boards.Board | None = None) -> None:
        self.board = board
        self.info: protocol.Info | None = None
        self._text = bytearray()
        self._lines: list[str] = []
        self._parser = protocol.FrameParser(on_noise=self._text.extend)

    def feed(self, data: bytes) -> list[str]:
        for i in range(len(data)):  # byte by byte: text and frames keep their order
            frames = self._parser.feed(data[i : i + 1])
            while b"\n" in self._text:
                line, _, rest = bytes(self._text).partition(b"\n")
                self._text[:] = rest
                self._text_line(line)
            for frame in frames:
                self._flush_text()
                self._lines.append(self.frame(frame))
        lines, self._lines = self._lines, []
        return lines

    def flush(self) -> list[str]:
        """The lines still held, with text that came without its line end."""
        self._flush_text()
        lines, self._lines = self._lines, []
        return lines

    def _flush_text(self) -> None:
        if self._text:
            self._text_line(bytes(self._text))
            self._text.clear()

    def _text_line(self, raw: bytes) -> None:
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            return
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = None
        if line is None or any(ord(c) < 0x20 and c != "\t" for c in line):
            self._lines.append(f"({len(raw)} bytes that are not text)")
        else:
            self._lines.append(line)

    def frame(self, f: protocol.Frame) -> str:
        try:
            name = protocol.Msg(f.type).name
        except ValueError:
            return f"frame of unknown type 0x{f.type:02x}, seq {f.seq}, {len(f.payload)} bytes"
        try:
            return self._describe(name, f)
        except (ValueError, IndexError, struct.error) as exc:
            return f"{name} seq {f.seq}: malformed ({exc})"

    def _describe(self, name: str, f: protocol.Frame) -> str:
        p = f.payload
        if name == "INFO":
            self.info = protocol.Info.parse(p)
            return describe(self.info) + (" (boot)" if f.seq == 0 else "")
        if name == "LOG":
            return f"LOG: {p.decode('utf-8', 'replace')}"
        if name == "ERROR":
            return f"ERROR: {protocol.DeviceErrorMsg.parse(p)}" + (f" (seq {f.seq})" if f.seq else "")
        if name == "ACK":
            ack = protocol.Ack.parse(p)
            return f"ACK seq {f.seq}: {ack.received} input bytes held (session {ack.session:#x})"
        if name == "RESULT":
            r = protocol.Result.parse(p)
            instructions = self.board.instructions(r.ticks) if self.board else None
            cost = f"{r.ticks:,} ticks" + (f" = {instructions:,.0f} instructions" if instructions else "")
            output = f", output {_values(r.output)}" if r.output else ", no output (a run stopped after a layer)"
            return f"RESULT seq {f.seq}: {cost}{output} (session {r.session:#x})"
        if name == "LAYER":
            layer = protocol.Layer.parse(p)
            which = "whole model" if layer.layer == protocol.ALL_LAYERS else f"layer {layer.layer}"
            return (f"LAYER seq {f.seq}: {which} of {layer.layers}, output {layer.size} B; from {layer.offset}: "
                    f"{_values(layer.data)}")
        if name == "TIMES":
            t = protocol.Times.parse(p)
            cost = ", ".join(f"{tick:,}" for tick in t.ticks)
            instructions = self.board.instructions(t.total) if self.board else None
            total = f"{t.total:,} ticks" + (f" = {instructions:,.0f} instructions" if instructions else "")
            return (f"TIMES seq {f.seq}: {t.recorded} layers timed in a run of {total}; ticks from layer "
                    f"{t.first}: {cost or '–'}")
        if name == "PROFILE":
            on, first = struct.unpack("<BH", p)
            return f"PROFILE seq {f.seq}: {'on' if on else 'off'}, times from layer {first}"
        if name == "HELLO":
            return f"HELLO seq {f.seq}" + (f": session {struct.unpack('<I', p)[0]:#x}" if len(p) == 4 else "")
        if name == "INFER":
            (offset,) = struct.unpack_from("<I", p)
            return f"INFER seq {f.seq}: {len(p) - 4} input bytes at offset {offset}"
        layer, offset, length = struct.unpack("<HIH", p)
        return f"PROBE seq {f.seq}: layer {layer}, {length} bytes from {offset}"


def hexdump(data: bytes) -> list[str]:
    lines = []
    for i in range(0, len(data), 16):
        chunk = data[i : i + 16]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{chunk.hex(' '):<47}  |{text}|")
    return lines


class _Commands:
    """What the user types, turned into frames for the device."""

    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self.seq = 0

    def _frame(self, type_: int, payload: bytes) -> bytes:
        self.seq = self.seq % 255 + 1
        return protocol.encode(type_, self.seq, payload)

    def hello(self) -> bytes:
        return self._frame(protocol.Msg.HELLO, b"")

    def run(self, line: str) -> tuple[bytes, str]:
        """(bytes to send, what to show)."""
        words = line.split()
        if not words:
            return b"", ""
        info = self.decoder.info
        if words[0] in ("hello", "info"):
            return self.hello(), f"> HELLO seq {self.seq}"
        if words[0] == "help":
            return b"", HELP
        if words[0] in ("infer", "probe", "profile") and info is None:
            return b"", f"{words[0]}: no INFO from the device yet (type hello)"
        if words[0] == "infer" and info is not None:
            kind = words[1] if len(words) > 1 else "zeros"
            if kind not in ("zeros", "ramp"):
                return b"", "infer takes zeros or ramp"
            data = bytes(info.input_bytes) if kind == "zeros" else bytes(i % 256 for i in range(info.input_bytes))
            step = max(1, min(info.rx_max, protocol.MAX_PAYLOAD) - 4)
            frames = [self._frame(protocol.Msg.INFER, protocol.infer_chunk(o, data[o : o + step]))
                      for o in range(0, len(data), step)]
            return b"".join(frames), f"> INFER {len(frames)} chunks of {kind} ({len(data)} bytes)"
        if words[0] == "probe":
            arg = words[1] if len(words) > 1 else ""
            if arg == "all":
                layer = protocol.ALL_LAYERS
            elif arg.isdigit():
                layer = int(arg)
            else:
                return b"", "probe takes a layer number or all"
            return (self._frame(protocol.Msg.PROBE, protocol.probe(layer, 0, 64)),
                    f"> PROBE seq {self.seq}: layer {arg}")
        if words[0] == "profile":
            arg = words[1] if len(words) > 1 else "off"
            if arg not in ("on", "off"):
                return b"", "profile takes on or off"
            return (self._frame(protocol.Msg.PROFILE, protocol.profile(arg == "on")),
                    f"> PROFILE seq {self.seq}: {arg}")
        return line.encode() + b"\n", f"> text: {line}"


def _open(port: str, board: boards.Board | None, baud: int, opener: Callable[..., Any] | None):
    import serial

    try:
        return opener(port, baud) if opener is not None else open_port(port, baud, board)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(explain_open_error(port, exc)) from None


def monitor(port: str, board_id: str | None = None, log=print, opener: Callable[..., Any] | None = None,
            duration: float | None = None, clock: Callable[[], float] = time.monotonic, raw: bool = False,
            log_file: str | Path | None = None, commands: queue.Queue | None = None) -> None:
    """Shows what the device says on `port` until Ctrl-C (or for `duration` seconds, or `quit`). `commands`:
    a queue of lines the user typed. `log_file`: every line shown is appended there too, with the time."""
    board = boards.get(board_id) if board_id else None
    baud = board.baud if board else 115200
    journal = None
    if log_file is not None:
        try:
            journal = open(log_file, "a", encoding="utf-8")  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            raise BadInput(f"Cannot write the log {log_file}: {exc.strerror or exc}.") from None

    def show(line: str) -> None:
        log(line)
        if journal is not None:
            journal.write(f"{time.strftime('%H:%M:%S')} {line}\n")
            journal.flush()

    try:
        handle = _open(port, board, baud, opener)
    except DeviceError:
        if journal is not None:
            journal.close()
        raise
    decoder = Decoder(board)
    typed = _Commands(decoder)
    end = None if duration is None else clock() + duration
    next_hello = 0.0
    show(f"Watching {port} (Ctrl-C stops)" + ("; raw bytes" if raw else "; type help for commands"
                                               if commands is not None else ""))
    try:
        while end is None or clock() < end:
            if not raw and decoder.info is None and clock() >= next_hello:
                handle.write(typed.hello())
                next_hello = clock() + 3.0
            while commands is not None and not commands.empty():
                line = commands.get_nowait()
                if line is None:  # the end of input: keep watching
                    commands = None
                    break
                if line.strip() in ("quit", "exit"):
                    return
                data, shown = typed.run(line)
                if data:
                    handle.write(data)
                if shown:
                    show(shown)
            data = handle.read(256) or b""
            if not data:
                continue
            for line in hexdump(data) if raw else decoder.feed(data):
                show(line)
    finally:
        for line in decoder.flush():
            show(line)
        handle.close()
        if journal is not None:
            journal.close()


def stdin_commands() -> queue.Queue:
    """Lines typed on stdin, from a background thread (None at the end of input)."""
    import sys
    import threading

    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True, name="monitor-stdin").start()
    return lines
