"""All stages in a row: (recipe → trained) or a user's model → integer .tflite → project → firmware →
validated on the board."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyml_fw import boards
from tinyml_fw.build import Firmware, build
from tinyml_fw.errors import BadInput
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


def default_out(source: str, board: str) -> Path:
    return Path("tinyml-fw-out") / f"{Path(source).stem}-{board}"


def deploy(recipe: str | None = "mnist-mlp", board: str = boards.DEFAULT_BOARD, out_dir: str | Path | None = None,
           model: Any = None, data: Any = None, random: int | None = None, scheme: str = "int8",
           limit: int | None = None, retrain: bool = False, force: bool = False, seed: int = 0,
           progress: Callable[[int, int], None] | None = None, log=print) -> Deployment:
    """Runs every stage. With `model`, the user's model (and `data` or `random`) replaces the recipe."""
    boards.get(board)  # an unknown board fails before minutes of training
    if model is not None:
        recipe = None
    elif recipe is None:
        raise BadInput("Give a recipe or a model to deploy.")
    out = Path(out_dir) if out_dir else default_out(recipe or str(model), board)
    run = Deployment()

    def timed(stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        run.seconds[stage] = round(time.perf_counter() - start, 3)
        return result

    if recipe is not None:
        run.trained = timed("train", train, recipe, seed=seed, force=retrain, log=log)
        model, data = run.trained.model_path, run.trained.data_path
    run.quantized = timed("quantize", quantize, model, data, out / "model", scheme=scheme, random=random, log=log)
    name = recipe or (Path(model).stem if isinstance(model, (str, Path)) else "model")
    run.project = timed("generate", generate, run.quantized.tflite_path, board, out / "project", name=name,
                        force=force, log=log)
    run.firmware = timed("build", build, run.project.path, log=log)
    run.report = timed("validate", validate, run.project.path, data, random=random, limit=limit,
                       float_score=run.quantized.float_score, progress=progress, log=log)
    return run
