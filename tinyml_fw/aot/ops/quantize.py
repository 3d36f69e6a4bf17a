"""QUANTIZE (float32 → int8/int16, and requantization between int8 and int16) and DEQUANTIZE
(int8/int16 → float32) (firmware/kernels/tfw_quantize.c): what a float-in, float-out model has at its
ends, and what the 16x8 converter puts between int8 and int16 layers."""

from __future__ import annotations

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import CTYPES, SUFFIX, Call, Refusal, lowering, quantized
from tinyml_fw.modelspec import ModelSpec, OpSpec


def _float32(t, role: str) -> None:
    if t.dtype != "FLOAT32":
        raise Refusal(f"{role} '{t.name}' is {t.dtype}: the AOT engine converts between float32, int8 "
                      "and int16 only.")


def plan_quantize(spec: ModelSpec, op: OpSpec, lw=None) -> Call:
    """QUANTIZE: AffineQuantize from float32, or Requantize (quant.requantize_params) between integers."""
    x, y = spec.tensors[op.inputs[0]], spec.tensors[op.outputs[0]]
    out = quantized(spec, op, [y])
    args = (op.inputs[0], op.outputs[0])
    if x.dtype == "FLOAT32":
        fields = {"scale": y.scales[0], "zero_point": y.zero_points[0], "size": x.size}
        return Call(f"tfw_quantize_f32_{SUFFIX[out]}", "TfwQuantizeParams", "tfw_quantize.h", fields, args,
                    ("float", CTYPES[out]))
    if x.dtype not in SUFFIX:
        _float32(x, "input")
    inp = quantized(spec, op, [x])
    fields = quant.requantize_params(x.scales[0], x.zero_points[0], y.scales[0], y.zero_points[0])
    fields["size"] = x.size
    return Call(f"tfw_requantize_{SUFFIX[inp]}_{SUFFIX[out]}", "TfwRequantizeParams", "tfw_quantize.h",
                fields, args, (CTYPES[inp], CTYPES[out]), (0,) if inp == out else ())


def plan_dequantize(spec: ModelSpec, op: OpSpec, lw=None) -> Call:
    """DEQUANTIZE: scale * (x - zero_point) to float32."""
    x, y = spec.tensors[op.inputs[0]], spec.tensors[op.outputs[0]]
    if x.is_constant:
        raise Refusal("dequantizes constant weights (float16 or hybrid quantization): convert the model "
                      "with full-integer quantization instead.")
    inp = quantized(spec, op, [x])
    _float32(y, "output")
    fields = {"scale": x.scales[0], "zero_point": x.zero_points[0], "size": x.size}
    return Call(f"tfw_dequantize_{SUFFIX[inp]}_f32", "TfwDequantizeParams", "tfw_quantize.h", fields,
                (op.inputs[0], op.outputs[0]), (CTYPES[inp], "float"))


LOWERINGS = {"QUANTIZE": lowering(plan_quantize), "DEQUANTIZE": lowering(plan_dequantize)}
