"""PAD and PADV2 (int8 and int16, 2-D to 5-D) against the TFLM interpreter over the op table."""

import numpy as np
import pytest

import op_table
from op_table import check_case, table_params
from tinyml_fw.aot.call import Call

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.mark.parametrize("case", table_params("PAD"))
def test_pad_matches_tflm(case, kernels, op_table_cache):
    result = check_case(case, kernels, op_table_cache)
    if case.params["value"] != 0.0:
        assert result.ops == ["PADV2"]


def test_table_is_big_enough():
    cases = op_table.cases("PAD")
    assert len(cases) >= 20
    assert any(c.params["mode"] == "16x8" for c in cases) and any(c.params["value"] for c in cases)


def test_16x8_padv2_is_refused_like_tflm(op_table_cache):
    """The 16x8 converter leaves PADV2's constant FLOAT32: TFLM cannot prepare it, the lowering refuses it."""
    from tinyml_fw.errors import BadInput
    from tinyml_fw.golden import Reference
    from tinyml_fw.modelspec import read_model

    base = next(c for c in op_table.cases("PAD") if c.params["mode"] == "16x8")
    case = op_table.Case("PAD", 99, {**base.params, "value": 0.5, "tag": "16bit-padv2"})
    path = op_table.model_path(case, op_table_cache)
    with pytest.raises(RuntimeError):
        Reference(path.read_bytes())
    spec = read_model(path)
    with pytest.raises(BadInput, match="constant_values .* must be one constant INT16 value"):
        op_table.plan(spec, spec.ops[0])


def test_pad_against_numpy(kernels):
    rng = np.random.default_rng(3)
    for dtype, kernel in ((np.int8, "tfw_pad_s8"), (np.int16, "tfw_pad_s16")):
        for _ in range(20):
            shape = tuple(int(v) for v in rng.integers(1, 4, size=5))
            pads = rng.integers(0, 3, size=(5, 2))
            value = int(rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max))
            x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, size=shape, dtype=dtype)
            ctype = "int16_t" if dtype == np.int16 else "int8_t"
            call = Call(kernel, "TfwPadParams", "tfw_pad.h",
                        {"input_dims": shape, "before": tuple(pads[:, 0]), "after": tuple(pads[:, 1]),
                         "pad_value": value}, (0, 1), (ctype, ctype))
            want = np.pad(x, pads, constant_values=value)
            got = kernels.run(call, x[None], want.size)
            np.testing.assert_array_equal(got[0], want.reshape(-1))


def test_pad_rejects_bad_params(kernels):
    ok = {"input_dims": (1, 1, 1, 2, 2), "before": (0,) * 5, "after": (0,) * 5, "pad_value": 0}
    x = np.zeros((1, 4), np.int8)
    for bad in (dict(pad_value=128), dict(input_dims=(1, 1, 0, 2, 2)), dict(before=(0, 0, 0, -1, 0))):
        call = Call("tfw_pad_s8", "TfwPadParams", "tfw_pad.h", {**ok, **bad}, (0, 1), ("int8_t", "int8_t"))
        kernels.run(call, x, 64, expect_status=1)
