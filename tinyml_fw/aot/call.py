"""One kernel call as plain data, and what every op lowering shares.

A lowering first *plans* a kernel call from the model (`Call`: kernel, params struct, field values,
operand tensors), then `emit` turns the plan into a step of the generated model. The host tests build
the same struct with ctypes from the same plan, so what is tested is what is generated. `emit` also
decides whether the output may overwrite an input (in place) and places constant operands in flash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyml_fw.aot import quant
from tinyml_fw.aot.lower import Arena, Lowering, need_int8
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec

CTYPES = {"INT8": "int8_t", "INT16": "int16_t", "INT32": "int32_t", "FLOAT32": "float"}
SUFFIX = {"INT8": "s8", "INT16": "s16", "FLOAT32": "f32"}
BIAS_INT32 = 2  # schema TensorType code of INT32 (the quantizedBiasType option)


class Refusal(ValueError):
    """Why an op cannot run on the AOT engine (becomes BadInput naming the layer)."""


@dataclass(frozen=True)
class Const:
    """A constant array behind a pointer field, emitted as <model>_l<op>_<name or field>."""

    ctype: str  # int8_t, int16_t, int32_t, int64_t
    values: np.ndarray
    name: str | None = None
    flash: bool = False  # the kernel reads it through tfw_flash.h (TFW_FLASH: program memory on AVR)


@dataclass(frozen=True)
class Call:
    kernel: str  # TfwStatus kernel(const params_type *, operand, …, output)
    params_type: str
    header: str
    # struct field (in struct order) → int | float | tuple of ints | dict (nested struct) | Const | None (NULL)
    fields: dict
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


# ---- C literals ----------------------------------------------------------------------------------

def c_float(x: float) -> str:
    """A float32 value as an exact C literal (hexadecimal, so no decimal rounding)."""
    return float(np.float32(x)).hex() + "f"


def c_field(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {c_field(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "{" + ", ".join(str(int(v)) for v in value) + "}"
    if isinstance(value, (float, np.floating)):
        return c_float(float(value))
    return str(int(value))


# ---- checks the lowerings share --------------------------------------------------------------------

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


def activation_dtype(lw: Lowering, op: OpSpec, x: TensorSpec, y: TensorSpec, weights=(),
                     int16: bool = True) -> str:
    """The activations' type, INT8 or (16x8, when int16 is allowed) INT16: input and output share
    it, weights are int8 and every tensor carries quantization parameters. Anything else is
    refused the way need_int8 refuses it."""
    if int16 and x.dtype == "INT16":
        if y.dtype != "INT16":
            raise lw.refuse(op, f"input is INT16 but output '{y.name}' is {y.dtype}: 16x8 ops keep "
                                "int16 activations on both sides.")
        for t in (x, y):
            if not t.scales or not t.zero_points:
                raise lw.refuse(op, f"tensor '{t.name}' has no quantization parameters.")
        need_int8(lw, op, list(weights))
        return "INT16"
    need_int8(lw, op, [x, y, *weights])
    return "INT8"


def check_fused_activation(lw: Lowering, op: OpSpec) -> str:
    if op.activation not in quant.ACTIVATIONS:
        raise lw.refuse(op, f"fused activation {op.activation} is not supported "
                            f"(supported: {', '.join(quant.ACTIVATIONS)}).")
    return op.activation


def padding_name(lw: Lowering, op: OpSpec) -> str:
    code = op.options.get("padding", 0)
    names = {0: "SAME", 1: "VALID"}  # schema Padding
    if code not in names:
        raise lw.refuse(op, f"padding code {code} is neither SAME nor VALID.")
    return names[code]


def optional_input(lw: Lowering, op: OpSpec, k: int) -> TensorSpec | None:
    return lw.tensor(op.inputs[k]) if len(op.inputs) > k and op.inputs[k] >= 0 else None


def known(lw: Lowering | None, spec: ModelSpec, t: int) -> np.ndarray | None:
    """A tensor's value when it is known at generate time: constant data or a folded result."""
    if lw is not None and t in lw.folded:
        return lw.folded[t]
    tensor = spec.tensors[t]
    return tensor.array() if tensor.is_constant else None


# ---- emitting ------------------------------------------------------------------------------------

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
    """Adds the planned call as a step, in place when the plan allows it and the graph does too;
    constant arrays of the fields become named arrays (in field order)."""
    dst = call.args[-1]
    for pos in call.in_place:
        if may_overwrite(lw, op, call.args[pos], dst):
            lw.alias[dst] = call.args[pos]
            break
    fields: dict[str, object] = {}
    for key, value in call.fields.items():
        if isinstance(value, Const):
            fields[key] = lw.array(f"l{op.index}_{value.name or key}", value.ctype, value.values, value.flash)
        else:
            fields[key] = c_field(value)
    args = []
    for i, (a, ctype) in enumerate(zip(call.args, call.ctypes, strict=True)):
        out = i == len(call.args) - 1
        if isinstance(a, tuple):
            args.append(Operands(-1, "void", True, tuple(_operand(lw, t, ctype, False) for t in a)))
        else:
            args.append(_operand(lw, a, ctype, out))
    lw.add_step(op, call.kernel, call.params_type, call.header, fields, tuple(args))


def lowering(plan):
    """A LOWERINGS entry from a plan function (spec, op, lw) -> Call | None (None: nothing to run); the
    host tests find the plan again as `.plan`. A Refusal, and a ValueError of quant.py's range checks,
    become BadInput naming the layer: a model TFLM would reject never ends in a traceback."""
    def lower(lw: Lowering, op: OpSpec) -> None:
        try:
            call = plan(lw.spec, op, lw)
        except Refusal as exc:
            raise lw.refuse(op, str(exc)) from None
        except ValueError as exc:
            raise lw.refuse(op, f"{str(exc).rstrip('.')}.") from None
        if call is not None:
            emit(lw, op, call)
    lower.__doc__ = plan.__doc__
    lower.plan = plan
    return lower
