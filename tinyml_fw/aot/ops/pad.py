"""PAD and PADV2 (constant padding), int8 and int16, up to 5 dimensions (firmware/kernels/tfw_pad.c)."""

from __future__ import annotations

import numpy as np

from tinyml_fw.aot.call import CTYPES, SUFFIX, Call, lowering, optional_input
from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import ModelSpec, OpSpec

DIMS = 5  # TFW_PAD_DIMS, TFLM's PadKernelMaxDimensionCount


def plan_pad(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, paddings, y = lw.tensor(op.inputs[0]), lw.tensor(op.inputs[1]), lw.tensor(op.outputs[0])
    if x.dtype not in ("INT8", "INT16") or y.dtype != x.dtype:
        need_int8(lw, op, [x, y])  # refuses with the usual message
        raise lw.refuse(op, f"input {x.dtype} and output {y.dtype} differ.")
    if not paddings.is_constant or paddings.dtype != "INT32":
        raise lw.refuse(op, f"paddings '{paddings.name}' must be a constant INT32 tensor, as TFLM reads it.")
    rank = len(x.shape)
    pads = paddings.array().reshape(-1)
    if rank > DIMS or len(y.shape) != rank or pads.size != 2 * rank:
        raise lw.refuse(op, f"pads a {rank}-D tensor with {pads.size // 2} padding rows; TFLM pads up to "
                            f"{DIMS} dimensions, one row each.")
    before, after = pads[0::2].astype(int), pads[1::2].astype(int)
    if (before < 0).any() or (after < 0).any():
        raise lw.refuse(op, "negative paddings are not supported.")
    if tuple(np.asarray(x.shape) + before + after) != tuple(y.shape):
        raise lw.refuse(op, f"input {list(x.shape)} padded by {pads.tolist()} is not the output {list(y.shape)}.")
    constant = optional_input(lw, op, 2)
    if constant is not None:
        if not constant.is_constant or constant.dtype != x.dtype or constant.size != 1:
            raise lw.refuse(op, f"constant_values '{constant.name}' must be one constant {x.dtype} value.")
        if x.dtype == "INT8" and (tuple(constant.zero_points[:1]) != tuple(y.zero_points[:1])
                                  or float(constant.scales[0]) != float(y.scales[0])):
            raise lw.refuse(op, "constant_values and output quantization differ (TFLM requires them equal).")
        pad_value = int(constant.array().reshape(-1)[0])
    elif x.dtype == "INT8":
        pad_value = int(y.zero_points[0]) if y.zero_points else 0  # TFLM pads int8 with the zero point
    else:
        pad_value = 0  # TFLM pads int16 with 0
    lead = DIMS - rank
    fields = {
        "input_dims": (1,) * lead + tuple(int(d) for d in x.shape),
        "before": (0,) * lead + tuple(int(v) for v in before),
        "after": (0,) * lead + tuple(int(v) for v in after),
        "pad_value": pad_value,
    }
    ctype = CTYPES[x.dtype]
    return Call(f"tfw_pad_{SUFFIX[x.dtype]}", "TfwPadParams", "tfw_pad.h", fields, (op.inputs[0], op.outputs[0]),
                (ctype, ctype))


LOWERINGS = dict.fromkeys(("PAD", "PADV2"), lowering(plan_pad))
