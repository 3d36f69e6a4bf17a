"""pytest plugin (entry point `pytest11`): hardware-in-the-loop tests of a model on a board or an emulator.

Fixtures:
- `board`: the board under test (tinyml_fw.boards.Board), from `--board` (default the emulated Cortex-M4);
  a test marked `@pytest.mark.boards("mps2-an386", "nano33ble")` runs once per named board.
- `model`: the integer `.tflite` the firmware is generated from: `--model PATH`, or the project's own
  session-scoped `model` fixture (a path or the model's bytes).
- `firmware`: the model generated and built for the board (tinyml_fw.build.Firmware), in the per-user cache
  keyed by model, board, runtime and toolkit version, built once for all pytest-xdist workers (a lock).
- `dut`: the connected device (Dut): `info()`, `infer(x)`, `validate(x, y)`, `expect(text, timeout)`,
  `reset()`. An emulated board runs on its own QEMU per session (per xdist worker); a real or remote board
  is reached through `--port` or the hardware map (`--hil-map FILE`, YAML: board id → a port, a pyserial
  URL such as rfc2217://host:port, `{serial_number: …}`, or a list of those for several boards of one kind).
  Each port is locked while a session uses it, so xdist workers never share a board.

Each test's board and the figures its `dut` measured (`tfw_bit_exact`/`tfw_vectors` of its validations,
`tfw_instructions` or `tfw_cycles` per inference over `tfw_inferences`, `tfw_model_sha256`) are test
properties (`record_property`'s, so JUnit XML shows them); `--tfw-results FILE` also writes every test's
outcome and properties as JSON, which `tinyml-fw test` reads to make its board × model matrix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinyml_fw import boards
from tinyml_fw.dut import Dut

MARKER = "boards(*ids): run this test on each named board (those not selected by --board are skipped)"


# ------------------------------------------------------------------------------------------------ options

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinyml-fw", "tinyml-fw hardware-in-the-loop")
    group.addoption("--board", action="append", dest="tfw_boards", metavar="ID",
                    help=f"board(s) to test on (repeat or comma-separate; default {boards.DEFAULT_BOARD})")
    group.addoption("--port", dest="tfw_port", metavar="PORT",
                    help="serial port or pyserial URL (socket://, rfc2217://) of the one board under test")
    group.addoption("--hil-map", dest="tfw_hil_map", metavar="FILE",
                    help="YAML hardware map: board id → port, URL, {serial_number: …} or a list of them")
    group.addoption("--model", dest="tfw_model", metavar="PATH", help="integer .tflite model for the firmware")
    group.addoption("--runtime", dest="tfw_runtime", choices=("aot", "tflm"),
                    help="runtime of the firmware (default: the board's)")
    group.addoption("--hil-wait", dest="tfw_hil_wait", type=float, default=600.0, metavar="S",
                    help="how long a session waits for a free board of the map (default 600 s)")
    group.addoption("--tfw-results", dest="tfw_results", metavar="FILE",
                    help="write each test's outcome, board and measured figures as JSON (tinyml-fw test)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    path = config.getoption("tfw_results", None)
    if path and not hasattr(config, "workerinput"):  # the xdist controller (or a plain session) writes it
        config.pluginmanager.register(Results(Path(path)), "tinyml-fw-results")


def _selected(config: pytest.Config) -> list[str] | None:
    raw = config.getoption("tfw_boards", None)
    if not raw:
        return None
    return [b.strip() for item in raw for b in item.split(",") if b.strip()]


def pytest_report_header(config: pytest.Config) -> str:
    where = config.getoption("tfw_port") or config.getoption("tfw_hil_map") or "emulators"
    return f"tinyml-fw: boards {', '.join(_selected(config) or [boards.DEFAULT_BOARD])} ({where})"


def _ours(metafunc: pytest.Metafunc) -> bool:
    """The test's `board` is this plugin's fixture (not one of the project's own) and not parametrized."""
    defs = getattr(metafunc, "_arg2fixturedefs", {}).get("board")
    if not defs or getattr(defs[-1].func, "__module__", None) != __name__:
        return False
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if "board" in names:
            return False
    return True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "board" not in metafunc.fixturenames or not _ours(metafunc):
        return
    selected = _selected(metafunc.config)
    mark = metafunc.definition.get_closest_marker("boards")
    wanted = list(mark.args) if mark and mark.args else (selected or [boards.DEFAULT_BOARD])
    params = []
    for board_id in wanted:
        boards.get(board_id)  # an unknown board fails at collection, with the close names
        skip = selected is not None and board_id not in selected
        reason = f"for {board_id}; --board selects {', '.join(selected or ())}"
        marks = [pytest.mark.skip(reason=reason)] if skip else []
        params.append(pytest.param(board_id, id=board_id, marks=marks))
    metafunc.parametrize("board", params, indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test parametrized by board carries it as a property (skipped tests included)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        board_id = callspec.params.get("board") if callspec is not None else None
        if isinstance(board_id, str):
            item.user_properties.append(("tfw_board", board_id))


# ------------------------------------------------------------------------------------------------ results

class Results:
    """--tfw-results FILE: every test's outcome (passed, failed, error, skipped), its duration, properties and
    first failure line, and the collection errors; written at the end of the session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}
        self.collection_errors: list[dict[str, str]] = []

    @staticmethod
    def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is not None:
            return str(crash.message).splitlines()[0] if crash.message else ""
        if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
            return str(report.longrepr[2])
        lines = str(report.longrepr or "").strip().splitlines()
        return lines[-1] if lines else ""

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append({"nodeid": report.nodeid, "message": self._message(report)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = self.tests.setdefault(report.nodeid, {"nodeid": report.nodeid, "outcome": "passed",
                                                     "duration": 0.0, "message": "", "properties": {}})
        test["duration"] += report.duration
        test["properties"].update(dict(report.user_properties))
        if report.when == "call" or report.outcome != "passed":
            outcome = "error" if report.failed and report.when != "call" else report.outcome
            if test["outcome"] in ("passed", "skipped"):  # the first failure of a test stays
                test["outcome"] = outcome
                test["message"] = "" if outcome == "passed" else self._message(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.path.write_text(json.dumps({"exitstatus": int(exitstatus), "tests": list(self.tests.values()),
                                         "collection_errors": self.collection_errors}, indent=2) + "\n")


def _figures(dut: Dut, ticks_from: int, reports_from: int) -> list[tuple[str, Any]]:
    """What `dut` measured since the counts given: bit-exact outputs of its validations, and the mean cost of
    one inference (instructions on QEMU, else cycles of the device's timer)."""
    props: list[tuple[str, Any]] = [("tfw_model_sha256", dut.project.model_sha256)]
    reports = dut.reports[reports_from:]
    if reports:
        props += [("tfw_bit_exact", sum(r.bit_exact for r in reports)),
                  ("tfw_vectors", sum(r.vectors for r in reports))]
    costs: dict[str, list[tuple[float, int]]] = {"instructions": [], "cycles": []}
    for r in reports:
        if r.instructions_per_inference is not None:
            costs["instructions"].append((r.instructions_per_inference, r.vectors))
        elif r.cycles_per_inference is not None:
            costs["cycles"].append((r.cycles_per_inference, r.vectors))
    for ticks in dut.ticks[ticks_from:]:
        instructions = dut.board.instructions(ticks)
        if instructions is not None:
            costs["instructions"].append((instructions, 1))
        else:
            costs["cycles"].append((ticks * dut.board.f_cpu / dut.board.tick_hz, 1))
    for unit, values in costs.items():
        count = sum(n for _, n in values)
        if count:
            props += [(f"tfw_{unit}", sum(v * n for v, n in values) / count), ("tfw_inferences", count)]
            break
    return props


# ----------------------------------------------------------------------------------------- hardware map

def load_hil_map(path: str | Path) -> dict[str, list[dict[str, str]]]:
    """board id → its entries, each {"port": …} or {"serial_number": …} (YAML file)."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise pytest.UsageError(f"--hil-map {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise pytest.UsageError(f"--hil-map {path}: expected a mapping of board id → port")
    out: dict[str, list[dict[str, str]]] = {}
    for board_id, value in raw.items():
        items = value if isinstance(value, list) else [value]
        entries = []
        for item in items:
            if isinstance(item, str):
                item = {"port": item}
            if not isinstance(item, dict) or not ({"port", "url", "serial_number"} & set(item)):
                raise pytest.UsageError(f"--hil-map {path}: {board_id}: each entry is a port, a URL or a "
                                        f"mapping with port, url or serial_number (got {item!r})")
            entries.append({("port" if k == "url" else k): str(v) for k, v in item.items()})
        out[str(board_id)] = entries
    return out


def _resolve(entry: dict[str, str]) -> str | None:
    """The port of a map entry; a serial number is looked up among the system's ports (None: absent)."""
    if "port" in entry:
        return entry["port"]
    from tinyml_fw.ports import system_ports

    return next((p.device for p in system_ports() if p.serial_number == entry["serial_number"]), None)


@contextlib.contextmanager
def _claimed(board_id: str, entries: list[dict[str, str]], wait: float) -> Iterator[str]:
    """Locks one free entry for this session (one lock file per entry: another process, e.g. another xdist
    worker, holding it means the board is taken) and yields its port."""
    import fcntl

    folder = Path(tempfile.gettempdir()) / "tinyml-fw-hil-locks"
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        for entry in entries:
            port = _resolve(entry)
            if port is None:
                continue
            name = hashlib.sha256(f"{board_id}|{port}".encode()).hexdigest()[:16]
            handle = open(folder / f"{name}.lock", "w")  # noqa: SIM115 - closed below
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            try:
                yield port
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if not any(_resolve(e) for e in entries):
            pytest.skip(f"no {board_id} of the hardware map is connected")
        if time.monotonic() > deadline:
            pytest.fail(f"every {board_id} of the hardware map stayed in use for {wait:g} s", pytrace=False)
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def board(request: pytest.FixtureRequest) -> boards.Board:
    """The board under test (parametrized from --board and @pytest.mark.boards)."""
    board_id = getattr(request, "param", None) or (_selected(request.config) or [boards.DEFAULT_BOARD])[0]
    return boards.get(board_id)


@pytest.fixture(scope="session")
def model(request: pytest.FixtureRequest) -> Path:
    """The integer .tflite under test: --model, or override this fixture (session scope) in a conftest."""
    path = request.config.getoption("tfw_model")
    if not path:
        pytest.fail("No model: give --model PATH (an integer .tflite) or define a session-scoped `model` "
                    "fixture in conftest.py.", pytrace=False)
    if not Path(path).is_file():
        pytest.fail(f"--model {path}: no such file", pytrace=False)
    return Path(path)


def _entry(model_bytes: bytes, board_id: str, runtime: str | None) -> Path:
    from tinyml_fw import __version__, cache

    sha = hashlib.sha256(model_bytes).hexdigest()
    return cache.entry("firmware", board_id, {"model": sha, "board": board_id, "runtime": runtime,
                                              "toolkit": __version__})


def _generate(folder: Path, model_bytes: bytes, board_id: str, runtime: str | None, log) -> Path:
    from tinyml_fw.generate import generate

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(model_bytes)
    # Generated again each session (files whose content is unchanged are not rebuilt): a toolkit edited in
    # place never leaves a stale firmware behind.
    generate(folder / "model.tflite", board_id, folder / "project", runtime=runtime, name="model", force=True,
             log=log)
    return folder / "project"


def generate_project(model_bytes: bytes, board_id: str, runtime: str | None = None, log=lambda _: None) -> Path:
    """The project of `model_bytes` for `board_id` in the cache, generated (not built): what a board that
    already runs the firmware needs (the model and the board's data for validate)."""
    from tinyml_fw import cache

    folder = _entry(model_bytes, board_id, runtime)
    with cache.locked(folder):
        return _generate(folder, model_bytes, board_id, runtime, log)


def build_firmware(model_bytes: bytes, board_id: str, runtime: str | None = None, log=lambda _: None):
    """Generates and builds `model_bytes` for `board_id` in the cache; one process at a time per entry
    (xdist workers wait for the first one's build, then find it done). Returns the Firmware."""
    from tinyml_fw import cache
    from tinyml_fw.build import build

    folder = _entry(model_bytes, board_id, runtime)
    with cache.locked(folder):
        return build(_generate(folder, model_bytes, board_id, runtime, log), log=log)


def _model_bytes(model: Any) -> bytes:
    return bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()


@pytest.fixture(scope="session")
def firmware(request: pytest.FixtureRequest, board: boards.Board, model: Any):
    """The model's firmware for the board, built once (cached across sessions and xdist workers)."""
    from tinyml_fw.errors import TfwError

    try:
        return build_firmware(_model_bytes(model), board.id, request.config.getoption("tfw_runtime"))
    except TfwError as exc:
        pytest.fail(f"firmware for {board.id}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def _tfw_device(request: pytest.FixtureRequest, board: boards.Board, model: Any) -> Iterator[Dut]:
    """The device of this session: the board's entry of the hardware map, --port (for the board --board
    names), or an emulator of the board's firmware (built here). A board reached through a port must
    already run the model's firmware (`tinyml-fw flash`); its INFO is checked."""
    from tinyml_fw.errors import TfwError
    from tinyml_fw.flash import start_emulator
    from tinyml_fw.generate import Project

    config = request.config
    selected = _selected(config) or [boards.DEFAULT_BOARD]
    port = config.getoption("tfw_port")
    if port and len(selected) > 1:
        raise pytest.UsageError("--port names one board's port: select one --board with it, or use --hil-map")
    port = port if port and board.id == selected[0] else None
    hil = config.getoption("tfw_hil_map")
    entries = load_hil_map(hil).get(board.id) if hil else None
    with contextlib.ExitStack() as stack:
        emulator = firmware = None
        try:
            if port or entries:
                project = generate_project(_model_bytes(model), board.id, config.getoption("tfw_runtime"))
                url = port or stack.enter_context(_claimed(board.id, entries or [], config.getoption("tfw_hil_wait")))
            elif board.emulated:
                firmware = request.getfixturevalue("firmware")
                project = Path(firmware.project)
                emulator = start_emulator(Project.load(project), qmp=True)
                stack.enter_context(emulator)
                url = emulator.url
            else:
                pytest.skip(f"{board.id} is real hardware: give --port or a --hil-map entry for it")
            dut = stack.enter_context(Dut(board, project, url, emulator, firmware=firmware))
        except TfwError as exc:
            pytest.fail(f"{board.id}: {exc}", pytrace=False)
        yield dut


@pytest.fixture
def dut(request: pytest.FixtureRequest, _tfw_device: Dut) -> Iterator[Dut]:
    """The device under test, connected (one per session and board; per xdist worker). What the test
    measured with it becomes the test's properties."""
    ticks, reports = len(_tfw_device.ticks), len(_tfw_device.reports)
    yield _tfw_device
    request.node.user_properties.extend(_figures(_tfw_device, ticks, reports))


__all__ = ["build_firmware", "generate_project", "load_hil_map"]
