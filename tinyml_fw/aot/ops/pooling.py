"""AVERAGE_POOL_2D and MAX_POOL_2D, int8 NHWC, any window, stride and padding
(firmware/kernels/tfw_pooling.c)."""

from __future__ import annotations

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import Call, check_fused_activation, lowering, need_int8_only
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.aot.ops.conv import window
from tinyml_fw.modelspec import ModelSpec, OpSpec


def _empty_window(size: int, out: int, stride: int, pad: int, taps: int) -> bool:
    return any(o * stride - pad >= size or o * stride - pad + taps <= 0 for o in range(out))


def plan_pool(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, y = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    need_int8_only(lw, op, [x, y])
    # TFLM's Prepare: pooling never requantizes, so input and output must share quantization.
    if abs(float(x.scales[0]) - float(y.scales[0])) > 1e-6 or x.zero_points[0] != y.zero_points[0]:
        raise lw.refuse(op, "input and output quantization differ; TFLM pools need them equal.")
    fh, fw = int(op.options.get("filterHeight", 1)), int(op.options.get("filterWidth", 1))
    geo = window(lw, op, x, y, (fh, fw), (1, 1))
    if y.shape[3] != x.shape[3]:
        raise lw.refuse(op, f"input depth {x.shape[3]} and output depth {y.shape[3]} differ.")
    if op.op == "AVERAGE_POOL_2D" and (
            _empty_window(x.shape[1], geo["output_height"], geo["stride_height"], geo["pad_top"], fh)
            or _empty_window(x.shape[2], geo["output_width"], geo["stride_width"], geo["pad_left"], fw)):
        raise lw.refuse(op, "a pooling window lies wholly in the padding (TFLM fails on it).")
    act_min, act_max = quant.activation_range(check_fused_activation(lw, op), y.scales[0], y.zero_points[0])
    fields = {
        "act_min": act_min, "act_max": act_max, "batches": geo["batches"],
        "input_height": geo["input_height"], "input_width": geo["input_width"], "depth": x.shape[3],
        "filter_height": fh, "filter_width": fw,
        "output_height": geo["output_height"], "output_width": geo["output_width"],
        "stride_height": geo["stride_height"], "stride_width": geo["stride_width"],
        "pad_top": geo["pad_top"], "pad_left": geo["pad_left"],
    }
    kernel = "tfw_average_pool_s8" if op.op == "AVERAGE_POOL_2D" else "tfw_max_pool_s8"
    return Call(kernel, "TfwPoolParams", "tfw_pooling.h", fields, (op.inputs[0], op.outputs[0]),
                ("int8_t", "int8_t"))


LOWERINGS = dict.fromkeys(("AVERAGE_POOL_2D", "MAX_POOL_2D"), lowering(plan_pool))
