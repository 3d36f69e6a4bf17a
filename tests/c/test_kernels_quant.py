"""Unit tests of tinyml_fw.aot.quant and of the C fixed-point helpers."""

import math

import numpy as np
import pytest

import fc_models as h
import harness
from tinyml_fw.aot import quant


def test_quantize_multiplier_zero():
    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(-0.0) == (0, 0)


@pytest.mark.parametrize("real, expected", [
    (1.0, (1 << 30, 1)),
    (0.5, (1 << 30, 0)),
    (0.75, (3 << 29, 0)),
    (2.0 ** -31, (1 << 30, -30)),
    (2.0 ** -32, (1 << 30, -31)),  # smallest shift kept
    (1.5 * 2.0 ** 10, (3 << 29, 11)),
])
def test_quantize_multiplier_exact_values(real, expected):
    assert quant.quantize_multiplier(real) == expected


def test_quantize_multiplier_rounds_up_to_two_pow_31():
    # mantissa 1 - 2^-40 rounds to 2^31 in Q31: halved, shift incremented.
    assert quant.quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)
    assert quant.quantize_multiplier(0.5 - 2.0 ** -45) == (1 << 30, 0)
    # just below the rounding point it stays at the maximum mantissa
    assert quant.quantize_multiplier(1.0 - 2.0 ** -31) == ((1 << 31) - 1, 0)


def test_quantize_multiplier_ties_round_away_from_zero():
    # q * 2^31 = 2^30 + 0.5 exactly -> 2^30 + 1
    real = (2.0 ** 30 + 0.5) / 2.0 ** 31
    assert quant.quantize_multiplier(real) == ((1 << 30) + 1, 0)
    assert quant.quantize_multiplier(-real) == (-((1 << 30) + 1), 0)


def test_quantize_multiplier_flushes_tiny_values():
    assert quant.quantize_multiplier(2.0 ** -33) == (0, 0)  # shift would be -32
    assert quant.quantize_multiplier(1e-12) == (0, 0)
    assert quant.quantize_multiplier(2.0 ** -32 * 0.99) == (0, 0)


def test_quantize_multiplier_reconstructs():
    rng = np.random.default_rng(1)
    for real in np.exp(rng.uniform(-20, 5, 500)):
        m, s = quant.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert math.isclose(m * 2.0 ** (s - 31), real, rel_tol=2.0 ** -30)


def test_quantize_multiplier_rejects_non_finite():
    with pytest.raises(ValueError):
        quant.quantize_multiplier(float("nan"))


def test_activation_range():
    assert quant.activation_range("NONE", 0.1, 5) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, -5) == (-5, 127)
    assert quant.activation_range("RELU", 0.1, -128) == (-128, 127)
    assert quant.activation_range("RELU6", 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert quant.activation_range("RELU6", 0.01, -128) == (-128, 127)  # clamped to qmax
    assert quant.activation_range("RELU_N1_TO_1", 0.01, 0) == (-100, 100)
    assert quant.activation_range("RELU_N1_TO_1", 1 / 128, 0) == (-128, 127)
    # float32 division then round half away from zero: 6 / 0.04 = 150.00000...
    s = float(np.float32(0.04))
    expected = round(float(np.float32(6.0) / np.float32(s)))
    assert quant.activation_range("RELU6", s, -200, qmin=-1000, qmax=1000)[1] == -200 + expected
    with pytest.raises(ValueError):
        quant.activation_range("TANH", 0.1, 0)


def test_fully_connected_params_per_tensor_uses_doubles():
    # (float)(i * f) would give a different multiplier here; TFLM's PyPI build uses doubles.
    i, f, o = np.float32(0.0035253963), np.float32(0.0017655672), np.float32(79.12032)
    p = quant.fully_connected_params(i, 3, [f], o, -7, "RELU")
    assert (p["output_multiplier"], p["output_shift"]) == quant.quantize_multiplier(
        float(i) * float(f) / float(o))
    assert quant.quantize_multiplier(float(np.float32(i * f)) / float(o)) != (
        p["output_multiplier"], p["output_shift"])
    assert p["per_channel_multiplier"] is None and p["per_channel_shift"] is None
    assert (p["input_offset"], p["filter_offset"], p["output_offset"]) == (-3, 0, -7)
    assert (p["act_min"], p["act_max"]) == (-7, 127)


def test_fully_connected_params_per_channel_uses_doubles():
    i, o = np.float32(0.0123457), np.float32(0.0911)
    fs = np.float32([0.00398765, 0.001, 0.02])
    p = quant.fully_connected_params(i, 0, fs, o, 0)
    exp = [quant.quantize_multiplier(float(i) * float(f) / float(o)) for f in fs]
    assert p["per_channel_multiplier"] == [m for m, _ in exp]
    assert p["per_channel_shift"] == [s for _, s in exp]


def test_softmax_params():
    p = quant.softmax_params(0.1)
    m, s = quant.quantize_multiplier(float(np.float32(0.1)) * 2.0 ** 26)
    assert (p["input_multiplier"], p["input_left_shift"]) == (m, s)
    assert p["diff_min"] == -math.floor(31 * 2.0 ** 26 / 2.0 ** s)
    # huge scales are capped at 2^31 - 1: only the row maximum survives
    assert quant.softmax_params(1000.0) == {"input_multiplier": (1 << 31) - 1,
                                            "input_left_shift": 31, "diff_min": 0}
    with pytest.raises(ValueError):
        quant.softmax_params(1e-9)  # beta * scale * 2^26 <= 1


# ---- C fixed-point helpers against a direct (Python int) transcription --------------

def _srdhm(a, b):
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    return int(v / (1 << 31)) if abs(v) < (1 << 52) else (abs(v) >> 31) * (1 if v >= 0 else -1)


def _rdbpot(x, e):
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > (mask >> 1) + (1 if x < 0 else 0))


EDGE = [0, 1, -1, 2, -2, 3, 5, -5, (1 << 30), -(1 << 30), (1 << 31) - 1, -(1 << 31),
        (1 << 31) - 2, -(1 << 31) + 1, 12345678, -12345678]


def test_c_srdhm_and_rdbpot(kernels):
    rng = np.random.default_rng(2)
    vals = EDGE + [int(v) for v in rng.integers(-(1 << 31), 1 << 31, 300)]
    for a in vals[:60]:
        for b in vals[:60]:
            assert kernels.dll.shim_srdhm(a, b) == _srdhm(a, b), (a, b)
    for x in vals:
        for e in range(32):
            assert kernels.dll.shim_rdbpot(x, e) == _rdbpot(x, e), (x, e)


def test_c_mbqm_matches_numpy_reference(kernels):
    rng = np.random.default_rng(3)
    xs = np.array(EDGE + list(rng.integers(-(1 << 24), 1 << 24, 400)), dtype=np.int64)
    for m, s in [(1 << 30, -31), ((1 << 31) - 1, 0), (1518500250, -9), (1073741824, 1),
                 (2000000000, -20), (1400000000, 3)]:
        expect = h.mbqm_double(xs, m, s)
        got = [kernels.dll.shim_mbqm(int(x), m, s) for x in xs]
        ok = expect.astype(np.int32) == np.array(got, dtype=np.int32)
        assert ok.all(), (m, s, xs[~ok][:5])


def test_fast_requantization_matches_mbqm(kernels):
    """The fast kernels' requantization (tfw_dot_dsp.h: tfw_requant_right and tfw_mbqm_fast, their table from
    requant_table) is TFLM's MultiplyByQuantizedMultiplier plus the output offset for every shift: one
    rounding, the offset folded in, for right shifts of 1..23; ties, negative values, multiplier 0, the int32
    extremes."""
    from tinyml_fw.aot.ops.fully_connected import requant_table

    rng = np.random.default_rng(4)
    xs = (EDGE + [int(v) for v in rng.integers(-(1 << 31), 1 << 31, 150)]
          + [int(v) for v in rng.integers(-5000, 5000, 150)])
    for s in range(-31, 31):
        for m in [0, 1 << 30, (1 << 31) - 1, int(rng.integers(1 << 30, 1 << 31))]:
            for oo in (0, -128, 127, 5):
                mode, table = requant_table([m], [s], oo, -128, 127)
                assert mode == (3 if -23 <= s <= -1 else 0)
                q = [int(v) for v in table[0]]
                near_ties = [k << (-s - 1) for k in range(-6, 7)] if s < 0 else []
                for x in xs + near_ties:
                    x = int(np.array(x & 0xFFFFFFFF, np.uint32).view(np.int32))
                    want = int(np.array((kernels.dll.shim_mbqm(x, m, s) + (oo if mode else 0)) & 0xFFFFFFFF,
                                        np.uint32).view(np.int32))
                    assert kernels.dll.shim_requant(x, mode, *q) == want, (x, m, s, oo)


def test_c_exp_and_reciprocal_are_accurate(kernels):
    # Q5.26 input -> Q0.31 exp; Q0.31 x -> 1/(1+x) in Q0.31.
    for a in [0, -1, -(1 << 24), -(1 << 26), -(5 << 26), -(31 << 26), -(1 << 31) + 1]:
        got = kernels.dll.shim_exp_q5(a) / 2.0 ** 31
        assert abs(got - math.exp(a / 2.0 ** 26)) < 1e-6  # gemmlowp's own accuracy
    for x in [0, 1, 1 << 20, 1 << 30, (1 << 31) - 1]:
        got = kernels.dll.shim_recip(x) / 2.0 ** 31
        assert abs(got - 1.0 / (1.0 + x / 2.0 ** 31)) < 2e-9


@pytest.mark.skipif(not h.have("arm-none-eabi-gcc"), reason="arm-none-eabi-gcc not installed")
def test_kernels_compile_for_cortex_m4(tmp_path):
    harness.cross_compile(tmp_path, "arm-none-eabi-gcc", ["-O2", "-mcpu=cortex-m4", "-mthumb"],
                          ["tfw_fully_connected.c", "tfw_softmax.c"])
