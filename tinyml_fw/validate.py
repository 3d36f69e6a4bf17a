"""Stage 7, validate: run vectors on the device and compare every output byte with tflite-micro's.

The Report holds what a user checks: agreement with the reference (bit-exact count, max |difference| in LSB,
top-1 agreement, RMSE, MAE, cosine similarity, within a tolerance for references other than TFLM), scores
against the labels (device, reference, float model) and a confusion matrix, latency (instructions on an
emulated board; µs and cycles on a real one), memory (flash, static RAM, the tensor memory and the stack's
measured high-water mark), with `layers` the per-layer diff (layers.py) and with `profile` every layer's time in
one run (profile.py). report.py renders it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_fw import boards, metrics
from tinyml_fw.analyze import liveness_floor
from tinyml_fw.build import firmware_of
from tinyml_fw.data import Data, check_inputs, load_data, random_data
from tinyml_fw.errors import BadInput, DeviceError
from tinyml_fw.flash import device
from tinyml_fw.generate import Project
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink, VectorFailed
from tinyml_fw.modelspec import read_model
from tinyml_fw.quantize import score

SCHEMA_VERSION = 1  # of report.json: bumped when a field changes meaning or goes away


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
    # Agreement beyond bit-exactness (metrics.py), on the dequantized outputs.
    tolerance_lsb: int = 0  # outputs within this many LSB of the reference pass (0: bit-exact required)
    within_tolerance: int = 0
    rmse: float | None = None
    mae: float | None = None
    cosine_similarity: float | None = None
    error_histogram: dict[str, int] = field(default_factory=dict)  # |difference| in LSB → output elements
    confusion_matrix: list[list[int]] | None = None  # rows: label, columns: the device's top-1
    # Latency on a real board: from the device's timer (cycles exact when the timer is the core clock).
    us_per_inference: float | None = None
    cycles_per_inference: float | None = None
    cycles_estimated: bool = False  # cycles from a microsecond timer × the core clock
    # Memory: the tensor memory of the runtime (`arena_bytes`: AOT plan or TFLM arena), the stack the board
    # reserves and its high-water mark measured on the device after the run; RAM the model needs at run time
    # is the tensor memory plus the stack used.
    stack_bytes: int | None = None
    stack_used_bytes: int | None = None
    working_ram_bytes: int | None = None
    liveness_floor_bytes: int | None = None  # largest sum of live tensors with no in-place execution
    tflm_arena_bytes: int | None = None  # tflite-micro's smallest arena on this 64-bit host (with --report)
    layers: dict[str, Any] | None = None  # the per-layer diff (layers.LayerDiff), with --layers
    profile: dict[str, Any] | None = None  # every layer timed in one run (profile.Profile), with --profile

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _data(data: Any, random: int | None, shape: tuple[int, ...], limit: int | None,
          outputs: int | None = None) -> Data:
    if data is None:
        if random is None:
            raise BadInput("No test vectors: give --data FILE (.npz with 'x', optionally 'y') or --random N.")
        data = random_data(shape, random)
    elif not isinstance(data, Data):
        data = load_data(data)
    data = data.limit(limit)
    check_inputs(data, shape, outputs)
    return data


PROFILE_VECTORS = 5  # vectors --profile times by default (the first validated)
MAX_FAILED_IN_A_ROW = 3  # then the link is taken for lost and the run stops with a device error


def validate(project_dir: str | Path, data: Any = None, port: str | None = None, limit: int | None = None,
             random: int | None = None, float_score: float | None = None,
             progress: Callable[[int, int], None] | None = None, log=print,
             link_options: dict[str, Any] | None = None, tolerance_lsb: int = 0, layers: bool = False,
             layer_vectors: list[int] | None = None, tflm_arena: bool = False, profile: bool = False) -> Report:
    """Validates the project's firmware on its board (emulated unless `port` is given). Every vector is
    compared, or listed in `failed_vectors` with the reason the link could not complete it.
    `link_options` go to DeviceLink (timeout, retries, integrity). `layers`: the per-layer diff of
    `layer_vectors` (default: the first mismatching vector, or vector 0). `profile`: every layer timed on the
    device in one run of each of `layer_vectors` (default: the first PROFILE_VECTORS validated). `tflm_arena`:
    also measure tflite-micro's smallest arena (seconds, then cached)."""
    if tolerance_lsb < 0:
        raise BadInput("--tolerance-lsb must be 0 or more.")
    project = Project.load(project_dir)
    board = boards.get(project.board)
    model = project.model_path.read_bytes()
    reference = Reference(model)
    vectors = _data(data, random, tuple(int(d) for d in reference.input["shape"][1:]), limit,
                    int(np.prod(reference.output["shape"][1:])))
    xq = reference.quantize(vectors.x.reshape(len(vectors.x), -1))
    expected = reference.run_all(xq)
    sha = hashlib.sha256(model).hexdigest()
    if layers or profile:  # refused before the run, not after it
        if project.runtime != "aot":
            flag = "--layers" if layers else "--profile"
            raise BadInput(f"{flag} needs the AOT runtime (this project runs {project.runtime}, whose "
                           "interpreter runs the whole graph in one call). Generate with --runtime aot.")
        bad = [v for v in layer_vectors or () if not 0 <= v < len(xq)]
        if bad:
            raise BadInput(f"--layer-vectors {bad[0]} is not a vector of this run (0 … {len(xq) - 1}).")
    got, ticks, failed = [], [], []
    done: list[int] = []  # the vectors validated, in order
    diff = timed = None
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
        try:
            info = link.query_info()  # the stack's high-water mark after every vector ran
        except DeviceError as exc:
            info = dataclasses.replace(info, stack_used=0)
            log(f"warning: the stack's high-water mark is unknown: {exc}")
        if layers:
            from tinyml_fw.layers import layer_diff

            got_so_far = np.stack(got) if got else np.zeros((0, expected.shape[1]), expected.dtype)
            chosen = layer_vectors
            if not chosen:
                wrong = [done[j] for j in range(len(done)) if not np.array_equal(got_so_far[j], expected[done[j]])]
                chosen = [wrong[0] if wrong else 0]
            diff = layer_diff(link, project, model, xq, list(chosen), board, log=log)
        if profile and done:
            from tinyml_fw.profile import layer_profile

            run_ticks = dict(zip(done, ticks, strict=True))
            chosen = [v for v in layer_vectors or done[:PROFILE_VECTORS] if v in run_ticks]
            if not chosen:
                raise DeviceError("--profile: none of --layer-vectors completed its untimed run.")
            log(f"Profiling {len(chosen)} vector(s) layer by layer")
            timed = layer_profile(link, project, xq, chosen, [run_ticks[v] for v in chosen], board,
                                  1e6 / info.tick_hz if _true_time(board, info) else None)
        stats = link.stats
    expected = expected[done]
    y = None if vectors.y is None else vectors.y[done]
    got_arr = np.stack(got) if got else np.zeros((0, expected.shape[1]), expected.dtype)
    got_real, expected_real = reference.dequantize(got_arr), reference.dequantize(expected)
    agree = metrics.agreement(got_arr, expected, got_real, expected_real, tolerance_lsb)
    mismatches = [done[j] for j in agree.mismatches]
    metric, device_score = score(got_real, y) if got else (None, None)
    _, reference_score = score(expected_real, y) if got else (None, None)
    accuracy = metric == "accuracy"
    confusion = None
    if got and y is not None and metrics.is_classification(got_arr.shape[1], y):
        confusion = metrics.confusion_matrix(got_arr.argmax(1), y, max(got_arr.shape[1], int(np.max(y)) + 1))
    mean_ticks = float(np.mean(ticks)) if ticks else 0.0
    firmware = firmware_of(project) if port is None else None
    real = _true_time(board, info)
    # The floor analyze reports: every tensor in its own buffer (no in-place), what the plan is measured against.
    plan_floor = liveness_floor(read_model(project.model_path))
    tflm_bytes = (project.tflm or {}).get("arena_bytes") if project.runtime == "tflm" else None
    if tflm_arena and tflm_bytes is None:
        from tinyml_fw.arena import measured_arena

        log("Measuring tflite-micro's smallest arena (once per model)")
        tflm_bytes = measured_arena(project.model_path)
    stack_used = info.stack_used or None
    return Report(
        board=project.board, runtime=project.runtime, model_sha256=sha, vectors=len(xq),
        bit_exact=agree.bit_exact, max_abs_diff=agree.max_abs_diff,
        top1_agreement=agree.top1_agreement,
        metric=metric, score_device=device_score, score_reference=reference_score, score_float=float_score,
        accuracy_device=device_score if accuracy else None,
        accuracy_reference=reference_score if accuracy else None,
        float_accuracy=float_score if accuracy else None,
        instructions_per_inference=board.instructions(mean_ticks), ticks_per_inference=mean_ticks,
        flash_bytes=firmware.flash_bytes if firmware else info.flash_bytes,
        ram_bytes=firmware.ram_bytes if firmware else info.ram_bytes, arena_bytes=info.arena_bytes,
        first_mismatch=int(mismatches[0]) if mismatches else None,
        passed=agree.within_tolerance == len(done) and not failed,
        retries=stats.retries, resets=stats.resets, restarts=stats.restarts,
        frames_dropped=stats.frames_dropped, failed_vectors=failed,
        tolerance_lsb=tolerance_lsb, within_tolerance=agree.within_tolerance,
        rmse=agree.rmse if got else None, mae=agree.mae if got else None,
        cosine_similarity=agree.cosine_similarity if got else None, error_histogram=agree.error_histogram,
        confusion_matrix=confusion,
        us_per_inference=mean_ticks * 1e6 / info.tick_hz if real else None,
        cycles_per_inference=mean_ticks * board.f_cpu / info.tick_hz if real else None,
        cycles_estimated=real and info.tick_hz != board.f_cpu,
        stack_bytes=info.stack_bytes or None, stack_used_bytes=stack_used,
        working_ram_bytes=info.arena_bytes + stack_used if stack_used else None,
        liveness_floor_bytes=plan_floor, tflm_arena_bytes=tflm_bytes,
        layers=diff.to_dict() if diff else None, profile=timed.to_dict() if timed else None)


def _true_time(board: boards.Board, info) -> bool:
    """Device time is true time on a real board and on a cycle-accurate emulator (simavr), not under QEMU's
    -icount."""
    return (board.emulator is None or board.emulator.cycle_accurate) and info.tick_hz > 0
