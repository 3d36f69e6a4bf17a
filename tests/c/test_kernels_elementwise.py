"""ADD, SUB and MUL (int8 and 16x8) against the TFLM interpreter, byte for byte, over the generated op
table; the broadcast loop nest; the golden's scale arithmetic; parameter checks; struct layouts; the
kernels built for the Cortex-M4."""

from __future__ import annotations

import ctypes
import itertools

import numpy as np
import pytest

import fc_models as h
import harness
import op_table
from op_table import check_case, table_params
from tinyml_fw.aot import quant
from tinyml_fw.aot.call import Refusal
from tinyml_fw.aot.ops.elementwise import broadcast_loops, plan_binary
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("case", table_params("ADD", "SUB", "MUL", "ADD_16x8", "SUB_16x8", "MUL_16x8"))
def test_op_table(kernels, op_table_cache, case):
    check_case(case, kernels, op_table_cache)


def _walk(loops) -> tuple[list[int], list[int]]:
    """The input offsets the kernel's loop nest visits, in output order."""
    dims = loops["dims"]
    ranges = [range(n) for n in loops["shape"][:dims]]
    off1, off2 = [], []
    for idx in itertools.product(*ranges):
        off1.append(sum(i * s for i, s in zip(idx, loops["stride1"])))
        off2.append(sum(i * s for i, s in zip(idx, loops["stride2"])))
    return off1, off2


def test_broadcast_loops_visit_what_numpy_broadcasts():
    rng = np.random.default_rng(0)
    for _ in range(300):
        rank = int(rng.integers(0, 7))
        full = tuple(int(v) for v in rng.integers(1, 4, rank))
        shapes = []
        for _ in range(2):
            r = int(rng.integers(0, rank + 1))
            shapes.append(tuple(d if rng.random() < 0.5 else 1 for d in full[rank - r:]))
        out = tuple(np.broadcast_shapes(*shapes))
        loops = broadcast_loops(out, *shapes)
        off1, off2 = _walk(loops)
        for s, off in zip(shapes, (off1, off2)):
            want = np.broadcast_to(np.arange(int(np.prod(s))).reshape(s), out).reshape(-1)
            assert list(want) == off, (out, shapes, loops)


def test_broadcast_loops_fuse_like_tflm():
    assert broadcast_loops((2, 3, 4), (2, 3, 4), (2, 3, 4))["dims"] == 1
    loops = broadcast_loops((2, 3, 4), (2, 3, 4), (1, 1, 4))
    assert (loops["dims"], loops["shape"][:2], loops["stride1"][:2], loops["stride2"][:2]) == (2, (6, 4), (4, 1),
                                                                                                (0, 1))
    assert broadcast_loops((), (), ())["dims"] == 1
    with pytest.raises(Refusal, match="do not broadcast"):
        broadcast_loops((2, 3), (2, 3), (3, 3))


def test_sub_scale_ratios_are_double_in_the_golden(kernels, op_table_cache, tmp_path, monkeypatch):
    """Upstream SUB Prepare divides scales in float32; the PyPI interpreter follows double, as ADD:
    on scales where the two give different multipliers, TFLM matches the double ones."""
    base = op_table.model_path(op_table.cases("SUB_16x8")[6], op_table_cache).read_bytes()  # all int16 pairs
    rng = np.random.default_rng(3)
    original = quant.add_params

    def float32_ratios(*args, int16=False, **kw):
        p = original(*args, int16=int16, **kw)
        s1, s2, so = (np.float32(args[i]) for i in (0, 2, 4))
        twice = np.float32(2) * max(s1, s2)
        for key, real in (("input1", s1 / twice), ("input2", s2 / twice),
                          ("output", twice / (np.float32(1 << p["left_shift"]) * so))):
            p[f"{key}_multiplier"], p[f"{key}_shift"] = quant.quantize_multiplier(float(real))
        return p

    class variant:
        def __enter__(self):
            monkeypatch.setattr(quant, "add_params", float32_ratios)

        def __exit__(self, *exc):
            monkeypatch.setattr(quant, "add_params", original)

    shown = 0
    for k in range(200):
        scales = [float(np.float32(v)) for v in rng.uniform(1e-4, 3e-4, 3)]

        def edit(model, scales=scales):
            g = model.subgraphs[0]
            op = g.operators[0]
            for t, s in zip((*op.inputs[:2], op.outputs[0]), scales):
                g.tensors[t].quantization.scale = [s]
        ours, theirs, differ = op_table.golden_follows(kernels, op_table.repack(base, edit),
                                                       tmp_path / "sub.tflite", variant, n=2, seed=k)
        assert ours
        if differ:
            assert not theirs
            shown += 1
            if shown == 2:
                break
    assert shown == 2


def _spec(tensors, op_name, inputs, outputs, options=None) -> tuple[ModelSpec, OpSpec]:
    op = OpSpec(0, op_name, tuple(inputs), tuple(outputs), options or {})
    return ModelSpec("x", "0" * 64, 0, tuple(tensors), (op,), (inputs[0],), tuple(outputs)), op


def _t(i, shape, dtype="INT8", scale=0.1, zp=0):
    return TensorSpec(i, f"t{i}", tuple(shape), dtype, (scale,), (zp,))


def test_refusals_name_the_reason():
    spec, op = _spec([_t(0, (2, 3), "INT16", zp=3), _t(1, (2, 3), "INT16"), _t(2, (2, 3), "INT16")], "MUL",
                     [0, 1], [2])
    with pytest.raises(Refusal, match="zero points of 0"):
        plan_binary(spec, op)
    spec, op = _spec([_t(0, (2, 3)), _t(1, (2, 3), "INT16"), _t(2, (2, 3))], "ADD", [0, 1], [2])
    with pytest.raises(Refusal, match="one type"):
        plan_binary(spec, op)
    spec, op = _spec([_t(0, (2, 3)), _t(1, (2, 3)), _t(2, (2, 3), scale=1e-9)], "ADD", [0, 1], [2])
    with pytest.raises(ValueError, match="outside"):
        plan_binary(spec, op)
    spec, op = _spec([_t(0, (2, 1) * 4), _t(1, (1, 2) * 4), _t(2, (2, 2) * 4)], "ADD", [0, 1], [2])
    with pytest.raises(Refusal, match="at most 6"):
        plan_binary(spec, op)
    spec, op = _spec([_t(0, (2, 3)), _t(1, (2, 3)), _t(2, (2, 3))], "ADD", [0, 1], [2],
                     {"fusedActivationFunction": 4})  # TANH
    with pytest.raises(ValueError, match="unsupported activation"):
        plan_binary(spec, op)


def test_kernels_reject_bad_params(kernels):
    spec, op = _spec([_t(0, (2, 3)), _t(1, (1, 3)), _t(2, (2, 3))], "ADD", [0, 1], [2])
    good = plan_binary(spec, op)
    x = np.zeros((2, 3), np.int8)
    out = np.zeros((2, 3), np.int8)
    assert kernels.call(good, [x, x[:1]], out) == 0
    bad_fields = [dict(act_min=5, act_max=4), dict(input1_shift=1), dict(input1_offset=300), dict(left_shift=31),
                  dict(bcast=dict(good.fields["bcast"], dims=7)), dict(bcast=dict(good.fields["bcast"], dims=0))]
    for bad in bad_fields:
        call = type(good)(**{**good.__dict__, "fields": {**good.fields, **bad}})
        assert kernels.call(call, [x, x[:1]], out) == 1, bad
    assert kernels.dll.tfw_add_s8(None, None, None, None) == 1
    spec, op = _spec([_t(0, (2, 3)), _t(1, (1, 3)), _t(2, (2, 3))], "MUL", [0, 1], [2])
    mul = plan_binary(spec, op)
    for bad in [dict(output_shift=31), dict(act_min=-129), dict(input2_offset=-200)]:
        call = type(mul)(**{**mul.__dict__, "fields": {**mul.fields, **bad}})
        assert kernels.call(call, [x, x[:1]], out) == 1, bad


def test_ctypes_structs_match_the_c_layout(kernels):
    for name, struct in kernels.structs.items():
        assert kernels.sizeof(name) == ctypes.sizeof(struct), name


@pytest.mark.skipif(not h.have("arm-none-eabi-gcc"), reason="arm-none-eabi-gcc not installed")
def test_kernels_build_for_cortex_m4_without_warnings(tmp_path):
    sources = ["tfw_elementwise.c", "tfw_activations.c", "tfw_quantize.c", "tfw_concat.c", "tfw_strided_slice.c"]
    harness.cross_compile(tmp_path, "arm-none-eabi-gcc",
                          ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"], sources)
    assert len(list(tmp_path.glob("*.o"))) == len(sources)
