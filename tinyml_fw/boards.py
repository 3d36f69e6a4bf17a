"""Boards are data: <id>.json files (PlatformIO's board manifest plus a "tinyml" section).

A user's own boards live in $TINYML_FW_HOME/boards (default ~/.cache/tinyml-fw/boards) and win over the
toolkit's boards/ of the same id.

Two kinds of board:
- emulated: built with a local platform (platforms/<name>, PlatformIO's "platforms" field: tinyml-arm or
  tinyml-avr) and run on an emulator ("tinyml.emulator": QEMU for Cortex-M, simavr for AVR); an emulated
  board may use a framework the local platform provides ("tinyml.framework": arduino on tinyml-avr);
- real: built with their real PlatformIO platform, pinned ("tinyml.platformio": platform, version,
  framework), flashed over USB and found by their USB ids ("hwids", PlatformIO's field).

"tinyml.tflm" says which TFLite Micro library a board's TFLM runtime uses and how much we trust it:
`verified` (the library's source targets this board and has the current API), `unverified` (might work,
untested) or `none` (no TFLM on this board: AOT only).
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
RUNTIMES = ("aot", "tflm")
TFLM_STATUSES = ("verified", "unverified", "none")


EMULATOR_KINDS = ("qemu", "simavr")


@dataclass(frozen=True)
class Emulator:
    kind: str  # "qemu" or "simavr"
    machine: str  # QEMU's -M machine, or simavr's MCU name
    icount_shift: int = 5  # QEMU only

    @property
    def cycle_accurate(self) -> bool:
        """simavr counts the AVR's clock cycles: the board's timer measures true device time. QEMU's
        -icount time counts instructions instead."""
        return self.kind == "simavr"


@dataclass(frozen=True)
class Platform:
    """The real PlatformIO platform a board builds with: `platform = name@version`."""
    name: str
    version: str
    framework: str
    minimum_version: str | None = None

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class SerialInfo:
    """How the board's serial port behaves (what flashing and the link must allow for)."""
    baud: int = 115200
    reset_on_open: bool = False  # DTR/RTS reset the MCU when the port opens (AVR, ESP32)
    reenumerates_after_upload: bool = False  # native USB: the port goes away and comes back after upload
    touch_1200bps: bool = False  # opening at 1200 baud enters the bootloader
    boot_delay_s: float = 0.0  # bootloader time after a reset before the sketch runs
    monitor_rts: int | None = None
    monitor_dtr: int | None = None


@dataclass(frozen=True)
class TflmLibrary:
    status: str  # verified | unverified | none
    library: str | None = None
    version: str | None = None
    commit: str | None = None
    lib_deps: str | None = None  # the platformio.ini lib_deps entry
    source: str = "lib_deps"  # "lib_deps" (PlatformIO installs it) or "tree" (--tflm-tree)
    debug_log: str = "text"  # DebugLog's signature in that library: "text" (const char*) or "va_list"
    initialize_target: bool = True  # the library defines tflite::InitializeTarget()
    note: str = ""


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
    stack_bytes: int = 0  # the stack the linker script reserves (build.stack_size), or tinyml.stack_bytes
    baud: int = 115200
    runtimes: tuple[str, ...] = ("aot",)
    emulator: Emulator | None = None
    platform: Platform | None = None  # None: the local tinyml-arm platform
    hwids: tuple[tuple[int, int], ...] = ()  # USB (VID, PID) pairs the board's serial port may show
    generic_hwids: bool = False  # the ids are a common USB-serial bridge's, not the board's own
    bootloader_hwids: tuple[tuple[int, int], ...] = ()  # ids the board shows only while in its bootloader
    serial: SerialInfo = field(default_factory=SerialInfo)
    upload_protocol: str | None = None
    tflm: TflmLibrary = field(default_factory=lambda: TflmLibrary("none"))
    tick_hz_override: int | None = None  # the device timer when it is not the core clock (Arduino micros())
    rodata_in_ram: bool = False  # AVR: constants are copied to RAM unless PROGMEM
    max_static_arena: int | None = None  # the largest static array the toolchain places (ESP32 DRAM)
    runtime_flash: int | None = None  # measured firmware besides model and kernels (analyze.fit), when not the default
    runtime_ram: int | None = None  # measured static RAM besides the model's (core, serial buffers, protocol)
    local_platform: str = "tinyml-arm"  # an emulated board's platform under platforms/
    local_framework: str | None = None  # an emulated board's framework on that platform (tinyml.framework)
    fast_kernels: bool = False  # a core with the DSP extension: the generator emits the fast kernels' data

    @property
    def tick_hz(self) -> int:
        """Ticks of the device timer per second of device time (the core clock for SysTick)."""
        return self.tick_hz_override or self.f_cpu

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    @property
    def framework(self) -> str | None:
        return self.platform.framework if self.platform else self.local_framework

    @property
    def default_runtime(self) -> str:
        """`tflm` on a real board whose TFLM library is verified, `aot` otherwise."""
        if not self.emulated and "tflm" in self.runtimes and self.tflm.status == "verified":
            return "tflm"
        return "aot" if "aot" in self.runtimes else self.runtimes[0]

    def instructions(self, ticks: float) -> float | None:
        """Instructions for `ticks` on QEMU under -icount: 2^shift ns per instruction (None elsewhere)."""
        if self.emulator is None or self.emulator.kind != "qemu":
            return None
        return ticks * 1e9 / (self.f_cpu * 2 ** self.emulator.icount_shift)


_DEFINE = re.compile(r"[A-Z_][A-Z0-9_]*")
_DEFINE_VALUE = re.compile(r"[A-Za-z0-9_.]+")
_VERSION = re.compile(r"\d+\.\d+\.\d+")
_HEX16 = re.compile(r"0x[0-9A-Fa-f]{1,4}")


def _check_defines(defines: dict) -> dict[str, str]:
    """Board defines reach the compiler's command line: only plain names and literal values."""
    for key, value in defines.items():
        if not _DEFINE.fullmatch(key) or not _DEFINE_VALUE.fullmatch(str(value)):
            raise ValueError(f"define {key}={value} is not a plain C macro name and literal")
    return {k: str(v) for k, v in defines.items()}


def _hwids(raw: list) -> tuple[tuple[int, int], ...]:
    out = []
    for pair in raw:
        if len(pair) != 2 or not all(isinstance(v, str) and _HEX16.fullmatch(v) for v in pair):
            raise ValueError(f"hwids entry {pair} is not a [\"0xVID\", \"0xPID\"] pair")
        out.append((int(pair[0], 16), int(pair[1], 16)))
    return tuple(out)


def _usb_ids(raw: list[str]) -> tuple[tuple[int, int], ...]:
    """["2341:005A", …] → ((0x2341, 0x005A), …)"""
    return _hwids([["0x" + part for part in text.split(":")] for text in raw])


def _platform(raw: dict | None) -> Platform | None:
    if raw is None:
        return None
    p = Platform(raw["platform"], str(raw["version"]), raw["framework"], raw.get("minimum_version"))
    for version in (p.version, p.minimum_version):
        if version is not None and not _VERSION.fullmatch(version):
            raise ValueError(f"platform version '{version}' is not an exact x.y.z pin")
    if p.minimum_version and _version_key(p.version) < _version_key(p.minimum_version):
        raise ValueError(f"{p.spec} is older than the minimum {p.minimum_version}")
    return p


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def _serial(raw: dict) -> SerialInfo:
    return SerialInfo(int(raw.get("baud", 115200)), bool(raw.get("reset_on_open", False)),
                  bool(raw.get("reenumerates_after_upload", False)), bool(raw.get("touch_1200bps", False)),
                  float(raw.get("boot_delay_s", 0.0)), raw.get("monitor_rts"), raw.get("monitor_dtr"))


def _tflm(raw: dict | None, runtimes: tuple[str, ...]) -> TflmLibrary:
    if raw is None:
        if "tflm" in runtimes:
            raise ValueError("runtime 'tflm' is listed but there is no tinyml.tflm section")
        return TflmLibrary("none")
    lib = TflmLibrary(raw["status"], raw.get("library"), raw.get("version"), raw.get("commit"),
                      raw.get("lib_deps"), raw.get("source", "lib_deps"), raw.get("debug_log", "text"),
                      bool(raw.get("initialize_target", True)), raw.get("note", ""))
    if lib.status not in TFLM_STATUSES:
        raise ValueError(f"tflm status '{lib.status}' is not one of {', '.join(TFLM_STATUSES)}")
    if lib.source not in ("lib_deps", "tree") or lib.debug_log not in ("text", "va_list"):
        raise ValueError("tflm source must be lib_deps or tree, debug_log text or va_list")
    if lib.status == "none" and "tflm" in runtimes:
        raise ValueError("runtime 'tflm' is listed but tflm status is 'none'")
    if lib.status != "none" and "tflm" not in runtimes:
        raise ValueError(f"a TFLM library is named (status {lib.status}) but runtime 'tflm' is not listed")
    if lib.status != "none" and lib.source == "lib_deps" and not lib.lib_deps:
        raise ValueError("a TFLM library installed through lib_deps needs its lib_deps entry")
    return lib


def _load(path: Path) -> Board:
    try:
        data = json.loads(path.read_text())
        build, upload, tiny = data["build"], data["upload"], data["tinyml"]
        emu = tiny.get("emulator")
        runtimes = tuple(tiny.get("runtimes", ["aot"]))
        if not runtimes or set(runtimes) - set(RUNTIMES):
            raise ValueError(f"runtimes {list(runtimes)} must be a non-empty subset of {list(RUNTIMES)}")
        platform = _platform(tiny.get("platformio"))
        if (emu is None) == (platform is None):
            raise ValueError("a board is either emulated (tinyml.emulator) or real (tinyml.platformio)")
        serial = _serial(tiny.get("serial", {}))
        if emu is not None and emu.get("kind", "qemu") not in EMULATOR_KINDS:
            raise ValueError(f"emulator kind '{emu.get('kind')}' is not one of {', '.join(EMULATOR_KINDS)}")
        local_platform = (data.get("platforms") or ["tinyml-arm"])[0] if emu is not None else "tinyml-arm"
        if emu is not None and not re.fullmatch(r"tinyml-[a-z0-9]+", local_platform):
            raise ValueError(f"an emulated board builds with a local platform (tinyml-…), not '{local_platform}'")
        return Board(
            id=path.stem, name=data["name"], cpu=build.get("cpu") or build["mcu"],
            f_cpu=int(str(build["f_cpu"]).rstrip("L")),
            flash_bytes=int(upload["maximum_size"]), ram_bytes=int(upload["maximum_ram_size"]), path=path,
            firmware_boards=tuple(tiny["firmware_boards"]), defines=_check_defines(tiny.get("defines", {})),
            stack_bytes=int(build.get("stack_size", tiny.get("stack_bytes", 0))), baud=serial.baud, runtimes=runtimes,
            emulator=(Emulator(emu.get("kind", "qemu"), emu["machine"], int(emu.get("icount_shift", 5)))
                      if emu else None),
            platform=platform, hwids=_hwids(data.get("hwids", [])),
            generic_hwids=bool(tiny.get("usb_ids", {}).get("generic", False)),
            bootloader_hwids=_usb_ids(tiny.get("usb_ids", {}).get("bootloader", [])), serial=serial,
            upload_protocol=upload.get("protocol"), tflm=_tflm(tiny.get("tflm"), runtimes),
            tick_hz_override=int(tiny["tick_hz"]) if "tick_hz" in tiny else None,
            rodata_in_ram=bool(tiny.get("rodata_in_ram", False)),
            max_static_arena=int(tiny["max_static_arena"]) if "max_static_arena" in tiny else None,
            runtime_flash=int(tiny["runtime_flash"]) if "runtime_flash" in tiny else None,
            runtime_ram=int(tiny["runtime_ram"]) if "runtime_ram" in tiny else None,
            local_platform=local_platform, local_framework=tiny.get("framework") if emu is not None else None,
            fast_kernels=bool(tiny.get("fast_kernels", False)))
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


def catalog() -> list[Board]:
    """Every known board (the user's folder first), loaded and checked."""
    return [get(board_id) for board_id in known()]
