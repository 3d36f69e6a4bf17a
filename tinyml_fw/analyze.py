"""Stage 3, analyze: what a model is and what it costs (operators, shapes, parameters, MACs, memory),
and whether it fits a board, before anything is built."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinyml_fw import boards
from tinyml_fw.aot.lower import AotPlan, lower
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import ModelSpec, OpSpec, read_model

# Firmware besides the model (startup, serial protocol, C library pieces) and per kernel, measured on
# Cortex-M4 builds at -O2 and rounded up: the fit check must not pass a model that then fails to link.
RUNTIME_FLASH = 6 * 1024
KERNEL_FLASH = 1536
RUNTIME_RAM = 512  # receive buffer, parser, static state
STACK_RAM = 4096  # the board's reserved stack when its JSON names none
PARAMS_RAM = 64  # a kernel call's params struct, in RAM where constants are (AVR): 56 B for FULLY_CONNECTED
# A board's JSON may give its own measured runtime_flash and runtime_ram (tinyml section): the AVR boards do,
# whose Arduino core, 16-bit code and RAM-resident strings differ from the Cortex-M figures above.

_SIZE = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "INT64": 8, "FLOAT32": 4, "FLOAT16": 2, "BOOL": 1}


@dataclass(frozen=True)
class Layer:
    index: int
    op: str
    name: str
    input_shape: list[int]
    output_shape: list[int]
    params: int
    macs: int


@dataclass(frozen=True)
class Fit:
    board: str
    flash_needed: int
    flash_available: int
    ram_needed: int
    ram_available: int

    @property
    def fits(self) -> bool:
        return self.flash_needed <= self.flash_available and self.ram_needed <= self.ram_available

    def refusal(self) -> str | None:
        """The one-line reason a model does not fit, with the numbers and a hint; None when it fits."""
        over = []
        if self.flash_needed > self.flash_available:
            over.append(f"flash {self.flash_needed:,} B of {self.flash_available:,} B "
                        f"(over by {self.flash_needed - self.flash_available:,} B)")
        if self.ram_needed > self.ram_available:
            over.append(f"RAM {self.ram_needed:,} B of {self.ram_available:,} B "
                        f"(over by {self.ram_needed - self.ram_available:,} B)")
        if not over:
            return None
        return (f"The model does not fit {self.board}: it needs {' and '.join(over)}. Use a smaller model "
                "(fewer or narrower layers) or a board with more memory.")


@dataclass(frozen=True)
class Analysis:
    model: str
    sha256: str
    size_bytes: int
    op_counts: dict[str, int]
    layers: list[Layer]
    total_macs: int
    params: int
    weight_bytes: int
    liveness_floor: int
    aot_supported: bool
    aot_refusal: str | None
    aot_arena_bytes: int | None
    tflm_arena_bytes: int | None  # smallest working arena in the 64-bit host interpreter
    tflm_arena_note: str
    fit: dict | None  # the AOT firmware on the board
    tflm_fit: dict | None = None  # the TFLM firmware on the board (when the board has the TFLM runtime)
    tflm_arena_planned: int | None = None  # what a generated TFLM project allocates: measured + margin
    tflm_ops: list[str] | None = None
    tflm_refusal: str | None = None
    default_runtime: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _dims(spec: ModelSpec, t: int) -> list[int]:
    return list(spec.tensors[t].shape)


def op_macs(spec: ModelSpec, op: OpSpec) -> int:
    """Multiply-accumulates of the layers that do them; 0 for data movement and elementwise ops."""
    out = spec.tensors[op.outputs[0]]
    if op.op == "FULLY_CONNECTED":
        return out.size * spec.tensors[op.inputs[1]].shape[-1]
    if op.op == "CONV_2D":
        _, kh, kw, cin = spec.tensors[op.inputs[1]].shape
        return out.size * kh * kw * cin
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = spec.tensors[op.inputs[1]].shape
        return out.size * kh * kw
    return 0


def liveness_floor(spec: ModelSpec) -> int:
    """The largest sum of tensors alive at once when every op writes a fresh buffer (no in-place)."""
    first, last = {}, {}
    for t in spec.inputs:
        first[t] = -1
    for op in spec.ops:
        for t in op.inputs:
            if t >= 0 and not spec.tensors[t].is_constant:
                last[t] = op.index
        for t in op.outputs:
            first.setdefault(t, op.index)
    for t in spec.outputs:
        last[t] = len(spec.ops)
    steps = range(-1, len(spec.ops) + 1)
    return max((sum(spec.tensors[t].nbytes for t in first if first[t] <= s <= last.get(t, first[t]))
                for s in steps), default=0)


def fit(plan: AotPlan, board: boards.Board) -> Fit:
    """Flash and RAM the AOT firmware will need on `board`, estimated before building."""
    def nbytes(a) -> int:
        return len(a.values) * _SIZE.get({"int8_t": "INT8", "int16_t": "INT16", "int32_t": "INT32",
                                          "int64_t": "INT64", "float": "FLOAT32"}.get(a.ctype, "INT32"), 4)

    weights = sum(nbytes(a) for a in plan.arrays)
    flash = (board.runtime_flash or RUNTIME_FLASH) + KERNEL_FLASH * len(plan.headers) + weights
    ram = (board.runtime_ram or RUNTIME_RAM) + plan.arena_bytes + (board.stack_bytes or STACK_RAM)
    if board.rodata_in_ram:  # AVR: constants are copied into RAM at start-up, unless in TFW_FLASH (PROGMEM)
        ram += sum(nbytes(a) for a in plan.arrays if not a.flash) + PARAMS_RAM * len(plan.steps)
    return Fit(board.id, flash, board.flash_bytes, ram, board.ram_bytes)


def _as_tflite(model: Any, folder: Path) -> Path:
    """A float .tflite of a Keras model or SavedModel (analysis needs no data); a .tflite as it is."""
    if isinstance(model, (str, Path)) and Path(model).suffix == ".tflite":
        return Path(model)
    from tinyml_fw.quantize import float_tflite

    path = folder / "float.tflite"
    path.write_bytes(float_tflite(model))
    return path


def analyze(model: Any, board: str | None = None, measure_arena: bool = True) -> Analysis:
    """Analyzes a .tflite, Keras model file, SavedModel folder or live Keras model."""
    target = boards.get(board) if board else None
    with tempfile.TemporaryDirectory() as tmp:
        path = _as_tflite(model, Path(tmp))
        spec = read_model(path)
        tflm_arena = None
        if measure_arena:
            from tinyml_fw.arena import measured_arena

            tflm_arena = measured_arena(path)
        tflm_info = _tflm_estimate(spec, path, target, measure_arena) if target else {}
    layers = []
    for op in spec.ops:
        consts = [spec.tensors[i] for i in op.inputs if i >= 0 and spec.tensors[i].is_constant]
        first_in = next((i for i in op.inputs if i >= 0 and not spec.tensors[i].is_constant), None)
        layers.append(Layer(op.index, op.op, spec.tensors[op.outputs[0]].name,
                            _dims(spec, first_in) if first_in is not None else [], _dims(spec, op.outputs[0]),
                            sum(t.size for t in consts), op_macs(spec, op)))
    constants = [t for t in spec.tensors if t.is_constant]
    try:
        plan = lower(spec, Path(str(model)).stem if isinstance(model, (str, Path)) else "model")
        refusal, arena = None, plan.arena_bytes
        fitted = asdict(fit(plan, target)) if target else None
    except BadInput as exc:
        refusal, arena, fitted = str(exc), None, None
    return Analysis(
        str(model) if isinstance(model, (str, Path)) else "<keras model>", spec.sha256, spec.size,
        dict(Counter(op.op for op in spec.ops)), layers, sum(layer.macs for layer in layers),
        sum(t.size for t in constants), sum(t.nbytes for t in constants), liveness_floor(spec),
        refusal is None, refusal, arena, tflm_arena,
        "64-bit host figure from the tflite-micro interpreter: an upper bound for 32-bit targets", fitted,
        **tflm_info)


def _tflm_estimate(spec: ModelSpec, path: Path, board: boards.Board, measure_arena: bool) -> dict:
    """The TFLM runtime's side of the fit on `board`: operators, planned arena, flash and RAM."""
    info: dict = {"default_runtime": board.default_runtime}
    if "tflm" not in board.runtimes:
        info["tflm_refusal"] = f"{board.id} has no TFLM runtime ({board.tflm.note or 'AOT only'})"
        return info
    from tinyml_fw import tflm

    try:
        info["tflm_ops"] = [op for op, _ in tflm.resolver_ops(spec)]
        if measure_arena:
            plan = tflm.plan(spec, path, "model")
            info["tflm_arena_planned"] = plan.arena_bytes
            info["tflm_fit"] = asdict(tflm.fit(plan, board))
            info["tflm_refusal"] = tflm.static_arena_refusal(plan, board)
    except BadInput as exc:
        info["tflm_refusal"] = str(exc)
    return info
