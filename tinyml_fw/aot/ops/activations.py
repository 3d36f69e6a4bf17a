"""RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH (int8 and int16) and HARD_SWISH (int8; TFLM has no int16
HARD_SWISH) (firmware/kernels/tfw_activations.c). All run in place when the input is not read later."""

from __future__ import annotations

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import CTYPES, SUFFIX, Call, Refusal, lowering, quantized
from tinyml_fw.modelspec import ModelSpec, OpSpec


def plan_activation(spec: ModelSpec, op: OpSpec, lw=None) -> Call:
    """The Prepare math of TFLM's activation kernels (quant.*_params)."""
    x, y = spec.tensors[op.inputs[0]], spec.tensors[op.outputs[0]]
    dtype = quantized(spec, op, [x, y])
    int16 = dtype == "INT16"
    if x.size != y.size:
        raise Refusal(f"input has {x.size} values, output {y.size}.")
    si, zi, so, zo = x.scales[0], x.zero_points[0], y.scales[0], y.zero_points[0]
    if int16 and op.op == "RELU" and (zi or zo):
        raise Refusal("int16 RELU needs zero points of 0 (TFLM refuses others).")
    name = op.op.lower()
    if op.op == "RELU":
        fields, ptype = quant.relu_params(si, zi, so, zo, int16), "TfwReluParams"
    elif op.op == "RELU6":
        fields, ptype = quant.relu6_params(si, zi, int16), "TfwRelu6Params"
    elif op.op == "LEAKY_RELU":
        alpha = float(op.options.get("alpha", 0.2))
        fields, ptype = quant.leaky_relu_params(si, zi, so, zo, alpha), "TfwLeakyReluParams"
    elif op.op in ("LOGISTIC", "TANH"):
        if int16:
            fields = quant.lut16_params(si, zi, so, zo, tanh=op.op == "TANH")
            ptype = "TfwTanhS16Params" if op.op == "TANH" else "TfwLogisticS16Params"
        else:
            if op.op == "LOGISTIC" and zo != -128:
                raise Refusal("int8 LOGISTIC needs output zero point -128 (TFLM refuses others).")
            fields = quant.logistic_tanh_s8_params(si, zi)
            ptype = "TfwTanhParams" if op.op == "TANH" else "TfwLogisticParams"
    elif op.op == "HARD_SWISH":
        if int16:
            raise Refusal("TFLM has no int16 HARD_SWISH (nor does the 16x8 converter): use int8 for this "
                          "layer or another activation.")
        fields, ptype = quant.hard_swish_params(si, zi, so, zo), "TfwHardSwishParams"
    else:
        raise Refusal(f"{op.op} is not an activation")
    fields["size"] = x.size
    ctype = CTYPES[dtype]
    return Call(f"tfw_{name}_{SUFFIX[dtype]}", ptype, "tfw_activations.h", fields,
                (op.inputs[0], op.outputs[0]), (ctype, ctype), (0,))


LOWERINGS = {name: lowering(plan_activation)
             for name in ("RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH")}
