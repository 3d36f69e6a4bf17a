"""Stage 7, validate: run vectors on the device and compare every output byte with tflite-micro's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_fw import boards
from tinyml_fw.build import firmware_of
from tinyml_fw.data import Data, check_inputs, load_data, random_data
from tinyml_fw.errors import BadInput
from tinyml_fw.flash import device
from tinyml_fw.generate import Project
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink
from tinyml_fw.quantize import score


@dataclass(frozen=True)
class Report:
    board: str
    runtime: str
    model_sha256: str
    vectors: int
    bit_exact: int
    max_abs_diff: int
    top1_agreement: float
    metric: str | None  # accuracy (labels) | mae (targets) | None
    score_device: float | None
    score_reference: float | None
    score_float: float | None
    accuracy_device: float | None
    accuracy_reference: float | None
    float_accuracy: float | None
    instructions_per_inference: float | None
    ticks_per_inference: float
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int
    first_mismatch: int | None
    passed: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _data(data: Any, random: int | None, shape: tuple[int, ...], limit: int | None) -> Data:
    if data is None:
        if random is None:
            raise BadInput("No test vectors: give --data FILE (.npz with 'x', optionally 'y') or --random N.")
        data = random_data(shape, random)
    elif not isinstance(data, Data):
        data = load_data(data)
    data = data.limit(limit)
    check_inputs(data, shape)
    return data


def validate(project_dir: str | Path, data: Any = None, port: str | None = None, limit: int | None = None,
             random: int | None = None, float_score: float | None = None,
             progress: Callable[[int, int], None] | None = None, log=print) -> Report:
    """Validates the project's firmware on its board (emulated unless `port` is given)."""
    project = Project.load(project_dir)
    board = boards.get(project.board)
    model = project.model_path.read_bytes()
    reference = Reference(model)
    vectors = _data(data, random, tuple(int(d) for d in reference.input["shape"][1:]), limit)
    xq = reference.quantize(vectors.x.reshape(len(vectors.x), -1))
    expected = reference.run_all(xq)
    sha = hashlib.sha256(model).hexdigest()
    got, ticks = [], []
    with device(project, port) as url, DeviceLink(url, baud=board.baud) as link:
        info = link.check(sha)
        log(f"Device on {url}: {info.board}, {info.runtime}, model {info.model_sha256[:12]}…, "
            f"protocol {info.protocol}")
        for i, vector in enumerate(xq):
            result = link.infer(vector.tobytes())
            got.append(np.frombuffer(result.output, dtype=expected.dtype))
            ticks.append(result.ticks)
            if progress:
                progress(i + 1, len(xq))
    got_arr = np.stack(got)
    exact = np.all(got_arr == expected, axis=1)
    mismatches = np.flatnonzero(~exact)
    diff = np.abs(got_arr.astype(np.float64) - expected.astype(np.float64))
    metric, device_score = score(reference.dequantize(got_arr), vectors.y)
    _, reference_score = score(reference.dequantize(expected), vectors.y)
    accuracy = metric == "accuracy"
    mean_ticks = float(np.mean(ticks))
    firmware = firmware_of(project) if port is None else None
    return Report(
        board=project.board, runtime=project.runtime, model_sha256=sha, vectors=len(xq),
        bit_exact=int(exact.sum()), max_abs_diff=int(diff.max()),
        top1_agreement=float(np.mean(got_arr.argmax(1) == expected.argmax(1))),
        metric=metric, score_device=device_score, score_reference=reference_score, score_float=float_score,
        accuracy_device=device_score if accuracy else None,
        accuracy_reference=reference_score if accuracy else None,
        float_accuracy=float_score if accuracy else None,
        instructions_per_inference=board.instructions(mean_ticks), ticks_per_inference=mean_ticks,
        flash_bytes=firmware.flash_bytes if firmware else info.flash_bytes,
        ram_bytes=firmware.ram_bytes if firmware else info.ram_bytes, arena_bytes=info.arena_bytes,
        first_mismatch=int(mismatches[0]) if len(mismatches) else None, passed=bool(exact.all()))
