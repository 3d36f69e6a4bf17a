"""The TFLite Micro runtime's plan: which operators the op resolver registers, how big the tensor arena is,
and what model_settings.h says about the tensors. Templates (templates/tflm/) only render this.

The arena is the smallest working arena the tflite-micro interpreter measures on this host (arena.py), plus
a stated margin. The host figure is an upper bound for 32-bit targets (pointers and TFLM's bookkeeping are
smaller there); the margin covers what the measurement cannot see: other TFLM versions of Arduino
libraries, optimized kernels' scratch buffers (CMSIS-NN), alignment.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyml_fw.analyze import Fit
from tinyml_fw.boards import Board
from tinyml_fw.errors import BadInput, MissingTool
from tinyml_fw.modelspec import ModelSpec

# BuiltinOperator → the MicroMutableOpResolver method that registers it (TFLM's micro_mutable_op_resolver.h).
OP_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs", "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast", "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D",
    "COS": "AddCos", "CUMSUM": "AddCumSum", "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice", "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "ELU": "AddElu", "EQUAL": "AddEqual", "EXP": "AddExp", "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill",
    "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv", "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather", "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual", "HARD_SWISH": "AddHardSwish", "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D",
    "MIRROR_PAD": "AddMirrorPad", "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MUL": "AddMul", "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound",
    "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQUEEZE": "AddSqueeze", "SQRT": "AddSqrt",
    "SQUARE": "AddSquare", "SQUARED_DIFFERENCE": "AddSquaredDifference", "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE_CONV": "AddTransposeConv",
    "TRANSPOSE": "AddTranspose", "UNPACK": "AddUnpack",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}

# The arena margin: a quarter of the measured arena, at least 1 KiB, in 16-byte steps.
ARENA_MARGIN_MIN = 1024
ARENA_MARGIN_FRACTION = 0.25
ARENA_ALIGN = 16

# Fit estimates, measured on the emulated Cortex-M4 (TFLM tree with CMSIS-NN, -O2; TFLM's hello_world:
# 64,184 B of flash with 1 operator, mnist-mlp: 91,444 B with 3), rounded up: TFLM's interpreter and
# framework with our protocol and the C library's formatting, each operator's kernel, the model; RAM
# besides the arena (resolver, interpreter, receive buffer) and the stack. A real board's Arduino core and
# library version add their own share.
TFLM_FRAMEWORK_FLASH = 56 * 1024
TFLM_KERNEL_FLASH = 6 * 1024
TFLM_RUNTIME_RAM = 2 * 1024
STACK_RAM = 4096

_CTYPES = {"INT8": "int8_t", "UINT8": "uint8_t", "INT16": "int16_t", "INT32": "int32_t", "FLOAT32": "float",
           "BOOL": "bool", "INT64": "int64_t"}


def arena_margin(measured: int) -> int:
    return max(ARENA_MARGIN_MIN, _align(math.ceil(measured * ARENA_MARGIN_FRACTION)))


def _align(n: int) -> int:
    return (n + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    ctype: str
    scale: float
    zero_point: int
    nbytes: int

    @property
    def scale_literal(self) -> str:
        """The float32 scale as a C float literal that reads back to the same float32."""
        return f"{np.float32(self.scale).item():.9g}f"


@dataclass(frozen=True)
class TflmPlan:
    name: str
    ops: tuple[tuple[str, str], ...]  # (BuiltinOperator, resolver method), each once, in first-use order
    arena_measured: int
    arena_margin: int
    input: TensorInfo
    output: TensorInfo
    labels: tuple[str, ...]
    model_bytes: int

    @property
    def op_count(self) -> int:
        return len(self.ops)

    @property
    def arena_bytes(self) -> int:
        return self.arena_measured + self.arena_margin

    def to_dict(self) -> dict:
        return asdict(self) | {"op_count": self.op_count, "arena_bytes": self.arena_bytes}


def resolver_ops(spec: ModelSpec) -> tuple[tuple[str, str], ...]:
    """The model's operators, each once, with the resolver method that registers it; refuses ops that the
    op resolver cannot register."""
    ops: dict[str, str] = {}
    for op in spec.ops:
        if op.op in ops:
            continue
        method = OP_METHODS.get(op.op)
        if method is None:
            raise BadInput(f"The TFLM runtime cannot register {spec.layer_name(op)}: "
                           f"{op.op} has no MicroMutableOpResolver method (custom and unknown operators "
                           "are not supported). Use --runtime aot if the AOT engine supports the model.")
        ops[op.op] = method
    return tuple(ops.items())


def _tensor(spec: ModelSpec, index: int) -> TensorInfo:
    t = spec.tensors[index]
    return TensorInfo(t.name, tuple(t.shape), t.dtype, _CTYPES.get(t.dtype, "uint8_t"),
                      t.scales[0] if t.scales else 0.0, t.zero_points[0] if t.zero_points else 0, t.nbytes)


def measure_arena(model_path: Path) -> int:
    """The smallest working arena (tflite-micro interpreter on this host), cached per model."""
    if importlib.util.find_spec("tflite_micro") is None:
        raise MissingTool("The TFLM runtime sizes its arena with the tflite-micro interpreter: "
                          "pip install --pre tflite-micro (`make setup`).")
    from tinyml_fw.arena import measured_arena

    size = measured_arena(model_path)
    if size is None:
        raise BadInput(f"{model_path}: the tflite-micro interpreter cannot run this model in any arena "
                       "up to 64 MB, so TFLM on a board cannot either.")
    return size


def plan(spec: ModelSpec, model_path: Path, name: str, labels: tuple[str, ...] = ()) -> TflmPlan:
    if len(spec.inputs) != 1 or len(spec.outputs) != 1:
        raise BadInput(f"{model_path}: the serial protocol carries one input and one output tensor; this model "
                       f"has {len(spec.inputs)} inputs and {len(spec.outputs)} outputs.")
    ops = resolver_ops(spec)
    measured = measure_arena(model_path)
    output = _tensor(spec, spec.outputs[0])
    if labels and len(labels) != int(np.prod(output.shape)):
        labels = ()  # labels that do not name every output are no labels
    return TflmPlan(name, ops, measured, arena_margin(measured), _tensor(spec, spec.inputs[0]), output,
                    tuple(labels), spec.size)


def fit(plan: TflmPlan, board: Board) -> Fit:
    """Flash and RAM the TFLM firmware will need on `board` (TFLM, kernels, model, arena, stack), estimated
    before building; the Arduino core of a real board adds its own share."""
    flash = TFLM_FRAMEWORK_FLASH + TFLM_KERNEL_FLASH * plan.op_count + plan.model_bytes
    ram = TFLM_RUNTIME_RAM + plan.arena_bytes + (board.stack_bytes or STACK_RAM)
    return Fit(board.id, flash, board.flash_bytes, ram, board.ram_bytes)


def static_arena_refusal(plan: TflmPlan, board: Board) -> str | None:
    if board.max_static_arena and plan.arena_bytes > board.max_static_arena:
        return (f"The TFLM arena of {plan.arena_bytes:,} B is larger than a static array can be on {board.id} "
                f"(about {board.max_static_arena:,} B of contiguous internal RAM): use a smaller model.")
    return None
