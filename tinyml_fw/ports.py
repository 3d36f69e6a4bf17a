"""Finding a real board's serial port: pyserial's list_ports and the catalog's USB ids (VID:PID).

Port names differ per system: /dev/ttyACM0 (native USB) and /dev/ttyUSB0 (USB-serial bridges) on Linux,
/dev/cu.usbmodem14101 and /dev/cu.usbserial-0001 (and their /dev/tty.* twins, which block on open) on
macOS, COM3 on Windows. The errors say what to do on the system they run on: no port, several ports, or a
port another program holds.

`lister` arguments exist for tests and for `--port`-less use on unusual systems: any callable returning
objects with pyserial ListPortInfo's attributes (device, vid, pid, description, serial_number, hwid).
"""

from __future__ import annotations

import errno
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tinyml_fw.boards import Board
from tinyml_fw.errors import DeviceError

Lister = Callable[[], Iterable[Any]]


@dataclass(frozen=True)
class Port:
    device: str
    vid: int | None
    pid: int | None
    description: str = ""
    serial_number: str | None = None

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}" if self.vid is not None and self.pid is not None else "no USB id"

    def __str__(self) -> str:
        desc = f", {self.description}" if self.description and self.description != "n/a" else ""
        return f"{self.device} ({self.usb_id}{desc})"


def system_ports(lister: Lister | None = None) -> list[Port]:
    """Every serial port the system lists, macOS's /dev/tty.* twins of /dev/cu.* ports left out."""
    if lister is None:
        from serial.tools import list_ports

        lister = list_ports.comports
    ports = [Port(p.device, p.vid, p.pid, getattr(p, "description", "") or "", getattr(p, "serial_number", None))
             for p in lister()]
    names = {p.device for p in ports}
    return sorted((p for p in ports if not (p.device.startswith("/dev/tty.")
                                            and p.device.replace("/dev/tty.", "/dev/cu.", 1) in names)),
                  key=lambda p: p.device)


def matching(board: Board, ports: Iterable[Port]) -> list[Port]:
    ids = set(board.hwids)
    return [p for p in ports if (p.vid, p.pid) in ids]


def example_ports(platform: str | None = None) -> str:
    platform = platform or sys.platform
    if platform.startswith("win"):
        return "COM3"
    if platform == "darwin":
        return "/dev/cu.usbmodem14101 or /dev/cu.usbserial-0001"
    return "/dev/ttyACM0 or /dev/ttyUSB0"


def _ids(board: Board) -> str:
    return ", ".join(f"{v:04X}:{p:04X}" for v, p in board.hwids) or "none known"


def find_port(board: Board, port: str | None = None, lister: Lister | None = None) -> str:
    """The board's serial port: `port` as given, or the one port whose USB id is the board's."""
    if port:
        return port
    seen = system_ports(lister)
    found = matching(board, seen)
    if len(found) == 1:
        return found[0].device
    if not found:
        others = "; ports seen: " + ", ".join(str(p) for p in seen) if seen else "; no serial port is present"
        raise DeviceError(
            f"No serial port of a {board.name} found (USB ids {_ids(board)}){others}. Connect the board with a "
            f"data USB cable (not a charge-only one), or give --port (e.g. {example_ports()}).")
    generic = " (these ids belong to common USB-serial bridges, not to the board itself)" if board.generic_hwids else ""
    raise DeviceError(f"Several serial ports could be the {board.id}{generic}: "
                      f"{', '.join(str(p) for p in found)}. Give the right one with --port.")


def open_port(port: str, baud: int, board: Board | None = None, timeout: float = 0.05) -> Any:
    """The port (a device or a pyserial URL) at `baud`, without the DTR/RTS edge that resets boards such as
    the ESP32 on open, where the board's serial data says which lines to hold. A device is locked while open
    (pyserial's `exclusive`), as the link locks it: two programs never read the same board."""
    import serial

    handle = serial.serial_for_url(port, do_not_open=True, baudrate=baud, timeout=timeout,
                                   **({} if "://" in port else {"exclusive": True}))
    if board is not None and board.serial.monitor_dtr is not None:
        handle.dtr = bool(board.serial.monitor_dtr)
    if board is not None and board.serial.monitor_rts is not None:
        handle.rts = bool(board.serial.monitor_rts)
    handle.open()
    return handle


def explain_open_error(device: str, exc: BaseException, platform: str | None = None) -> str:
    """One line on why a port would not open, and what to do about it."""
    platform = platform or sys.platform
    text = str(exc)
    code = getattr(exc, "errno", None)
    if "://" in device and ("Connection refused" in text or code == errno.ECONNREFUSED):
        return (f"Nothing listens at {device}: start the device first (`tinyml-fw flash PROJECT` prints an "
                "emulated board's URL), or check the host and port.")
    if (code in (errno.EBUSY, errno.EAGAIN) or "busy" in text.lower() or "exclusively lock" in text
            or (platform.startswith("win") and "Access is denied" in text)):
        return (f"Serial port {device} is busy: another program has it open (a serial monitor, the Arduino IDE, "
                "`pio device monitor`, another tinyml-fw). Close it and try again.")
    if code == errno.EACCES or "Permission denied" in text:
        hint = ("add yourself to the dialout group (`sudo usermod -aG dialout $USER`, then log in again)"
                if platform.startswith("linux") else "check the port's permissions")
        return f"No permission to open serial port {device}: {hint}."
    if code == errno.ENOENT or "No such file" in text or "FileNotFoundError" in text:
        return (f"Serial port {device} does not exist (any more): is the board connected? Ports come back under "
                f"another name after some uploads (e.g. {example_ports(platform)}).")
    if code in (errno.ENOTTY, errno.EISDIR) or "Inappropriate ioctl" in text or "Is a directory" in text:
        return (f"{device} is not a serial port: give the board's port (e.g. {example_ports(platform)}) or a "
                "URL such as socket://127.0.0.1:PORT.")
    return f"Cannot open serial port {device}: {text}"


def check_free(device: str, baud: int, opener: Callable[..., Any] | None = None) -> None:
    """Opens and closes `device` once (never at 1200 baud, which resets native-USB Arduinos into their
    bootloader); a busy or missing port raises DeviceError with what to do."""
    if "://" in device:
        return
    import serial

    opener = opener or serial.Serial
    try:
        handle = opener(device, baudrate=baud if baud != 1200 else 115200, timeout=0, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(explain_open_error(device, exc)) from None
    handle.close()


def wait_for_port(board: Board, timeout: float = 15.0, lister: Lister | None = None,
                  previous: str | None = None, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> str:
    """After an upload that re-enumerates the USB port: the board's port once it is back, running the
    firmware (not the bootloader's USB id) and the same for two polls in a row."""
    deadline = clock() + timeout
    last: str | None = None
    while True:
        found = [p for p in matching(board, system_ports(lister)) if (p.vid, p.pid) not in board.bootloader_hwids]
        current = found[0].device if len(found) == 1 else (
            previous if previous and any(p.device == previous for p in found) else None)
        if current is not None and current == last:
            return current
        last = current
        if clock() > deadline:
            if len(found) > 1:
                raise DeviceError(f"After the upload several ports could be the {board.id}: "
                                  f"{', '.join(str(p) for p in found)}. Give the right one with --port.")
            raise DeviceError(f"The {board.id}'s serial port did not come back within {timeout:.0f} s after the "
                              "upload. Unplug and replug the board, then run `tinyml-fw validate --port PORT`.")
        sleep(0.25)
