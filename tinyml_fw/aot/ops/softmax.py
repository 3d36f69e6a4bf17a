"""SOFTMAX, int8 in and out (firmware/kernels/tfw_softmax.c)."""

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import Call, lowering
from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import ModelSpec, OpSpec


def plan_softmax(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, y = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    need_int8(lw, op, [x, y])
    if y.scales[0] != 1 / 256 or y.zero_points[0] != -128:  # TFLM checks exact equality
        raise lw.refuse(op, "int8 SOFTMAX needs output scale 1/256 and zero point -128.")
    p = quant.softmax_params(x.scales[0], float(op.options.get("beta", 1.0)))
    depth = x.shape[-1]
    fields = {"input_multiplier": p["input_multiplier"], "input_left_shift": p["input_left_shift"],
              "diff_min": p["diff_min"], "outer_size": x.size // depth, "depth": depth}
    return Call("tfw_softmax_s8", "TfwSoftmaxParams", "tfw_softmax.h", fields, (op.inputs[0], op.outputs[0]),
                ("int8_t", "int8_t"))


LOWERINGS = {"SOFTMAX": lowering(plan_softmax)}
