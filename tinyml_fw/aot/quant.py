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
from typing import Any

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
    params: dict[str, Any] = {
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



# ---- int16 SOFTMAX -------------------------------------------------------------------------------

SOFTMAX_S16_LUT_SIZE = 513  # 512 segments of 128 int16 steps, and the end point


def softmax_s16_params(input_scale, beta: float = 1.0) -> dict:
    """int16 SOFTMAX Prepare: the multiplier and shift that map a difference to the row max onto the
    exp table's input, scaled so that [-65535, 0] covers [-10, 0] (exp(-10) is taken as nothing)."""
    mult, shift = quantize_multiplier(_f32(input_scale) * _f32(beta) / (10.0 / 65535.0))
    _check_shift(shift)
    return {"input_multiplier": mult, "input_shift": shift}


def _round_f32(x: np.float32) -> np.float32:
    """roundf: nearest integer, ties away from zero, of a float32 (exact: no float addition)."""
    v = float(x)
    r = math.floor(abs(v))
    if abs(v) - r >= 0.5:
        r += 1
    return np.float32(math.copysign(r, v))


def _lut16(fn, in_scale: float | np.float32, in_zp: int, out_scale: float | np.float32, out_zp: int) -> list[int]:
    """TFLM's int16 table for fn (LUTPopulate<int16_t> over float32): 512 samples of fn over the int16
    input range, each lowered by half the error linear interpolation makes at the segment's midpoint,
    and the end point; every operation in float32, in TFLM's order."""
    f32 = np.float32
    in_scale, out_scale = f32(in_scale), f32(out_scale)
    input_min = in_scale * f32(-32768 - in_zp)
    input_max = in_scale * f32(32767 - in_zp)
    output_min = out_scale * f32(-32768 - out_zp)
    output_max = out_scale * f32(32767 - out_zp)
    steps = SOFTMAX_S16_LUT_SIZE - 1
    step = (input_max - input_min) / f32(steps)
    half_step = step / f32(2)
    inv = f32(65536) / (output_max - output_min)
    lo, hi = f32(-32768), f32(32767)
    lut = []
    for i in range(steps):
        x = input_min + f32(i) * step
        val, mid, nxt = fn(x), fn(x + half_step), fn(input_min + f32(i + 1) * step)
        sample = _round_f32(val * inv)
        interpolated = _round_f32((nxt * inv + sample) / f32(2))
        bias = _round_f32((interpolated - _round_f32(mid * inv)) / f32(2))
        lut.append(int(min(max(sample - bias, lo), hi)))
    lut.append(int(min(max(_round_f32(fn(input_max) * inv), lo), hi)))
    return lut


def _expf(x: np.float32) -> np.float32:
    """expf of a float32: the correctly rounded value, as the C library gives it."""
    return np.float32(math.exp(float(x)))


def _recipf(x: np.float32) -> np.float32:
    return np.float32(1) / (np.float32(1) + x)


def softmax_s16_tables() -> tuple[list[int], list[int]]:
    """The two tables of int16 SOFTMAX, the same for every model: exp(x) on [-10, 0] (input zero point
    32767) and 1 / (1 + x) on [0, 1] (input zero point -32768), both output in steps of 2/65535."""
    span = np.float32(65535)  # int16 max - min, as a float32
    out_scale = np.float32(2) / span
    exp_lut = _lut16(_expf, np.float32(10) / span, 32767, out_scale, 0)
    recip_lut = _lut16(_recipf, np.float32(1) / span, -32768, out_scale, 0)
    return exp_lut, recip_lut


# ---- convolution family (conv, depthwise conv, pooling, mean) ---------------------------------

INT16_RANGE = (-32768, 32767)


def compute_padding(padding: str, in_size: int, filter_size: int, stride: int,
                    dilation: int = 1) -> tuple[int, int]:
    """TFLM ComputeOutSize + ComputePaddingWithOffset for one spatial axis: (out_size, pad_before).

    SAME: out = ceil(in / stride); VALID: out = (in + stride - effective filter) / stride (C
    division; a non-positive result is an error here). pad_before is half the total padding,
    rounded down: the odd row or column goes after, as in TensorFlow.
    """
    if stride < 1 or dilation < 1 or filter_size < 1 or in_size < 1:
        raise ValueError(f"bad window: input {in_size}, filter {filter_size}, stride {stride}, "
                         f"dilation {dilation}")
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        if in_size < effective:
            raise ValueError(f"VALID window of {effective} does not fit an input of {in_size}")
        out = (in_size + stride - effective) // stride
    else:
        raise ValueError(f"unknown padding {padding!r}")
    total = max((out - 1) * stride + effective - in_size, 0)
    return out, total // 2


def conv_quant_params(input_scale, filter_scales, channels: int, output_scale, output_zp,
                      activation: str = "NONE", int16: bool = False, wide_accum: bool = False) -> dict:
    """Per-channel requantization of CONV_2D / DEPTHWISE_CONV_2D, as TFLM's
    PopulateConvolutionQuantizationParams computes it: one (multiplier, shift) per output channel
    from double(input_scale) * double(filter_scale) / double(output_scale), a per-tensor filter
    scale broadcast to every channel; the activation clamp in int8 or int16 range.

    wide_accum: the int64 MultiplyByQuantizedMultiplier of the 16x8 kernels, whose shift must
    be at most 7. Returns output_multiplier, output_shift (lists), act_min, act_max.
    """
    scales = [_f32(s) for s in np.atleast_1d(np.asarray(filter_scales, dtype=np.float64))]
    if len(scales) not in (1, channels):
        raise ValueError(f"{len(scales)} filter scales for {channels} output channels")
    if len(scales) == 1:
        scales = scales * channels
    in_s, out_s = _f32(input_scale), _f32(output_scale)
    pairs = [quantize_multiplier(in_s * s / out_s) for s in scales]
    for m, shift in pairs:
        _check_shift(shift)
        if m < 0:
            raise ValueError("negative scale")
        if wide_accum and shift > 7:
            raise ValueError(f"requantization shift {shift} above 7 (int64 accumulator)")
    qmin, qmax = INT16_RANGE if int16 else (-128, 127)
    act_min, act_max = activation_range(activation, out_s, int(output_zp), qmin, qmax)
    return {"output_multiplier": [m for m, _ in pairs], "output_shift": [s for _, s in pairs],
            "act_min": act_min, "act_max": act_max}


def mean_params(input_scale, output_scale, count: int) -> tuple[int, int]:
    """(multiplier, shift) of int8 MEAN over `count` values: TFLM quantizes
    double(input_scale) / double(output_scale), then folds 1/count into the multiplier
    (QuantizedMeanOrSum): s = min(floor(log2 count), 32, 31 + shift), multiplier =
    (multiplier << s) // count, shift -= s."""
    if count < 1:
        raise ValueError("MEAN over no values")
    mult, shift = quantize_multiplier(_f32(input_scale) / _f32(output_scale))
    _check_shift(shift)
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return (mult << s) // count, shift - s


# ---- elementwise, activation and conversion ops (ADD/SUB/MUL, RELU…, LOGISTIC/TANH, HARD_SWISH,
# QUANTIZE). Where upstream TFLM's Prepare divides scales in float32 (SUB, RELU, LEAKY_RELU,
# HARD_SWISH), the PyPI interpreter, the golden reference, behaves as double(a) / double(b): its
# outputs on crafted scales follow double, not float32 (tests/c/test_kernels_elementwise.py and
# test_kernels_activations.py pin this), so these functions use double, as fully_connected_params does.
# RELU6's "six" is the exception: it is rounded from a float32 quotient, as _quantize_value does.

def _q_range(int16: bool) -> tuple[int, int]:
    return (-32768, 32767) if int16 else (-128, 127)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """TFLM QuantizeMultiplierSmallerThanOneExp: 0 < real < 1, shift <= 0."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real!r} outside (0, 1)")
    mult, shift = quantize_multiplier(real)
    _check_shift(shift)
    return mult, shift


def add_params(in1_scale, in1_zp, in2_scale, in2_zp, out_scale, out_zp, activation: str = "NONE",
               int16: bool = False) -> dict:
    """ADD/SUB Prepare (general rescaling path, also TFLM's int16 path), scales widened to double.
    Upstream TFLM's SUB source computes twice_max_input_scale and the ratios in float32, but the PyPI
    interpreter uses double for SUB as for ADD (its int16 SUB outputs tell the two apart, see
    tests/c/test_kernels_elementwise.py)."""
    left_shift = 15 if int16 else 20
    s1, s2, so = _f32(in1_scale), _f32(in2_scale), _f32(out_scale)
    twice = 2 * max(s1, s2)
    reals = (s1 / twice, s2 / twice, twice / ((1 << left_shift) * so))
    (m1, sh1), (m2, sh2), (mo, sho) = (quantize_multiplier_smaller_than_one(r) for r in reals)
    act_min, act_max = activation_range(activation, so, int(out_zp), *_q_range(int16))
    return {"input1_offset": -int(in1_zp), "input2_offset": -int(in2_zp), "output_offset": int(out_zp),
            "left_shift": left_shift, "input1_multiplier": m1, "input1_shift": sh1,
            "input2_multiplier": m2, "input2_shift": sh2, "output_multiplier": mo, "output_shift": sho,
            "act_min": act_min, "act_max": act_max}


def mul_params(in1_scale, in1_zp, in2_scale, in2_zp, out_scale, out_zp, activation: str = "NONE",
               int16: bool = False) -> dict:
    """MUL Prepare: one multiplier in1 * in2 / out (double)."""
    mult, shift = quantize_multiplier(_f32(in1_scale) * _f32(in2_scale) / _f32(out_scale))
    _check_shift(shift)
    act_min, act_max = activation_range(activation, _f32(out_scale), int(out_zp), *_q_range(int16))
    return {"input1_offset": -int(in1_zp), "input2_offset": -int(in2_zp), "output_offset": int(out_zp),
            "output_multiplier": mult, "output_shift": shift, "act_min": act_min, "act_max": act_max}


def relu_params(in_scale, in_zp, out_scale, out_zp, int16: bool = False) -> dict:
    """RELU Prepare (CalculateReluOpData): rescale by in / out, clamp at the output's zero."""
    mult, shift = quantize_multiplier(_f32(in_scale) / _f32(out_scale))
    _check_shift(shift)
    qmin, qmax = _q_range(int16)
    return {"input_offset": int(in_zp), "output_offset": int(out_zp), "output_multiplier": mult,
            "output_shift": shift, "act_min": max(qmin, int(out_zp)), "act_max": qmax}


def relu6_params(in_scale, in_zp, int16: bool = False) -> dict:
    """RELU6 Prepare: a clamp to [zero, six] in the input's quantization (TFLM does not requantize)."""
    qmin, qmax = _q_range(int16)
    six = min(qmax, max(qmin, _quantize_value(_f32(in_scale), int(in_zp), 6.0)))
    return {"zero": int(in_zp), "six": six}


def leaky_relu_params(in_scale, in_zp, out_scale, out_zp, alpha: float) -> dict:
    """LEAKY_RELU Prepare: identity multiplier in / out, alpha multiplier in * alpha / out (negative for
    a negative alpha: the kernel applies its magnitude and flips the sign)."""
    mi, si = quantize_multiplier(_f32(in_scale) / _f32(out_scale))
    ma, sa = quantize_multiplier(_f32(in_scale) * _f32(alpha) / _f32(out_scale))
    _check_shift(si)
    _check_shift(sa)
    if ma == _INT32_MIN:
        raise ValueError("LEAKY_RELU alpha multiplier overflows int32")
    return {"input_offset": int(in_zp), "output_offset": int(out_zp), "identity_multiplier": mi,
            "identity_shift": si, "alpha_multiplier": ma, "alpha_shift": sa}


def logistic_tanh_s8_params(in_scale, in_zp) -> dict:
    """int8 LOGISTIC/TANH Prepare: input scale * 2^27 as frexp mantissa (rounded, no renormalisation)
    and exponent, and the input radius beyond which the output saturates (4 integer bits)."""
    q, shift = math.frexp(_f32(in_scale) * float(1 << 27))
    mult = _round_half_away(q * (1 << 31))
    if mult >= (1 << 31) or not 0 <= shift <= 62:
        raise ValueError(f"input scale {in_scale!r} out of range for int8 LOGISTIC/TANH")
    radius = math.floor(1.0 * 15 * (1 << 27) / (1 << shift))  # 0 past shift 30: every input saturates
    return {"input_zero_point": int(in_zp), "input_range_radius": radius, "input_multiplier": mult,
            "input_left_shift": shift}


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLM CheckedLog2 (float32): (is a power of two within 1e-3 in log2, rounded log2)."""
    x32 = np.float32(_f32(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.float32(np.log(x32)) * np.float32(np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    if not np.isfinite(lg):
        return False, 0
    rounded = np.float32(_round_half_away(float(lg)))
    return bool(abs(np.float32(lg - rounded)) < np.float32(1e-3)), int(rounded)


def lut16_params(in_scale, in_zp, out_scale, out_zp, tanh: bool) -> dict:
    """int16 LOGISTIC/TANH Prepare (3 integer bits, output scale 2^-15, zero points 0). The kernel gets
    the effective multiplier: the power-of-two case (multiplier 3 << shift, shift 0) is resolved here."""
    if int(in_zp) != 0 or int(out_zp) != 0:
        raise ValueError("int16 LOGISTIC/TANH need zero points of 0")
    pot, log2 = checked_log2(in_scale)
    left_shift = 12 + log2
    pot = pot and (left_shift in ((0, 1) if tanh else (0,)))
    if pot:
        mult, left_shift = 3 << left_shift, 0
    else:
        m = _f32(in_scale) * 4096.0 * 3.0
        left_shift = 0
        while m <= 32767.0 / 2.0 and left_shift <= 30:
            left_shift += 1
            m *= 2.0
        mult = int(m)
    if not 0 <= mult <= 32767:
        raise ValueError(f"input scale {in_scale!r} too large for int16 LOGISTIC/TANH")
    out_pot, out_log2 = checked_log2(out_scale)
    if not out_pot or out_log2 != -15:
        raise ValueError("int16 LOGISTIC/TANH need an output scale of 2^-15")
    return {"input_multiplier": mult, "input_left_shift": left_shift}


def _downscale_to_int16(mult: int) -> int:
    """TFLM DownScaleInt32ToInt16Multiplier: the Q31 multiplier rounded to Q15."""
    if mult >= _INT32_MAX - (1 << 15):
        return 32767
    return (mult + (1 << 15)) >> 16


def hard_swish_params(in_scale, in_zp, out_scale, out_zp) -> dict:
    """int8 HARD_SWISH Prepare: Q15 multipliers for the output (exponent <= 0) and the 'relu-ish'
    factor (the input on a scale where 3.0 is 32768), from hires = input scale / 128."""
    hires = _f32(in_scale) / 128.0
    out_m, out_e = quantize_multiplier(hires / _f32(out_scale))
    rel_m, rel_e = quantize_multiplier(hires / (3.0 / 32768.0))
    if out_e > 0:
        raise ValueError("HARD_SWISH output scale too small for its input scale")
    if out_e < -15 or not -15 <= rel_e <= 30:
        raise ValueError("HARD_SWISH input/output scales too far apart for 16-bit fixed point")
    return {"input_zero_point": int(in_zp), "output_zero_point": int(out_zp),
            "output_multiplier": _downscale_to_int16(out_m), "output_exponent": out_e,
            "reluish_multiplier": _downscale_to_int16(rel_m), "reluish_exponent": rel_e}


def requantize_params(in_scale, in_zp, out_scale, out_zp) -> dict:
    """QUANTIZE between integer types: one multiplier double(in) / double(out)."""
    mult, shift = quantize_multiplier(_f32(in_scale) / _f32(out_scale))
    _check_shift(shift)
    return {"input_zero_point": int(in_zp), "output_zero_point": int(out_zp), "multiplier": mult,
            "shift": shift}
