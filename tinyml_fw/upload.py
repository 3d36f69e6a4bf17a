"""Flashing a real board: PlatformIO's upload with the board's method, then waiting until the firmware
answers HELLO with its INFO (the model's hash checked).

What real boards do around an upload, and how this module copes:
- native USB (Nano 33 BLE, Pico): the upload resets the board into its bootloader with a 1200-baud touch;
  the port disappears and comes back, maybe under another name → ports.wait_for_port;
- boards that reset when the port opens (Uno, Mega by DTR; ESP32 by DTR/RTS): the port is opened with DTR
  and RTS low where that keeps the board running, and the bootloader's time (boot_delay_s) is waited out;
- lines sent before the host listens are lost (the boot INFO, TFLM's start-up LOG): the host asks with
  HELLO, again and again, until INFO comes or the time is up; bytes that are not frames are skipped.

PlatformIO itself needs the network the first time (platform, toolchain, uploader): build.py explains.
`runner`, `lister` and `opener` exist so that tests can put fakes in place of PlatformIO, the USB bus and
the serial port (see tests/test_ports.py: the real upload and port timing stay untested without hardware).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyml_fw import boards, protocol
from tinyml_fw.build import _OFFLINE_MARKERS, firmware_of, offline_message
from tinyml_fw.errors import BadInput, DeviceError
from tinyml_fw.generate import Project
from tinyml_fw.platformio import run_pio
from tinyml_fw.ports import Lister, check_free, explain_open_error, find_port, open_port, wait_for_port

# Port names PlatformIO's upload may pass through a shell (the platforms build the command as one string).
SHELL_SAFE_PORT = re.compile(r"[A-Za-z0-9_./:\\-]+")
HELLO_TIMEOUT = 20.0  # from the end of the upload to INFO (USB enumeration, bootloaders, TFLM start-up)


@dataclass(frozen=True)
class Uploaded:
    port: str
    info: protocol.Info
    logs: tuple[str, ...]  # LOG frames seen while waiting (TFLM's start-up report)


def _open(port: str, board: boards.Board, opener: Callable[..., Any] | None):
    """The port at the board's speed, without the DTR/RTS edge that resets ESP32 boards where avoidable."""
    return opener(port, board.baud) if opener is not None else open_port(port, board.baud, board)


def wait_for_info(port: str, board: boards.Board, model_sha256: str | None, timeout: float = HELLO_TIMEOUT,
                  opener: Callable[..., Any] | None = None, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> Uploaded:
    """Sends HELLO every half second until the board answers with INFO; checks the protocol version and the
    model's hash. Opening a port that is not back yet is retried until the time is up."""
    import serial

    deadline = clock() + timeout
    session = random.SystemRandom().randrange(1, 2**32)
    hello = protocol.encode(protocol.Msg.HELLO, 1, protocol.hello(session))
    logs: list[str] = []
    last_error = "no answer"
    while clock() < deadline:
        try:
            handle = _open(port, board, opener)
        except (serial.SerialException, OSError) as exc:
            last_error = explain_open_error(port, exc)
            sleep(0.5)
            continue
        try:
            if board.serial.reset_on_open:
                sleep(board.serial.boot_delay_s)  # opening reset it: its bootloader runs first
            parser = protocol.FrameParser()
            next_hello = 0.0
            while clock() < deadline:
                if clock() >= next_hello:
                    handle.write(hello)
                    next_hello = clock() + 0.5
                for frame in parser.feed(handle.read(256) or b""):
                    if frame.type == protocol.Msg.LOG:
                        logs.append(frame.payload.decode("utf-8", "replace"))
                    elif frame.type == protocol.Msg.ERROR:
                        last_error = f"the board reported: {protocol.DeviceErrorMsg.parse(frame.payload)}"
                    elif frame.type == protocol.Msg.INFO and frame.seq == 1:
                        info = protocol.Info.parse(frame.payload)
                        _check(info, model_sha256, logs)
                        return Uploaded(port, info, tuple(logs))
        except (serial.SerialException, OSError) as exc:  # the port vanished (re-enumeration): open again
            last_error = explain_open_error(port, exc)
            sleep(0.5)
        finally:
            handle.close()
    extra = f"; its log: {' | '.join(logs[-3:])}" if logs else ""
    raise DeviceError(f"The {board.id} on {port} did not answer HELLO within {timeout:.0f} s after the upload "
                      f"({last_error}){extra}. Press its reset button and run `tinyml-fw validate --port {port}`.")


def _check(info: protocol.Info, model_sha256: str | None, logs: list[str]) -> None:
    if info.protocol != protocol.PROTOCOL_VERSION:
        raise DeviceError(f"The board speaks protocol {info.protocol}, this host {protocol.PROTOCOL_VERSION}: "
                          "regenerate and rebuild the firmware with this tinyml-fw.")
    if model_sha256 and info.model_sha256 != model_sha256:
        raise DeviceError(f"The board runs model {info.model_sha256[:12]}…, not {model_sha256[:12]}…: the upload "
                          "did not take; check the port and upload again.")


def _upload_failure(board: boards.Board, port: str, output: str) -> DeviceError | Exception:
    from tinyml_fw.errors import BuildFailed

    if any(marker in output for marker in _OFFLINE_MARKERS):
        return BuildFailed(offline_message(board, "PlatformIO needs the network to install the uploader"))
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    busy = next((line for line in lines if "busy" in line.lower() or "Access is denied" in line), None)
    if busy:
        return DeviceError(explain_open_error(port, OSError(busy)))
    errors = [line for line in lines if "error" in line.lower() or "fail" in line.lower()] or lines[-3:]
    hint = (" Double-press the reset button to enter the bootloader, then upload again."
            if board.serial.touch_1200bps else "")
    return DeviceError(f"Upload to {board.id} on {port} failed: {' | '.join(errors[:3])}.{hint}")


def upload(project_dir: str | Path, port: str | None = None, log=print, runner: Callable[..., Any] = run_pio,
           lister: Lister | None = None, opener: Callable[..., Any] | None = None,
           hello_timeout: float = HELLO_TIMEOUT) -> Uploaded:
    """Uploads a built project to its real board and waits until the firmware answers; returns the port
    (which may have changed) and the board's INFO."""
    project = Project.load(project_dir)
    board = boards.get(project.board)
    if board.emulated:
        raise BadInput(f"{board.id} is emulated: `tinyml-fw flash` runs it on QEMU, there is nothing to upload.")
    firmware_of(project)  # built first
    port = find_port(board, port, lister)
    if not SHELL_SAFE_PORT.fullmatch(port):
        raise BadInput(f"The port name {port!r} has characters a shell would read, and PlatformIO's upload passes it "
                       "through one: give a link to it without them (e.g. `ln -s PORT /tmp/board`, then --port "
                       "/tmp/board).")
    check_free(port, board.baud, opener=(lambda dev, **kw: opener(dev, board.baud)) if opener else None)
    log(f"Uploading to {board.id} on {port} ({board.upload_protocol or 'default'} method)")
    result = runner(project.path, targets=["upload"], extra_args=["--upload-port", port])
    if result.returncode != 0:
        raise _upload_failure(board, port, result.stdout + result.stderr)
    if board.serial.reenumerates_after_upload and "://" not in port:
        port = wait_for_port(board, lister=lister, previous=port)
    uploaded = wait_for_info(port, board, project.model_sha256, hello_timeout, opener)
    for line in uploaded.logs:
        log(f"{board.id}: {line}")
    log(f"{board.id} on {uploaded.port} runs {project.name} ({uploaded.info.runtime}); validate with "
        f"`tinyml-fw validate {project.path} --port {uploaded.port}`")
    return uploaded
