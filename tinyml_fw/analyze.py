"""Stage 3, analyze: what a model is and costs (operators, shapes, parameters, MACs, AOT memory)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from tinyml_fw.aot.lower import lower
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import ModelSpec, OpSpec, read_model


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
class Analysis:
    model: str
    sha256: str
    size_bytes: int
    op_counts: dict[str, int]
    layers: list[Layer]
    total_macs: int
    weight_bytes: int
    aot_supported: bool
    aot_refusal: str | None
    aot_arena_bytes: int | None
    liveness_floor: int | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _macs(spec: ModelSpec, op: OpSpec) -> int:
    if op.op == "FULLY_CONNECTED":
        w = spec.tensors[op.inputs[1]]
        out = spec.tensors[op.outputs[0]]
        return out.size * w.shape[-1]
    return 0


def analyze(model_path: str | Path) -> Analysis:
    spec = read_model(model_path)
    layers = []
    for op in spec.ops:
        consts = [spec.tensors[i] for i in op.inputs if i >= 0 and spec.tensors[i].is_constant]
        first_in = next((spec.tensors[i] for i in op.inputs if i >= 0 and not spec.tensors[i].is_constant), None)
        out = spec.tensors[op.outputs[0]]
        layers.append(Layer(op.index, op.op, out.name, list(first_in.shape) if first_in else [],
                            list(out.shape), sum(t.size for t in consts), _macs(spec, op)))
    weight_bytes = sum(t.nbytes for t in spec.tensors if t.is_constant)
    try:
        plan = lower(spec, Path(model_path).stem)
        refusal, arena, floor = None, plan.arena_bytes, plan.liveness_floor
    except BadInput as exc:
        refusal, arena, floor = str(exc), None, None
    return Analysis(str(model_path), spec.sha256, spec.size, dict(Counter(op.op for op in spec.ops)), layers,
                    sum(layer.macs for layer in layers), weight_bytes, refusal is None, refusal, arena, floor)
