"""MEAN, int8 and int16 (16x8 models), over any contiguous run of axes (the converter's
GlobalAveragePooling2D is MEAN over axes 1 and 2), keep_dims either way (firmware/kernels/tfw_mean.c)."""

from __future__ import annotations

import math

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import CTYPES, SUFFIX, Call, activation_dtype, lowering
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.modelspec import ModelSpec, OpSpec


def plan_mean(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, axis, y = lw.tensor(op.inputs[0]), lw.tensor(op.inputs[1]), lw.tensor(op.outputs[0])
    dtype = activation_dtype(lw, op, x, y)
    if not axis.is_constant or axis.dtype != "INT32":
        raise lw.refuse(op, f"axis '{axis.name}' must be a constant INT32 tensor.")
    rank = len(x.shape)
    axes = set()
    for a in axis.array().reshape(-1).tolist():
        if not -rank <= a < rank:
            raise lw.refuse(op, f"axis {a} is out of range for a {rank}-D input.")
        axes.add(a % rank)
    # Axes of size 1 change nothing; the others must be one contiguous run.
    run = sorted(a for a in axes if x.shape[a] > 1)
    if run and run != list(range(run[0], run[-1] + 1)):
        raise lw.refuse(op, f"MEAN over axes {sorted(axes)} of {list(x.shape)}: the AOT engine reduces "
                            "one contiguous run of axes only.")
    first, last = (run[0], run[-1]) if run else (rank, rank - 1)
    outer = math.prod(x.shape[:first])
    reduced = math.prod(x.shape[a] for a in axes)
    inner = math.prod(x.shape[last + 1:])
    if outer * inner != y.size:
        raise lw.refuse(op, f"output {list(y.shape)} does not match MEAN of {list(x.shape)} over {sorted(axes)}.")
    try:
        multiplier, shift = quant.mean_params(x.scales[0], y.scales[0], reduced)
    except ValueError as exc:
        raise lw.refuse(op, f"cannot requantize: {exc}.") from None
    fields = {"outer": outer, "reduced": reduced, "inner": inner,
              "input_zero_point": x.zero_points[0], "output_zero_point": y.zero_points[0],
              "multiplier": multiplier, "shift": shift}
    return Call(f"tfw_mean_{SUFFIX[dtype]}", "TfwMeanParams", "tfw_mean.h", fields, (op.inputs[0], op.outputs[0]),
                (CTYPES[dtype], CTYPES[dtype]))


LOWERINGS = {"MEAN": lowering(plan_mean)}
