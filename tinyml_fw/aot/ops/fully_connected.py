"""FULLY_CONNECTED, int8 with per-tensor or per-channel weights (firmware/kernels/tfw_fully_connected.c)."""

from tinyml_fw.aot import quant
from tinyml_fw.aot.lower import Lowering, need_int8
from tinyml_fw.modelspec import OpSpec


def lower_fully_connected(lw: Lowering, op: OpSpec) -> None:
    x, w, y = (lw.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
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
