"""FULLY_CONNECTED 16x8 (int16 activations, int8 weights, int64 or int32 bias) against the TFLM
interpreter over the op table; the int8 kernel is tested in test_kernels_fully_connected.py."""

import pytest

import op_table
from op_table import check_case, table_params

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.mark.parametrize("case", table_params("FULLY_CONNECTED_16x8"))
def test_fully_connected_16x8_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


def test_table_is_big_enough():
    cases = op_table.cases("FULLY_CONNECTED_16x8")
    assert len(cases) >= 20
    assert any(c.params.get("bias32") for c in cases) and any(not c.params["per_channel"] for c in cases)
