"""SQUEEZE (an alias, like RESHAPE), STRIDED_SLICE (constant begin/end/strides and masks, up to 4-D,
firmware/kernels/tfw_strided_slice.c) and the shape arithmetic SHAPE → STRIDED_SLICE → PACK that Keras
emits for a dynamic batch (Flatten): shapes are fixed in the engine, so those ops are evaluated here,
at generate time, into folded values (no code, no memory) that RESHAPE then ignores."""

from __future__ import annotations

import math

import numpy as np

from tinyml_fw.aot.call import CTYPES, Call, Refusal, known, lowering, quantized
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.modelspec import ModelSpec, OpSpec

MAX_DIMS = 4  # TFLM's STRIDED_SLICE kMaxDim
_PAD_TO = 5  # TFLM pads begin/end/strides and masks to 5-D before slicing


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if hi < v else (lo if v < lo else v)


def slice_indices(shape, begin, end, strides, begin_mask: int, end_mask: int, shrink_mask: int):
    """The input index visited along each (5-D padded) axis, as TFLM's StridedSlice walks them
    (StridedSlicePadIndices, StridedSliceStartForAxis, StridedSliceEndForAxis)."""
    pad = _PAD_TO - len(shape)
    shape = (1,) * pad + tuple(shape)
    begin, end, strides = [0] * pad + list(begin), [1] * pad + list(end), [1] * pad + list(strides)
    begin_mask = (begin_mask << pad) | ((1 << pad) - 1)
    end_mask = (end_mask << pad) | ((1 << pad) - 1)
    shrink_mask <<= pad
    axes = []
    for axis, size in enumerate(shape):
        stride = int(strides[axis])
        if stride == 0:
            raise Refusal("a stride of 0.")
        start = int(begin[axis]) + (size if begin[axis] < 0 else 0)
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink_mask & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = int(end[axis]) + (size if end[axis] < 0 else 0)
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
            if end_mask & (1 << axis):
                stop = size if stride > 0 else -1
        axes.append(list(range(start, stop, stride)))
    return shape, axes


def _slice_setup(spec: ModelSpec, op: OpSpec, lw):
    x, y = spec.tensors[op.inputs[0]], spec.tensors[op.outputs[0]]
    consts = [known(lw, spec, t) for t in op.inputs[1:4]]
    if any(c is None for c in consts):
        raise Refusal("begin, end and strides must be constant (TFLM refuses others).")
    o = op.options
    if o.get("ellipsisMask", 0) or o.get("newAxisMask", 0) or o.get("offset", False):
        raise Refusal("ellipsis_mask, new_axis_mask and offset are ignored by TFLM; slice without them.")
    if len(x.shape) > MAX_DIMS:
        raise Refusal(f"a {len(x.shape)}-D input; TFLM slices up to {MAX_DIMS}-D.")
    begin, end, strides = (np.asarray(c, dtype=np.int64).reshape(-1) for c in consts)
    if not len(begin) == len(end) == len(strides) == len(x.shape):
        raise Refusal("begin, end and strides must have one value per input dimension.")
    shape, axes = slice_indices(x.shape, begin, end, strides, int(o.get("beginMask", 0)),
                                int(o.get("endMask", 0)), int(o.get("shrinkAxisMask", 0)))
    if math.prod(len(a) for a in axes) != y.size or y.size == 0:
        raise Refusal(f"the slice has {math.prod(len(a) for a in axes)} values, the output tensor {y.size}.")
    return x, y, shape, axes


def plan_strided_slice(spec: ModelSpec, op: OpSpec, lw: Lowering | None = None) -> Call | None:
    """A gather with one affine index per axis; folded when the input is known at generate time."""
    x, y, shape, axes = _slice_setup(spec, op, lw)
    value = known(lw, spec, op.inputs[0])
    if value is not None and lw is not None:
        lw.folded[op.outputs[0]] = value.reshape(shape)[np.ix_(*axes)].reshape(y.shape).astype(value.dtype)
        return None
    dtype = quantized(spec, op, [x, y]) if x.dtype != "INT32" else "INT32"  # TFLM copies the values
    steps = [math.prod(shape[a + 1:]) * (a_idx[1] - a_idx[0] if len(a_idx) > 1 else 0)
             for a, a_idx in enumerate(axes)]
    start = sum(a_idx[0] * math.prod(shape[a + 1:]) for a, a_idx in enumerate(axes))
    kept = [(len(a_idx), step) for a_idx, step in zip(axes, steps, strict=True) if len(a_idx) > 1] or [(1, 0)]
    pad = [0] * (_PAD_TO - len(kept))
    fields = {"dims": len(kept), "count": tuple([c for c, _ in kept] + pad),
              "step": tuple([s for _, s in kept] + pad), "start": start,
              "element_bytes": np.dtype({"INT8": np.int8, "INT16": np.int16, "INT32": np.int32}[dtype]).itemsize}
    return Call("tfw_strided_slice", "TfwStridedSliceParams", "tfw_strided_slice.h", fields,
                (op.inputs[0], op.outputs[0]), (CTYPES[dtype], CTYPES[dtype]))


def _fold_only(lw: Lowering, op: OpSpec, value: np.ndarray) -> None:
    if any(t in lw.spec.outputs for t in op.outputs):
        raise lw.refuse(op, "the model's output would be a shape computed at generate time.")
    lw.folded[op.outputs[0]] = value


def lower_shape(lw: Lowering, op: OpSpec) -> None:
    """SHAPE: the input's (fixed, batch-1) shape."""
    out = lw.tensor(op.outputs[0])
    dtype = {"INT32": np.int32, "INT64": np.int64}.get(out.dtype)
    if dtype is None:
        raise lw.refuse(op, f"SHAPE to {out.dtype}.")
    _fold_only(lw, op, np.asarray(lw.tensor(op.inputs[0]).shape, dtype=dtype))


def lower_pack(lw: Lowering, op: OpSpec) -> None:
    """PACK of values known at generate time (shape arithmetic); run-time PACK is not supported."""
    values = [v for v in (known(lw, lw.spec, t) for t in op.inputs) if v is not None]
    if len(values) != len(op.inputs):
        raise lw.refuse(op, "PACK of run-time tensors is not supported by the AOT engine (only shape "
                            "arithmetic that folds at generate time).")
    out = lw.tensor(op.outputs[0])
    _fold_only(lw, op, np.stack(values, axis=int(op.options.get("axis", 0))).reshape(out.shape))


def lower_squeeze(lw: Lowering, op: OpSpec) -> None:
    """SQUEEZE: the same bytes under another shape: the output aliases the input."""
    src, dst = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    if src.nbytes != dst.nbytes:
        raise lw.refuse(op, "changes the tensor size: not a squeeze.")
    value = known(lw, lw.spec, op.inputs[0])
    if value is not None:
        _fold_only(lw, op, value.reshape(dst.shape))
    else:
        lw.alias[op.outputs[0]] = op.inputs[0]


LOWERINGS = {"STRIDED_SLICE": lowering(plan_strided_slice), "SHAPE": lower_shape, "PACK": lower_pack,
             "SQUEEZE": lower_squeeze}
