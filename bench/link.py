"""Throughput of the serial link on emulated boards: vectors and bytes per second, clean and under faults → JSON.

Usage: python bench/link.py [--board mps2-an386 --board uno-sim --board mega-sim]
                            [--recipe digits-mlp --recipe mnist-mlp] [--vectors 300]
                            [--rate 0 --rate 0.01] [--out bench/results/link.json]

Each (board, recipe, fault rate) runs `--vectors` inputs through tinyml_fw.link on the emulated board (behind
tinyml_fw/faults.py when the rate is not 0) and checks every output against tflite-micro, so a fast run is also
a right one. Wall times vary with the machine; the emulated M4's UART moves ~14 kB/s.

Boards run through RUNNERS, keyed by their emulator kind (boards/<id>.json, tinyml.emulator.kind): "qemu" (the
M4 and M7, clean and behind tinyml_fw/faults.py) and "simavr" (the Uno and Mega, clean only). simavr runs the
AVR's UART at its baud rate in simulated time, here held to wall time (the bridge's realtime mode: free-running,
simavr is several times faster than the chip and the host's latency would cost the AVR that many more cycles of
waiting). An AVR run also reports its rates in simulated seconds (simavr's cycle counter / f_cpu):
`sim_wire_bytes_per_second`, and `sim_link_utilization`, the wire bytes over what the UART can move (baud / 10
per second) while the device is not running the model (its ticks, exact cycles on AVR, are taken out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from tinyml_fw import __version__, boards
from tinyml_fw.build import firmware_of
from tinyml_fw.data import load_data
from tinyml_fw.deploy import deploy
from tinyml_fw.emulator import Simavr
from tinyml_fw.errors import BadInput
from tinyml_fw.faults import Faults, faulty_board
from tinyml_fw.flash import device
from tinyml_fw.generate import Project
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink, VectorFailed
from tinyml_fw.paths import home

Clock = Callable[[], float]  # simulated seconds now, on an emulator that counts them


@contextlib.contextmanager
def qemu_runner(project: Project, rate: float, seed: int) -> Iterator[tuple[str, Clock | None]]:
    """The project's QEMU board: its own serial port at rate 0, else behind the fault proxy."""
    if rate == 0:
        with device(project) as url:
            yield url, None
        return
    with faulty_board(project, Faults(rate), Faults(rate), seed=seed) as proxy:
        yield proxy.url, None


@contextlib.contextmanager
def simavr_runner(project: Project, rate: float, seed: int) -> Iterator[tuple[str, Clock | None]]:
    """The project's AVR board on simavr held to real time (a host's latency then costs the AVR what it would
    cost a real board), its pty, and simavr's clock in simulated seconds."""
    if rate != 0:
        raise ValueError("fault runs need the QEMU board's reset; simavr runs are clean only")
    board = boards.get(project.board)
    with Simavr(firmware_of(project).elf, board.emulator.machine, board.f_cpu, home_dir=home(), realtime=True) as sim:
        yield sim.url, lambda: sim.cycles_now() / board.f_cpu


# emulator kind → runner(project, fault rate, seed) yielding a serial URL and a simulated clock (or None).
RUNNERS: dict[str, Callable[[Project, float, int], contextlib.AbstractContextManager]] = {
    "qemu": qemu_runner, "simavr": simavr_runner}


def runner_kind(board_id: str) -> str | None:
    board = boards.get(board_id)
    return board.emulator.kind if board.emulator else None


def measure(project: Project, data_path: Path, vectors: int, rate: float, seed: int = 0) -> dict:
    board = boards.get(project.board)
    kind = runner_kind(project.board)
    reference = Reference(project.model_path.read_bytes())
    x = load_data(data_path).x
    x = np.resize(x, (vectors, *x.shape[1:]))
    xq = reference.quantize(x.reshape(len(x), -1))
    expected = reference.run_all(xq)
    outputs, failed, ticks = [], 0, 0
    with RUNNERS[kind](project, rate, seed) as (url, clock), DeviceLink(url, baud=board.baud) as link:
        info = link.check(project.model_sha256)
        before = link.stats.bytes_out + link.stats.bytes_in
        sim_start = clock() if clock else None
        start = time.perf_counter()
        for vector in xq:
            try:
                result = link.infer(vector.tobytes())
                outputs.append(result.output)
                ticks += result.ticks
            except VectorFailed:
                outputs.append(None)
                failed += 1
        seconds = time.perf_counter() - start
        sim_seconds = clock() - sim_start if clock else None
        stats = link.stats
    mismatches = sum(o is not None and o != e.tobytes() for o, e in zip(outputs, expected, strict=True))
    return {
        "fault_rate": rate, "vectors": vectors, "seconds": round(seconds, 3),
        "vectors_per_second": round(vectors / seconds, 2),
        "input_bytes_per_second": round(vectors * info.input_bytes / seconds),
        "wire_bytes_per_second": round((stats.bytes_out + stats.bytes_in) / seconds),
        "input_bytes": info.input_bytes, "output_bytes": info.output_bytes,
        "mismatches": mismatches, "failed_vectors": failed, **stats.to_dict(),
        **(_simulated(sim_seconds, stats.bytes_out + stats.bytes_in - before, vectors, ticks / info.tick_hz,
                      board.baud) if sim_seconds else {}),
    }


def _simulated(sim_seconds: float, wire_bytes: int, vectors: int, model_seconds: float, baud: int) -> dict:
    """Rates in the emulator's simulated time; the link's share leaves out the model's runs."""
    link_seconds = sim_seconds - model_seconds
    return {
        "baud": baud, "sim_seconds": round(sim_seconds, 4), "sim_model_seconds": round(model_seconds, 4),
        "sim_vectors_per_second": round(vectors / sim_seconds, 2),
        "sim_wire_bytes_per_second": round(wire_bytes / sim_seconds),
        "sim_link_utilization": round(wire_bytes / (link_seconds * baud / 10), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append",
                        help="board id (repeatable; default mps2-an386, uno-sim, mega-sim)")
    parser.add_argument("--recipe", action="append", help="recipe (repeatable; default digits-mlp, mnist-mlp)")
    parser.add_argument("--vectors", type=int, default=300)
    parser.add_argument("--rate", type=float, action="append", help="byte fault rate (repeatable; default 0, 0.01)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "link.json"))
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for board in args.board or ["mps2-an386", "uno-sim", "mega-sim"]:
            if runner_kind(board) not in RUNNERS:
                runs.append({"board": board, "skipped": f"no runner for emulator kind {runner_kind(board)!r} "
                                                        "yet (see RUNNERS in bench/link.py)"})
                continue
            for recipe in args.recipe or ["digits-mlp", "mnist-mlp"]:
                try:
                    run = deploy(recipe, board, Path(tmp) / f"{recipe}-{board}", limit=1, log=lambda _: None)
                except BadInput as exc:  # e.g. a model that does not fit the board
                    runs.append({"board": board, "recipe": recipe, "skipped": str(exc)})
                    print(json.dumps(runs[-1]))
                    continue
                project = Project.load(run.project.path)
                for rate in args.rate or [0.0, 0.01]:
                    if runner_kind(board) == "simavr" and rate != 0:
                        runs.append({"board": board, "recipe": recipe, "fault_rate": rate,
                                     "skipped": "simavr runs are clean only (the fault proxy resets QEMU)"})
                        continue
                    result = measure(project, run.trained.data_path, args.vectors, rate)
                    runs.append({"board": board, "recipe": recipe, **result})
                    print(json.dumps(runs[-1]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"toolkit": __version__, "machine": platform.machine(), "runs": runs}, indent=2)
                   + "\n")
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
