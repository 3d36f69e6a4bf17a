"""QUANTIZE (float32 → int8/int16, int8/int16 → int8/int16) and DEQUANTIZE (int8/int16 → float32)
against the TFLM interpreter over the generated op table (float outputs compared bit for bit, float
inputs including rounding ties, signed zeros, huge values, infinities and NaN); refusals."""

from __future__ import annotations

import numpy as np
import pytest

from op_table import check_case, table_params
from tinyml_fw.aot.call import Refusal
from tinyml_fw.aot.ops.quantize import plan_dequantize, plan_quantize
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("case", table_params("QUANTIZE", "DEQUANTIZE"))
def test_op_table(kernels, op_table_cache, case):
    check_case(case, kernels, op_table_cache)


def _one_op(name, x, y) -> tuple[ModelSpec, OpSpec]:
    op = OpSpec(0, name, (0,), (1,), {})
    return ModelSpec("x", "0" * 64, 0, (x, y), (op,), (0,), (1,)), op


def _t(i, dtype, scale=0.1, zp=0, shape=(8,), data=None):
    q = ((scale,), (zp,)) if dtype != "FLOAT32" else ((), ())
    return TensorSpec(i, f"t{i}", shape, dtype, *q, data=data)


def test_float_specials_follow_the_x86_golden(kernels):
    """NaN and out-of-range quotients become INT32_MIN before the zero point is added (x86's
    cvttss2si, what the golden does); with a negative zero point that wraps to the top."""
    x = np.array([np.nan, np.inf, -np.inf, 3e38, -3e38, 0.15, -0.15, 0.25], np.float32)
    for zp, want in ((0, [-128, -128, -128, -128, -128, 2, -2, 3]), (-5, [127, 127, 127, 127, 127, -3, -7, -2])):
        spec, op = _one_op("QUANTIZE", _t(0, "FLOAT32"), _t(1, "INT8", 0.1, zp))
        out = np.zeros(8, np.int8)
        assert kernels.call(plan_quantize(spec, op), [x], out) == 0
        np.testing.assert_array_equal(out, want)


def test_refusals_name_the_reason():
    spec, op = _one_op("QUANTIZE", _t(0, "FLOAT32"), _t(1, "UINT8"))
    with pytest.raises(Refusal, match="INT8 or INT16"):
        plan_quantize(spec, op)
    spec, op = _one_op("QUANTIZE", _t(0, "INT32"), _t(1, "INT8"))
    with pytest.raises(Refusal, match="float32, int8 and int16"):
        plan_quantize(spec, op)
    per_channel = TensorSpec(1, "t1", (8,), "INT8", (0.1, 0.2), (0, 0))
    spec, op = _one_op("QUANTIZE", _t(0, "FLOAT32"), per_channel)
    with pytest.raises(Refusal, match="per channel"):
        plan_quantize(spec, op)
    spec, op = _one_op("DEQUANTIZE", _t(0, "INT8", data=bytes(8)), _t(1, "FLOAT32"))
    with pytest.raises(Refusal, match="constant weights"):
        plan_dequantize(spec, op)
    spec, op = _one_op("DEQUANTIZE", _t(0, "INT8"), _t(1, "INT16"))
    with pytest.raises(Refusal, match="float32"):
        plan_dequantize(spec, op)
