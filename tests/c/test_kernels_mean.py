"""MEAN (int8 and int16; GlobalAveragePooling2D and other contiguous axis runs) against the TFLM
interpreter."""

import pytest

import op_table
from op_table import check_case, table_params
from tinyml_fw.aot import quant

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.mark.parametrize("case", table_params("MEAN", "MEAN_16x8"))
def test_mean_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


def test_table_is_big_enough():
    assert len(op_table.cases("MEAN")) >= 20 and len(op_table.cases("MEAN_16x8")) >= 20


def test_mean_multiplier_folds_in_the_count():
    """TFLM's QuantizedMeanOrSum: shift by floor(log2 count) (at most 32, at most 31 + shift), then
    integer-divide the multiplier by the count."""
    m, s = quant.quantize_multiplier(0.75)
    assert quant.mean_params(0.75, 1.0, 1) == (m, s)
    assert quant.mean_params(0.75, 1.0, 36) == ((m << 5) // 36, s - 5)
    m, s = quant.quantize_multiplier(2.0 ** -29)  # shift -28: the clamp at 31 + shift bites
    assert quant.mean_params(2.0 ** -29, 1.0, 1000) == ((m << 3) // 1000, -31)
