"""The fast (DSP) kernels against TFLM on the op table: every CONV_2D and DEPTHWISE_CONV_2D case
(TFW_OP_TABLE_EVERY=N: every Nth) run the way a Cortex-M4/M7/M33/M55 build runs it, the fast kernel wherever
the compile-time dispatch takes it (harness.FastKernels; SMLAD and SXTB16 emulated in C on the host), and the
portable kernel where it does not (grouped convolutions, filters past TFW_CONV_PATCH_MAX). The
FULLY_CONNECTED and SOFTMAX tests run the fast kernels beside the portable ones
(test_kernels_fully_connected.py, test_kernels_softmax.py); the emulated cores run the real instructions
(tests/test_board_ops.py, tests/test_core_matrix.py)."""

import harness
import op_table
import pytest
from op_table import check_case, table_params

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def fast_kernels(kernels):
    return harness.FastKernels(kernels)


@pytest.mark.parametrize("case", table_params("CONV_2D", "DEPTHWISE_CONV_2D"))
def test_fast_conv_matches_tflm(case, fast_kernels, op_table_cache):
    check_case(case, fast_kernels, op_table_cache)


def test_most_conv_cases_take_the_fast_kernel(fast_kernels, op_table_cache):
    """The dispatch is not vacuous: most of the table's int8 convolutions run the fast kernel."""
    from tinyml_fw.modelspec import read_model

    cases = op_table.cases("CONV_2D") + op_table.cases("DEPTHWISE_CONV_2D")
    fast = sum(any(harness.takes_fast(c) for c in
                   op_table.plan_calls(read_model(op_table.model_path(case, op_table_cache))).values())
               for case in cases)
    assert fast >= 0.6 * len(cases), f"{fast} of {len(cases)}"
