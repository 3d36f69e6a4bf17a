"""Stage 6, flash: put the firmware on a board. An emulated board is started (QEMU) and serves its UART."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from tinyml_fw import boards
from tinyml_fw.build import firmware_of
from tinyml_fw.emulator import EmulatorError, Qemu
from tinyml_fw.errors import BadInput, MissingTool
from tinyml_fw.generate import Project


@contextlib.contextmanager
def device(project: Project, port: str | None = None) -> Iterator[str]:
    """Yields a serial URL for the project's firmware: the user's port, or an emulator started (and
    stopped on every exit path) for an emulated board."""
    if port:
        yield port
        return
    board = boards.get(project.board)
    if board.emulator is None:
        raise BadInput(f"Board {board.id} is real hardware: flash it and give its serial port with --port.")
    firmware = firmware_of(project)
    try:
        emulator = Qemu(firmware.elf, board.emulator.machine, board.emulator.icount_shift)
        emulator.start()
    except EmulatorError as exc:
        if "not found" in str(exc):
            raise MissingTool(str(exc)) from None
        raise BadInput(f"The emulator failed to start: {exc}") from None
    try:
        yield emulator.url
    finally:
        emulator.stop()


def flash(project_dir: str | Path, log=print) -> None:
    """Runs an emulated board in the foreground, printing its serial URL, until Ctrl-C."""
    project = Project.load(project_dir)
    with device(project) as url:
        log(f"{project.board} is running {project.name}; its serial port is {url}")
        log("Connect with `tinyml-fw validate --port URL` or any serial terminal; Ctrl-C stops the board.")
        while True:
            time.sleep(0.5)
