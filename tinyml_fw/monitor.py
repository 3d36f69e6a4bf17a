"""Watching a board: its INFO, then its LOG and ERROR frames (TFLM's start-up report, its errors) and any
text that is not a frame, until Ctrl-C. Works on a real port or any pyserial URL (an emulator's socket).

It asks for INFO with HELLO (an empty HELLO: the board's session is left alone) and asks again every few
seconds while none came, so a board that is still booting, or whose first lines were lost, is caught.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tinyml_fw import boards, protocol
from tinyml_fw.errors import DeviceError
from tinyml_fw.ports import explain_open_error


def describe(info: protocol.Info) -> str:
    return (f"INFO: board {info.board}, runtime {info.runtime}, model {info.model_sha256[:12]}…, "
            f"input {info.input_bytes} B, output {info.output_bytes} B, arena {info.arena_bytes:,} B, "
            f"flash {info.flash_bytes:,} B, RAM {info.ram_bytes:,} B, protocol {info.protocol}, "
            f"tinyml-fw {info.toolkit}")


def monitor(port: str, board_id: str | None = None, log=print, opener: Callable[..., Any] | None = None,
            duration: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
    """Prints what the device says on `port` until Ctrl-C (or for `duration` seconds)."""
    import serial

    board = boards.get(board_id) if board_id else None
    baud = board.baud if board else 115200
    try:
        if opener is not None:
            handle = opener(port, baud)
        else:
            handle = serial.serial_for_url(port, do_not_open=True, baudrate=baud, timeout=0.05)
            if board is not None and board.serial.monitor_dtr is not None:
                handle.dtr = bool(board.serial.monitor_dtr)
            if board is not None and board.serial.monitor_rts is not None:
                handle.rts = bool(board.serial.monitor_rts)
            handle.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(explain_open_error(port, exc)) from None
    end = None if duration is None else clock() + duration
    parser = protocol.FrameParser()
    have_info = False
    have_frames = False  # raw text is shown only from a device that sent no frame (not tinyml-fw firmware)
    next_hello = 0.0
    text = bytearray()
    log(f"Watching {port} (Ctrl-C stops)")
    try:
        while end is None or clock() < end:
            if not have_info and clock() >= next_hello:
                handle.write(protocol.encode(protocol.Msg.HELLO, 1))
                next_hello = clock() + 3.0
            data = handle.read(256) or b""
            for byte in data:  # text outside frames: a bootloader, a board without tinyml-fw firmware
                if 0x20 <= byte < 0x7F or byte in (0x0A, 0x0D):
                    text.append(byte)
            frames = parser.feed(data)
            have_frames = have_frames or bool(frames)
            while b"\n" in text:
                line, _, rest = bytes(text).partition(b"\n")
                text = bytearray(rest)
                if not have_frames and len(line.strip()) > 3:
                    log(f"text: {line.decode('ascii', 'replace').strip()}")
            for frame in frames:
                if frame.type == protocol.Msg.INFO:
                    have_info = True
                    log(describe(protocol.Info.parse(frame.payload)))
                elif frame.type == protocol.Msg.LOG:
                    log(f"LOG: {frame.payload.decode('utf-8', 'replace')}")
                elif frame.type == protocol.Msg.ERROR:
                    log(f"ERROR: {protocol.DeviceErrorMsg.parse(frame.payload)}")
    finally:
        handle.close()
