"""CONCATENATION along any axis of up to 10 int8 or int16 tensors (firmware/kernels/tfw_concat.c).
TFLM needs every int8 input quantized exactly like the output (and int16 zero points of 0), so the
op is a copy; constant inputs are read from flash."""

from __future__ import annotations

import math

import numpy as np

from tinyml_fw.aot.call import CTYPES, Call, Refusal, known, lowering, quantized
from tinyml_fw.modelspec import ModelSpec, OpSpec

MAX_INPUTS = 10  # TFW_CONCAT_MAX_INPUTS, TFLM's kMaxInputNum


def plan_concatenation(spec: ModelSpec, op: OpSpec, lw=None) -> Call | None:
    """The copy plan: per outer index, each input's contiguous chunk in turn (folded when every input
    is known at generate time, as in shape arithmetic)."""
    xs = [spec.tensors[i] for i in op.inputs]
    y = spec.tensors[op.outputs[0]]
    values = [v for v in (known(lw, spec, t) for t in op.inputs) if v is not None] if lw is not None else []
    if lw is not None and len(values) == len(op.inputs) and op.activation == "NONE":
        axis = int(op.options.get("axis", 0))
        lw.folded[op.outputs[0]] = np.concatenate(values, axis=axis).reshape(y.shape)
        return None
    dtype = quantized(spec, op, [*xs, y])
    if not 1 <= len(xs) <= MAX_INPUTS:
        raise Refusal(f"concatenates {len(xs)} tensors; TFLM takes at most {MAX_INPUTS}.")
    if op.activation != "NONE":
        raise Refusal(f"fused activation {op.activation} on CONCATENATION (TFLM refuses it).")
    for x in xs:
        if dtype == "INT8" and (x.scales[0] != y.scales[0] or x.zero_points[0] != y.zero_points[0]):
            raise Refusal(f"input '{x.name}' is quantized differently from the output (TFLM needs the same "
                          "scale and zero point on every int8 input).")
        if dtype == "INT16" and (x.zero_points[0] != 0 or y.zero_points[0] != 0):
            raise Refusal("int16 CONCATENATION needs zero points of 0.")
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank or any(len(x.shape) != rank for x in xs):
        raise Refusal(f"axis {op.options.get('axis')} does not fit tensors of rank {rank}.")
    for x in xs:
        if any(x.shape[d] != y.shape[d] for d in range(rank) if d != axis):
            raise Refusal(f"input shape {list(x.shape)} does not concatenate into {list(y.shape)}.")
    if sum(x.shape[axis] for x in xs) != y.shape[axis]:
        raise Refusal(f"inputs along axis {axis} do not add up to {y.shape[axis]}.")
    item = 2 if dtype == "INT16" else 1
    chunks = [math.prod(x.shape[axis:]) * item for x in xs]
    fields = {"inputs": len(xs), "outer": math.prod(y.shape[:axis]),
              "chunk_bytes": tuple(chunks + [0] * (MAX_INPUTS - len(chunks)))}
    return Call("tfw_concatenation", "TfwConcatParams", "tfw_concat.h", fields,
                (tuple(op.inputs), op.outputs[0]), (CTYPES[dtype], CTYPES[dtype]))


LOWERINGS = {"CONCATENATION": lowering(plan_concatenation)}
