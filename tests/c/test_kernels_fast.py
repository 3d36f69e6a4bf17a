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


def test_fast_conv_matches_portable_on_short_rows_and_dilations(kernels):
    """The fast CONV_2D against the portable kernel on filters the op table leaves out: rows of fewer than
    four values (one patch word per row) with and without dilation, every requantization mode, padding."""
    import numpy as np

    from tinyml_fw.aot import quant
    from tinyml_fw.aot.call import Call, Const
    from tinyml_fw.aot.ops.conv import conv_blocks

    rng = np.random.default_rng(5)
    modes = set()
    for fh, fw, depth, dil, pad, act, out_scale in [
            (3, 3, 1, 1, 0, "RELU", 0.05), (3, 1, 3, 1, 1, "NONE", 0.05), (2, 2, 1, 2, 1, "RELU6", 0.05),
            (3, 3, 1, 2, 0, "NONE", 0.0004), (1, 3, 1, 3, 1, "RELU", 0.02), (2, 1, 2, 2, 0, "RELU6", 0.3),
            (3, 2, 2, 1, 1, "NONE", 0.05), (5, 1, 1, 1, 2, "RELU", 0.05)]:
        out_depth, h, w = int(rng.integers(1, 10)), 9, 8
        out_h, out_w = h + 2 * pad - dil * (fh - 1), w + 2 * pad - dil * (fw - 1)
        weights = rng.integers(-128, 128, (out_depth, fh, fw, depth), dtype=np.int8)
        bias = rng.integers(-5000, 5000, out_depth).astype(np.int32)
        in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
        q = quant.conv_quant_params(0.05, list(rng.uniform(0.001, 0.02, out_depth)), out_depth, out_scale, out_zp,
                                    act)
        fields = {
            "input_offset": -in_zp, "output_offset": out_zp, "act_min": q["act_min"], "act_max": q["act_max"],
            "batches": 2, "input_height": h, "input_width": w, "input_depth": depth, "filter_height": fh,
            "filter_width": fw, "filter_depth": depth, "output_height": out_h, "output_width": out_w,
            "output_depth": out_depth, "stride_height": 1, "stride_width": 1, "dilation_height": dil,
            "dilation_width": dil, "pad_top": pad, "pad_left": pad, "wide_accum": 0,
            "weights": Const("int8_t", weights), "bias": Const("int32_t", bias), "bias64": None,
            "output_multiplier": Const("int32_t", np.array(q["output_multiplier"])),
            "output_shift": Const("int32_t", np.array(q["output_shift"])), "blocks": None, "requant_mode": 0}
        x = rng.integers(-128, 128, (2, h, w, depth), dtype=np.int8)
        want = np.zeros((2, out_h, out_w, out_depth), np.int8)
        call = Call("tfw_conv_s8", "TfwConvParams", "tfw_conv.h", fields, (0, 1), ("int8_t", "int8_t"))
        assert kernels.call(call, [x], want) == 0
        fast = dict(fields, **conv_blocks(weights, bias, -in_zp, q["output_multiplier"], q["output_shift"], out_zp,
                                          q["act_min"], q["act_max"]))
        modes.add(fast["requant_mode"])
        got = np.zeros_like(want)
        assert kernels.call(Call("tfw_conv_s8_fast", "TfwConvParams", "tfw_conv.h", fast, (0, 1),
                                 ("int8_t", "int8_t")), [x], got) == 0
        np.testing.assert_array_equal(got, want, err_msg=f"{fh}x{fw}x{depth} dilation {dil}")
    assert modes == {0, 1, 2, 3}
