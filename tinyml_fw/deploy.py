"""All stages in a row: recipe → trained → int8 → project → firmware → validated on the board."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinyml_fw import boards
from tinyml_fw.build import Firmware, build
from tinyml_fw.generate import Project, generate
from tinyml_fw.quantize import Quantized, quantize
from tinyml_fw.train import Trained, train
from tinyml_fw.validate import Report, validate


@dataclass
class Deployment:
    trained: Trained | None = None
    quantized: Quantized | None = None
    project: Project | None = None
    firmware: Firmware | None = None
    report: Report | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def default_out(recipe: str, board: str) -> Path:
    return Path("tinyml-fw-out") / f"{recipe}-{board}"


def deploy(recipe: str = "mnist-mlp", board: str = boards.DEFAULT_BOARD, out_dir: str | Path | None = None,
           limit: int | None = None, retrain: bool = False, force: bool = False,
           progress: Callable[[int, int], None] | None = None, log=print) -> Deployment:
    boards.get(board)  # an unknown board fails before minutes of training
    out = Path(out_dir) if out_dir else default_out(recipe, board)
    run = Deployment()

    def timed(stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        run.seconds[stage] = round(time.perf_counter() - start, 3)
        return result

    run.trained = timed("train", train, recipe, force=retrain, log=log)
    run.quantized = timed("quantize", quantize, run.trained.model_path, run.trained.data_path, out / "model",
                          run.trained.float_accuracy, log=log)
    run.project = timed("generate", generate, run.quantized.tflite_path, board, out / "project",
                        name=recipe, force=force, log=log)
    run.firmware = timed("build", build, run.project.path, log=log)
    run.report = timed("validate", validate, run.project.path, run.trained.data_path, limit=limit,
                       float_accuracy=run.trained.float_accuracy, progress=progress, log=log)
    return run
