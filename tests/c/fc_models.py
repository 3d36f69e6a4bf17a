"""FULLY_CONNECTED and SOFTMAX helpers of the kernel host tests: run the int8 kernels (harness.py) on
numpy batches, numpy references of the requantization, small Keras models converted to int8 .tflite,
their operators' quantization read and patched in place, and the TFLM reference interpreter (the
golden model)."""

import shutil
import struct

import numpy as np

from harness import REPO  # noqa: F401 (the tests find the shared models beside the repository)
from op_table import import_tf
from tinyml_fw.aot import quant
from tinyml_fw.aot.call import Call, Const


def _const(arr, ctype):
    return None if arr is None else Const(ctype, np.asarray(arr))


def run_fully_connected(kernels, qparams: dict, weights, bias, inputs,
                        kernel: str = "tfw_fully_connected_s8") -> np.ndarray:
    """Run tfw_fully_connected_s8 (or `kernel`, e.g. the fast tfw_fully_connected_s8_fast, with the
    emulated DSP instructions on the host) on inputs [..., accum_depth] (one call, every row a batch);
    returns [..., output_depth]."""
    from tinyml_fw.aot.ops.fully_connected import fast_call

    weights = np.ascontiguousarray(weights, dtype=np.int8)
    out_depth, accum = weights.shape
    x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(-1, accum)
    if kernel.endswith("_fast"):  # the fast kernel of the layer's requantization mode, as the generator emits it
        call = fast_call(qparams, weights, bias, x.shape[0], (0, 1))
    else:
        fields = {
            "input_offset": qparams["input_offset"], "filter_offset": qparams["filter_offset"],
            "output_offset": qparams["output_offset"], "act_min": qparams["act_min"], "act_max": qparams["act_max"],
            "accum_depth": accum, "output_depth": out_depth, "batches": x.shape[0],
            "weights": Const("int8_t", weights), "bias": _const(bias, "int32_t"),
            "output_multiplier": qparams["output_multiplier"], "output_shift": qparams["output_shift"],
            "per_channel_multiplier": _const(qparams["per_channel_multiplier"], "int32_t"),
            "per_channel_shift": _const(qparams["per_channel_shift"], "int32_t"),
            "bias64": None, "wide_accum": 0,
        }
        call = Call(kernel, "TfwFullyConnectedParams", "tfw_fully_connected.h", fields, (0, 1),
                    ("int8_t", "int8_t"))
    out = np.zeros((x.shape[0], out_depth), dtype=np.int8)
    status = kernels.call(call, [x], out)
    assert status == 0, f"{kernel} returned {status}"
    return out.reshape(*np.shape(inputs)[:-1], out_depth)


def run_softmax(kernels, sparams: dict, inputs, kernel: str = "tfw_softmax_s8") -> np.ndarray:
    """Run tfw_softmax_s8 (or `kernel`, e.g. tfw_softmax_s8_fast with its generated exp table) over the
    last axis of inputs."""
    from tinyml_fw.aot.fixedpoint import softmax_exp_table

    x = np.ascontiguousarray(inputs, dtype=np.int8)
    depth = x.shape[-1]
    flat = x.reshape(-1, depth)
    table = softmax_exp_table(sparams["input_multiplier"], sparams["input_left_shift"], sparams["diff_min"])
    fields = {"input_multiplier": sparams["input_multiplier"], "input_left_shift": sparams["input_left_shift"],
              "diff_min": sparams["diff_min"], "outer_size": flat.shape[0], "depth": depth,
              "exp_table": Const("int32_t", np.array(table, np.int32))}
    call = Call(kernel, "TfwSoftmaxParams", "tfw_softmax.h", fields, (0, 1), ("int8_t", "int8_t"))
    out = np.zeros_like(flat)
    status = kernels.call(call, [flat], out)
    assert status == 0, f"{kernel} returned {status}"
    return out.reshape(x.shape)


# ---- numpy reference of the requantization (both TFLM rounding variants) -----------

def _trunc_div_pow2(v, n):
    return np.where(v >= 0, v >> n, -((-v) >> n))


def mbqm_double(x, m, shift):
    """TFLM MultiplyByQuantizedMultiplier, default double-rounding build (int64 numpy)."""
    x, m, shift = (np.asarray(a, dtype=np.int64) for a in (x, m, shift))
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    a = (x << left).astype(np.int32).astype(np.int64)  # wraps like the int32 kernel
    ab = a * m
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = _trunc_div_pow2(ab + nudge, 31)
    high = np.where((a == -(1 << 31)) & (m == -(1 << 31)), (1 << 31) - 1, high)
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def mbqm_single(x, m, shift):
    """The TFLITE_SINGLE_ROUNDING variant: one round-half-up at the end."""
    x, m, shift = (np.asarray(a, dtype=np.int64) for a in (x, m, shift))
    total = 31 - shift
    return (x * m + (np.int64(1) << (total - 1))) >> total


def fc_accumulators(qparams, weights, bias, inputs):
    """int64 accumulators [N, out] of the reference FC (before requantization)."""
    x = np.asarray(inputs, dtype=np.int64).reshape(-1, weights.shape[1]) + qparams["input_offset"]
    acc = x @ (np.asarray(weights, dtype=np.int64) + qparams["filter_offset"]).T
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return acc


def fc_reference(qparams, weights, bias, inputs, rounding="double"):
    """Pure numpy FC output [N, out] with the chosen MBQM rounding variant."""
    acc = fc_accumulators(qparams, weights, bias, inputs)
    if qparams["per_channel_multiplier"] is not None:
        m, s = qparams["per_channel_multiplier"], qparams["per_channel_shift"]
    else:
        m, s = qparams["output_multiplier"], qparams["output_shift"]
    fn = mbqm_double if rounding == "double" else mbqm_single
    out = fn(acc, np.broadcast_to(m, acc.shape), np.broadcast_to(s, acc.shape))
    out = out + qparams["output_offset"]
    return np.clip(out, qparams["act_min"], qparams["act_max"]).astype(np.int8)


# ---- models ------------------------------------------------------------------------

def convert_int8(model, representative, per_channel: bool = True) -> bytes:
    """Full-integer int8 conversion of a Keras model (int8 input and output)."""
    tf = import_tf()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.asarray(r, np.float32)] for r in representative)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # TF >= 2.16 quantizes Dense weights per output channel unless told otherwise.
    conv._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel
    return bytes(conv.convert())


def dense_model(in_dim, units, activation=None, batch=1, seed=0, bias=True, softmax=False,
                kernel_gain=1.0, rep_scale=1.0, rep_shift=0.3, per_channel=True):
    """Input -> Dense(units, activation) [-> ReLU(6) if activation == 'relu6'] [-> softmax]."""
    tf = import_tf()
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = tf.keras.Input(shape=(in_dim,), batch_size=batch)
    act = None if activation in (None, "relu6") else activation
    if softmax:
        act = "softmax"
    dense = tf.keras.layers.Dense(units, activation=act)
    x = dense(inp)
    if activation == "relu6":
        x = tf.keras.layers.ReLU(6.0)(x)
    model = tf.keras.Model(inp, x)
    kernel, b = dense.get_weights()
    b = rng.normal(0.0, 0.5, b.shape).astype(np.float32) if bias else np.zeros_like(b)
    dense.set_weights([kernel * np.float32(kernel_gain), b])
    rep = [(rng.normal(rep_shift, 1.0, (batch, in_dim)) * rep_scale).astype(np.float32)
           for _ in range(64)]
    return convert_int8(model, rep, per_channel)


def softmax_model(depth, rows=1, rep_scale=1.0, seed=0):
    """Input -> Softmax over the last axis; the input scale follows rep_scale."""
    tf = import_tf()
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = tf.keras.Input(shape=(depth,), batch_size=rows)
    model = tf.keras.Model(inp, tf.keras.layers.Softmax()(inp))
    rep = [(rng.normal(0.0, 1.0, (rows, depth)) * rep_scale).astype(np.float32)
           for _ in range(64)]
    return convert_int8(model, rep)


# ---- reading and patching .tflite files ----------------------------------------------

def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    return fb


_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


def _tensor_info(model, sg, idx):
    if idx < 0:
        return None
    fb = _schema()
    t = sg.Tensors(idx)
    q = t.Quantization()
    dtype = {fb.TensorType.INT8: np.int8, fb.TensorType.INT32: np.int32}.get(t.Type())
    buf = model.Buffers(t.Buffer())
    data = None
    if buf is not None and buf.DataLength() > 0 and dtype is not None:
        data = buf.DataAsNumpy().view(dtype).reshape(tuple(t.ShapeAsNumpy())).copy()
    return {"index": idx, "shape": tuple(int(d) for d in t.ShapeAsNumpy()),
            "scales": [float(s) for s in q.ScaleAsNumpy()] if q and q.ScaleLength() else [],
            "zero_points": [int(z) for z in q.ZeroPointAsNumpy()] if q and q.ZeroPointLength() else [],
            "data": data}


def read_ops(model_bytes) -> list[dict]:
    """Operators of subgraph 0 with their tensors' quantization, constants and options."""
    fb = _schema()
    model = fb.Model.GetRootAsModel(model_bytes, 0)
    sg = model.Subgraphs(0)
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        ins = [_tensor_info(model, sg, int(j)) for j in op.InputsAsNumpy()]
        outs = [_tensor_info(model, sg, int(j)) for j in op.OutputsAsNumpy()]
        entry = {"inputs": ins, "outputs": outs}
        table = op.BuiltinOptions()
        if code == fb.BuiltinOperator.FULLY_CONNECTED:
            opts = fb.FullyConnectedOptions()
            opts.Init(table.Bytes, table.Pos)
            entry.update(op="FULLY_CONNECTED",
                         activation=_ACTIVATIONS[opts.FusedActivationFunction()])
        elif code == fb.BuiltinOperator.SOFTMAX:
            opts = fb.SoftmaxOptions()
            opts.Init(table.Bytes, table.Pos)
            entry.update(op="SOFTMAX", beta=float(opts.Beta()))
        else:
            entry.update(op=f"BUILTIN_{code}")
        ops.append(entry)
    return ops


def fc_setup(op: dict):
    """(qparams, weights, bias) for the C kernel from a FULLY_CONNECTED op of read_ops()."""
    inp, w, out = op["inputs"][0], op["inputs"][1], op["outputs"][0]
    bias = op["inputs"][2]["data"] if len(op["inputs"]) > 2 and op["inputs"][2] else None
    qp = quant.fully_connected_params(inp["scales"][0], inp["zero_points"][0], w["scales"],
                                      out["scales"][0], out["zero_points"][0], op["activation"])
    return qp, w["data"], bias


class Patcher:
    """Edits scalar fields of a .tflite in place (same layout, so alignment is kept)."""

    def __init__(self, model_bytes: bytes):
        fb = _schema()
        self.buf = bytearray(model_bytes)
        self.model = fb.Model.GetRootAsModel(self.buf, 0)
        self.sg = self.model.Subgraphs(0)

    def scales(self, tensor_idx):
        return self.sg.Tensors(tensor_idx).Quantization().ScaleAsNumpy()  # writable view

    def zero_points(self, tensor_idx):
        return self.sg.Tensors(tensor_idx).Quantization().ZeroPointAsNumpy()

    def data(self, tensor_idx, dtype):
        return self.model.Buffers(self.sg.Tensors(tensor_idx).Buffer()).DataAsNumpy().view(dtype)

    def _option_pos(self, op_idx, cls):
        table = self.sg.Operators(op_idx).BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        off = opts._tab.Offset(4)  # first field of the options table
        if off == 0:
            raise ValueError("field not stored in the flatbuffer (default value)")
        return opts._tab.Pos + off

    def set_fc_activation(self, op_idx, code: int):
        self.buf[self._option_pos(op_idx, _schema().FullyConnectedOptions)] = code

    def set_softmax_beta(self, op_idx, beta: float):
        struct.pack_into("<f", self.buf, self._option_pos(op_idx, _schema().SoftmaxOptions), beta)

    def bytes(self) -> bytes:
        return bytes(self.buf)


# ---- the golden reference -------------------------------------------------------------

def tflm_run(model_bytes: bytes, inputs) -> np.ndarray:
    """Run the TFLM Python interpreter on each inputs[i] (shaped like the model input)."""
    from tflite_micro import runtime
    interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=256 * 1024)
    outs = []
    for x in inputs:
        interp.set_input(np.ascontiguousarray(x, dtype=np.int8), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), copy=True))
    return np.stack(outs)


def int8_inputs(shape, n=200, seed=0) -> np.ndarray:
    """n random int8 tensors of `shape` plus the extremes (all -128, all 127, 0, alternating)."""
    rng = np.random.default_rng(seed)
    rand = rng.integers(-128, 128, size=(n, *shape), dtype=np.int8)
    alt = np.where(np.indices(shape).sum(axis=0) % 2 == 0, 127, -128).astype(np.int8)
    special = np.stack([np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
                        np.zeros(shape, np.int8), alt, -1 - alt])
    return np.concatenate([special, rand])


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
