"""SOFTMAX, int8 in and out, and int16 in and out (16x8 models) (firmware/kernels/tfw_softmax.c)."""

import numpy as np

from tinyml_fw.aot import fixedpoint, quant
from tinyml_fw.aot.call import Call, Const, Refusal, lowering
from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import ModelSpec, OpSpec


def plan_softmax(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, y = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    if x.dtype == "INT16" or y.dtype == "INT16":
        return _plan_softmax_s16(op, x, y)
    need_int8(lw, op, [x, y])
    if y.scales[0] != 1 / 256 or y.zero_points[0] != -128:  # TFLM checks exact equality
        raise lw.refuse(op, "int8 SOFTMAX needs output scale 1/256 and zero point -128.")
    p = quant.softmax_params(x.scales[0], float(op.options.get("beta", 1.0)))
    depth = x.shape[-1]
    fields = {"input_multiplier": p["input_multiplier"], "input_left_shift": p["input_left_shift"],
              "diff_min": p["diff_min"], "outer_size": x.size // depth, "depth": depth,
              # The fast kernel's exponentials (read on the cores with the fast kernels only).
              "exp_table": Const("int32_t", np.array(fixedpoint.softmax_exp_table(
                  p["input_multiplier"], p["input_left_shift"], p["diff_min"]), np.int32), flash=True)
              if lw.fast_kernels else None}
    # On the boards with fast kernels the fast one, called directly: tfw_softmax_s8's checks hold here.
    kernel = "tfw_softmax_s8_fast" if lw.fast_kernels and 0 <= p["input_left_shift"] <= 31 \
        and p["input_multiplier"] >= 0 and p["diff_min"] <= 0 else "tfw_softmax_s8"
    return Call(kernel, "TfwSoftmaxParams", "tfw_softmax.h", fields, (op.inputs[0], op.outputs[0]),
                ("int8_t", "int8_t"))


def _plan_softmax_s16(op: OpSpec, x, y) -> Call:
    """TFLM's int16 SOFTMAX: zero points 0, output scale 1/32768 (within 0.1 %, compared in float32)."""
    if x.dtype != "INT16" or y.dtype != "INT16":
        raise Refusal(f"SOFTMAX from {x.dtype} to {y.dtype} is not supported: the AOT engine runs int8 → int8 "
                      "and int16 → int16.")
    for t in (x, y):
        if len(t.scales) != 1 or len(t.zero_points) != 1:
            raise Refusal(f"tensor '{t.name}' needs one scale and zero point.")
    if x.zero_points[0] != 0 or y.zero_points[0] != 0:
        raise Refusal("int16 SOFTMAX needs zero points of 0 (TFLM refuses others).")
    one = np.float32(1) / np.float32(32768)
    if abs(np.float32(y.scales[0]) - one) > np.float32(0.001) * one:
        raise Refusal(f"int16 SOFTMAX needs output scale 1/32768, got {float(y.scales[0])!r}.")
    depth = x.shape[-1] if x.shape else 1
    if depth > 65536:
        raise Refusal(f"int16 SOFTMAX over {depth} values: its int32 sum of exps overflows past 65,536.")
    p = quant.softmax_s16_params(x.scales[0], float(op.options.get("beta", 1.0)))
    exp_lut, recip_lut = quant.softmax_s16_tables()
    fields = {"input_multiplier": p["input_multiplier"], "input_shift": p["input_shift"],
              "outer_size": x.size // depth, "depth": depth,
              "exp_lut": Const("int16_t", np.array(exp_lut, np.int16), flash=True),
              "recip_lut": Const("int16_t", np.array(recip_lut, np.int16), flash=True)}
    return Call("tfw_softmax_s16", "TfwSoftmaxS16Params", "tfw_softmax.h", fields,
                (op.inputs[0], op.outputs[0]), ("int16_t", "int16_t"))


LOWERINGS = {"SOFTMAX": lowering(plan_softmax)}
