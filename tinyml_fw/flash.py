"""Stage 6, flash: put the firmware on a board. An emulated board is started (QEMU or simavr, the board's
`tinyml.emulator.kind`) and serves its UART."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from tinyml_fw import boards
from tinyml_fw.build import firmware_of
from tinyml_fw.emulator import EmulatorError, Qemu, Simavr
from tinyml_fw.errors import BadInput, DeviceError, MissingTool
from tinyml_fw.generate import Project


def start_emulator(project: Project, qmp: bool = False) -> Qemu | Simavr:
    """Starts the project's firmware on its emulated board; the caller stops it (a `with` block).
    With `qmp`, QEMU can be reset (`Qemu.reset`); simavr can always be reset (`Simavr.reset`)."""
    from tinyml_fw.paths import home

    board = boards.get(project.board)
    if board.emulator is None:
        raise BadInput(f"Board {board.id} is real hardware: flash it and give its serial port with --port.")
    firmware = firmware_of(project)
    if board.emulator.kind == "simavr":
        emulator: Qemu | Simavr = Simavr(firmware.elf, board.emulator.machine, board.f_cpu, home_dir=home())
        package = "simavr libsimavr-dev libelf-dev pkg-config"
    else:
        emulator = Qemu(firmware.elf, board.emulator.machine, board.emulator.icount_shift, qmp=qmp)
        package = "qemu-system-arm"
    try:
        return emulator.start()
    except EmulatorError as exc:
        emulator.stop()
        if any(why in str(exc) for why in ("not found", "did not build")):
            raise MissingTool(f"{exc} Install {package} (`make setup`).") from None
        raise DeviceError(f"The emulator failed to start: {exc}") from None


@contextlib.contextmanager
def device(project: Project, port: str | None = None) -> Iterator[str]:
    """Yields a serial URL for the project's firmware: the user's port, or an emulator started (and
    stopped on every exit path) for an emulated board."""
    if port:
        yield port
        return
    board = boards.get(project.board)
    if board.emulator is None:  # a real board: its port, found by the catalog's USB ids
        from tinyml_fw.ports import find_port

        yield find_port(board)
        return
    with start_emulator(project) as emulator:
        yield emulator.url


def flash(project_dir: str | Path, log=print, port: str | None = None) -> None:
    """Runs an emulated board in the foreground, printing its serial URL, until Ctrl-C. A real board: uploads
    and waits for the firmware's INFO (upload.py)."""
    project = Project.load(project_dir)
    if boards.get(project.board).emulator is None:
        from tinyml_fw.upload import upload

        upload(project.path, port=port, log=log)
        return
    with start_emulator(project) as emulator:
        log(f"{project.board} is running {project.name}; its serial port is {emulator.url}")
        log("Connect with `tinyml-fw validate --port URL` or any serial terminal; Ctrl-C stops the board.")
        while emulator.running:
            time.sleep(0.2)
        raise DeviceError(f"The emulator stopped on its own (exit code {emulator.returncode}): "
                          f"{emulator.stderr_text().strip()[-200:]}")
