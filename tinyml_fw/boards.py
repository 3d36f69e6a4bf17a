"""Boards are data: <id>.json files (PlatformIO's board manifest plus a "tinyml" section).

A user's own boards live in $TINYML_FW_HOME/boards (default ~/.cache/tinyml-fw/boards) and win over the
toolkit's boards/ of the same id.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tinyml_fw.errors import BadInput
from tinyml_fw.paths import BOARDS, home

DEFAULT_BOARD = "mps2-an386"


@dataclass(frozen=True)
class Emulator:
    kind: str  # "qemu"
    machine: str
    icount_shift: int = 5


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    cpu: str
    f_cpu: int
    flash_bytes: int
    ram_bytes: int
    path: Path
    firmware_boards: tuple[str, ...]  # folders under firmware/board/: core startup, then board drivers
    defines: dict[str, str] = field(default_factory=dict)
    stack_bytes: int = 0  # the stack the linker script reserves (build.stack_size)
    baud: int = 115200
    runtimes: tuple[str, ...] = ("aot",)
    emulator: Emulator | None = None

    @property
    def tick_hz(self) -> int:
        """Ticks of the device timer per second of device time (the core clock for SysTick)."""
        return self.f_cpu

    def instructions(self, ticks: int) -> float | None:
        """Instructions for `ticks` on an emulator under -icount: 2^shift ns per instruction."""
        if self.emulator is None:
            return None
        return ticks * 1e9 / (self.f_cpu * 2 ** self.emulator.icount_shift)


_DEFINE = re.compile(r"[A-Z_][A-Z0-9_]*")
_DEFINE_VALUE = re.compile(r"[A-Za-z0-9_.]+")


def _check_defines(defines: dict) -> dict[str, str]:
    """Board defines reach the compiler's command line: only plain names and literal values."""
    for key, value in defines.items():
        if not _DEFINE.fullmatch(key) or not _DEFINE_VALUE.fullmatch(str(value)):
            raise ValueError(f"define {key}={value} is not a plain C macro name and literal")
    return {k: str(v) for k, v in defines.items()}


def _load(path: Path) -> Board:
    try:
        data = json.loads(path.read_text())
        build, upload, tiny = data["build"], data["upload"], data["tinyml"]
        emu = tiny.get("emulator")
        return Board(
            id=path.stem, name=data["name"], cpu=build["cpu"], f_cpu=int(str(build["f_cpu"]).rstrip("L")),
            flash_bytes=int(upload["maximum_size"]), ram_bytes=int(upload["maximum_ram_size"]), path=path,
            firmware_boards=tuple(tiny["firmware_boards"]), defines=_check_defines(tiny.get("defines", {})),
            stack_bytes=int(build.get("stack_size", 0)),
            baud=int(tiny.get("serial", {}).get("baud", 115200)),
            runtimes=tuple(tiny.get("runtimes", ["aot"])),
            emulator=Emulator(emu["kind"], emu["machine"], int(emu.get("icount_shift", 5))) if emu else None)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"Board file {path} is invalid ({type(exc).__name__}: {exc}).") from None


def folders() -> list[Path]:
    return [home() / "boards", BOARDS]


def known() -> list[str]:
    return sorted({p.stem for folder in folders() for p in folder.glob("*.json")})


def get(board_id: str) -> Board:
    path = next((f / f"{board_id}.json" for f in folders() if (f / f"{board_id}.json").is_file()), None)
    if path is None:
        close = difflib.get_close_matches(board_id, known(), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else f" Known boards: {', '.join(known())}."
        raise BadInput(f"Unknown board '{board_id}'.{hint}")
    return _load(path)
