"""FULLY_CONNECTED with per-tensor or per-channel weights: int8, and 16x8 (int16 activations, int8
weights, int32 or int64 bias) (firmware/kernels/tfw_fully_connected.c)."""

import numpy as np

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import BIAS_INT32, Call, Const, activation_dtype, lowering, optional_input
from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import ModelSpec, OpSpec


def fused_bias(weights: np.ndarray, bias: np.ndarray | None, input_offset: int) -> np.ndarray:
    """bias[o] + input_offset * sum of weights[o] (every axis but the first), modulo 2^32 as int32: the
    fast kernels' accumulator start, which leaves raw int8 products in their inner loop. Exact, since
    the kernels sum modulo 2^32 too."""
    w = np.asarray(weights, dtype=np.int64).reshape(len(weights), -1)
    b = np.zeros(len(w), np.int64) if bias is None else np.asarray(bias, dtype=np.int64).reshape(-1)
    total = (b + int(input_offset) * w.sum(axis=1)) & 0xFFFFFFFF
    return total.astype(np.uint32).view(np.int32)


def plan_fully_connected(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    """int8, or 16x8: TFLM sums in int64 (int64 bias) unless the bias, or without one the
    quantizedBiasType option, is int32. The s8 kernel reads no bias64 or wide_accum, so its struct
    leaves them out."""
    x, w, y = (lw.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    int16 = x.dtype == "INT16"
    if int16:
        activation_dtype(lw, op, x, y, [w])
    else:
        need_int8(lw, op, [x, w, y])
    if not w.is_constant:
        raise lw.refuse(op, "non-constant weights are not supported by the AOT engine.")
    output_depth, accum_depth = w.shape
    if x.size % accum_depth:
        raise lw.refuse(op, f"an input of {x.size} values does not divide into rows of {accum_depth}.")
    bias = optional_input(lw, op, 2)
    wide = False
    if int16:
        if bias is not None and (not bias.is_constant or bias.dtype not in ("INT32", "INT64")):
            raise lw.refuse(op, f"bias '{bias.name}' must be a constant INT32 or INT64 tensor.")
        wide = bias.dtype == "INT64" if bias is not None else op.options.get("quantizedBiasType", 0) != BIAS_INT32
    p = quant.fully_connected_params(x.scales[0], x.zero_points[0], w.scales, y.scales[0], y.zero_points[0],
                                     op.activation)
    if int16:
        p["filter_offset"] = -int(w.zero_points[0]) if len(w.scales) == 1 else 0
        p["act_min"], p["act_max"] = quant.activation_range(op.activation, y.scales[0], y.zero_points[0],
                                                            *quant.INT16_RANGE)
        shifts = p["per_channel_shift"] or [p["output_shift"]]
        if wide and max(shifts) > 7:
            raise lw.refuse(op, f"requantization shift {max(shifts)} above 7 (TFLM's int64 accumulator).")
    pcm, pcs = p["per_channel_multiplier"], p["per_channel_shift"]
    mult, shift = (None, None) if int16 else ("mult", "shift")  # the int8 arrays' names in generated code
    fields = {
        "input_offset": p["input_offset"], "filter_offset": p["filter_offset"],
        "output_offset": p["output_offset"], "act_min": p["act_min"], "act_max": p["act_max"],
        "accum_depth": accum_depth, "output_depth": output_depth, "batches": x.size // accum_depth,
        "weights": Const("int8_t", w.array(), flash=True),
        "bias": Const("int32_t", bias.array(), flash=True) if bias is not None and not wide else None,
        "output_multiplier": p["output_multiplier"], "output_shift": p["output_shift"],
        "per_channel_multiplier": None if pcm is None else Const("int32_t", pcm, mult, flash=True),
        "per_channel_shift": None if pcs is None else Const("int32_t", pcs, shift, flash=True),
    }
    if not int16:
        # The fast kernel's folded offsets (read on DSP cores only; 4 bytes of flash per output).
        fields["fused_bias"] = (Const("int32_t", fused_bias(w.array(), None if bias is None else bias.array(),
                                                            p["input_offset"]), flash=True)
                                if p["filter_offset"] == 0 and lw.fast_kernels else None)
        return Call("tfw_fully_connected_s8", "TfwFullyConnectedParams", "tfw_fully_connected.h", fields,
                    (op.inputs[0], op.outputs[0]), ("int8_t", "int8_t"))
    fields["bias64"] = Const("int64_t", bias.array(), flash=True) if bias is not None and wide else None
    fields["wide_accum"] = int(wide)
    fields["fused_bias"] = None
    return Call("tfw_fully_connected_s16", "TfwFullyConnectedParams", "tfw_fully_connected.h", fields,
                (op.inputs[0], op.outputs[0]), ("int16_t", "int16_t"))


LOWERINGS = {"FULLY_CONNECTED": lowering(plan_fully_connected)}
