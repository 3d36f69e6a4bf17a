"""AVERAGE_POOL_2D and MAX_POOL_2D (int8 and int16) against the TFLM interpreter over the op table."""

import numpy as np
import pytest

import harness
import op_table
from op_table import check_case, table_params
from tinyml_fw.aot.call import Call

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.mark.parametrize("case", table_params("AVERAGE_POOL_2D", "AVERAGE_POOL_2D_16x8"))
def test_average_pool_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


@pytest.mark.parametrize("case", table_params("MAX_POOL_2D", "MAX_POOL_2D_16x8"))
def test_max_pool_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


def _pool_call(kernel, **over):
    ctype = "int16_t" if kernel.endswith("s16") else "int8_t"
    fields = dict(act_min=-128, act_max=127, batches=1, input_height=3, input_width=3, depth=1,
                  filter_height=2, filter_width=2, output_height=2, output_width=2, stride_height=1,
                  stride_width=1, pad_top=0, pad_left=0)
    fields.update(over)
    return Call(kernel, "TfwPoolParams", "tfw_pooling.h", fields, (0, 1), (ctype, ctype))


def test_average_rounds_half_away_from_zero(kernels):
    """TFLM: (sum +- count/2) / count with C division; a 2x2 window of one 1 and three 0 is 0.25 → 0,
    two 1s is 0.5 → 1, two -1s is -0.5 → -1."""
    x = np.array([[1, 0, 1, 0, 1, 1, -1, -1, 0]], np.int8)  # 3x3
    out = kernels.run(_pool_call("tfw_average_pool_s8"), x, 4)
    # windows: [1,0,0,1]=2/4→1, [0,1,1,1]=3/4→1, [0,1,-1,-1]=-1/4→0, [1,1,-1,0]=1/4→0
    np.testing.assert_array_equal(out[0], [1, 1, 0, 0])


@pytest.mark.parametrize("kernel", ["tfw_average_pool_s8", "tfw_max_pool_s8"])
@pytest.mark.parametrize("bad", [dict(act_min=5, act_max=4), dict(stride_height=0), dict(pad_left=-1),
                                 dict(depth=0), dict(act_max=128)])
def test_pool_rejects_bad_params(kernels, kernel, bad):
    x = np.zeros((1, 9), np.int8)
    kernels.run(_pool_call(kernel), x, 4)  # valid parameters work
    kernels.run(_pool_call(kernel, **bad), x, 4, expect_status=1)


def test_average_pool_rejects_an_empty_window(kernels):
    # pad_top 3 with a 2-row window: the first window lies wholly above the image (TFLM fails too)
    call = _pool_call("tfw_average_pool_s8", pad_top=3)
    kernels.run(call, np.zeros((1, 9), np.int8), 4, expect_status=1)
    # the max pool has no such failure: TFLM yields the lowest int8, clamped
    out = kernels.run(_pool_call("tfw_max_pool_s8", pad_top=3, act_min=-100), np.zeros((1, 9), np.int8), 4)
    assert out[0][0] == -100


def test_s16_pools_use_the_int16_range(kernels):
    """Windows of values far outside int8: sums past 16 bits, the average rounded half away from zero,
    the maximum, and clamp bounds that are int16 values."""
    x = np.array([[30000, 30001, -32768, -32768, -32768, -32768, 1000, -1000, 5]], np.int16)  # 3x3
    windows = [(30000, 30001, -32768, -32768), (30001, -32768, -32768, -32768),
               (-32768, -32768, 1000, -1000), (-32768, -32768, -1000, 5)]

    def c_average(taps):  # (acc +- count / 2) / count with C's truncating division
        acc, n = sum(taps), len(taps)
        q = (abs(acc) + n // 2) // n
        return q if acc > 0 else -q

    full = dict(act_min=-32768, act_max=32767)
    out = kernels.run(_pool_call("tfw_average_pool_s16", **full), x, 4)
    assert out[0].tolist() == [c_average(w) for w in windows]
    out = kernels.run(_pool_call("tfw_max_pool_s16", **full), x, 4)
    assert out[0].tolist() == [max(w) for w in windows]
    out = kernels.run(_pool_call("tfw_max_pool_s16", act_min=-300, act_max=20000), x, 4)
    assert out[0].tolist() == [20000, 20000, 1000, 5]
    for kernel in ("tfw_average_pool_s16", "tfw_max_pool_s16"):
        kernels.run(_pool_call(kernel, act_min=-32769), x, 4, expect_status=1)
        kernels.run(_pool_call(kernel, act_max=32768), x, 4, expect_status=1)


def test_table_is_big_enough():
    for table in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D_16x8", "MAX_POOL_2D_16x8"):
        assert len(op_table.cases(table)) >= 20


def test_struct_layouts_match_c():
    """The shim compares every parsed struct with C's sizeof when the library is built."""
    k = harness.shared()
    assert {"TfwConvParams", "TfwDepthwiseConvParams", "TfwPoolParams", "TfwPadParams", "TfwMeanParams",
            "TfwFullyConnectedParams"} <= set(k.structs)
