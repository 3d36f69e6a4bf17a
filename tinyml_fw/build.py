"""Stage 5, build: `pio run` in a generated project with the private offline core; sizes from the ELF."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from tinyml_fw import boards
from tinyml_fw.errors import BuildFailed, MissingTool
from tinyml_fw.generate import Project
from tinyml_fw.platformio import run_pio

TOOLCHAIN = "arm-none-eabi-"


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
    """(text, data, bss) in Berkeley format, as the toolchain's size tool reports them."""
    size_tool = shutil.which(f"{TOOLCHAIN}size")
    if size_tool is None:
        raise MissingTool(f"{TOOLCHAIN}size not found: install gcc-arm-none-eabi (`make setup`).")
    out = subprocess.run([size_tool, "-B", "-d", str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in out.stdout.splitlines()[1].split()[:3])
    return text, data, bss


def firmware_of(project: Project) -> Firmware:
    """The firmware already built in a project (no build)."""
    elf = Path(project.path) / ".pio" / "build" / project.board / "firmware.elf"
    if not elf.is_file():
        raise BuildFailed(f"No firmware in {project.path}: run `tinyml-fw build {project.path}` first.")
    return Firmware(project.path, str(elf), project.board, *elf_sizes(elf))


def build(project_dir: str | Path, verbose: bool = False, log=print) -> Firmware:
    """Builds the project's firmware; a compile or link failure raises BuildFailed with the first errors."""
    project = Project.load(project_dir)
    board = boards.get(project.board)
    if shutil.which(f"{TOOLCHAIN}gcc") is None:
        raise MissingTool(f"{TOOLCHAIN}gcc not found: install gcc-arm-none-eabi (`make setup`).")
    log(f"Building {project.name} for {board.id} with PlatformIO")
    result = run_pio(project.path, verbose=verbose)
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).splitlines()
        errors = [line for line in lines if "error" in line.lower()] or lines[-5:]
        raise BuildFailed(f"Build failed in {project.path}: {' | '.join(errors[:3]).strip()}")
    firmware = firmware_of(project)
    log(f"Built {firmware.elf}: flash {firmware.flash_bytes:,} B, RAM {firmware.ram_bytes:,} B")
    return firmware
