"""Throughput of the serial link on emulated boards: vectors and bytes per second, clean and under faults → JSON.

Usage: python bench/link.py [--board mps2-an386] [--recipe digits-mlp --recipe mnist-mlp] [--vectors 300]
                            [--rate 0 --rate 0.01] [--out bench/results/link.json]

Each (board, recipe, fault rate) runs `--vectors` inputs through tinyml_fw.link on the emulated board (behind
tinyml_fw/faults.py when the rate is not 0) and checks every output against tflite-micro, so a fast run is also
a right one. Wall times vary with the machine; the emulated M4's UART moves ~14 kB/s.

Boards run through RUNNERS, keyed by their emulator kind (boards/<id>.json, tinyml.emulator.kind). Only "qemu"
exists yet; the AVR boards bring "simavr": add its runner there (a context manager yielding a serial URL and,
for the fault runs, a reset function) and this benchmark measures them too.
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
from tinyml_fw.data import load_data
from tinyml_fw.deploy import deploy
from tinyml_fw.faults import Faults, faulty_board
from tinyml_fw.flash import device
from tinyml_fw.generate import Project
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink, VectorFailed


@contextlib.contextmanager
def qemu_runner(project: Project, rate: float, seed: int) -> Iterator[str]:
    """The project's QEMU board: its own serial port at rate 0, else behind the fault proxy."""
    if rate == 0:
        with device(project) as url:
            yield url
        return
    with faulty_board(project, Faults(rate), Faults(rate), seed=seed) as proxy:
        yield proxy.url


# emulator kind → runner(project, fault rate, seed) yielding a serial URL. "simavr" comes with the AVR boards.
RUNNERS: dict[str, Callable[[Project, float, int], contextlib.AbstractContextManager[str]]] = {"qemu": qemu_runner}


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
    outputs, failed = [], 0
    with RUNNERS[kind](project, rate, seed) as url, DeviceLink(url, baud=board.baud) as link:
        info = link.check(project.model_sha256)
        start = time.perf_counter()
        for vector in xq:
            try:
                outputs.append(link.infer(vector.tobytes()).output)
            except VectorFailed:
                outputs.append(None)
                failed += 1
        seconds = time.perf_counter() - start
        stats = link.stats
    mismatches = sum(o is not None and o != e.tobytes() for o, e in zip(outputs, expected))
    return {
        "fault_rate": rate, "vectors": vectors, "seconds": round(seconds, 3),
        "vectors_per_second": round(vectors / seconds, 2),
        "input_bytes_per_second": round(vectors * info.input_bytes / seconds),
        "wire_bytes_per_second": round((stats.bytes_out + stats.bytes_in) / seconds),
        "input_bytes": info.input_bytes, "output_bytes": info.output_bytes,
        "mismatches": mismatches, "failed_vectors": failed, **stats.to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", help="board id (repeatable; default mps2-an386)")
    parser.add_argument("--recipe", action="append", help="recipe (repeatable; default digits-mlp, mnist-mlp)")
    parser.add_argument("--vectors", type=int, default=300)
    parser.add_argument("--rate", type=float, action="append", help="byte fault rate (repeatable; default 0, 0.01)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "link.json"))
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for board in args.board or ["mps2-an386"]:
            if runner_kind(board) not in RUNNERS:
                runs.append({"board": board, "skipped": f"no runner for emulator kind {runner_kind(board)!r} "
                                                        "yet (see RUNNERS in bench/link.py)"})
                continue
            for recipe in args.recipe or ["digits-mlp", "mnist-mlp"]:
                run = deploy(recipe, board, Path(tmp) / f"{recipe}-{board}", limit=1, log=lambda _: None)
                project = Project.load(run.project.path)
                for rate in args.rate or [0.0, 0.01]:
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
