"""ADD, SUB, MUL on int8 or int16 (16x8) tensors with TFLite broadcasting and fused activations
(firmware/kernels/tfw_elementwise.c). The output overwrites a full-shape input when nothing reads that
input afterwards."""

from __future__ import annotations

import numpy as np

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import CTYPES, SUFFIX, Call, Refusal, known, lowering, quantized
from tinyml_fw.modelspec import ModelSpec, OpSpec

MAX_DIMS = 6  # TFW_BROADCAST_MAX_DIMS


def broadcast_loops(out_shape, shape1, shape2) -> dict:
    """The TfwBroadcast loop nest of TFLM's BroadcastBinaryOpSimple: walk the output from the
    innermost dimension, give a broadcast input stride 0, and fuse a dimension into the loop inside it
    when every operand's stride continues that loop's (extent-1 dimensions always fuse)."""
    dims = max(len(out_shape), len(shape1), len(shape2), 1)
    ext = [(1,) * (dims - len(s)) + tuple(s) for s in (out_shape, shape1, shape2)]
    for i in range(dims):
        o, a, b = ext[0][i], ext[1][i], ext[2][i]
        if a not in (1, o) or b not in (1, o) or o != max(a, b):
            raise Refusal(f"shapes {list(shape1)} and {list(shape2)} do not broadcast to {list(out_shape)}.")
    loops: list[list[int]] = []  # innermost first: [extent, stride1, stride2]
    acc = [1, 1, 1]  # running element strides of output, input1, input2
    for i in range(dims - 1, -1, -1):
        o, a, b = ext[0][i], ext[1][i], ext[2][i]
        s1 = 0 if (a == 1 and o != 1) else acc[1]
        s2 = 0 if (b == 1 and o != 1) else acc[2]

        def fuses(stride, expected, inner, o=o):
            return o == 1 or (stride == 0 if inner == 0 else stride == expected)

        if loops and fuses(s1, acc[1], loops[-1][1]) and fuses(s2, acc[2], loops[-1][2]):
            loops[-1][0] *= o
        else:
            loops.append([o, s1, s2])
        acc = [acc[0] * o, acc[1] * a, acc[2] * b]
    loops.reverse()
    if len(loops) > MAX_DIMS:
        raise Refusal(f"broadcasting {list(shape1)} with {list(shape2)} needs {len(loops)} loops "
                      f"(the kernel walks at most {MAX_DIMS}).")
    pad = [0] * (MAX_DIMS - len(loops))
    return {"dims": len(loops), "shape": tuple([lp[0] for lp in loops] + pad),
            "stride1": tuple([lp[1] for lp in loops] + pad), "stride2": tuple([lp[2] for lp in loops] + pad)}


def _full_shape(shape, out_shape) -> bool:
    n = max(len(shape), len(out_shape))
    return (1,) * (n - len(shape)) + tuple(shape) == (1,) * (n - len(out_shape)) + tuple(out_shape)


def _fold_int32(lw, op: OpSpec, y) -> bool:
    """Shape arithmetic (int32 values known at generate time) is evaluated here, not run."""
    values = [v for v in (known(lw, lw.spec, t) for t in op.inputs[:2]) if v is not None]
    if y.dtype != "INT32" or len(values) != 2 or op.activation != "NONE":
        return False
    a, b = (v.astype(np.int64) for v in values)
    result = {"ADD": a + b, "SUB": a - b, "MUL": a * b}[op.op]
    lw.folded[op.outputs[0]] = np.broadcast_to(result, y.shape).astype(np.int32)  # wraps like int32
    return True


def plan_binary(spec: ModelSpec, op: OpSpec, lw=None) -> Call | None:
    """ADD / SUB / MUL: the Prepare math of TFLM (quant.add_params, quant.mul_params)."""
    a, b, y = (spec.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if lw is not None and _fold_int32(lw, op, y):
        return None
    dtype = quantized(spec, op, [a, b, y])
    int16 = dtype == "INT16"
    args = (a.scales[0], a.zero_points[0], b.scales[0], b.zero_points[0], y.scales[0], y.zero_points[0],
            op.activation)
    if op.op == "MUL":
        if int16 and any(t.zero_points[0] != 0 for t in (a, b, y)):
            raise Refusal("int16 MUL needs zero points of 0 (TFLM refuses others).")
        fields, kernel, ptype = quant.mul_params(*args, int16=int16), "mul", "TfwMulParams"
    else:
        fields = quant.add_params(*args, int16=int16)
        kernel, ptype = op.op.lower(), "TfwAddParams"
    fields["bcast"] = broadcast_loops(y.shape, a.shape, b.shape)
    in_place = tuple(k for k, t in enumerate((a, b)) if _full_shape(t.shape, y.shape))
    ctype = CTYPES[dtype]
    return Call(f"tfw_{kernel}_{SUFFIX[dtype]}", ptype, "tfw_elementwise.h", fields,
                (op.inputs[0], op.inputs[1], op.outputs[0]), (ctype,) * 3, in_place)


LOWERINGS = {"ADD": lowering(plan_binary), "SUB": lowering(plan_binary), "MUL": lowering(plan_binary)}
