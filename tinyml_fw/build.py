"""Stage 5, build: `pio run` in a generated project with the private core; sizes from the ELF.

An emulated board builds offline with the local platform and the arm-none-eabi GCC on PATH. A real board
builds with its real, pinned PlatformIO platform: the first build installs that platform, its toolchain,
its Arduino core and the TFLM library from the PlatformIO registry into the private core (later builds
need no network). Without the network that fails, and the error says so in one line with the ways out.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from tinyml_fw import boards
from tinyml_fw.errors import BuildFailed, MissingTool
from tinyml_fw.generate import Project
from tinyml_fw.platformio import check_project_path, core_dir, run_pio

TOOLCHAIN = "arm-none-eabi-"
REGISTRY = ("api.registry.platformio.org", 443)
# What PlatformIO prints when it cannot fetch a platform, tool or library.
_OFFLINE_MARKERS = ("HTTPClientError", "InternetConnectionError", "Could not resolve host", "ConnectionError",
                    "Max retries exceeded", "Temporary failure in name resolution", "Network is unreachable")


@dataclass(frozen=True)
class Firmware:
    project: str
    elf: str
    board: str
    text_bytes: int
    data_bytes: int
    bss_bytes: int

    @property
    def flash_bytes(self) -> int:
        return self.text_bytes + self.data_bytes

    @property
    def ram_bytes(self) -> int:
        return self.data_bytes + self.bss_bytes

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes},
                          indent=2)


def elf_sizes(elf: Path) -> tuple[int, int, int]:
    """(text, data, bss) in Berkeley format, as the toolchain's size tool reports them; for an ELF the Arm
    size tool cannot read (Xtensa, AVR), from the ELF's section headers (elfsize.py)."""
    size_tool = shutil.which(f"{TOOLCHAIN}size")
    if size_tool is not None:
        out = subprocess.run([size_tool, "-B", "-d", str(elf)], capture_output=True, text=True)
        if out.returncode == 0:
            text, data, bss = (int(v) for v in out.stdout.splitlines()[1].split()[:3])
            return text, data, bss
    from tinyml_fw.elfsize import berkeley_sizes

    try:
        return berkeley_sizes(elf)
    except ValueError as exc:
        if size_tool is None:
            raise MissingTool(f"{TOOLCHAIN}size not found: install gcc-arm-none-eabi (`make setup`).") from None
        raise BuildFailed(f"Cannot read the sizes of {elf}: {exc}") from None


def firmware_of(project: Project) -> Firmware:
    """The firmware already built in a project (no build)."""
    elf = Path(project.path) / ".pio" / "build" / project.board / "firmware.elf"
    if not elf.is_file():
        raise BuildFailed(f"No firmware in {project.path}: run `tinyml-fw build {project.path}` first.")
    return Firmware(project.path, str(elf), project.board, *elf_sizes(elf))


def ways_out(board: boards.Board) -> str:
    return ("build it where the PlatformIO registry is reachable (once: the packages stay in tinyml-fw's "
            f"PlatformIO core), or stay offline on the emulated board: `--board {boards.DEFAULT_BOARD} "
            "--runtime aot`, or TFLM there with `--tflm-tree DIR` (a tree made by create_tflm_tree.py)")


def offline_message(board: boards.Board, what: str) -> str:
    return f"Cannot build for {board.id} here: {what}; {ways_out(board)}."


def platform_installed(board: boards.Board) -> bool:
    """The board's pinned platform is in the private core (so a build may need no network)."""
    if board.platform is None:
        return True
    for manifest in (core_dir() / "platforms").glob(f"{board.platform.name}*/platform.json"):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if data.get("name") == board.platform.name and data.get("version") == board.platform.version:
            return True
    return False


def registry_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(REGISTRY, timeout=timeout):
            return True
    except OSError:
        return False


def _failure(project: Project, board: boards.Board, output: str) -> BuildFailed:
    lines = output.splitlines()
    if not board.emulated and any(marker in output for marker in _OFFLINE_MARKERS):
        fetching = next((line.strip() for line in lines if "Installing" in line), None)
        what = (f"PlatformIO could not fetch what it needs ({fetching})" if fetching
                else "PlatformIO could not reach its registry")
        return BuildFailed(offline_message(board, what))
    errors = [line for line in lines if "error" in line.lower()] or lines[-5:]
    return BuildFailed(f"Build failed in {project.path}: {' | '.join(errors[:3]).strip()}")


def build(project_dir: str | Path, verbose: bool = False, log=print) -> Firmware:
    """Builds the project's firmware; a compile or link failure raises BuildFailed with the first errors."""
    project = Project.load(project_dir)
    board = boards.get(project.board)
    check_project_path(project.path)
    if board.emulated and shutil.which(f"{TOOLCHAIN}gcc") is None:
        raise MissingTool(f"{TOOLCHAIN}gcc not found: install gcc-arm-none-eabi (`make setup`).")
    if board.platform is not None and not platform_installed(board) and not registry_reachable():
        raise BuildFailed(offline_message(
            board, f"PlatformIO needs the network to install {board.platform.spec} and cannot reach its registry"))
    if project.runtime == "tflm" and board.emulated:
        log("The first build against a TFLM tree compiles all of TFLM (minutes); later ones reuse its objects")
    log(f"Building {project.name} for {board.id} with PlatformIO")
    result = run_pio(project.path, verbose=verbose)
    if result.returncode != 0:
        raise _failure(project, board, result.stdout + result.stderr)
    firmware = firmware_of(project)
    log(f"Built {firmware.elf}: flash {firmware.flash_bytes:,} B, RAM {firmware.ram_bytes:,} B")
    return firmware
