"""A device under test: a board (or emulator) running a model's firmware, behind the toolkit's serial link
(tinyml_fw.link.DeviceLink). The pytest plugin's `dut` fixture is one; a script can make its own:

    with Dut(boards.get("mps2-an386"), "project", "socket://127.0.0.1:4444") as dut:
        print(dut.info(), dut.infer(x))
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyml_fw import boards
from tinyml_fw.errors import DeviceError

if TYPE_CHECKING:
    from tinyml_fw.link import DeviceLink


def _load(project: Path):
    from tinyml_fw.generate import Project

    return Project.load(project)


class ExpectTimeout(AssertionError):
    """`expect` saw no matching line in time."""


class Dut:
    """A device running the firmware, over the toolkit's serial link (tinyml_fw.link.DeviceLink).

    `info()` → the device's INFO; `infer(x)` → the output (float inputs are quantized as the model's input
    wants); `validate(x, y)` → tinyml_fw.validate.Report against tflite-micro; `expect(text, timeout)` →
    the next line the device shows that matches (monitor's decoding: frames as lines, text as is);
    `reset()` → the board resets (the emulator's reset, else a DTR pulse) and the link shakes hands again.
    """

    def __init__(self, board: boards.Board, project: str | Path, url: str, emulator=None, timeout: float = 10.0,
                 firmware=None) -> None:
        self.board = board
        self.firmware = firmware  # tinyml_fw.build.Firmware when built in this session (emulators), else None
        self.project = _load(Path(project))
        self.url = url
        self.emulator = emulator
        self.timeout = timeout
        self.last_ticks: int | None = None
        self.ticks: list[int] = []  # every inference's ticks, in order (what the pytest plugin records)
        self.reports: list[Any] = []  # every validate() report, in order
        self._lines: list[str] = []
        self._reference = None
        self._link: DeviceLink | None = None
        self._connect()

    # ----------------------------------------------------------------------------------- connection

    def _connect(self) -> None:
        from tinyml_fw.link import DeviceLink
        from tinyml_fw.monitor import Decoder

        self._decoder = Decoder(self.board)
        self._link = DeviceLink(self.url, baud=self.board.baud, timeout=self.timeout,
                                on_log=lambda text: self._lines.append(f"LOG: {text}"))
        try:
            info = self.link.check(self.project.model_sha256)
            if info.board != self.board.id:
                raise DeviceError(f"The device on {self.url} is a {info.board}, not a {self.board.id}.")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def __enter__(self) -> Dut:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def link(self) -> DeviceLink:
        if self._link is None:
            raise DeviceError(f"The connection to {self.url} is closed.")
        return self._link

    @property
    def reference(self):
        if self._reference is None:
            from tinyml_fw.golden import Reference

            self._reference = Reference(self.project.model_path.read_bytes())
        return self._reference

    # ------------------------------------------------------------------------------------------- API

    def info(self):
        """The device's INFO, asked now (the stack's high-water mark is current)."""
        return self.link.query_info()

    @property
    def last_instructions(self) -> float | None:
        """Instructions of the last inference (emulated boards under -icount)."""
        return None if self.last_ticks is None else self.board.instructions(self.last_ticks)

    def infer(self, x: Any) -> np.ndarray:
        """One inference: `x` in the model's input type, or floats (quantized as the model's input wants);
        returns the output in the model's output type, flattened."""
        ref = self.reference
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.floating) and not np.issubdtype(ref.input["dtype"], np.floating):
            x = ref.quantize(x)
        data = np.ascontiguousarray(x.astype(ref.input["dtype"], copy=False)).tobytes()
        result = self.link.infer(data)
        self.last_ticks = result.ticks
        if result.ticks is not None:
            self.ticks.append(result.ticks)
        return np.frombuffer(result.output, dtype=ref.output["dtype"]).copy()

    def validate(self, x: Any, y: Any = None, **options: Any):
        """Runs tinyml-fw's validation of inputs `x` (floats, as the model's float inputs) and labels `y`
        on this device; returns the Report (`passed`, `bit_exact`, `max_abs_diff`, …). The link is handed
        to the validation for its run and connected again afterwards."""
        from tinyml_fw.data import Data
        from tinyml_fw.validate import validate

        x = np.asarray(x, dtype=np.float32)
        data = Data(x, x, None if y is None else np.asarray(y), "dut.validate")
        self.close()
        try:
            report = validate(self.project.path, data, port=self.url, log=lambda _: None, **options)
        finally:
            self._connect()
        self.reports.append(report)
        return report

    def expect(self, pattern: str | re.Pattern, timeout: float = 5.0) -> str:
        """The first line the device shows from now (or held since the last call) that contains `pattern`
        (a regex when compiled); lines before it are consumed. ExpectTimeout after `timeout` s."""
        match = (pattern.search if isinstance(pattern, re.Pattern) else lambda line: pattern in line)
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        port = self.link.port  # the link is idle between calls: read its port directly
        while True:
            while self._lines:
                line = self._lines.pop(0)
                seen.append(line)
                if match(line):
                    return line
            if time.monotonic() > deadline:
                shown = "\n  ".join(seen[-20:]) or "(nothing)"
                raise ExpectTimeout(f"{self.board.id} showed no line matching {pattern!r} within {timeout:g} s; "
                                    f"it showed:\n  {shown}")
            data = port.read(max(1, port.in_waiting))
            if data:
                self._lines.extend(self._decoder.feed(data))

    def reset(self, timeout: float = 10.0):
        """Resets the board (its emulator's reset; else a DTR pulse, as boards reset by DTR and the rfc2217
        bridge of an emulator take it), waits for its boot INFO and shakes hands again; returns the INFO.
        The boot INFO line stays for `expect`."""
        if self.emulator is not None:
            self.emulator.reset()
        else:
            port = self.link.port
            port.dtr = False
            time.sleep(0.1)
            port.dtr = True
        line = self.expect(re.compile(r"^INFO: .*\(boot\)$"), timeout=timeout + self.board.serial.boot_delay_s)
        self._lines.insert(0, line)
        return self.link.hello()


__all__ = ["Dut", "ExpectTimeout"]
