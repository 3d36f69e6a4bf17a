"""The op tables of the elementwise, activation, shape and conversion ops: generated parameter sets per
operator (broadcast shapes, extreme zero points, scales giving both shift directions, every fused
activation, int8 and 16x8), each a small TF function converted with full-integer quantization (some
patched afterwards: exact scales and zero points, RELU_N1_TO_1, SQUEEZE, integer QUANTIZE);
op_table.py runs them. Inputs cover every int8 value in every case (every int16 value for int16
LOGISTIC/TANH)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

BUILDER_VERSION = 2  # bump when models built from the same parameters change
VECTORS = 24  # input vectors per case (extremes included)

TABLES = ("ADD", "SUB", "MUL", "ADD_16x8", "SUB_16x8", "MUL_16x8",
          "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH",
          "RELU_16x8", "RELU6_16x8", "LEAKY_RELU_16x8", "LOGISTIC_16x8", "TANH_16x8", "SOFTMAX_16x8",
          "CONCATENATION", "CONCATENATION_16x8", "STRIDED_SLICE", "SQUEEZE", "QUANTIZE", "DEQUANTIZE")
CASES_PER_TABLE = 20

# ---- parameter sets ------------------------------------------------------------------------------
# Representative-data kinds steer the converter's scales and zero points: "pos" gives zero point -128,
# "neg" 127, "wide"/"tiny" large and small scales (both shift directions between operands).
REPS = ("normal", "pos", "neg", "wide", "tiny", "offset", "narrow")
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")

# (tag, model input shapes, constant operands (shape, magnitude), flags)
_BINARY_SHAPES = [
    ("same", [(2, 5, 7), (2, 5, 7)], [], ""),
    ("row", [(1, 4, 6), (1, 1, 6)], [], ""),
    ("col", [(1, 4, 6), (1, 4, 1)], [], ""),
    ("cross", [(3, 1, 5), (1, 4, 1)], [], ""),
    ("5d", [(2, 1, 3, 1, 2), (1, 2, 1, 4, 1)], [], ""),
    ("rank", [(1, 2, 3, 4), (4,)], [], ""),
    ("allpairs", [(1, 256), (256, 1)], [], ""),  # every pair of int8 values once
    ("c-scalar", [(3, 7)], [((), 1.0)], ""),
    ("c-row", [(2, 3, 4)], [((4,), 0.1)], ""),
    ("c-first", [(2, 3, 4)], [((3, 1), 10.0)], "const_first"),
    ("square", [(4, 9)], [], "same_tensor"),
    ("6d", [(2, 1, 2, 1, 2, 3), (1, 2, 1, 2, 1, 3)], [], ""),
]
_BINARY_REPS = [("normal", "normal"), ("pos", "neg"), ("wide", "tiny"), ("tiny", "wide"), ("neg", "pos"),
                ("offset", "normal"), ("pos", "pos"), ("narrow", "wide")]


def _binary_cases(op: str, mode: str) -> list[dict]:
    out = []
    for i in range(CASES_PER_TABLE):
        tag, shapes, consts, flags = _BINARY_SHAPES[i % len(_BINARY_SHAPES)]
        if op == "SUB" and flags == "same_tensor":  # x - x is all zeros: no output scale at all
            tag, shapes, consts, flags = "c-col", [(2, 3, 4)], [((2, 1, 1), 1.0)], ""
        act = ACTS[(i * 3) % len(ACTS)]
        reps = _BINARY_REPS[(i * 5) % len(_BINARY_REPS)]
        if consts and reps[0] == "narrow":  # narrow negative plus a constant could leave RELU all zeros
            reps = ("normal", reps[1])
        patch = []
        if i % 5 == 3:  # an output scale far from the inputs': MUL's multiplier crosses 1
            patch.append(("scale", "out", 1 / 300 if op == "MUL" else 40.0))
        if i % 5 == 4:
            patch.append(("scale", "out", 1 / 30 if op == "MUL" else 0.5))
        if mode == "int8" and i % 7 == 2:
            patch += [("zp", "in0", 127), ("zp", "out", -128)]
        if mode == "int8" and i % 7 == 5:
            patch += [("zp", "in1", -128), ("zp", "out", 127)]
        out.append(dict(tag=f"{tag}-{act.lower()}-{reps[0]}-{reps[1]}" + ("-patched" if patch else ""),
                        kind="binary", op=op, mode=mode, inputs=shapes, consts=consts, flags=flags, act=act,
                        reps=reps[:len(shapes)], patch=patch))
    return out


_UNARY_SHAPES = [(1, 256), (2, 8, 16), (3, 5, 7), (4, 64), (1, 2, 2, 64)]


def _unary_cases(op: str, mode: str) -> list[dict]:
    out = []
    alphas = (0.2, 0.01, 0.5, -0.3, 1.7, 0.0, 0.9, -1.5, 2.5, 0.1)
    for i in range(CASES_PER_TABLE):
        shape = (256, 256) if (mode == "16x8" and op in ("LOGISTIC", "TANH")) else \
            _UNARY_SHAPES[i % len(_UNARY_SHAPES)]
        rep = REPS[i % len(REPS)] if i < 14 else ("huge", "normal", "wide", "pos", "neg", "tiny")[i - 14]
        if mode == "16x8" and op == "RELU" and rep in ("neg", "narrow"):
            rep = "offset"  # RELU of all-negative int16 data has no output range at all
        p = dict(kind="unary", op=op, mode=mode, inputs=[shape], consts=[], flags="", act="NONE", reps=[rep],
                 patch=[])
        tag = rep
        if op == "LEAKY_RELU":
            p["alpha"] = alphas[i % len(alphas)]
            tag += f"-a{p['alpha']}"
        if mode == "int8":
            if op in ("RELU", "LEAKY_RELU", "HARD_SWISH") and i % 4 == 1:
                p["patch"].append(("scale", "out", 0.02 if op != "HARD_SWISH" else 0.25))
            if op in ("RELU", "LEAKY_RELU", "HARD_SWISH") and i % 4 == 2:
                p["patch"].append(("scale", "out", 9.0))
            if i % 6 == 5:
                p["patch"].append(("zp", "in0", -128 if i % 12 == 5 else 127))
            if op in ("RELU", "RELU6", "LEAKY_RELU", "HARD_SWISH") and i % 9 == 4:
                p["patch"].append(("zp", "out", 100))
            if op in ("LOGISTIC", "TANH") and i % 5 == 3:
                p["patch"].append(("scale", "in0", 0.001 if i % 10 == 3 else 300.0))
            if op == "TANH" and i % 7 == 6:
                p["patch"].append(("zp", "out", 40))  # ignored by TFLM's int8 TANH
        else:
            if op in ("LOGISTIC", "TANH") and i % 4 == 0:  # power-of-two scales: TFLM's fast path
                p["patch"].append(("set_scale", "in0", 2.0 ** (-12 + (i // 4) % 3 - (op == "LOGISTIC"))))
            if op in ("LOGISTIC", "TANH") and i % 4 == 2:
                p["patch"].append(("scale", "in0", 3.7))
            if op in ("RELU", "LEAKY_RELU") and i % 3 == 1:
                p["patch"].append(("scale", "out", 0.05 if i % 2 else 20.0))
        if p["patch"]:
            tag += "-patched"
        p["tag"] = tag
        out.append(p)
    return out


def _softmax_cases() -> list[dict]:
    """int16 SOFTMAX: rows of 1 to 2,000 values, one or several rows, input scales from the representative
    data and patched ones (shifts from -10 to 17: past 15 the scaled difference wraps, as in TFLM's
    32-bit arithmetic; and a multiplier flushed to 0), and beta."""
    shapes = [(1, 10), (1, 2), (3, 7), (2, 4, 5), (1, 100), (8, 16), (4, 64), (1, 2000), (2, 3, 2, 6), (1, 1)]
    patches = {4: [("set_scale", "in0", 1.0)], 5: [("set_scale", "in0", 4.0)],
               6: [("set_scale", "in0", 20.0)], 7: [("set_scale", "in0", 1e-7)],
               8: [("set_scale", "in0", 1e-14)], 10: [("beta", "op", 0.5)], 11: [("beta", "op", 2.0)],
               12: [("beta", "op", 0.1), ("set_scale", "in0", 0.01)], 13: [("set_scale", "in0", 2.0 ** -10)],
               14: [("beta", "op", 3.0), ("set_scale", "in0", 0.7)]}
    out = []
    for i in range(22):
        shape = shapes[i % len(shapes)]
        rep = ("normal", "wide", "tiny", "huge", "offset", "pos", "neg")[i % 7]
        patch = patches.get(i, [])
        tag = f"{'x'.join(map(str, shape))}-{rep}" + "".join(f"-{w}{v:g}" for w, _, v in patch)
        out.append(dict(tag=tag, kind="softmax", op="SOFTMAX", mode="16x8", inputs=[shape], consts=[], flags="",
                        act="NONE", reps=[rep], patch=patch))
    return out


def _concat_cases(mode: str) -> list[dict]:
    specs = [  # (input shapes, axis, constant input positions)
        ([(1, 4, 3), (1, 2, 3)], 1, ()), ([(2, 3), (2, 5)], -1, ()), ([(3, 2, 2), (1, 2, 2), (2, 2, 2)], 0, ()),
        ([(1, 2, 3, 4), (1, 2, 3, 1)], 3, ()), ([(1, 2, 3, 4), (1, 2, 1, 4)], -2, ()),
        ([(2, 2)] * 10, 1, ()), ([(4, 5), (4, 5), (4, 5)], 1, (1,)), ([(1, 3, 4), (1, 3, 2)], 2, (1,)),
        ([(2, 1, 5), (2, 3, 5), (2, 2, 5)], 1, (0,)), ([(1, 8), (1, 8), (1, 8)], 0, ()),
    ]
    out = []
    for i in range(CASES_PER_TABLE):
        shapes, axis, const = specs[i % len(specs)]
        reps = [REPS[(i + k) % len(REPS)] for k in range(len(shapes))]
        inputs = [s for k, s in enumerate(shapes) if k not in const]
        out.append(dict(tag=f"{len(shapes)}in-axis{axis}" + ("-const" if const else "") + f"-{reps[0]}",
                        kind="concat", op="CONCATENATION", mode=mode, inputs=inputs, all_shapes=shapes,
                        const_at=list(const), axis=axis, consts=[], flags="", act="NONE",
                        reps=reps[:len(inputs)], patch=[]))
    return out


def _slice_cases() -> list[dict]:
    # (shape, begin, end, strides, begin_mask, end_mask, shrink_axis_mask)
    specs = [
        ((1, 6, 3), (0, 1, 0), (1, 5, 3), (1, 2, 1), 0, 0, 0),
        ((1, 6, 3), (0, 0, 0), (1, 6, 0), (1, 1, -1), 4, 4, 0),
        ((1, 6, 3), (0, 2, 0), (1, 3, 3), (1, 1, 1), 0, 0, 2),
        ((1, 6, 3), (0, -4, 0), (1, -1, 3), (1, 1, 1), 0, 0, 0),
        ((1, 6, 3), (0, -100, 1), (1, 100, 3), (1, 1, 1), 0, 0, 0),
        ((2, 3, 4, 5), (0, 0, 1, 0), (2, 3, 4, 5), (1, 2, 3, 1), 1, 0, 0),
        ((2, 3, 4, 5), (1, 0, 0, 4), (2, 3, 4, 0), (1, 1, 2, -2), 0, 2, 0),
        ((1, 6, 3), (0, 100, 0), (1, -100, 3), (1, -2, 1), 0, 0, 0),
        ((3, 4, 5), (9, 9, 9), (0, 0, 0), (1, 1, 1), 7, 7, 0),
        ((3, 4, 5), (1, 0, 2), (2, 4, 3), (1, 1, 1), 0, 0, 5),
        ((20,), (3,), (17,), (4,), 0, 0, 0),
        ((8, 8), (0, 0), (0, 0), (-1, 2), 3, 3, 0),
        ((2, 3, 4, 5), (-1, 0, -1, 0), (0, 0, 0, 0), (1, 1, -1, 3), 2, 14, 1),
        ((4, 6), (1, 5), (3, 0), (1, -2), 0, 0, 0),
        ((5, 7), (-2, 1), (-6, 6), (-1, 5), 0, 0, 0),
        ((2, 2, 9), (0, 0, 8), (2, 2, 0), (1, 1, -3), 0, 0, 0),
        ((6, 2), (5, 1), (6, 2), (1, 1), 0, 0, 3),
        ((1, 10, 10, 3), (0, 2, 1, 0), (1, 9, 10, 3), (1, 3, 4, 1), 1, 8, 0),
        ((3, 4, 5), (0, 1, 0), (3, 3, 5), (2, 1, 2), 0, 4, 0),
        ((16,), (15,), (0,), (-5,), 0, 1, 0),
    ]
    out = []
    for i, (shape, b, e, s, bm, em, sm) in enumerate(specs):
        mode = "16x8" if i % 5 == 4 else "int8"
        out.append(dict(tag=f"{len(shape)}d-s{'_'.join(map(str, s))}-m{bm}{em}{sm}-{mode}", kind="slice",
                        op="STRIDED_SLICE", mode=mode, inputs=[shape], consts=[], flags="", act="NONE",
                        reps=[REPS[i % len(REPS)]], patch=[], slice=[list(b), list(e), list(s), bm, em, sm]))
    return out


def _squeeze_cases() -> list[dict]:
    rng = np.random.default_rng(43)
    out = []
    for i in range(CASES_PER_TABLE):
        rank = 2 + i % 4
        shape = [int(v) for v in rng.integers(2, 5, rank)]
        ones = sorted({int(a) for a in rng.integers(0, rank, 1 + i % 2)})
        for a in ones:
            shape[a] = 1
        dims = ones if i % 3 else []  # [] squeezes every 1
        out.append(dict(tag=f"{'x'.join(map(str, shape))}-dims{''.join(map(str, dims)) or 'all'}",
                        kind="squeeze", op="SQUEEZE", mode="16x8" if i % 4 == 3 else "int8",
                        inputs=[tuple(shape)], consts=[], flags="", act="NONE", reps=[REPS[i % len(REPS)]],
                        patch=[], squeeze_dims=dims))
    return out


def _quantize_cases() -> list[dict]:
    # (input type, output type, (input scale, zp) or None for float, (output scale, zp))
    specs = [
        ("FLOAT32", "INT8", None, (0.1, 0)), ("FLOAT32", "INT8", None, (0.0037, -128)),
        ("FLOAT32", "INT8", None, (1.7, 127)), ("FLOAT32", "INT8", None, (3e-5, 5)),
        ("FLOAT32", "INT8", None, (0.0625, -3)), ("FLOAT32", "INT16", None, (2.0 ** -10, 0)),
        ("FLOAT32", "INT16", None, (0.00123, 0)), ("FLOAT32", "INT16", None, (7.5, 0)),
        ("INT8", "INT8", (0.05, 3), (0.1, -7)), ("INT8", "INT8", (0.2, -128), (0.013, 127)),
        ("INT8", "INT8", (0.02, 0), (0.02, 10)), ("INT8", "INT8", (1e-3, 100), (3.0, -100)),
        ("INT16", "INT8", (2.0 ** -12, 0), (0.03, -2)), ("INT16", "INT8", (1e-4, 0), (1e-5, 0)),
        ("INT8", "INT16", (0.05, -20), (2.0 ** -11, 0)), ("INT8", "INT16", (0.9, 127), (1e-5, 0)),
        ("INT16", "INT16", (3e-4, 0), (1e-4, 0)), ("INT16", "INT16", (1e-4, 0), (7e-4, 0)),
        ("FLOAT32", "INT8", None, (0.25, -128)), ("FLOAT32", "INT16", None, (1e-6, 0)),
    ]
    return [dict(tag=f"{a.lower()}-{b.lower()}-{i}", kind="quantize", op="QUANTIZE",
                 mode="16x8" if "INT16" in (a, b) else "int8", inputs=[(3, 5, 7)], consts=[], flags="",
                 act="NONE", reps=["normal"], patch=[], qin=[a, qi], qout=[b, qo])
            for i, (a, b, qi, qo) in enumerate(specs)]


def _dequantize_cases() -> list[dict]:
    specs = [("INT8", (0.1, 0)), ("INT8", (0.0037, -128)), ("INT8", (1.7, 127)), ("INT8", (3e-5, 5)),
             ("INT8", (0.0625, -3)), ("INT8", (123.25, 64)), ("INT8", (1e-7, -1)), ("INT8", (0.3333, 1)),
             ("INT8", (2.0 ** 10, -77)), ("INT8", (0.05, 33)), ("INT16", (2.0 ** -15, 0)),
             ("INT16", (0.00123, 0)), ("INT16", (7.5, 0)), ("INT16", (1e-6, 0)), ("INT16", (0.0191, 0)),
             ("INT16", (3e-3, 100)), ("INT16", (2.0 ** -7, -5)), ("INT16", (0.71, 0)), ("INT8", (0.9999, 0)),
             ("INT16", (12.5, 0))]
    return [dict(tag=f"{t.lower()}-{i}", kind="dequantize", op="DEQUANTIZE", mode="16x8" if t == "INT16" else "int8",
                 inputs=[(3, 5, 7)], consts=[], flags="", act="NONE", reps=["normal"], patch=[], qin=[t, q])
            for i, (t, q) in enumerate(specs)]


def parameter_sets(table: str) -> list[dict]:
    base = table.replace("_16x8", "")
    mode = "16x8" if table.endswith("_16x8") else "int8"
    if base in ("ADD", "SUB", "MUL"):
        return _binary_cases(base, mode)
    if base in ("RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH"):
        return _unary_cases(base, mode)
    if base == "CONCATENATION":
        return _concat_cases(mode)
    if base == "SOFTMAX":
        return _softmax_cases()
    return {"STRIDED_SLICE": _slice_cases, "SQUEEZE": _squeeze_cases, "QUANTIZE": _quantize_cases,
            "DEQUANTIZE": _dequantize_cases}[base]()


def check_ops(case, names: list[str]) -> None:
    base = case.table.replace("_16x8", "")
    if base not in names:
        raise AssertionError(f"{case.id}: the converter made {names}, no {base}")


# ---- models ------------------------------------------------------------------------------------

def _rep(rng, kind: str, shape) -> np.ndarray:
    size = {"normal": lambda: rng.normal(0.0, 1.0, shape), "pos": lambda: rng.uniform(0.0, 3.0, shape),
            "neg": lambda: rng.uniform(-3.0, 0.0, shape), "wide": lambda: rng.normal(0.0, 40.0, shape),
            "tiny": lambda: rng.normal(0.0, 0.02, shape), "offset": lambda: rng.normal(5.0, 1.0, shape),
            "narrow": lambda: rng.uniform(-0.2, -0.1, shape), "huge": lambda: rng.normal(0.0, 1000.0, shape)}
    return size[kind]().astype(np.float32)


def _function(tf, p, rng):
    """The TF function of a parameter set: one op of the table (plus what the converter needs)."""
    op = p["op"]
    consts = [tf.constant(mag * _rep(rng, p["reps"][0], shape)) for shape, mag in p["consts"]]
    act = {"NONE": lambda y: y, "RELU": tf.nn.relu, "RELU6": tf.nn.relu6,
           "RELU_N1_TO_1": lambda y: tf.clip_by_value(y, -1.0, 1.0)}[p["act"]]
    if p["kind"] == "binary":
        fn = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply}[op]

        def f(*xs):
            if "same_tensor" in p["flags"]:
                return act(fn(xs[0], xs[0]))
            a, b = (xs[0], xs[1]) if not consts else (xs[0], consts[0])
            return act(fn(b, a) if "const_first" in p["flags"] else fn(a, b))
        return f
    if p["kind"] == "unary":
        alpha = p.get("alpha", 0.2)
        return {"RELU": tf.nn.relu, "RELU6": tf.nn.relu6, "LEAKY_RELU": lambda x: tf.nn.leaky_relu(x, alpha),
                "LOGISTIC": tf.math.sigmoid, "TANH": tf.math.tanh,
                "HARD_SWISH": lambda x: x * tf.nn.relu6(x + 3.0) / 6.0}[op]
    if p["kind"] == "softmax":
        return lambda x: tf.nn.softmax(x, axis=-1)
    if p["kind"] == "concat":
        shapes = p["all_shapes"]
        fixed = {k: tf.constant(rng.normal(0.0, 1.0, shapes[k]).astype(np.float32)) for k in p["const_at"]}

        def f(*xs):
            it = iter(xs)
            return tf.concat([fixed[k] if k in fixed else next(it) for k in range(len(shapes))], axis=p["axis"])
        return f
    if p["kind"] == "slice":
        b, e, s, bm, em, sm = p["slice"]
        return lambda x: tf.strided_slice(x, b, e, s, begin_mask=bm, end_mask=em, shrink_axis_mask=sm)
    if p["kind"] == "squeeze":
        shape = p["inputs"][0]
        dims = p["squeeze_dims"] or [d for d, n in enumerate(shape) if n == 1]
        return lambda x: tf.reshape(x, [n for d, n in enumerate(shape) if d not in dims])
    if p["kind"] in ("quantize", "dequantize"):
        return tf.nn.relu  # QUANTIZE → RELU → DEQUANTIZE; the patch keeps the op of the table
    raise ValueError(p["kind"])


def build(p) -> bytes:
    """The converted, patched model of a parameter set."""
    from op_table import import_tf

    return _patched(_convert(import_tf(), p), p)


def _convert(tf, p) -> bytes:
    rng = np.random.default_rng(p["seed"])
    fn = _function(tf, p, rng)
    f = tf.function(fn, input_signature=[tf.TensorSpec(s, tf.float32) for s in p["inputs"]], autograph=False)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rep = [[_rep(rng, k, s) for k, s in zip(p["reps"], p["inputs"])] for _ in range(24)]
    conv.representative_dataset = lambda: iter(rep)
    float_io = p["kind"] in ("quantize", "dequantize")
    if p["mode"] == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if not float_io:
            conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:
            conv.inference_input_type = conv.inference_output_type = tf.int8
    return bytes(conv.convert())


_TYPES = {"FLOAT32": 0, "INT16": 7, "INT8": 9}


def _patched(raw: bytes, p) -> bytes:
    """Edits through the flatbuffer object API: exact scales and zero points, RELU_N1_TO_1 where the
    converter made a clamp, RESHAPE → SQUEEZE, and the QUANTIZE/DEQUANTIZE models cut to one op."""
    from op_table import repack

    edits = bool(p["patch"]) or p["act"] == "RELU_N1_TO_1" or p["kind"] in ("squeeze", "quantize", "dequantize")
    return repack(raw, lambda model: _edit(model, p)) if edits else raw


def _edit(model, p) -> None:
    from op_table import ACT_CODES
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    if p["kind"] in ("quantize", "dequantize"):  # QUANTIZE → RELU → DEQUANTIZE: keep one end
        keep = graph.operators[0] if p["kind"] == "quantize" else graph.operators[-1]
        graph.operators = [keep]
        graph.inputs, graph.outputs = np.array(keep.inputs), np.array(keep.outputs)
        for role, (dtype, q) in (("in0", p["qin"]), ("out", p.get("qout", ["FLOAT32", None]))):
            t = graph.tensors[keep.inputs[0] if role == "in0" else keep.outputs[0]]
            t.type = _TYPES[dtype]
            if q is None:
                t.quantization = None
            else:
                t.quantization = t.quantization or fb.QuantizationParametersT()
                t.quantization.scale = [float(np.float32(q[0]))]
                t.quantization.zeroPoint = [int(q[1])]
    main = [o for o, c in zip(graph.operators, (codes[o.opcodeIndex] for o in graph.operators))
            if c != fb.BuiltinOperator.QUANTIZE or p["kind"] == "quantize"][-1]
    if p["kind"] == "squeeze":
        (reshape,) = graph.operators
        model.operatorCodes[reshape.opcodeIndex].builtinCode = fb.BuiltinOperator.SQUEEZE
        model.operatorCodes[reshape.opcodeIndex].deprecatedBuiltinCode = fb.BuiltinOperator.SQUEEZE
        reshape.inputs = reshape.inputs[:1]
        reshape.builtinOptionsType = fb.BuiltinOptions.SqueezeOptions
        reshape.builtinOptions = fb.SqueezeOptionsT()
        reshape.builtinOptions.squeezeDims = list(p["squeeze_dims"])
    if p["act"] == "RELU_N1_TO_1":
        main.builtinOptions.fusedActivationFunction = ACT_CODES["RELU_N1_TO_1"]
    for what, role, value in p["patch"]:
        if what == "beta":
            main.builtinOptions.beta = float(value)
            continue
        t = graph.tensors[main.outputs[0] if role == "out" else main.inputs[int(role[2:])]]
        if what == "scale":
            t.quantization.scale = [float(np.float32(s * value)) for s in t.quantization.scale]
        elif what == "set_scale":
            t.quantization.scale = [float(np.float32(value))]
        elif what == "zp":
            t.quantization.zeroPoint = [int(value)]


# ---- inputs ------------------------------------------------------------------------------------

_NUMPY = {"INT8": np.int8, "INT16": np.int16, "FLOAT32": np.float32, "INT32": np.int32}


def _int_vectors(rng, t, n: int) -> np.ndarray:
    """Every value of the type (in a ramp, then shuffled), extremes, the zero point, uniform random."""
    dtype = _NUMPY[t.dtype]
    info = np.iinfo(dtype)
    shape, size = t.shape, t.size
    every = np.arange(info.min, int(info.max) + 1, dtype=np.int64)
    ramp = np.resize(every, size) if size >= len(every) else every[rng.choice(len(every), size, replace=False)]
    zp = t.zero_points[0] if t.zero_points else 0
    rows = [ramp, rng.permutation(np.resize(every, size)), np.full(size, info.min), np.full(size, info.max),
            np.full(size, zp), np.where(np.arange(size) % 2 == 0, info.max, info.min)]
    rows += [zp + rng.integers(-4, 5, size) for _ in range(2)]
    if dtype == np.int16:  # around the zero point at several magnitudes (SOFTMAX's unsaturated range)
        rows += [zp + np.round(rng.normal(0.0, 2.0 ** k, size)) for k in (4, 8, 11, 13)]
    rows += [rng.integers(info.min, int(info.max) + 1, size) for _ in range(max(0, n - len(rows)))]
    return np.clip(np.stack(rows), info.min, info.max).astype(dtype).reshape(len(rows), *shape)


def _float_vectors(rng, t, n: int, scale: float) -> np.ndarray:
    """Values around the quantization range (and beyond: clamping), exact rounding ties, signed zeros,
    huge values; infinities and NaN in one vector of their own."""
    size = t.size
    s = np.float32(scale)
    ties = ((rng.integers(-300, 300, size) + np.float32(0.5)) * s).astype(np.float32)
    rows = [ties, -ties, np.zeros(size, np.float32), np.full(size, -0.0, np.float32),
            (rng.uniform(-1e6, 1e6, size)).astype(np.float32),
            np.resize(np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-45], np.float32), size)]
    rows += [(rng.normal(0.0, 100.0, size) * s).astype(np.float32) for _ in range(max(0, n - len(rows)))]
    return np.stack(rows).reshape(len(rows), *t.shape)


def input_sets(spec, n: int, seed: int) -> list[dict]:
    """n input sets: {model input tensor index: array}."""
    rng = np.random.default_rng(seed)
    per = {}
    for t in spec.inputs:
        tensor = spec.tensors[t]
        if tensor.dtype == "FLOAT32":
            out = spec.tensors[spec.ops[0].outputs[0]]
            per[t] = _float_vectors(rng, tensor, n, out.scales[0] if out.scales else 1.0)
        else:
            per[t] = _int_vectors(rng, tensor, n)
    count = min(len(v) for v in per.values())
    return [{t: v[i] for t, v in per.items()} for i in range(count)]


def keras_flatten_model(cache_dir: Path) -> Path:
    """Keras Input(4, 4, 2) with a dynamic batch → Flatten → ReLU → Dense-free int8 model: the converter
    emits SHAPE → STRIDED_SLICE → PACK → RESHAPE for the Flatten (cached like the table's models)."""
    from op_table import cached, import_tf, tf_version

    def convert() -> bytes:
        tf = import_tf()
        rng = np.random.default_rng(7)
        inp = tf.keras.Input(shape=(4, 4, 2))
        model = tf.keras.Model(inp, tf.keras.layers.ReLU()(tf.keras.layers.Flatten()(inp)))
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        rep = [[rng.normal(0.0, 1.0, (1, 4, 4, 2)).astype(np.float32)] for _ in range(16)]
        conv.representative_dataset = lambda: iter(rep)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
        return bytes(conv.convert())
    return cached(Path(cache_dir) / f"keras-flatten-{BUILDER_VERSION}-{tf_version()}.tflite", convert)
