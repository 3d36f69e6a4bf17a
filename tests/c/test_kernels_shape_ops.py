"""CONCATENATION, STRIDED_SLICE and SQUEEZE against the TFLM interpreter over the generated op table;
the strided-slice index logic; the SHAPE → STRIDED_SLICE → PACK chain of a Keras Flatten with a
dynamic batch folded at generate time; in-place execution only where it is safe."""

from __future__ import annotations

import numpy as np
import pytest

import op_table
import tables_ew
from op_table import check_case, table_params
from tinyml_fw.aot.call import Refusal
from tinyml_fw.aot.lower import Lowering, lower
from tinyml_fw.aot.ops import LOWERINGS
from tinyml_fw.aot.ops.concat import plan_concatenation
from tinyml_fw.aot.ops.slicing import slice_indices
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import ModelSpec, OpSpec, TensorSpec, read_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("case", table_params("CONCATENATION", "CONCATENATION_16x8", "STRIDED_SLICE", "SQUEEZE"))
def test_op_table(kernels, op_table_cache, case):
    check_case(case, kernels, op_table_cache)


def test_slice_indices_follow_python_slicing():
    rng = np.random.default_rng(4)
    for _ in range(500):
        shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(1, 5))))
        x = np.arange(int(np.prod(shape))).reshape(shape)
        begin, end, strides, key = [], [], [], []
        bm = em = sm = 0
        for axis, n in enumerate(shape):
            b, e = (int(v) for v in rng.integers(-n - 2, n + 3, 2))
            s = int(rng.choice([-3, -2, -1, 1, 2, 3]))
            mask = int(rng.integers(0, 4))
            if mask == 3 and -n <= b < n:  # shrink to one index (TF emits stride 1 there)
                sm |= 1 << axis
                s = 1
                key.append(b)
            else:
                bm |= (1 << axis) if mask & 1 else 0
                em |= (1 << axis) if mask & 2 else 0
                key.append(slice(None if mask & 1 else b, None if mask & 2 else e, s))
            begin.append(b), end.append(e), strides.append(s)
        padded, axes = slice_indices(shape, begin, end, strides, bm, em, sm)
        got = x.reshape(padded)[np.ix_(*axes)].reshape(-1)
        np.testing.assert_array_equal(got, x[tuple(key)].reshape(-1), err_msg=str((shape, key)))


def test_keras_flatten_with_dynamic_batch_folds_to_no_code(kernels, op_table_cache):
    path = tables_ew.keras_flatten_model(op_table_cache)
    spec = read_model(path)
    assert [op.op for op in spec.ops][:3] == ["SHAPE", "STRIDED_SLICE", "PACK"]
    assert sorted(op.op for op in spec.ops[3:]) == ["RELU", "RESHAPE"]
    plan = lower(spec, "flatten")
    assert [s.kernel for s in plan.steps] == ["tfw_relu_s8"]
    # Only the input's storage remains (the RELU runs in place, RESHAPE aliases): no shape tensors.
    assert [t.name for t in plan.tensors] == [spec.tensors[spec.inputs[0]].name]
    assert plan.arena_bytes == 32
    lw = Lowering(spec, "flatten")
    for op in spec.ops:
        LOWERINGS[op.op](lw, op)
    pack = spec.ops[2].outputs[0]
    np.testing.assert_array_equal(lw.folded[pack], [1, 32])
    feeds = tables_ew.input_sets(spec, 16, 1)
    calls = op_table.plan_calls(spec)
    for f, g in zip(feeds, op_table.golden_run(path.read_bytes(), feeds, spec)):
        np.testing.assert_array_equal(op_table.execute(kernels, spec, f, calls)[0].reshape(-1), g.reshape(-1))


# ---- in place ------------------------------------------------------------------------------------

def _t(i, shape=(2, 3), dtype="INT8"):
    return TensorSpec(i, f"t{i}", tuple(shape), dtype, (0.1,), (0,))


def _model(tensors, ops, inputs, outputs) -> ModelSpec:
    ops = tuple(OpSpec(i, name, tuple(ins), tuple(outs), opts) for i, (name, ins, outs, opts) in enumerate(ops))
    return ModelSpec("x", "0" * 64, 0, tuple(tensors), ops, tuple(inputs), tuple(outputs))


def _aliases(spec) -> dict:
    lw = Lowering(spec, "m")
    for op in spec.ops:
        LOWERINGS[op.op](lw, op)
    return lw.alias


def test_activation_chain_runs_in_place():
    spec = _model([_t(0), _t(1), _t(2)], [("RELU", [0], [1], {}), ("TANH", [1], [2], {})], [0], [2])
    assert _aliases(spec) == {1: 0, 2: 1}
    assert lower(spec, "m").arena_bytes == 16


def test_no_in_place_over_a_tensor_read_later():
    spec = _model([_t(0), _t(1), _t(2)], [("RELU", [0], [1], {}), ("ADD", [1, 0], [2], {})], [0], [2])
    assert _aliases(spec) == {2: 1}  # RELU keeps x (ADD reads it); ADD overwrites the RELU output


def _const(i, values):
    v = np.asarray(values, np.int32)
    return TensorSpec(i, f"c{i}", v.shape, "INT32", data=v.tobytes())


def test_in_place_only_over_a_full_shape_input():
    tensors = [_t(0), _t(1, (1, 3)), _t(2), _const(3, [0, 0]), _const(4, [1, 3]), _const(5, [1, 1])]
    spec = _model(tensors, [("STRIDED_SLICE", [0, 3, 4, 5], [1], {}), ("MUL", [1, 0], [2], {})], [0], [2])
    assert _aliases(spec) == {2: 0}  # onto x, not onto the broadcast (1, 3) slice


def test_no_in_place_when_an_operand_shares_bytes_under_another_shape():
    spec = _model([_t(0, (6,)), _t(1, (1, 6)), _t(2, (1, 6))],
                  [("RESHAPE", [0], [1], {}), ("ADD", [1, 0], [2], {})], [0], [2])
    assert 2 not in _aliases(spec)


def test_no_in_place_over_a_model_output_or_a_wider_type():
    spec = _model([_t(0), _t(1), _t(2)], [("RELU", [0], [1], {}), ("RELU", [0], [2], {})], [0], [1])
    assert _aliases(spec) == {2: 0}  # the second RELU may take x once the first has read it
    spec = _model([_t(0, dtype="FLOAT32"), _t(1), _t(2, dtype="FLOAT32")],
                  [("QUANTIZE", [0], [1], {}), ("DEQUANTIZE", [1], [2], {})], [0], [2])
    assert _aliases(spec) == {}


def test_concat_refusals():
    t = [_t(0), _t(1), _t(2, (2, 6))]
    spec = _model(t, [("CONCATENATION", [0, 1], [2], {"axis": 1, "fusedActivationFunction": 1})], [0], [2])
    with pytest.raises(Refusal, match="fused activation"):
        plan_concatenation(spec, spec.ops[0])
    t[1] = TensorSpec(1, "t1", (2, 3), "INT8", (0.2,), (0,))
    spec = _model(t, [("CONCATENATION", [0, 1], [2], {"axis": 1})], [0], [2])
    with pytest.raises(Refusal, match="quantized differently"):
        plan_concatenation(spec, spec.ops[0])


def test_pack_of_run_time_values_is_refused():
    spec = _model([_t(0, (3,), "INT32"), _t(1, (2, 3), "INT32")], [("PACK", [0, 0], [1], {"axis": 0})], [0], [1])
    with pytest.raises(BadInput, match="PACK of run-time tensors"):
        lower(spec, "m")


def test_int32_shape_arithmetic_folds():
    """SHAPE → STRIDED_SLICE → MUL → PACK (→ CONCATENATION) → RESHAPE: all evaluated at generate time."""
    i32 = lambda i, shape=(): TensorSpec(i, f"s{i}", shape, "INT32")  # noqa: E731
    tensors = [_t(0, (1, 4, 3)), i32(1, (3,)), _const(2, [0]), _const(3, [1]), _const(4, [1]), _const(5, [2]),
               _const(6, [3]), i32(7), i32(8), i32(9), i32(10), i32(11, (2,)), i32(12, (2,)), _t(13, (1, 12)),
               _t(14, (1, 12)), _const(15, [1]), i32(16, (2,))]
    spec = _model(tensors, [
        ("SHAPE", [0], [1], {}),
        ("STRIDED_SLICE", [1, 4, 5, 4], [7], {"shrinkAxisMask": 1}),  # dim 1
        ("STRIDED_SLICE", [1, 5, 6, 4], [8], {"shrinkAxisMask": 1}),  # dim 2
        ("MUL", [7, 8], [9], {}),
        ("STRIDED_SLICE", [1, 2, 3, 4], [10], {"shrinkAxisMask": 1}),  # dim 0
        ("PACK", [10, 9], [11], {"axis": 0}),
        ("ADD", [11, 15], [16], {}),
        ("SUB", [16, 15], [12], {}),
        ("RESHAPE", [0, 12], [13], {}),
        ("RELU", [13], [14], {}),
    ], [0], [14])
    lw = Lowering(spec, "m")
    for op in spec.ops:
        LOWERINGS[op.op](lw, op)
    np.testing.assert_array_equal(lw.folded[11], [1, 12])
    plan = lower(spec, "m")
    assert [s.kernel for s in plan.steps] == ["tfw_relu_s8"]
    assert plan.arena_bytes == 16
