"""Stage 7, validate: run vectors on the device and compare every output byte with tflite-micro's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyml_fw import boards
from tinyml_fw.build import firmware_of
from tinyml_fw.errors import BadInput
from tinyml_fw.flash import device
from tinyml_fw.generate import Project
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink


@dataclass(frozen=True)
class Report:
    board: str
    runtime: str
    model_sha256: str
    vectors: int
    bit_exact: int
    max_abs_diff: int
    top1_agreement: float
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


def load_vectors(data_path: str | Path, limit: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Test inputs (floats, key x_test or x) and labels (y_test or y) from an .npz file."""
    path = Path(data_path)
    if not path.is_file():
        raise BadInput(f"Data file not found: {path}")
    try:
        data = np.load(path)
        x = data["x_test"] if "x_test" in data else data["x"]
        y = data["y_test"] if "y_test" in data else (data["y"] if "y" in data else None)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"{path} is not an .npz with test inputs under 'x_test' or 'x' ({exc}).") from None
    if limit is not None:
        x, y = x[:limit], (y[:limit] if y is not None else None)
    return x, y


def validate(project_dir: str | Path, data_path: str | Path, port: str | None = None,
             limit: int | None = None, float_accuracy: float | None = None,
             progress: Callable[[int, int], None] | None = None, log=print) -> Report:
    """Validates the project's firmware on its board (emulated unless `port` is given)."""
    project = Project.load(project_dir)
    board = boards.get(project.board)
    model = project.model_path.read_bytes()
    reference = Reference(model)
    x, y = load_vectors(data_path, limit)
    want_shape = tuple(int(d) for d in reference.input["shape"])
    if int(np.prod(x.shape[1:])) != int(np.prod(want_shape)):
        raise BadInput(f"Data inputs have shape {list(x.shape[1:])}; the model takes {list(want_shape)}.")
    xq = reference.quantize(x.reshape(len(x), -1))
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
    diff = np.abs(got_arr.astype(np.int32) - expected.astype(np.int32))
    mean_ticks = float(np.mean(ticks))
    firmware = firmware_of(project) if port is None else None
    return Report(
        board=project.board, runtime=project.runtime, model_sha256=sha, vectors=len(xq),
        bit_exact=int(exact.sum()), max_abs_diff=int(diff.max()),
        top1_agreement=float(np.mean(got_arr.argmax(1) == expected.argmax(1))),
        accuracy_device=float(np.mean(got_arr.argmax(1) == y)) if y is not None else None,
        accuracy_reference=float(np.mean(expected.argmax(1) == y)) if y is not None else None,
        float_accuracy=float_accuracy,
        instructions_per_inference=board.instructions(mean_ticks),
        ticks_per_inference=mean_ticks,
        flash_bytes=firmware.flash_bytes if firmware else info.flash_bytes,
        ram_bytes=firmware.ram_bytes if firmware else info.ram_bytes,
        arena_bytes=info.arena_bytes,
        first_mismatch=int(mismatches[0]) if len(mismatches) else None,
        passed=bool(exact.all()))
