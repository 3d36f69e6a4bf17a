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


def interleave_weights(weights: np.ndarray) -> np.ndarray:
    """int8 [rows][depth] → int32 [blocks][words]: the fast kernel's weight words (TfwFcFastParams.blocks),
    zero-padded to blocks of four rows. Per block, per step of four inputs d..d+3, per row the int16 pairs
    (d, d+2) and (d+1, d+3), low halfword first; a last step of one or two inputs is one pair (d, d+1) per row."""
    w = np.asarray(weights, dtype=np.int16).reshape(len(weights), -1)
    rows, depth = w.shape
    n, steps, tail = -(-rows // 4), depth // 4, depth % 4
    padded = np.zeros((n * 4, (steps + (tail > 0)) * 4), np.int16)
    padded[:rows, :depth] = w
    blocks = padded.reshape(n, 4, -1, 4)[..., [0, 2, 1, 3]].transpose(0, 2, 1, 3)  # block, step, row, pair
    if tail in (1, 2):  # the short last step: (d, d+1) per row
        blocks = np.concatenate([blocks[:, :steps].reshape(n, -1),
                                 padded.reshape(n, 4, -1)[:, :, 4 * steps:4 * steps + 2].reshape(n, -1)], axis=1)
    halves = np.ascontiguousarray(blocks).astype("<i2").reshape(n, -1)
    return halves.view("<i4").astype(np.int32)


REQUANT_WORDS = 5  # TFW_REQUANT_WORDS


def requant_table(multipliers, shifts, output_offset: int, act_min: int, act_max: int) -> tuple[int, np.ndarray]:
    """(requant_mode, [outputs][REQUANT_WORDS] int32) of the fast kernels (tfw_dot_dsp.h: tfw_requant_next).
    Every shift a right shift r = -shift in [1, 23] and every multiplier >= 0: rows {INT32_MIN, low and high
    word of 2^30 + 2^(30 + r) + output_offset 2^(31 + r), multiplier, r - 1}, mode TFW_REQUANT_RIGHT_SAT (3)
    when the clamp is all of int8, TFW_REQUANT_RIGHT_LO (2) when act_max is 127, else TFW_REQUANT_RIGHT (1);
    otherwise mode TFW_REQUANT_ANY (0), rows {multiplier, shift, 0, 0, 0}."""
    if all(-23 <= s <= -1 for s in shifts) and all(m >= 0 for m in multipliers):
        rows = []
        for m, s in zip(multipliers, shifts, strict=True):
            start = (1 << 30) + (1 << (30 - s)) + (int(output_offset) << (31 - s))
            rows.append((1 << 31, start & 0xFFFFFFFF, (start >> 32) & 0xFFFFFFFF, m, -s - 1))
        table = np.array(rows, np.int64).astype(np.uint32).view(np.int32)
        return (1 if act_max != 127 else 3 if act_min == -128 else 2), table
    return 0, np.array([(m, s, 0, 0, 0) for m, s in zip(multipliers, shifts, strict=True)], np.int32)


def fast_blocks(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, multipliers, shifts,
                output_offset: int, act_min: int, act_max: int) -> tuple[int, np.ndarray]:
    """(requant_mode, the block stream) of the fast kernels (tfw_dot_dsp.h: tfw_rows_s8) for int8 weights
    [rows][...] (every axis but the first flattened): per block of four rows their fused biases, interleaved
    int16 weights and requantization."""
    w = np.asarray(weights).reshape(len(weights), -1)
    rows = len(w)
    mode, table = requant_table(multipliers, shifts, output_offset, act_min, act_max)
    n = -(-rows // 4)
    fused = np.zeros(n * 4, np.int32)
    fused[:rows] = fused_bias(w, bias, input_offset)
    req = np.zeros((n * 4, REQUANT_WORDS), np.int32)
    req[:rows] = table
    return mode, np.concatenate([fused.reshape(n, 4), interleave_weights(w), req.reshape(n, -1)], axis=1)


# The fast kernel for each requantization mode (tfw_dot_dsp.h: TFW_REQUANT_*).
FAST_KERNELS = ("tfw_fully_connected_s8_fast", "tfw_fully_connected_s8_fast_r", "tfw_fully_connected_s8_fast_r_relu",
                "tfw_fully_connected_s8_fast_r_sat")


def fast_call(p: dict, weights: np.ndarray, bias: np.ndarray | None, batches: int, args: tuple) -> Call:
    """The fast kernel's call (TfwFcFastParams) for an int8 layer from its quantization fields p
    (quant.fully_connected_params): the kernel of its requantization mode, one stream of blocks."""
    rows, depth = np.asarray(weights).shape
    mults = p["per_channel_multiplier"] or [p["output_multiplier"]] * rows
    shifts = p["per_channel_shift"] or [p["output_shift"]] * rows
    mode, stream = fast_blocks(weights, bias, p["input_offset"], mults, shifts, p["output_offset"], p["act_min"],
                               p["act_max"])
    fields = {"accum_depth": depth, "output_depth": rows, "batches": batches, "act_min": p["act_min"],
              "act_max": p["act_max"], "output_offset": p["output_offset"],
              "blocks": Const("int32_t", stream, flash=True)}  # read on ARM only, where TFW_FLASH is plain const
    return Call(FAST_KERNELS[mode], "TfwFcFastParams", "tfw_fully_connected.h", fields, args, ("int8_t", "int8_t"))


def fast_ok(p: dict) -> bool:
    """tfw_fully_connected_s8's checks, made at generate time for the fast kernel (which makes none)."""
    shifts = p["per_channel_shift"] or [p["output_shift"]]
    return (p["filter_offset"] == 0 and -127 <= p["input_offset"] <= 128 and -128 <= p["output_offset"] <= 127
            and -128 <= p["act_min"] <= p["act_max"] <= 127 and all(-31 <= s <= 30 for s in shifts))


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
        if lw.fast_kernels and fast_ok(p):
            # The fast kernel, called directly (its checks made here): int16 interleaved weights, folded
            # offsets, precomputed requantization; the int8 weights are not emitted.
            return fast_call(p, w.array(), None if bias is None else bias.array(), x.size // accum_depth,
                             (op.inputs[0], op.outputs[0]))
        return Call("tfw_fully_connected_s8", "TfwFullyConnectedParams", "tfw_fully_connected.h", fields,
                    (op.inputs[0], op.outputs[0]), ("int8_t", "int8_t"))
    fields["bias64"] = Const("int64_t", bias.array(), flash=True) if bias is not None and wide else None
    fields["wide_accum"] = int(wide)
    return Call("tfw_fully_connected_s16", "TfwFullyConnectedParams", "tfw_fully_connected.h", fields,
                (op.inputs[0], op.outputs[0]), ("int16_t", "int16_t"))


LOWERINGS = {"FULLY_CONNECTED": lowering(plan_fully_connected)}
