"""DEPTHWISE_CONV_2D: int8, and 16x8 (int16 activations, int8 weights, int64 bias), any depth
multiplier, stride, dilation and padding (firmware/kernels/tfw_depthwise_conv.c)."""

from __future__ import annotations

import numpy as np

from tinyml_fw.aot.call import Call, Const, activation_dtype, lowering, optional_input
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.aot.ops.conv import conv_weights, window
from tinyml_fw.aot.ops.fully_connected import fused_bias
from tinyml_fw.modelspec import ModelSpec, OpSpec


def plan_depthwise_conv(spec: ModelSpec, op: OpSpec, lw: Lowering) -> Call:
    x, w, y = (lw.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    bias = optional_input(lw, op, 2)
    int16 = activation_dtype(lw, op, x, y, [w]) == "INT16"
    if len(w.shape) != 4 or w.shape[0] != 1:
        raise lw.refuse(op, f"weights '{w.name}' have shape {list(w.shape)}, not [1, h, w, out].")
    _, fh, fw, out_depth = w.shape
    geo = window(lw, op, x, y, (fh, fw), (int(op.options.get("dilationHFactor", 1)),
                                          int(op.options.get("dilationWFactor", 1))))
    in_depth = x.shape[3]
    multiplier = int(op.options.get("depthMultiplier", 0))
    # TFLM loops with the option's depth multiplier: it must agree with the tensors.
    if y.shape[3] != out_depth or out_depth != in_depth * multiplier:
        raise lw.refuse(op, f"depthMultiplier {multiplier} with input depth {in_depth} does not give "
                            f"the {out_depth} filter and {y.shape[3]} output channels.")
    if int16 and bias is not None and bias.dtype != "INT64":
        raise lw.refuse(op, f"16x8 depthwise bias '{bias.name}' is {bias.dtype}: TFLM reads it as INT64.")
    q = conv_weights(lw, op, x, w, y, bias, 3, int16, always_wide=True)  # TFLM: int64 sums for 16x8
    fields = {
        "input_offset": -x.zero_points[0], "output_offset": y.zero_points[0],
        "act_min": q["act_min"], "act_max": q["act_max"], "batches": geo["batches"],
        "input_height": geo["input_height"], "input_width": geo["input_width"], "input_depth": in_depth,
        "filter_height": fh, "filter_width": fw, "depth_multiplier": multiplier,
        "output_height": geo["output_height"], "output_width": geo["output_width"],
        "stride_height": geo["stride_height"], "stride_width": geo["stride_width"],
        "dilation_height": geo["dilation_height"], "dilation_width": geo["dilation_width"],
        "pad_top": geo["pad_top"], "pad_left": geo["pad_left"],
        "weights": Const("int8_t", w.array()), "bias": q["bias"], "bias64": q["bias64"],
        "output_multiplier": Const("int32_t", np.array(q["output_multiplier"])),
        "output_shift": Const("int32_t", np.array(q["output_shift"])),
        # The fast kernel's folded input offset (read on DSP cores only; 4 bytes of flash per channel):
        # the filter of channel oc is weights[..., oc].
        "fused_bias": None if int16 or not lw.fast_kernels else Const("int32_t", fused_bias(
            np.asarray(w.array()).reshape(-1, out_depth).T, None if bias is None else bias.array(),
            -x.zero_points[0]), flash=True),
    }
    suffix, ctype = ("s16", "int16_t") if int16 else ("s8", "int8_t")
    return Call(f"tfw_depthwise_conv_{suffix}", "TfwDepthwiseConvParams", "tfw_depthwise_conv.h", fields,
                (op.inputs[0], op.outputs[0]), (ctype, ctype))


LOWERINGS = {"DEPTHWISE_CONV_2D": lowering(plan_depthwise_conv)}
