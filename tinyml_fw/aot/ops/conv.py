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
from tinyml_fw.aot.ops.fully_connected import fused_bias
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
        # The fast kernel's folded input offset (read on DSP cores only; 4 bytes of flash per filter).
        "fused_bias": None if int16 or fdepth != in_depth or not lw.fast_kernels else Const(
            "int32_t", fused_bias(w.array(), None if bias is None else bias.array(), -x.zero_points[0]),
            flash=True),
    }
    suffix, ctype = ("s16", "int16_t") if int16 else ("s8", "int8_t")
    return Call(f"tfw_conv_{suffix}", "TfwConvParams", "tfw_conv.h", fields, (op.inputs[0], op.outputs[0]),
                (ctype, ctype))


LOWERINGS = {"CONV_2D": lowering(plan_conv)}
