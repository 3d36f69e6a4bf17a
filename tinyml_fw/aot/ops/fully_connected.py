"""FULLY_CONNECTED with per-tensor or per-channel weights: int8, and 16x8 (int16 activations, int8
weights, int32 or int64 bias) (firmware/kernels/tfw_fully_connected.c)."""

from tinyml_fw.aot import quant
from tinyml_fw.aot.kernel_call import Const, KernelCall, activation_dtype, emit
from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import OpSpec

INT32 = 2  # schema TensorType code (quantizedBiasType)


def prepare_fully_connected_s16(lw: Lowering, op: OpSpec) -> KernelCall:
    """The 16x8 path: TFLM sums in int64 (int64 bias) unless the bias, or without one the
    quantizedBiasType option, is int32."""
    x, w, y = (lw.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    activation_dtype(lw, op, x, y, [w])
    if not w.is_constant:
        raise lw.refuse(op, "non-constant weights are not supported by the AOT engine.")
    output_depth, accum_depth = w.shape
    if x.size % accum_depth:
        raise lw.refuse(op, f"an input of {x.size} values does not divide into rows of {accum_depth}.")
    bias = lw.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if bias is not None and (not bias.is_constant or bias.dtype not in ("INT32", "INT64")):
        raise lw.refuse(op, f"bias '{bias.name}' must be a constant INT32 or INT64 tensor.")
    wide = bias.dtype == "INT64" if bias is not None else op.options.get("quantizedBiasType", 0) != INT32
    p = quant.fully_connected_params(x.scales[0], x.zero_points[0], w.scales, y.scales[0], y.zero_points[0],
                                     op.activation)
    p["filter_offset"] = -int(w.zero_points[0]) if len(w.scales) == 1 else 0
    p["act_min"], p["act_max"] = quant.activation_range(op.activation, y.scales[0], y.zero_points[0],
                                                        *quant.INT16_RANGE)
    shifts = p["per_channel_shift"] or [p["output_shift"]]
    if wide and max(shifts) > 7:
        raise lw.refuse(op, f"requantization shift {max(shifts)} above 7 (TFLM's int64 accumulator).")
    pcm, pcs = p["per_channel_multiplier"], p["per_channel_shift"]
    fields = {
        "input_offset": p["input_offset"], "filter_offset": p["filter_offset"],
        "output_offset": p["output_offset"], "act_min": p["act_min"], "act_max": p["act_max"],
        "accum_depth": accum_depth, "output_depth": output_depth, "batches": x.size // accum_depth,
        "weights": Const("int8_t", w.array()),
        "bias": Const("int32_t", bias.array()) if bias is not None and not wide else None,
        "output_multiplier": p["output_multiplier"], "output_shift": p["output_shift"],
        "per_channel_multiplier": None if pcm is None else Const("int32_t", pcm),
        "per_channel_shift": None if pcs is None else Const("int32_t", pcs),
        "bias64": Const("int64_t", bias.array()) if bias is not None and wide else None,
        "wide_accum": int(wide),
    }
    return KernelCall("tfw_fully_connected_s16", "TfwFullyConnectedParams", "tfw_fully_connected.h",
                      fields, "int16_t")


def lower_fully_connected(lw: Lowering, op: OpSpec) -> None:
    x, w, y = (lw.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if x.dtype == "INT16":
        emit(lw, op, prepare_fully_connected_s16(lw, op))
        return
    need_int8(lw, op, [x, w, y])
    if not w.is_constant:
        raise lw.refuse(op, "non-constant weights are not supported by the AOT engine.")
    output_depth, accum_depth = w.shape
    if x.size % accum_depth:
        raise lw.refuse(op, f"an input of {x.size} values does not divide into rows of {accum_depth}.")
    p = quant.fully_connected_params(x.scales[0], x.zero_points[0], w.scales, y.scales[0], y.zero_points[0],
                                     op.activation)
    fields: dict[str, object] = {
        "input_offset": p["input_offset"], "filter_offset": p["filter_offset"],
        "output_offset": p["output_offset"], "act_min": p["act_min"], "act_max": p["act_max"],
        "accum_depth": accum_depth, "output_depth": output_depth, "batches": x.size // accum_depth,
        "weights": lw.array(f"l{op.index}_weights", "int8_t", w.array()),
        "bias": "NULL", "output_multiplier": p["output_multiplier"], "output_shift": p["output_shift"],
        "per_channel_multiplier": "NULL", "per_channel_shift": "NULL",
    }
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        fields["bias"] = lw.array(f"l{op.index}_bias", "int32_t", lw.tensor(op.inputs[2]).array())
    if p.get("per_channel_multiplier") is not None:
        fields["per_channel_multiplier"] = lw.array(f"l{op.index}_mult", "int32_t", p["per_channel_multiplier"])
        fields["per_channel_shift"] = lw.array(f"l{op.index}_shift", "int32_t", p["per_channel_shift"])
    lw.add_step(op, "tfw_fully_connected_s8", "TfwFullyConnectedParams", "tfw_fully_connected.h", fields)


LOWERINGS = {"FULLY_CONNECTED": lower_fully_connected}
