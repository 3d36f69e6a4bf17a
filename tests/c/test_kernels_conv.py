"""CONV_2D and DEPTHWISE_CONV_2D (int8 and 16x8) against the TFLM interpreter, byte for byte, over the
generated op table (tests/c/tables_conv.py); parameters come from the ops' lowerings."""

from pathlib import Path

import numpy as np
import pytest

import op_table
import tables_conv
from op_table import check_case, table_params

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.mark.parametrize("case", table_params("CONV_2D", "CONV_2D_16x8"))
def test_conv_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


@pytest.mark.parametrize("case", table_params("DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D_16x8"))
def test_depthwise_conv_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


def test_table_is_big_enough():
    for table in ("CONV_2D", "CONV_2D_16x8", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D_16x8"):
        cases = op_table.cases(table)
        assert len(cases) >= 20
        assert len({c.id for c in cases}) == len(cases)


# ---- what the lowerings refuse, and why ------------------------------------------------------------

def _spec_and_op(table, tag, cache):
    from tinyml_fw.modelspec import read_model

    case = next(c for c in op_table.cases(table) if c.params["tag"] == tag)
    spec = read_model(op_table.model_path(case, cache))
    return spec, spec.ops[0]


def _with(spec, op, options=None, tensors=None):
    """The spec with the op's options and some tensors' fields replaced."""
    import dataclasses

    new_op = dataclasses.replace(op, options={**op.options, **(options or {})})
    ts = list(spec.tensors)
    for index, changes in (tensors or {}).items():
        ts[index] = dataclasses.replace(ts[index], **changes)
    return dataclasses.replace(spec, ops=(new_op,), tensors=tuple(ts)), new_op


@pytest.mark.parametrize("table, tag, options, tensors, message", [
    ("CONV_2D", "relu6", {"fusedActivationFunction": 4}, None, "fused activation TANH"),
    ("CONV_2D", "k3-same-relu", {"padding": 7}, None, "padding code 7"),
    ("CONV_2D", "k3-same-relu", {"strideH": 2}, None, "output height 8 differs from the 4"),
    ("CONV_2D", "k3-same-relu", None, {"w": {"zero_points": (3, 0, 0, 0)}}, "non-zero zero point"),
    ("CONV_2D", "k3-same-relu", None, {"w": {"data": None}}, "non-constant weights"),
    ("CONV_2D_16x8", "k2-same-even", None, {"x": {"zero_points": (5,)}}, "int16 zero points 0"),
    ("CONV_2D", "k3-same-relu", None, {"x": {"dtype": "FLOAT32"}}, "Quantize the model to int8"),
    ("DEPTHWISE_CONV_2D", "dm2", {"depthMultiplier": 3}, None, "depthMultiplier 3"),
    ("DEPTHWISE_CONV_2D", "k3-valid-d2-dm2", {"padding": 0}, None, "differs from the"),
    ("AVERAGE_POOL_2D", "p2-s2-valid", None, {"y": {"zero_points": (0,)}}, "quantization differ"),
    ("MEAN", "gap", None, {"x": {"dtype": "INT16"}}, "16x8 ops keep int16"),
    ("DEPTHWISE_CONV_2D_16x8", "dm2", None, {"y": {"dtype": "INT8"}}, "16x8 ops keep int16"),
])
def test_lowering_refuses(op_table_cache, table, tag, options, tensors, message):
    from tinyml_fw.errors import BadInput

    spec, op = _spec_and_op(table, tag, op_table_cache)
    where = {"x": op.inputs[0], "w": op.inputs[1] if len(op.inputs) > 1 else None, "y": op.outputs[0]}
    tensors = {where[k]: v for k, v in (tensors or {}).items()}
    spec, op = _with(spec, op, options, tensors)
    with pytest.raises(BadInput, match=message):
        op_table.plan(spec, op)


def test_lowering_refuses_non_contiguous_mean_axes(op_table_cache):
    import dataclasses

    from tinyml_fw.errors import BadInput

    spec, op = _spec_and_op("MEAN", "gap", op_table_cache)
    axis = op.inputs[1]
    ts = list(spec.tensors)
    ts[axis] = dataclasses.replace(ts[axis], data=np.array([1, 3], "<i4").tobytes())
    with pytest.raises(BadInput, match="one contiguous run of axes"):
        op_table.plan(dataclasses.replace(spec, tensors=tuple(ts)), op)


# ---- the kernels' own parameter checks -------------------------------------------------------------

@pytest.mark.parametrize("bad", [dict(stride_height=0), dict(dilation_width=0), dict(pad_top=-1),
                                 dict(filter_depth=2), dict(act_min=10, act_max=5), dict(input_offset=129),
                                 dict(bias64="x"), dict(output_shift=31)])
def test_conv_s8_rejects_bad_params(kernels, op_table_cache, bad):
    import dataclasses

    from tinyml_fw.aot.call import Const

    spec, op = _spec_and_op("CONV_2D", "k3-same-relu", op_table_cache)
    call = op_table.plan(spec, op)
    x = np.zeros((1, spec.tensors[op.inputs[0]].size), np.int8)
    size = spec.tensors[op.outputs[0]].size
    kernels.run(call, x, size)
    fields = dict(call.fields)
    for key, value in bad.items():
        if key == "bias64":
            fields[key] = Const("int64_t", np.zeros(4, np.int64))
        elif key == "output_shift":
            fields[key] = Const("int32_t", np.full(4, value))
        else:
            fields[key] = value
    kernels.run(dataclasses.replace(call, fields=fields), x, size, expect_status=1)


@pytest.mark.parametrize("bad", [dict(input_offset=1), dict(output_offset=-1), dict(wide_accum=2),
                                 dict(output_shift=8)])
def test_conv_s16_rejects_bad_params(kernels, op_table_cache, bad):
    import dataclasses

    from tinyml_fw.aot.call import Const

    spec, op = _spec_and_op("CONV_2D_16x8", "k2-same-even", op_table_cache)
    call = op_table.plan(spec, op)
    assert call.fields["wide_accum"] == 1
    x = np.zeros((1, spec.tensors[op.inputs[0]].size), np.int16)
    size = spec.tensors[op.outputs[0]].size
    kernels.run(call, x, size)
    fields = dict(call.fields)
    for key, value in bad.items():
        fields[key] = Const("int32_t", np.full(4, value)) if key == "output_shift" else value
    kernels.run(dataclasses.replace(call, fields=fields), x, size, expect_status=1)


# ---- helpers and portability ------------------------------------------------------------------------

def _mbqm64_reference(x: int, m: int, shift: int) -> int:
    """TFLM's int64 MultiplyByQuantizedMultiplier in Python integers (the value narrowed to int32)."""
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    r = (x * reduced + (1 << (total - 1))) >> total  # Python's >> floors, as an arithmetic shift does
    return (r + (1 << 31)) % (1 << 32) - (1 << 31)


def test_c_mbqm64_matches_reference(kernels):
    rng = np.random.default_rng(11)
    cases = [(0, 1 << 30, 0), (-1, 0x7FFF0000, 7), (1 << 46, 0x7FFFFFFF, -31), (-(1 << 47), 0x7FFEFFFF, -20),
             (12345, 0, 0), (-40, (1 << 30) + (1 << 15), -1)]
    for _ in range(3000):
        cases.append((int(rng.integers(-(1 << 47), 1 << 47)), int(rng.integers(0, 1 << 31)), int(rng.integers(-31, 8))))
    for x, m, s in cases:
        assert kernels.dll.shim_mbqm64(x, m, s) == _mbqm64_reference(x, m, s), (x, m, s)


def test_c_window_taps_match_brute_force(kernels):
    import ctypes

    start, end = ctypes.c_int32(), ctypes.c_int32()
    for origin in range(-9, 12):
        for dilation in (1, 2, 3):
            for size in (1, 4, 7):
                for taps in (1, 2, 5):
                    inside = [t for t in range(taps) if 0 <= origin + dilation * t < size]
                    kernels.dll.shim_window_taps(origin, dilation, size, taps, start, end)
                    got = list(range(start.value, end.value))
                    assert got == inside, (origin, dilation, size, taps)


@pytest.mark.parametrize("padding, size, k, stride, dilation, out, pad", [
    ("SAME", 8, 3, 1, 1, 8, 1), ("SAME", 8, 2, 1, 1, 8, 0), ("SAME", 9, 4, 2, 1, 5, 1),
    ("SAME", 8, 3, 1, 2, 8, 2), ("VALID", 9, 3, 1, 2, 5, 0), ("SAME", 49, 10, 2, 1, 25, 4),
    ("VALID", 11, 2, 3, 1, 4, 0), ("SAME", 1, 5, 1, 1, 1, 2),
])
def test_compute_padding(padding, size, k, stride, dilation, out, pad):
    from tinyml_fw.aot import quant

    assert quant.compute_padding(padding, size, k, stride, dilation) == (out, pad)


def test_compute_padding_refuses_windows_that_do_not_fit():
    from tinyml_fw.aot import quant

    with pytest.raises(ValueError, match="does not fit"):
        quant.compute_padding("VALID", 4, 3, 1, 2)


@pytest.mark.skipif(not __import__("shutil").which("arm-none-eabi-gcc"), reason="arm-none-eabi-gcc missing")
def test_kernels_compile_for_cortex_m4(tmp_path):
    import harness

    sources = ["tfw_conv.c", "tfw_depthwise_conv.c", "tfw_pooling.c", "tfw_pad.c", "tfw_mean.c",
               "tfw_fully_connected.c"]
    harness.cross_compile(tmp_path, "arm-none-eabi-gcc", ["-O2", "-mcpu=cortex-m4", "-mthumb"], sources)
    harness.cross_compile(tmp_path, "gcc", ["-O0", "-std=c11"], sources)


MICRO_SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "micro_speech_quantized.tflite"


@pytest.mark.skipif(not MICRO_SPEECH.is_file(), reason="shared reference models not present")
def test_tflm_micro_speech_model_on_host(kernels):
    """TFLM's micro_speech model chained on the host: the depthwise kernel with its lowering's parameters
    (depth multiplier 8, even 10x8 window, SAME, stride 2), then the FC and softmax kernels."""
    import fc_models as h
    from tinyml_fw.aot import quant
    from tinyml_fw.golden import Reference
    from tinyml_fw.modelspec import read_model

    spec = read_model(MICRO_SPEECH)
    assert [op.op for op in spec.ops] == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    dw = op_table.plan(spec, spec.ops[1])
    assert (dw.fields["depth_multiplier"], dw.fields["pad_top"], dw.fields["pad_left"]) == (8, 4, 3)
    raw = MICRO_SPEECH.read_bytes()
    x = tables_conv.inputs(spec, 48, seed=21)
    y = kernels.run(dw, x.reshape(len(x), -1), spec.tensors[spec.ops[1].outputs[0]].size)
    ops = h.read_ops(raw)
    qp, weights, bias = h.fc_setup(ops[2])
    y = h.run_fully_connected(kernels, qp, weights, bias, y)
    y = h.run_softmax(kernels, quant.softmax_params(ops[3]["inputs"][0]["scales"][0], ops[3]["beta"]), y)
    np.testing.assert_array_equal(y, Reference(raw).run_all(x))
