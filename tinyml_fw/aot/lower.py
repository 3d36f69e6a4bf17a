"""Lowers a ModelSpec to an AotPlan: kernel calls with precomputed parameters, weights and a memory plan.

Every number the generated C needs is computed here (TFLM's Prepare, done at generate time); the
templates only loop over the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyml_fw.aot import quant
from tinyml_fw.aot.memory import Buffer, liveness_floor, plan_offsets
from tinyml_fw.cnames import c_comment, c_identifier
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec

HOST = 1 << 30  # the lifetime end of the model's output: the host reads it after the run


@dataclass(frozen=True)
class CArray:
    name: str
    ctype: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Step:
    kernel: str  # C function, e.g. tfw_fully_connected_s8
    params_type: str
    params_name: str
    fields: tuple[tuple[str, str], ...]  # (struct field, C expression)
    input_offset: int  # byte offsets in the arena (storage ids until the memory plan is made)
    output_offset: int
    comment: str


@dataclass(frozen=True)
class TensorPlan:
    index: int
    name: str
    offset: int
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class AotPlan:
    name: str
    sha256: str
    arena_bytes: int
    liveness_floor: int
    input_offset: int
    input_bytes: int
    output_offset: int
    output_bytes: int
    headers: tuple[str, ...]
    arrays: tuple[CArray, ...]
    steps: tuple[Step, ...]
    tensors: tuple[TensorPlan, ...] = field(default=())


class _Lowering:
    def __init__(self, spec: ModelSpec, name: str) -> None:
        self.spec = spec
        self.name = name
        self.arrays: list[CArray] = []
        self.steps: list[Step] = []
        self.headers: list[str] = []
        self.alias: dict[int, int] = {}  # tensor → the tensor whose storage it shares

    def storage(self, t: int) -> int:
        while t in self.alias:
            t = self.alias[t]
        return t

    def array(self, suffix: str, ctype: str, values) -> str:
        name = f"{self.name}_{suffix}"
        self.arrays.append(CArray(name, ctype, tuple(int(v) for v in np.asarray(values).reshape(-1))))
        return name

    def add_step(self, op: OpSpec, kernel: str, params_type: str, header: str,
                 fields: dict[str, object]) -> None:
        if header not in self.headers:
            self.headers.append(header)
        self.steps.append(Step(
            kernel, params_type, f"{self.name}_l{op.index}",
            tuple((k, str(v)) for k, v in fields.items()),
            self.storage(op.inputs[0]), self.storage(op.outputs[0]),
            c_comment(self.spec.layer_name(op))))


def _need_int8(spec: ModelSpec, op: OpSpec, tensors: list[TensorSpec]) -> None:
    for t in tensors:
        if t.dtype != "INT8":
            raise BadInput(f"{spec.layer_name(op)} has a {t.dtype} tensor '{t.name}': the AOT engine runs "
                           "int8 models. Quantize the model to int8 first (`tinyml-fw quantize`).")
        if len(t.zero_points) == 0 or len(t.scales) == 0:
            raise BadInput(f"{spec.layer_name(op)}: tensor '{t.name}' has no quantization parameters.")


def _lower_reshape(lw: _Lowering, op: OpSpec) -> None:
    src, dst = lw.spec.tensors[op.inputs[0]], lw.spec.tensors[op.outputs[0]]
    if src.nbytes != dst.nbytes:
        raise BadInput(f"{lw.spec.layer_name(op)} changes the tensor size: not a reshape.")
    lw.alias[op.outputs[0]] = op.inputs[0]  # same bytes: no code, no copy


def _lower_fully_connected(lw: _Lowering, op: OpSpec) -> None:
    spec = lw.spec
    x, w, y = (spec.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    _need_int8(spec, op, [x, w, y])
    if not w.is_constant:
        raise BadInput(f"{spec.layer_name(op)} has non-constant weights: not supported by the AOT engine.")
    output_depth, accum_depth = w.shape
    if x.size % accum_depth:
        raise BadInput(f"{spec.layer_name(op)}: input of {x.size} values does not divide into rows of "
                       f"{accum_depth}.")
    p = quant.fully_connected_params(x.scales[0], x.zero_points[0], w.scales, y.scales[0],
                                     y.zero_points[0], op.activation)
    fields: dict[str, object] = {
        "input_offset": p["input_offset"], "filter_offset": p["filter_offset"],
        "output_offset": p["output_offset"],
        "act_min": p["act_min"], "act_max": p["act_max"],
        "accum_depth": accum_depth, "output_depth": output_depth, "batches": x.size // accum_depth,
        "weights": lw.array(f"l{op.index}_weights", "int8_t", w.array()),
        "bias": "NULL", "output_multiplier": p["output_multiplier"], "output_shift": p["output_shift"],
        "per_channel_multiplier": "NULL", "per_channel_shift": "NULL",
    }
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        fields["bias"] = lw.array(f"l{op.index}_bias", "int32_t", spec.tensors[op.inputs[2]].array())
    if p.get("per_channel_multiplier") is not None:
        fields["per_channel_multiplier"] = lw.array(f"l{op.index}_mult", "int32_t", p["per_channel_multiplier"])
        fields["per_channel_shift"] = lw.array(f"l{op.index}_shift", "int32_t", p["per_channel_shift"])
    lw.add_step(op, "tfw_fully_connected_s8", "TfwFullyConnectedParams", "tfw_fully_connected.h", fields)


def _lower_softmax(lw: _Lowering, op: OpSpec) -> None:
    spec = lw.spec
    x, y = spec.tensors[op.inputs[0]], spec.tensors[op.outputs[0]]
    _need_int8(spec, op, [x, y])
    if y.scales[0] != 1 / 256 or y.zero_points[0] != -128:  # TFLM checks exact equality
        raise BadInput(f"{spec.layer_name(op)}: int8 SOFTMAX needs output scale 1/256 and zero point -128.")
    p = quant.softmax_params(x.scales[0], float(op.options.get("beta", 1.0)))
    depth = x.shape[-1]
    lw.add_step(op, "tfw_softmax_s8", "TfwSoftmaxParams", "tfw_softmax.h", {
        "input_multiplier": p["input_multiplier"], "input_left_shift": p["input_left_shift"],
        "diff_min": p["diff_min"], "outer_size": x.size // depth, "depth": depth,
    })


LOWERINGS = {
    "RESHAPE": _lower_reshape,
    "FULLY_CONNECTED": _lower_fully_connected,
    "SOFTMAX": _lower_softmax,
}


def _plan_memory(lw: _Lowering) -> tuple[dict[int, int], int, int, list[Buffer]]:
    spec = lw.spec
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in spec.inputs:
        first[lw.storage(t)] = -1
    for op in spec.ops:
        for t in op.inputs:
            if t >= 0 and not spec.tensors[t].is_constant:
                last[lw.storage(t)] = max(last.get(lw.storage(t), -1), op.index)
        for t in op.outputs:
            first.setdefault(lw.storage(t), op.index)
    for t in spec.outputs:
        last[lw.storage(t)] = HOST
    buffers = [Buffer(k, spec.tensors[k].nbytes, first[k], last.get(k, first[k])) for k in sorted(first)]
    offsets, total = plan_offsets(buffers)
    return offsets, total, liveness_floor(buffers), buffers


def lower(spec: ModelSpec, name: str) -> AotPlan:
    """Lowers every op, or refuses the model naming the first op (and layer) it cannot run."""
    if len(spec.inputs) != 1 or len(spec.outputs) != 1:
        raise BadInput(f"The model has {len(spec.inputs)} inputs and {len(spec.outputs)} outputs; "
                       "the AOT engine runs models with one of each.")
    for t in (spec.tensors[spec.inputs[0]], spec.tensors[spec.outputs[0]]):
        if any(d < 1 for d in t.shape):
            raise BadInput(f"Tensor '{t.name}' has a dynamic shape {list(t.shape)}: convert with fixed shapes "
                           "(batch size 1).")
    lw = _Lowering(spec, c_identifier(name))
    for op in spec.ops:
        lowering = LOWERINGS.get(op.op)
        if lowering is None:
            raise BadInput(f"Operator {op.op} in {spec.layer_name(op)} is not supported by the AOT engine "
                           f"(supported: {', '.join(sorted(LOWERINGS))}).")
        lowering(lw, op)
    offsets, total, floor, buffers = _plan_memory(lw)
    rows = tuple(TensorPlan(b.key, spec.tensors[b.key].name, offsets[b.key], b.size, b.first, b.last)
                 for b in buffers)
    steps = tuple(Step(s.kernel, s.params_type, s.params_name, s.fields, offsets[s.input_offset],
                       offsets[s.output_offset], s.comment) for s in lw.steps)
    x, y = lw.storage(spec.inputs[0]), lw.storage(spec.outputs[0])
    return AotPlan(lw.name, spec.sha256, total, floor, offsets[x], spec.tensors[x].nbytes,
                   offsets[y], spec.tensors[y].nbytes, tuple(lw.headers), tuple(lw.arrays), steps, rows)

