"""ModelSpec: a .tflite file read with the TFLite flatbuffer schema module into plain, typed data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyml_fw.errors import BadInput


def _names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


OP_NAMES = _names(schema.BuiltinOperator)
TYPE_NAMES = _names(schema.TensorType)
ACTIVATION_NAMES = _names(schema.ActivationFunctionType)
_NUMPY = {"INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8,
          "FLOAT32": np.float32, "FLOAT16": np.float16, "BOOL": np.bool_}


@dataclass(frozen=True)
class TensorSpec:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite's name: INT8, INT32, FLOAT32, …
    scales: tuple[float, ...] = ()  # float32 values, as stored
    zero_points: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: bytes | None = field(default=None, repr=False)  # constant tensors only

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_NUMPY.get(self.dtype, np.uint8)).itemsize

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    def array(self) -> np.ndarray:
        """A constant tensor's values, little-endian as stored."""
        if self.data is None:
            raise ValueError(f"tensor {self.name} is not constant")
        return np.frombuffer(self.data, dtype=np.dtype(_NUMPY[self.dtype]).newbyteorder("<")).reshape(self.shape)


@dataclass(frozen=True)
class OpSpec:
    index: int
    op: str  # BuiltinOperator name: FULLY_CONNECTED, …
    inputs: tuple[int, ...]  # -1 = optional input left out
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def activation(self) -> str:
        return ACTIVATION_NAMES.get(self.options.get("fusedActivationFunction", 0), "NONE")


@dataclass(frozen=True)
class ModelSpec:
    path: str
    sha256: str
    size: int
    tensors: tuple[TensorSpec, ...]
    ops: tuple[OpSpec, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def layer_name(self, op: OpSpec) -> str:
        """How users recognise a layer: its index, operator and first output tensor's name."""
        out = self.tensors[op.outputs[0]].name if op.outputs else "?"
        return f"layer {op.index} ({op.op} → '{out}')"


def _tensor(index: int, t, buffers) -> TensorSpec:
    q = t.quantization
    scales = tuple(float(s) for s in q.scale) if q is not None and q.scale is not None else ()
    zps = tuple(int(z) for z in q.zeroPoint) if q is not None and q.zeroPoint is not None else ()
    buf = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
    data = bytes(np.asarray(buf.data, dtype=np.uint8)) if buf is not None and buf.data is not None else None
    shape = tuple(int(d) for d in t.shape) if t.shape is not None else ()
    return TensorSpec(index, (t.name or b"").decode("utf-8", "replace"), shape,
                      TYPE_NAMES.get(t.type, str(t.type)), scales, zps,
                      int(q.quantizedDimension) if q is not None else 0, data)


def read_model(path: str | Path) -> ModelSpec:
    """Reads a .tflite file; any file that is not one gets a clear BadInput."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"Model file not found: {path}")
    raw = path.read_bytes()
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise BadInput(f"{path} is not a TFLite model (no 'TFL3' identifier): "
                       "give a .tflite file, or a Keras model to `tinyml-fw quantize`.")
    try:
        model = schema.ModelT.InitFromPackedBuf(raw, 0)
        graph = model.subgraphs[0]
        if any(b.offset for b in model.buffers or []):
            raise BadInput(f"{path}: models with buffers outside the flatbuffer (>2 GB layout) "
                           "are not supported.")
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
        tensors = tuple(_tensor(i, t, model.buffers) for i, t in enumerate(graph.tensors))
        ops = tuple(
            OpSpec(i, OP_NAMES.get(codes[op.opcodeIndex], f"OP_{codes[op.opcodeIndex]}"),
                   tuple(int(x) for x in op.inputs), tuple(int(x) for x in op.outputs),
                   dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {})
            for i, op in enumerate(graph.operators or []))
        inputs = tuple(int(x) for x in graph.inputs)
        outputs = tuple(int(x) for x in graph.outputs)
    except BadInput:
        raise
    except Exception as exc:  # a truncated or corrupted flatbuffer fails in many ways
        raise BadInput(f"{path} is a damaged TFLite model ({type(exc).__name__}): "
                       "re-export it from the converter.") from None
    return ModelSpec(str(path), hashlib.sha256(raw).hexdigest(), len(raw), tensors, ops, inputs, outputs)
