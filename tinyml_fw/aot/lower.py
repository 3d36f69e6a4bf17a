"""Lowers a ModelSpec to an AotPlan: kernel calls with precomputed parameters, weights and a memory plan.

Every number the generated C needs is computed here or in the op lowerings of `aot/ops/` (TFLM's Prepare,
done at generate time); the templates only loop over the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    flash: bool = False  # its kernel reads it through tfw_flash.h: TFW_FLASH (program memory on AVR)


@dataclass(frozen=True)
class Step:
    kernel: str  # C function: kernel(&params, operand, operand, …)
    params_type: str
    params_name: str
    fields: tuple[tuple[str, str], ...]  # (struct field, C expression)
    args: tuple[str, ...]  # C expressions of the operands after the params, in the kernel's order
    comment: str
    # The layer this step is (per-layer inspection, docs/protocol.md PROBE): its op, the op's output tensor,
    # and where that output sits in the arena right after the step.
    op_index: int = -1
    output_tensor: int = -1
    output_offset: int = 0
    output_bytes: int = 0


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


@dataclass(frozen=True)
class Arena:
    """An operand in the arena: a tensor's storage, placed once the memory plan exists."""

    storage: int
    ctype: str
    const: bool

    def expr(self, offsets: dict[int, int]) -> str:
        qual = "const " if self.const else ""
        return f"({qual}{self.ctype} *)(g_arena + {offsets[self.storage]})"


class Lowering:
    """What op lowerings build on: the model, named constant arrays, steps, and storage aliases."""

    def __init__(self, spec: ModelSpec, name: str, fast_kernels: bool = True) -> None:
        self.spec = spec
        self.name = name
        # Emit the fast kernels' generate-time data (folded biases, tables): only read on the cores that
        # compile the fast kernels (the board's tinyml.fast_kernels), flash wasted elsewhere.
        self.fast_kernels = fast_kernels
        self.arrays: list[CArray] = []
        self.steps: list[tuple[Step, tuple]] = []
        self.headers: list[str] = []
        self.alias: dict[int, int] = {}  # tensor → the tensor whose storage it shares
        self.folded: dict[int, np.ndarray] = {}  # tensor → its value, computed at generate time (no storage)

    def storage(self, t: int) -> int:
        while t in self.alias:
            t = self.alias[t]
        return t

    def tensor(self, t: int) -> TensorSpec:
        return self.spec.tensors[t]

    def array(self, suffix: str, ctype: str, values, flash: bool = False) -> str:
        """Adds a `static const` array named <model>_<suffix>; returns its name. `flash`: the kernel reads
        it through tfw_flash.h, so it may live in program memory (PROGMEM on AVR)."""
        name = f"{self.name}_{suffix}"
        self.arrays.append(CArray(name, ctype, tuple(int(v) for v in np.asarray(values).reshape(-1)), flash))
        return name

    def reads(self, t: int, ctype: str = "int8_t") -> Arena:
        return Arena(self.storage(t), ctype, True)

    def writes(self, t: int, ctype: str = "int8_t") -> Arena:
        return Arena(self.storage(t), ctype, False)

    def add_step(self, op: OpSpec, kernel: str, params_type: str, header: str, fields: dict[str, object],
                 args: tuple | None = None) -> None:
        """One kernel call; args default to (reads(first input), writes(first output))."""
        if header not in self.headers:
            self.headers.append(header)
        if args is None:
            args = (self.reads(op.inputs[0]), self.writes(op.outputs[0]))
        step = Step(kernel, params_type, f"{self.name}_l{op.index}", tuple((k, str(v)) for k, v in fields.items()),
                    (), c_comment(self.spec.layer_name(op)), op_index=op.index)
        self.steps.append((step, tuple(args)))

    def refuse(self, op: OpSpec, why: str) -> BadInput:
        return BadInput(f"{self.spec.layer_name(op)}: {why}")


def need_int8(lw: Lowering, op: OpSpec, tensors: list[TensorSpec]) -> None:
    for t in tensors:
        if t.dtype != "INT8":
            raise BadInput(f"{lw.spec.layer_name(op)} has a {t.dtype} tensor '{t.name}': the AOT engine runs "
                           "int8 models. Quantize the model to int8 first (`tinyml-fw quantize`).")
        if len(t.zero_points) == 0 or len(t.scales) == 0:
            raise BadInput(f"{lw.spec.layer_name(op)}: tensor '{t.name}' has no quantization parameters.")


def _plan_memory(lw: Lowering) -> tuple[dict[int, int], int, int, list[Buffer]]:
    spec = lw.spec
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in spec.inputs:
        first[lw.storage(t)] = -1
    for op in spec.ops:
        for t in op.inputs:
            if t >= 0 and not spec.tensors[t].is_constant and t not in lw.folded:
                last[lw.storage(t)] = max(last.get(lw.storage(t), -1), op.index)
        for t in op.outputs:
            if t not in lw.folded:
                first.setdefault(lw.storage(t), op.index)
    for t in spec.outputs:
        last[lw.storage(t)] = HOST
    buffers = [Buffer(k, spec.tensors[k].nbytes, first[k], last.get(k, first[k])) for k in sorted(first)]
    offsets, total = plan_offsets(buffers)
    return offsets, total, liveness_floor(buffers), buffers


def lower(spec: ModelSpec, name: str, fast_kernels: bool = True) -> AotPlan:
    """Lowers every op, or refuses the model naming the first op (and layer) it cannot run. fast_kernels:
    emit the data the fast (DSP) kernels read (the board's tinyml.fast_kernels)."""
    from tinyml_fw.aot.ops import LOWERINGS

    if len(spec.inputs) != 1 or len(spec.outputs) != 1:
        raise BadInput(f"The model has {len(spec.inputs)} inputs and {len(spec.outputs)} outputs; "
                       "the AOT engine runs models with one of each.")
    for t in (spec.tensors[spec.inputs[0]], spec.tensors[spec.outputs[0]]):
        if any(d < 1 for d in t.shape):
            raise BadInput(f"Tensor '{t.name}' has a dynamic shape {list(t.shape)}: convert with fixed shapes "
                           "(batch size 1).")
    lw = Lowering(spec, c_identifier(name), fast_kernels)
    for op in spec.ops:
        lowering = LOWERINGS.get(op.op)
        if lowering is None:
            raise BadInput(f"Operator {op.op} in {spec.layer_name(op)} is not supported by the AOT engine "
                           f"(supported: {', '.join(sorted(LOWERINGS))}).")
        lowering(lw, op)
    offsets, total, floor, buffers = _plan_memory(lw)
    rows = tuple(TensorPlan(b.key, spec.tensors[b.key].name, offsets[b.key], b.size, b.first, b.last)
                 for b in buffers)
    steps = []
    for s, args in lw.steps:
        out = spec.ops[s.op_index].outputs[0]
        steps.append(Step(s.kernel, s.params_type, s.params_name, s.fields,
                          tuple(a.expr(offsets) if isinstance(a, Arena) else str(a) for a in args), s.comment,
                          s.op_index, out, offsets[lw.storage(out)], spec.tensors[out].nbytes))
    x, y = lw.storage(spec.inputs[0]), lw.storage(spec.outputs[0])
    return AotPlan(lw.name, spec.sha256, total, floor, offsets[x], spec.tensors[x].nbytes,
                   offsets[y], spec.tensors[y].nbytes, tuple(lw.headers), tuple(lw.arrays), tuple(steps), rows)
