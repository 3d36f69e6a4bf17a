"""Host-side quantization parameter math for the AOT int8 kernels.

Every function reproduces what TFLM computes in its kernels' Prepare step, so the
C kernels in firmware/kernels/ produce bit-exact TFLM outputs. Scales are taken as
stored in the .tflite file (float32, so they are rounded to float32 first) and
widened to double before any multiplication or division, as the golden reference
(the PyPI tflite_micro interpreter) does. Note: upstream TFLM's
GetQuantizedConvolutionMultipler source multiplies input and filter scale in
float32 for per-tensor FULLY_CONNECTED, but the PyPI build multiplies in double
(checked in tests/c/test_kernels_fully_connected.py).
"""

import math

import numpy as np

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _round_half_away(x: float) -> int:
    """std::round / TfLiteRound: nearest integer, ties away from zero."""
    r = math.floor(abs(x) + 0.5)  # exact for the magnitudes used here (< 2^52)
    return int(r) if x >= 0 else -int(r)


def _f32(x) -> float:
    """A scale as the model stores it (float32), widened to a Python double."""
    return float(np.float32(x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLM QuantizeMultiplier: real ~= multiplier * 2^(shift - 31).

    multiplier is a Q31 value in [2^30, 2^31) (or 0), shift the power of two.
    Edge cases as in TFLM: 0 -> (0, 0); a mantissa that rounds up to 2^31 is
    halved and the shift incremented; shift < -31 (|real| < ~2^-32) flushes to
    (0, 0). No clamping of large shifts (that only exists with
    TFLITE_SINGLE_ROUNDING, which TFLM does not define by default).
    """
    real = float(real)
    if not math.isfinite(real):
        raise ValueError(f"multiplier must be finite, got {real!r}")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)  # real = q * 2^shift, 0.5 <= |q| < 1
    q_fixed = _round_half_away(q * (1 << 31))  # q * 2^31 is exact
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def _quantize_value(scale: float, zero_point: int, f: float) -> int:
    """TFLM's Quantize helper in kernel_util.cc: float32 f / scale, roundf, + zp."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        tmp = float(np.float32(f) / np.float32(scale))  # float32 division
    if not math.isfinite(tmp):
        raise ValueError(f"cannot quantize {f} with scale {scale}")
    r = _round_half_away(tmp)
    if not (_INT32_MIN <= r <= (1 << 31)):  # TFLM compares against float(INT32_MAX) = 2^31
        raise ValueError(f"quantized value {r} overflows int32")
    return int(zero_point) + r


def activation_range(activation: str, scale: float, zp: int, qmin: int = -128,
                     qmax: int = 127) -> tuple[int, int]:
    """TFLM CalculateActivationRangeQuantized: the (min, max) clamp of a fused activation."""
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, _quantize_value(scale, zp, 0.0)), qmax
    if activation == "RELU6":
        return (max(qmin, _quantize_value(scale, zp, 0.0)),
                min(qmax, _quantize_value(scale, zp, 6.0)))
    if activation == "RELU_N1_TO_1":
        return (max(qmin, _quantize_value(scale, zp, -1.0)),
                min(qmax, _quantize_value(scale, zp, 1.0)))
    raise ValueError(f"unsupported activation {activation!r}; expected one of {ACTIVATIONS}")


def _check_shift(shift: int) -> None:
    if not -31 <= shift <= 30:  # the range tfw_multiply_by_quantized_multiplier supports
        raise ValueError(f"requantization shift {shift} outside [-31, 30]")


def fully_connected_params(input_scale, input_zp, filter_scales, output_scale, output_zp,
                           activation: str = "NONE") -> dict:
    """Quantization fields of TfwFullyConnectedParams, as TFLM's FC Prepare computes them.

    filter_scales: one scale (per-tensor) or one per output channel (per-channel).
    Returns input_offset, filter_offset (always 0: int8 filters are symmetric),
    output_offset, act_min, act_max, output_multiplier, output_shift and
    per_channel_multiplier / per_channel_shift (lists, or None when per-tensor).
    The caller adds accum_depth, output_depth, batches, weights and bias.
    """
    scales = [_f32(s) for s in np.atleast_1d(np.asarray(filter_scales, dtype=np.float64))]
    if not scales:
        raise ValueError("filter_scales is empty")
    in_s, out_s = _f32(input_scale), _f32(output_scale)
    act_min, act_max = activation_range(activation, out_s, int(output_zp))
    params = {
        "input_offset": -int(input_zp),
        "filter_offset": 0,
        "output_offset": int(output_zp),
        "act_min": act_min,
        "act_max": act_max,
        "output_multiplier": 0,
        "output_shift": 0,
        "per_channel_multiplier": None,
        "per_channel_shift": None,
    }
    # Both paths: double(input_scale) * double(filter_scale) / double(output_scale).
    pairs = [quantize_multiplier(in_s * s / out_s) for s in scales]
    for _, shift in pairs:
        _check_shift(shift)
    if len(pairs) == 1:
        params["output_multiplier"], params["output_shift"] = pairs[0]
    else:
        params["per_channel_multiplier"] = [m for m, _ in pairs]
        params["per_channel_shift"] = [s for _, s in pairs]
    return params


def softmax_params(input_scale, beta: float = 1.0) -> dict:
    """TfwSoftmaxParams quantization fields (input_multiplier, input_left_shift, diff_min).

    TFLM: PreprocessSoftmaxScaling(beta, input_scale, 5 integer bits) and
    diff_min = -CalculateInputRadius(5, left_shift). The output tensor must have
    scale 1/256 and zero point -128 (TFLM rejects anything else).
    """
    kbits = 5
    real = min(_f32(beta) * _f32(input_scale) * float(1 << (31 - kbits)), float((1 << 31) - 1))
    if not real > 1.0:  # QuantizeMultiplierGreaterThanOne
        raise ValueError(f"beta * input_scale too small for int8 softmax ({real / (1 << 26)!r})")
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError("negative softmax left shift")
    radius = math.floor(1.0 * ((1 << kbits) - 1) * (1 << (31 - kbits)) / (1 << left_shift))
    return {"input_multiplier": mult, "input_left_shift": left_shift, "diff_min": -radius}
