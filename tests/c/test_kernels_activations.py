"""RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH (int8) and RELU…TANH (16x8) against the TFLM
interpreter, byte for byte, over the generated op table (every int8 input value in every case, every
int16 input for int16 LOGISTIC/TANH); the golden's scale arithmetic; refusals."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import op_table
from op_table import check_case, table_params
from tinyml_fw.aot import quant
from tinyml_fw.aot.call import Refusal
from tinyml_fw.aot.ops.activations import plan_activation
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("case", table_params("RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH"))
def test_op_table(kernels, op_table_cache, case):
    check_case(case, kernels, op_table_cache)


@pytest.mark.parametrize("case", table_params("RELU_16x8", "RELU6_16x8", "LEAKY_RELU_16x8", "LOGISTIC_16x8",
                                              "TANH_16x8"))
def test_op_table_16x8(kernels, op_table_cache, case):
    check_case(case, kernels, op_table_cache)


def _swap(monkeypatch, name, fn):
    @contextlib.contextmanager
    def variant():
        original = getattr(quant, name)
        monkeypatch.setattr(quant, name, fn)
        try:
            yield
        finally:
            monkeypatch.setattr(quant, name, original)
    return variant


def _probe(lib, base: bytes, path, variant, scales_of, rng, need: int = 2, tries: int = 300):
    """Patches random scales into the model until the lowering's and the variant's parameters give
    different outputs; each time TFLM must agree with the lowering's and not the variant's."""
    shown = 0
    for k in range(tries):
        scales = scales_of(rng)

        def edit(model):
            g = model.subgraphs[0]
            op = g.operators[0]
            for key, value in scales.items():
                if key == "alpha":
                    op.builtinOptions.alpha = float(value)
                else:
                    t = op.outputs[0] if key == "out" else op.inputs[0]
                    g.tensors[t].quantization.scale = [float(np.float32(value))]
        ours, theirs, differ = op_table.golden_follows(lib, op_table.repack(base, edit), path, variant, n=4, seed=k)
        assert ours, scales
        if differ:
            assert not theirs, scales
            shown += 1
            if shown == need:
                return
    raise AssertionError(f"no distinguishing scales in {tries} tries")


def test_relu_and_leaky_relu_ratios_are_double_in_the_golden(kernels, op_table_cache, tmp_path, monkeypatch):
    """Upstream RELU/LEAKY_RELU Prepare divide scales in float32; the PyPI interpreter follows double."""
    rng = np.random.default_rng(11)
    relu = op_table.model_path(op_table.cases("RELU_16x8")[0], op_table_cache).read_bytes()
    orig_relu = quant.relu_params

    def relu_f32(in_scale, in_zp, out_scale, out_zp, int16=False):
        p = orig_relu(in_scale, in_zp, out_scale, out_zp, int16)
        p["output_multiplier"], p["output_shift"] = quant.quantize_multiplier(
            float(np.float32(in_scale) / np.float32(out_scale)))
        return p
    scales = lambda r: {"in": r.uniform(1e-4, 2e-4), "out": r.uniform(1e-4, 2e-4)}  # noqa: E731
    _probe(kernels, relu, tmp_path / "relu.tflite", _swap(monkeypatch, "relu_params", relu_f32), scales, rng)

    leaky = op_table.model_path(op_table.cases("LEAKY_RELU_16x8")[0], op_table_cache).read_bytes()
    orig_leaky = quant.leaky_relu_params
    for which in ("identity", "alpha"):
        def leaky_f32(in_scale, in_zp, out_scale, out_zp, alpha, which=which):
            p = orig_leaky(in_scale, in_zp, out_scale, out_zp, alpha)
            fi, fo, fa = np.float32(in_scale), np.float32(out_scale), np.float32(alpha)
            real = fi / fo if which == "identity" else fi * fa / fo
            p[f"{which}_multiplier"], p[f"{which}_shift"] = quant.quantize_multiplier(float(real))
            return p
        scales = lambda r: {"in": r.uniform(1e-4, 2e-4), "out": r.uniform(1e-4, 2e-4),  # noqa: E731
                            "alpha": r.uniform(0.05, 0.95)}
        _probe(kernels, leaky, tmp_path / "leaky.tflite", _swap(monkeypatch, "leaky_relu_params", leaky_f32),
               scales, rng)


def test_hard_swish_output_ratio_is_double_in_the_golden(kernels, op_table_cache, tmp_path, monkeypatch):
    base = op_table.model_path(op_table.cases("HARD_SWISH")[0], op_table_cache).read_bytes()
    original = quant.hard_swish_params

    def f32(in_scale, in_zp, out_scale, out_zp):
        p = original(in_scale, in_zp, out_scale, out_zp)
        hires = np.float32(np.float32(1 / 128) * np.float32(in_scale))
        m, e = quant.quantize_multiplier(float(hires / np.float32(out_scale)))
        p["output_multiplier"], p["output_exponent"] = quant._downscale_to_int16(m), e
        return p
    def scales(r):  # only scales where the two give different Q15 multipliers are worth a model run
        while True:
            si, so = (float(np.float32(v)) for v in r.uniform(0.01, 0.2, 2))
            if original(si, 0, so, 0) != f32(si, 0, so, 0):
                return {"in": si, "out": so}
    _probe(kernels, base, tmp_path / "hs.tflite", _swap(monkeypatch, "hard_swish_params", f32), scales,
           np.random.default_rng(2), need=1)


def test_relu6_six_is_rounded_from_float32(kernels, op_table_cache, tmp_path, monkeypatch):
    """RELU6's upper bound comes from a float32 quotient 6 / scale (unlike the scale ratios)."""
    base = op_table.model_path(op_table.cases("RELU6")[0], op_table_cache).read_bytes()
    original = quant.relu6_params

    def double(in_scale, in_zp, int16=False):
        p = original(in_scale, in_zp, int16)
        p["six"] = min(127, int(in_zp) + quant._round_half_away(6.0 / float(np.float32(in_scale))))
        return p

    def near_ties(r):
        while True:
            s = np.float32(r.uniform(6 / 126, 6 / 90))
            if quant._round_half_away(float(np.float32(6.0) / s)) != quant._round_half_away(6.0 / float(s)):
                return {"in": s, "out": s}
    _probe(kernels, base, tmp_path / "r6.tflite", _swap(monkeypatch, "relu6_params", double), near_ties,
           np.random.default_rng(5), need=1)


def _one_op(op_name, x, y, options=None) -> tuple[ModelSpec, OpSpec]:
    op = OpSpec(0, op_name, (0,), (1,), options or {})
    return ModelSpec("x", "0" * 64, 0, (x, y), (op,), (0,), (1,)), op


def _t(i, dtype="INT8", scale=0.1, zp=0, shape=(4, 8)):
    return TensorSpec(i, f"t{i}", shape, dtype, (scale,), (zp,))


def test_refusals_name_the_reason():
    cases = [
        ("HARD_SWISH", _t(0, "INT16"), _t(1, "INT16"), "no int16 HARD_SWISH"),
        ("LOGISTIC", _t(0), _t(1, scale=1 / 256, zp=0), "zero point -128"),
        ("LOGISTIC", _t(0, "INT16"), _t(1, "INT16", scale=1 / 1024), "2\\^-15"),
        ("TANH", _t(0, "INT16", zp=1), _t(1, "INT16", scale=2 ** -15), "zero points of 0"),
        ("RELU", _t(0, "INT16", zp=2), _t(1, "INT16"), "zero points of 0"),
        ("RELU", _t(0, "FLOAT32"), _t(1, "FLOAT32"), "INT8 or INT16"),
        ("RELU", _t(0), _t(1, shape=(4, 4)), "32 values"),
        ("HARD_SWISH", _t(0, scale=1.0), _t(1, scale=0.001), "too small"),
    ]
    for name, x, y, why in cases:
        spec, op = _one_op(name, x, y)
        with pytest.raises((Refusal, ValueError), match=why):
            plan_activation(spec, op)


def test_kernels_reject_bad_params(kernels):
    x = np.zeros(32, np.int8)
    out = np.zeros(32, np.int8)
    for name, y, bad in [("RELU", _t(1), dict(act_min=100, act_max=0)), ("RELU", _t(1), dict(output_shift=40)),
                         ("LEAKY_RELU", _t(1), dict(alpha_multiplier=-(1 << 31))),
                         ("LOGISTIC", _t(1, scale=1 / 256, zp=-128), dict(input_left_shift=31)),
                         ("HARD_SWISH", _t(1), dict(output_exponent=1)), ("RELU6", _t(1), dict(six=200))]:
        spec, op = _one_op(name, _t(0), y, {"alpha": 0.1})
        call = plan_activation(spec, op)
        assert kernels.call(call, [x], out) == 0
        bad_call = type(call)(**{**call.__dict__, "fields": {**call.fields, **bad}})
        assert kernels.call(bad_call, [x], out) == 1, (name, bad)


def test_int8_logistic_saturates_for_huge_input_scales(kernels):
    """A shift past 30 leaves radius 0: TFLM saturates every input without rescaling."""
    spec, op = _one_op("LOGISTIC", _t(0, scale=40.0, zp=3, shape=(256,)), _t(1, scale=1 / 256, zp=-128, shape=(256,)))
    call = plan_activation(spec, op)
    assert call.fields["input_left_shift"] > 30 and call.fields["input_range_radius"] == 0
    x = np.arange(-128, 128, dtype=np.int8)
    out = np.zeros(256, np.int8)
    assert kernels.call(call, [x], out) == 0
    np.testing.assert_array_equal(out, np.where(x.astype(int) - 3 <= 0, -128, 127))
