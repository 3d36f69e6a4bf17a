"""AVERAGE_POOL_2D and MAX_POOL_2D, int8 and int16 (16x8 models) NHWC, any window, stride and padding
(firmware/kernels/tfw_pooling.c)."""

from __future__ import annotations

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import CTYPES, SUFFIX, Call, activation_dtype, check_fused_activation, lowering
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.aot.ops.conv import window
from tinyml_fw.modelspec import ModelSpec, OpSpec


def _empty_window(size: int, out: int, stride: int, pad: int, taps: int) -> bool:
    return any(o * stride - pad >= size or o * stride - pad + taps <= 0 for o in range(out))


def plan_pool(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, y = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    dtype = activation_dtype(lw, op, x, y)
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
    qmin, qmax = quant.INT16_RANGE if dtype == "INT16" else (-128, 127)
    act_min, act_max = quant.activation_range(check_fused_activation(lw, op), y.scales[0], y.zero_points[0],
                                              qmin, qmax)
    fields = {
        "act_min": act_min, "act_max": act_max, "batches": geo["batches"],
        "input_height": geo["input_height"], "input_width": geo["input_width"], "depth": x.shape[3],
        "filter_height": fh, "filter_width": fw,
        "output_height": geo["output_height"], "output_width": geo["output_width"],
        "stride_height": geo["stride_height"], "stride_width": geo["stride_width"],
        "pad_top": geo["pad_top"], "pad_left": geo["pad_left"],
    }
    kernel = ("tfw_average_pool_" if op.op == "AVERAGE_POOL_2D" else "tfw_max_pool_") + SUFFIX[dtype]
    return Call(kernel, "TfwPoolParams", "tfw_pooling.h", fields, (op.inputs[0], op.outputs[0]),
                (CTYPES[dtype], CTYPES[dtype]))


LOWERINGS = dict.fromkeys(("AVERAGE_POOL_2D", "MAX_POOL_2D"), lowering(plan_pool))
