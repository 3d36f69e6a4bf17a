"""`tinyml-fw test`: a hardware-in-the-loop suite run once per board and model, summed up as a matrix.

Each (board, model) cell is one pytest session of the suite with the toolkit's plugin (`--board B`,
`--model M` when a model or recipe is given, `--hil-map`, `-n`), which writes every test's outcome and the
figures its `dut` measured (`--tfw-results`). A cell passes when at least one of its tests passed and none
failed; the matrix passes when every cell does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tinyml_fw import boards
from tinyml_fw.errors import BadInput
from tinyml_fw.paths import ROOT

SCHEMA_VERSION = 1
EXAMPLE_SUITE = ROOT / "examples" / "hil"
SUITE_MODEL = "suite"  # the column of a suite that chooses its own model (its `model` fixture)


@dataclass(frozen=True)
class Subject:
    """A model column: its label and .tflite (None: the suite's own `model` fixture decides)."""
    label: str
    path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Cell:
    board: str
    model: str
    status: str  # PASS | FAIL | SKIP (no test ran on this board) | ERROR (the session did not run its tests)
    passed: int = 0
    failed: int = 0  # failures and errors
    skipped: int = 0
    bit_exact: int | None = None  # over every validation the tests ran with `dut`
    vectors: int | None = None
    instructions: float | None = None  # mean per inference (QEMU), over `inferences`
    cycles: float | None = None  # mean per inference (the device's timer), when instructions are unknown
    inferences: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # "nodeid: first line of the failure", or why skipped
    model_sha256: list[str] = field(default_factory=list)  # the models the tests' firmware ran

    @property
    def latency(self) -> str:
        if self.instructions is not None:
            return f"{self.instructions:,.0f} instr"
        return f"{self.cycles:,.0f} cycles" if self.cycles is not None else "–"


@dataclass(frozen=True)
class Matrix:
    suite: str
    boards: list[str]
    models: list[str]
    cells: list[Cell]

    @property
    def passed(self) -> bool:
        return all(c.status == "PASS" for c in self.cells)

    def cell(self, board: str, model: str) -> Cell:
        return next(c for c in self.cells if c.board == board and c.model == model)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "suite": self.suite, "passed": self.passed,
                "boards": self.boards, "models": self.models, "cells": [asdict(c) for c in self.cells]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _subjects(models: list[str], recipes: list[str], log) -> list[Subject]:
    from tinyml_fw import recipes as recipe_table

    for name in recipes:
        recipe_table.get(name)  # an unknown recipe fails before any training
    out = []
    for model in models:
        path = Path(model)
        if not path.is_file():
            raise BadInput(f"Model file not found: {model} (--model takes an integer .tflite).")
        out.append(Subject(path.name if path.name not in {Path(m).name for m in models if m != model} else model,
                           str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()))
    for name in recipes:
        path = _recipe_model(name, log)
        out.append(Subject(name, str(path), hashlib.sha256(path.read_bytes()).hexdigest()))
    return out or [Subject(SUITE_MODEL)]


def _recipe_model(name: str, log) -> Path:
    """The recipe's integer .tflite, trained and quantized once (cached beside the trained model)."""
    import inspect

    from tinyml_fw import __version__, cache
    from tinyml_fw.quantize import quantize
    from tinyml_fw.train import train

    trained = train(name, log=log)
    source = hashlib.sha256(Path(inspect.getfile(quantize)).read_bytes()).hexdigest()  # a toolkit edited in place
    folder = cache.entry("quantized", name, {"trained": trained.model_path, "toolkit": __version__,
                                             "quantize.py": source})
    with cache.locked(folder):
        if not (folder / "model.tflite").is_file():
            log(f"Quantizing {name}")
            with cache.building(folder) as tmp:
                quantize(trained.model_path, trained.data_path, tmp, log=lambda _: None)
    return folder / "model.tflite"


def _session(cmd: list[str], cwd: Path) -> tuple[int, str]:
    """Runs one pytest session. Ctrl-C or a termination stops it as Ctrl-C would (its fixtures stop their
    emulators; SIGINT is enabled in it even when this process was started with it ignored), then goes on."""
    from tinyml_fw.signals import deferred_signals

    with tempfile.TemporaryFile("w+") as output:
        with deferred_signals():
            child = subprocess.Popen(cmd, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            code = child.wait()
        except BaseException as exc:
            # A Ctrl-C in the terminal reached the session too: give it time to stop; else ask it as Ctrl-C
            # would; then kill it.
            grace = 5.0 if isinstance(exc, KeyboardInterrupt) else 0.0
            for stop, timeout in ((None, grace), (lambda: child.send_signal(signal.SIGINT), 30.0),
                                  (child.kill, None)):
                if stop is not None:
                    stop()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout)
                    break
            raise
        output.seek(0)
        return code, output.read()


def _cell(board: str, subject: Subject, results: dict[str, Any] | None, code: int, output: str,
          seconds: float) -> Cell:
    if results is None:  # pytest stopped before its session ended: a usage or internal error
        tail = [line for line in output.strip().splitlines() if line.strip()][-3:]
        return Cell(board, subject.label, "ERROR", seconds=seconds,
                    notes=[f"pytest exited with {code}: " + " | ".join(tail)])
    tests = [t for t in results["tests"] if t["properties"].get("tfw_board", board) == board]
    notes = [f"{e['nodeid'] or '(collection)'}: {e['message']}" for e in results["collection_errors"]]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    figures: dict[str, float] = {"bit_exact": 0, "vectors": 0, "instructions": 0.0, "cycles": 0.0,
                                 "inferences": 0}
    validated = False
    shas = set()
    for test in tests:
        outcome = "failed" if test["outcome"] == "error" else test["outcome"]
        counts[outcome] += 1
        if outcome == "failed":
            notes.append(f"{test['nodeid']}: {test['message']}")
        props = test["properties"]
        if "tfw_vectors" in props:
            validated = True
            figures["bit_exact"] += props["tfw_bit_exact"]
            figures["vectors"] += props["tfw_vectors"]
        for unit in ("instructions", "cycles"):
            if f"tfw_{unit}" in props:
                figures[unit] += props[f"tfw_{unit}"] * props["tfw_inferences"]
                figures["inferences"] += props["tfw_inferences"]
        if "tfw_model_sha256" in props:
            shas.add(props["tfw_model_sha256"])
    if subject.sha256 and shas - {subject.sha256}:
        notes.append(f"the suite tested another model ({', '.join(sorted(s[:12] for s in shas))}), not "
                        f"{subject.label} ({subject.sha256[:12]}): --model and --recipe need a suite that uses "
                        "the plugin's `model` fixture")
    if code not in (0, 1, 5):  # 5: no tests collected
        status = "ERROR"
        notes = notes or [f"pytest exited with {code}"]
    elif counts["failed"] or notes:
        status = "FAIL"
    elif counts["passed"]:
        status = "PASS"
    else:
        status = "SKIP"
        notes = sorted({f"skipped: {t['message']}" for t in tests}) or ["no tests collected"]
    n = figures["inferences"]
    unit = "instructions" if figures["instructions"] else "cycles"
    return Cell(board, subject.label, status, counts["passed"], counts["failed"], counts["skipped"],
                int(figures["bit_exact"]) if validated else None, int(figures["vectors"]) if validated else None,
                figures["instructions"] / n if n and unit == "instructions" else None,
                figures["cycles"] / n if n and unit == "cycles" else None, int(n), round(seconds, 1), notes,
                sorted(shas))


def run_matrix(suite: str | Path | None = None, board_ids: list[str] | tuple[str, ...] = (),
               models: list[str] | tuple[str, ...] = (), recipes: list[str] | tuple[str, ...] = (),
               hil_map: str | None = None, workers: int | None = None, log=print) -> Matrix:
    """Runs the suite (default: examples/hil) once per board and model; returns the Matrix."""
    path = Path(suite) if suite is not None else EXAMPLE_SUITE
    if not path.exists():
        hint = "" if suite is not None else ": give the folder or file of your HIL tests"
        raise BadInput(f"Test suite not found: {path}{hint}.")
    board_ids = list(dict.fromkeys(board_ids)) or [boards.DEFAULT_BOARD]
    for board_id in board_ids:
        boards.get(board_id)  # an unknown board fails at once, naming the close ones
    if hil_map is not None and not Path(hil_map).is_file():
        raise BadInput(f"Hardware map not found: {hil_map}.")
    if workers:
        import importlib.util

        if importlib.util.find_spec("xdist") is None:
            raise BadInput("-n needs pytest-xdist: pip install pytest-xdist.")
    subjects = _subjects(list(models), list(recipes), log)
    cells = []
    with tempfile.TemporaryDirectory(prefix="tinyml-fw-test-") as work:
        for board_id in board_ids:
            for i, subject in enumerate(subjects):
                results_path = Path(work) / f"{board_id}-{i}.json"
                cmd = [sys.executable, "-m", "pytest", str(path.resolve()), "--board", board_id,
                       "--tfw-results", str(results_path), "-p", "no:cacheprovider", "-q", "-rfE"]
                cmd += ["--model", subject.path] if subject.path else []
                cmd += ["--hil-map", str(Path(hil_map).resolve())] if hil_map else []
                cmd += ["-n", str(workers)] if workers else []
                log(f"{board_id} × {subject.label}: running {path}")
                started = time.monotonic()
                code, output = _session(cmd, path if path.is_dir() else path.parent)
                results = json.loads(results_path.read_text()) if results_path.is_file() else None
                cell = _cell(board_id, subject, results, code, output, time.monotonic() - started)
                log(f"{board_id} × {subject.label}: {cell.status} ({cell.passed} passed, {cell.failed} failed, "
                    f"{cell.skipped} skipped in {cell.seconds:.1f} s)")
                cells.append(cell)
    return Matrix(str(path), board_ids, [s.label for s in subjects], cells)


__all__ = ["Cell", "Matrix", "run_matrix"]
