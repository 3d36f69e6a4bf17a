"""What the elementwise, activation, shape and conversion lowerings share.

A lowering first *plans* a kernel call from the model alone (`Call`: kernel, params struct, field
values, operand tensors), then `emit` turns the plan into a step. The host tests build the same struct
with ctypes from the same plan, so what is tested is what is generated. `emit` also decides whether
the output may overwrite an input (in place) and places constant operands in flash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyml_fw.aot.lower import Arena, Lowering
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec

LOWERINGS: dict = {}  # helpers only

CTYPES = {"INT8": "int8_t", "INT16": "int16_t", "INT32": "int32_t", "FLOAT32": "float"}
SUFFIX = {"INT8": "s8", "INT16": "s16", "FLOAT32": "f32"}


class Refusal(ValueError):
    """Why an op cannot run on the AOT engine (becomes BadInput naming the layer)."""


@dataclass(frozen=True)
class Call:
    kernel: str
    params_type: str
    header: str
    fields: dict  # struct field (in struct order) → int | float | tuple of ints | dict (nested struct)
    args: tuple  # per operand: a tensor index, or a tuple of them (an array of pointers); output last
    ctypes: tuple  # C element type of each operand ("void" for byte-generic kernels)
    in_place: tuple = field(default=())  # positions in args whose tensor the output may overwrite


@dataclass(frozen=True)
class Operands(Arena):
    """Several operands passed as one `const void *const[]` argument (CONCATENATION's inputs)."""

    items: tuple = ()

    def expr(self, offsets: dict[int, int]) -> str:
        parts = [a.expr(offsets) if isinstance(a, Arena) else str(a) for a in self.items]
        return "(const void *const[]){" + ", ".join(parts) + "}"


def c_float(x: float) -> str:
    """A float32 value as an exact C literal (hexadecimal, so no decimal rounding)."""
    return float(np.float32(x)).hex() + "f"


def c_field(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {c_field(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "{" + ", ".join(str(int(v)) for v in value) + "}"
    if isinstance(value, (float, np.floating)):
        return c_float(value)
    return str(int(value))


def quantized(spec: ModelSpec, op: OpSpec, tensors: list[TensorSpec], dtypes=("INT8", "INT16")) -> str:
    """The one dtype all `tensors` share (one of dtypes), each with per-tensor quantization."""
    kinds = {t.dtype for t in tensors}
    if len(kinds) != 1 or next(iter(kinds)) not in dtypes:
        listed = ", ".join(f"'{t.name}' {t.dtype}" for t in tensors)
        want = " or ".join(dtypes)
        raise Refusal(f"needs {want} tensors of one type, got {listed}. Quantize the model to int8 "
                      "(or 16x8) first (`tinyml-fw quantize`).")
    for t in tensors:
        if not t.scales or not t.zero_points:
            raise Refusal(f"tensor '{t.name}' has no quantization parameters.")
        if len(t.scales) != 1:
            raise Refusal(f"tensor '{t.name}' is quantized per channel; {op.op} needs one scale.")
    return next(iter(kinds))


def known(lw: Lowering | None, spec: ModelSpec, t: int) -> np.ndarray | None:
    """A tensor's value when it is known at generate time: constant data or a folded result."""
    if lw is not None and t in lw.folded:
        return lw.folded[t]
    tensor = spec.tensors[t]
    return tensor.array() if tensor.is_constant else None


def _operand(lw: Lowering, t: int, ctype: str, out: bool):
    if out:
        return lw.writes(t, ctype)
    value = known(lw, lw.spec, t)
    if value is None:
        return lw.reads(t, ctype)
    name = f"{lw.name}_t{t}"
    if all(a.name != name for a in lw.arrays):
        lw.array(f"t{t}", ctype, value)
    return name


def may_overwrite(lw: Lowering, op: OpSpec, src: int, dst: int) -> bool:
    """True when dst may take src's storage: same size, src computed at run time, and neither src nor
    any tensor sharing its storage is read after this op or by the host."""
    spec = lw.spec
    s, d = spec.tensors[src], spec.tensors[dst]
    if s.nbytes != d.nbytes or s.is_constant or src in lw.folded:
        return False
    root = lw.storage(src)
    sharing = {t for t in range(len(spec.tensors)) if lw.storage(t) == root}
    if sharing & set(spec.outputs):
        return False
    if sum(1 for t in op.inputs if t == src) != len([t for t in op.inputs if t in sharing]):
        return False  # another operand of this op lives in the same bytes under another shape
    return not any(t in sharing for later in spec.ops[op.index + 1:] for t in later.inputs)


def emit(lw: Lowering, op: OpSpec, call: Call) -> None:
    """Adds the planned call as a step, in place when the plan allows it and the graph does too."""
    dst = call.args[-1]
    for pos in call.in_place:
        if may_overwrite(lw, op, call.args[pos], dst):
            lw.alias[dst] = call.args[pos]
            break
    args = []
    for i, (a, ctype) in enumerate(zip(call.args, call.ctypes)):
        out = i == len(call.args) - 1
        if isinstance(a, tuple):
            args.append(Operands(-1, "void", True, tuple(_operand(lw, t, ctype, False) for t in a)))
        else:
            args.append(_operand(lw, a, ctype, out))
    lw.add_step(op, call.kernel, call.params_type, call.header,
                {k: c_field(v) for k, v in call.fields.items()}, tuple(args))


def lowering(plan):
    """A LOWERINGS entry from a plan function (spec, op, lw) -> Call | None (None: nothing to run)."""
    def lower(lw: Lowering, op: OpSpec) -> None:
        try:
            call = plan(lw.spec, op, lw)
        except Refusal as exc:
            raise lw.refuse(op, str(exc)) from None
        except ValueError as exc:  # quant.py's range checks
            raise lw.refuse(op, f"{exc}.") from None
        if call is not None:
            emit(lw, op, call)
    lower.__doc__ = plan.__doc__
    return lower
