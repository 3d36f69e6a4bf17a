"""CONV_2D: int8, and 16x8 (int16 activations, int8 weights, int32 or int64 bias), per-channel or
per-tensor weights, groups, any stride, dilation and padding (firmware/kernels/tfw_conv.c)."""

from __future__ import annotations

import numpy as np

from tinyml_fw.aot import quant
from tinyml_fw.aot.call import (
    BIAS_INT32,
    Call,
    Const,
    activation_dtype,
    check_fused_activation,
    lowering,
    optional_input,
    padding_name,
)
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.aot.ops.fully_connected import fast_blocks
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec


def window(lw: Lowering, op: OpSpec, x: TensorSpec, y: TensorSpec, filter_hw: tuple[int, int],
           dilation: tuple[int, int]) -> dict:
    """Strides, dilations and TFLM's padding for an NHWC window op; refuses shapes TFLM would size
    differently from the model's output tensor."""
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise lw.refuse(op, f"needs 4-D NHWC tensors, got input {list(x.shape)} and output {list(y.shape)}.")
    if x.shape[0] != y.shape[0]:
        raise lw.refuse(op, f"input batch {x.shape[0]} and output batch {y.shape[0]} differ.")
    stride = (int(op.options.get("strideH", 1)), int(op.options.get("strideW", 1)))
    padding = padding_name(lw, op)
    out, pads = [], []
    for axis, name in ((0, "height"), (1, "width")):
        try:
            size, pad = quant.compute_padding(padding, x.shape[1 + axis], filter_hw[axis], stride[axis],
                                              dilation[axis])
        except ValueError as exc:
            raise lw.refuse(op, f"{name}: {exc}.") from None
        if size != y.shape[1 + axis]:
            raise lw.refuse(op, f"output {name} {y.shape[1 + axis]} differs from the {size} that "
                                f"{padding} padding with stride {stride[axis]} gives.")
        out.append(size)
        pads.append(pad)
    return {"batches": x.shape[0], "input_height": x.shape[1], "input_width": x.shape[2],
            "stride_height": stride[0], "stride_width": stride[1],
            "dilation_height": dilation[0], "dilation_width": dilation[1],
            "pad_top": pads[0], "pad_left": pads[1], "output_height": out[0], "output_width": out[1]}


def conv_weights(lw: Lowering, op: OpSpec, x: TensorSpec, w: TensorSpec, y: TensorSpec,
                 bias: TensorSpec | None, channel_dim: int, int16: bool, always_wide: bool = False) -> dict:
    """Checks shared by CONV_2D and DEPTHWISE_CONV_2D: constant symmetric weights quantized per
    tensor or along the output channels, a constant bias of the right type, zero points the
    kernels assume; returns the per-channel requantization (quant.conv_quant_params) and the bias
    fields."""
    if not w.is_constant or (bias is not None and not bias.is_constant):
        raise lw.refuse(op, "non-constant weights or bias are not supported by the AOT engine.")
    channels = w.shape[channel_dim]
    if len(w.scales) not in (1, channels) or (len(w.scales) > 1 and w.quantized_dimension != channel_dim):
        raise lw.refuse(op, f"weights '{w.name}' have {len(w.scales)} scales along dimension "
                            f"{w.quantized_dimension}: expected 1, or {channels} along dimension {channel_dim}.")
    if any(z != 0 for z in w.zero_points):
        raise lw.refuse(op, f"weights '{w.name}' have a non-zero zero point: TFLM's int8 convolutions "
                            "take symmetric weights (zero point 0), as the converter makes them.")
    if int16 and (x.zero_points[0] != 0 or y.zero_points[0] != 0):
        raise lw.refuse(op, "16x8 convolutions need int16 zero points 0 (TFLM ignores them).")
    fields: dict = {"bias": None, "bias64": None}
    wide = False
    if int16:
        # TFLM: an int64 accumulator unless the bias (or, without one, quantizedBiasType) is int32.
        wide = (bias.dtype != "INT32") if bias is not None else op.options.get("quantizedBiasType", 0) != BIAS_INT32
        wide = wide or always_wide
    if bias is not None:
        allowed = ("INT32", "INT64") if int16 else ("INT32",)
        if bias.dtype not in allowed or bias.size != channels:
            raise lw.refuse(op, f"bias '{bias.name}' is {bias.dtype}[{bias.size}]: expected "
                                f"{' or '.join(allowed)}[{channels}].")
        if wide:
            fields["bias64"] = Const("int64_t", bias.array())
        else:
            fields["bias"] = Const("int32_t", bias.array())
    try:
        q = quant.conv_quant_params(x.scales[0], w.scales, channels, y.scales[0], y.zero_points[0],
                                    check_fused_activation(lw, op), int16=int16, wide_accum=wide)
    except ValueError as exc:
        raise lw.refuse(op, f"cannot requantize: {exc}.") from None
    fields.update(q)
    fields["wide_accum"] = int(wide)
    return fields


def patch_bytes(fh: int, fw: int, depth: int) -> int:
    """The fast CONV_2D kernel's patch (TFW_CONV_PATCH_BYTES): the filter's values, or one word per filter row
    when a row has fewer than four."""
    return 4 * fh if fw * depth < 4 else fh * fw * depth


def conv_blocks(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, multipliers, shifts,
                output_offset: int, act_min: int, act_max: int) -> dict:
    """The fast kernel's fields (blocks, requant_mode) of an int8 CONV_2D of one group: the filters
    [out][h][w][in] as a block stream over the patch (patch_bytes, zero-padded to whole words)."""
    out_depth, fh, fw, depth = weights.shape
    rows = np.asarray(weights).reshape(out_depth, fh, fw * depth)
    if fw * depth < 4:  # one word per filter row: zeros above the row's values
        rows = np.concatenate([rows, np.zeros((out_depth, fh, 4 - fw * depth), rows.dtype)], axis=2)
    filters = rows.reshape(out_depth, -1)
    if filters.shape[1] % 4:  # the patch runs in whole words, zeros after its values
        filters = np.concatenate([filters, np.zeros((out_depth, 4 - filters.shape[1] % 4), filters.dtype)], axis=1)
    mode, stream = fast_blocks(filters, bias, input_offset, multipliers, shifts, output_offset, act_min, act_max)
    return {"blocks": Const("int32_t", stream, flash=True), "requant_mode": mode}


def plan_conv(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, w, y = (lw.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    bias = optional_input(lw, op, 2)
    int16 = activation_dtype(lw, op, x, y, [w]) == "INT16"
    if len(w.shape) != 4:
        raise lw.refuse(op, f"weights '{w.name}' have shape {list(w.shape)}, not [out, h, w, in].")
    out_depth, fh, fw, fdepth = w.shape
    geo = window(lw, op, x, y, (fh, fw), (int(op.options.get("dilationHFactor", 1)),
                                          int(op.options.get("dilationWFactor", 1))))
    in_depth = x.shape[3]
    if in_depth % fdepth or out_depth % (in_depth // fdepth) or y.shape[3] != out_depth:
        raise lw.refuse(op, f"input depth {in_depth}, filter depth {fdepth} and output depth "
                            f"{y.shape[3]} do not make whole groups.")
    q = conv_weights(lw, op, x, w, y, bias, 0, int16)
    fields = {
        "input_offset": -x.zero_points[0], "output_offset": y.zero_points[0],
        "act_min": q["act_min"], "act_max": q["act_max"], "batches": geo["batches"],
        "input_height": geo["input_height"], "input_width": geo["input_width"], "input_depth": in_depth,
        "filter_height": fh, "filter_width": fw, "filter_depth": fdepth,
        "output_height": geo["output_height"], "output_width": geo["output_width"], "output_depth": out_depth,
        "stride_height": geo["stride_height"], "stride_width": geo["stride_width"],
        "dilation_height": geo["dilation_height"], "dilation_width": geo["dilation_width"],
        "pad_top": geo["pad_top"], "pad_left": geo["pad_left"], "wide_accum": q["wide_accum"],
        "weights": Const("int8_t", w.array()), "bias": q["bias"], "bias64": q["bias64"],
        "output_multiplier": Const("int32_t", np.array(q["output_multiplier"])),
        "output_shift": Const("int32_t", np.array(q["output_shift"])),
    }
    # The fast kernel's block stream (tfw_dot_dsp.h: tfw_rows_s8; read on DSP cores only): per block of four
    # filters their folded biases, int16 interleaved weights and requantization.
    fields["blocks"], fields["requant_mode"] = None, 0
    if not int16 and fdepth == in_depth and lw.fast_kernels:
        fields.update(conv_blocks(w.array(), None if bias is None else bias.array(), fields["input_offset"],
                                  q["output_multiplier"], q["output_shift"], fields["output_offset"],
                                  q["act_min"], q["act_max"]))
    suffix, ctype = ("s16", "int16_t") if int16 else ("s8", "int8_t")
    return Call(f"tfw_conv_{suffix}", "TfwConvParams", "tfw_conv.h", fields, (op.inputs[0], op.outputs[0]),
                (ctype, ctype))


LOWERINGS = {"CONV_2D": lowering(plan_conv)}
