"""One kernel call as plain data, shared by the op lowerings and the host tests.

An op lowering's prepare function returns a KernelCall: the C function, its params struct and the
value of every struct field (integers, fixed-size integer arrays, constant arrays behind pointers,
or NULL). `emit` turns it into a step of the generated model; the host tests build the same struct
with ctypes from the same values, so what is tested is what is generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import OpSpec, TensorSpec

CTYPES = {"INT8": "int8_t", "INT16": "int16_t"}


@dataclass(frozen=True)
class Const:
    """A constant array behind a pointer field."""

    ctype: str  # int8_t, int32_t, int64_t
    values: np.ndarray


@dataclass(frozen=True)
class KernelCall:
    kernel: str  # TfwStatus kernel(const params_type *, const T *input, T *output)
    params_type: str
    header: str
    fields: dict  # struct field (in struct order) → int | tuple[int, ...] | Const | None (NULL)
    ctype: str = "int8_t"  # element type of the input and output tensors


def emit(lw: Lowering, op: OpSpec, call: KernelCall) -> None:
    """Adds the call as a step: constant arrays become named arrays, None becomes NULL."""
    fields: dict[str, object] = {}
    for key, value in call.fields.items():
        if value is None:
            fields[key] = "NULL"
        elif isinstance(value, Const):
            fields[key] = lw.array(f"l{op.index}_{key}", value.ctype, value.values)
        elif isinstance(value, tuple):
            fields[key] = "{" + ", ".join(str(int(v)) for v in value) + "}"
        else:
            fields[key] = int(value)
    args = (lw.reads(op.inputs[0], call.ctype), lw.writes(op.outputs[0], call.ctype))
    lw.add_step(op, call.kernel, call.params_type, call.header, fields, args)


def optional_input(lw: Lowering, op: OpSpec, k: int) -> TensorSpec | None:
    return lw.tensor(op.inputs[k]) if len(op.inputs) > k and op.inputs[k] >= 0 else None


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


def need_int8_only(lw: Lowering, op: OpSpec, tensors: list[TensorSpec]) -> None:
    """need_int8, with a clearer refusal for the int16 tensors of a 16x8 model."""
    if any(t.dtype == "INT16" for t in tensors):
        raise lw.refuse(op, f"int16 {op.op} is not supported: the AOT engine runs 16x8 models' CONV_2D, "
                            "DEPTHWISE_CONV_2D, FULLY_CONNECTED and PAD; convert this model to int8.")
    need_int8(lw, op, tensors)


def check_fused_activation(lw: Lowering, op: OpSpec) -> str:
    from tinyml_fw.aot.quant import ACTIVATIONS

    if op.activation not in ACTIVATIONS:
        raise lw.refuse(op, f"fused activation {op.activation} is not supported "
                            f"(supported: {', '.join(ACTIVATIONS)}).")
    return op.activation


def padding_name(lw: Lowering, op: OpSpec) -> str:
    code = op.options.get("padding", 0)
    names = {0: "SAME", 1: "VALID"}  # schema Padding
    if code not in names:
        raise lw.refuse(op, f"padding code {code} is neither SAME nor VALID.")
    return names[code]
