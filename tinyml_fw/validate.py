"""Stage 7, validate: run vectors on the device and compare every output byte with tflite-micro's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_fw import boards
from tinyml_fw.build import firmware_of
from tinyml_fw.data import Data, check_inputs, load_data, random_data
from tinyml_fw.errors import BadInput, DeviceError
from tinyml_fw.flash import device
from tinyml_fw.generate import Project
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink, VectorFailed
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
    # The link (docs/protocol.md): what it took, and the vectors it could not complete.
    retries: int = 0  # retransmitted requests
    resets: int = 0  # board resets detected during the run
    restarts: int = 0  # vectors sent again from their start
    frames_dropped: int = 0  # corrupt frames the host discarded
    failed_vectors: list[dict[str, Any]] = field(default_factory=list)  # {"index", "reason"}

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


MAX_FAILED_IN_A_ROW = 3  # then the link is taken for lost and the run stops with a device error


def validate(project_dir: str | Path, data: Any = None, port: str | None = None, limit: int | None = None,
             random: int | None = None, float_score: float | None = None,
             progress: Callable[[int, int], None] | None = None, log=print,
             link_options: dict[str, Any] | None = None) -> Report:
    """Validates the project's firmware on its board (emulated unless `port` is given). Every vector is
    compared, or listed in `failed_vectors` with the reason the link could not complete it.
    `link_options` go to DeviceLink (timeout, retries, integrity)."""
    project = Project.load(project_dir)
    board = boards.get(project.board)
    model = project.model_path.read_bytes()
    reference = Reference(model)
    vectors = _data(data, random, tuple(int(d) for d in reference.input["shape"][1:]), limit)
    xq = reference.quantize(vectors.x.reshape(len(vectors.x), -1))
    expected = reference.run_all(xq)
    sha = hashlib.sha256(model).hexdigest()
    got, ticks, done, failed = [], [], [], []
    with device(project, port) as url, DeviceLink(url, baud=board.baud, **(link_options or {})) as link:
        info = link.check(sha)
        log(f"Device on {url}: {info.board}, {info.runtime}, model {info.model_sha256[:12]}…, "
            f"protocol {info.protocol}")
        in_a_row = 0
        for i, vector in enumerate(xq):
            try:
                result = link.infer(vector.tobytes())
            except VectorFailed as exc:
                failed.append({"index": i, "reason": str(exc)})
                in_a_row += 1
                if in_a_row >= MAX_FAILED_IN_A_ROW:
                    raise DeviceError(
                        f"The link to {url} lost {in_a_row} vectors in a row (vector {i}: {exc}); "
                        f"{len(done)} of {len(xq)} were validated. Check the cable or the port.") from None
            else:
                in_a_row = 0
                done.append(i)
                got.append(np.frombuffer(result.output, dtype=expected.dtype))
                ticks.append(result.ticks)
            if progress:
                progress(i + 1, len(xq))
        stats = link.stats
    expected = expected[done]
    y = None if vectors.y is None else vectors.y[done]
    got_arr = np.stack(got) if got else np.zeros((0, expected.shape[1]), expected.dtype)
    exact = np.all(got_arr == expected, axis=1)
    mismatches = [done[j] for j in np.flatnonzero(~exact)]
    diff = np.abs(got_arr.astype(np.float64) - expected.astype(np.float64))
    metric, device_score = score(reference.dequantize(got_arr), y) if got else (None, None)
    _, reference_score = score(reference.dequantize(expected), y) if got else (None, None)
    accuracy = metric == "accuracy"
    mean_ticks = float(np.mean(ticks)) if ticks else 0.0
    firmware = firmware_of(project) if port is None else None
    return Report(
        board=project.board, runtime=project.runtime, model_sha256=sha, vectors=len(xq),
        bit_exact=int(exact.sum()), max_abs_diff=int(diff.max()) if got else 0,
        top1_agreement=float(np.mean(got_arr.argmax(1) == expected.argmax(1))) if got else 0.0,
        metric=metric, score_device=device_score, score_reference=reference_score, score_float=float_score,
        accuracy_device=device_score if accuracy else None,
        accuracy_reference=reference_score if accuracy else None,
        float_accuracy=float_score if accuracy else None,
        instructions_per_inference=board.instructions(mean_ticks), ticks_per_inference=mean_ticks,
        flash_bytes=firmware.flash_bytes if firmware else info.flash_bytes,
        ram_bytes=firmware.ram_bytes if firmware else info.ram_bytes, arena_bytes=info.arena_bytes,
        first_mismatch=int(mismatches[0]) if mismatches else None, passed=bool(exact.all()) and not failed,
        retries=stats.retries, resets=stats.resets, restarts=stats.restarts,
        frames_dropped=stats.frames_dropped, failed_vectors=failed)
