"""The op tables of the convolution family and its neighbours: CONV_2D, DEPTHWISE_CONV_2D,
AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8 and 16x8), 16x8 FULLY_CONNECTED, and PAD. Each parameter set is a small
Keras model (tf.keras, Input(batch_size=...)), or a tf.function for PAD and MEAN, converted to
full-integer int8 or 16x8 and patched where Keras cannot express a feature; op_table.py runs them."""

from __future__ import annotations

import numpy as np

BUILDER_VERSION = 3  # bump when models built from the same parameters change
VECTORS = 64  # input vectors per case: the extremes, then random ones (see inputs)

TABLES = ("CONV_2D", "CONV_2D_16x8", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D_16x8", "FULLY_CONNECTED_16x8",
          "AVERAGE_POOL_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D_16x8", "MAX_POOL_2D_16x8", "PAD", "MEAN", "MEAN_16x8")
OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "PAD", "PADV2", "MEAN", "FULLY_CONNECTED"}

# ---- parameter sets ------------------------------------------------------------------------------

def _conv_cases(mode: str) -> list[dict]:
    """Hand-picked features first, then seeded random combinations."""
    base = dict(kind="conv", mode=mode, shape=(8, 8, 3), filters=4, kernel=(3, 3), strides=(1, 1),
                padding="SAME", dilation=(1, 1), groups=1, bias=True, act="NONE", per_channel=True,
                rep="normal", patch=())
    picked = [
        dict(tag="k3-same-relu", act="RELU"),
        dict(tag="k2-same-even", kernel=(2, 2)),
        dict(tag="k4-same-s2-even", kernel=(4, 4), strides=(2, 2), shape=(9, 9, 3)),
        dict(tag="k3-valid-d2", padding="VALID", dilation=(2, 2), shape=(9, 10, 2)),
        dict(tag="k3-same-d2", dilation=(2, 2)),
        dict(tag="k2-same-d3-even", kernel=(2, 2), dilation=(3, 3), shape=(9, 7, 2)),
        dict(tag="k1-s2-stride-gt-kernel", kernel=(1, 1), strides=(2, 2)),
        dict(tag="k2-s3-valid-stride-gt-kernel", kernel=(2, 2), strides=(3, 3), padding="VALID", shape=(11, 10, 3)),
        dict(tag="per-tensor", per_channel=False),
        dict(tag="relu6", act="RELU6"),
        dict(tag="relu-n1-to-1", act="RELU_N1_TO_1"),
        dict(tag="zp-min", rep="pos"),
        dict(tag="zp-max", rep="neg"),
        dict(tag="positive-shift", patch=(("out_scale", 1 / 1000), ("bias_zero", None))),
        dict(tag="groups2", shape=(6, 6, 4), groups=2, filters=6),
        dict(tag="nobias", bias=False),
        dict(tag="k1x5-s1x2-rect", kernel=(1, 5), strides=(1, 2), shape=(5, 12, 2)),
        dict(tag="batch2", batch=2),
        dict(tag="s2-d2-patched", strides=(2, 2), shape=(11, 11, 2),
             patch=(("window", {"dilationHFactor": 2, "dilationWFactor": 2}),)),
        dict(tag="deep-16to8", shape=(6, 6, 16), filters=8),
        dict(tag="k5-same-s2", kernel=(5, 5), strides=(2, 2), shape=(7, 9, 2)),
        dict(tag="k3x1-d2x1", kernel=(3, 1), dilation=(2, 1), shape=(9, 6, 3)),
    ]
    if mode == "16x8":
        picked += [dict(tag="bias32", bias32=True), dict(tag="bias32-nobias", bias32=True, bias=False),
                   dict(tag="bias32-relu", bias32=True, act="RELU", kernel=(2, 2))]
    cases = [{**base, **p} for p in picked]
    rng = np.random.default_rng(101 if mode == "int8" else 202)
    while len(cases) < len(picked) + 4:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        h, w = int(rng.integers(max(k[0], 3), 11)), int(rng.integers(max(k[1], 3), 11))
        cases.append({**base, "tag": f"rand-k{k[0]}x{k[1]}-s{s[0]}x{s[1]}", "kernel": k, "strides": s,
                      "shape": (h, w, int(rng.integers(1, 6))), "filters": int(rng.integers(1, 7)),
                      "padding": str(rng.choice(["SAME", "VALID"])),
                      "act": str(rng.choice(["NONE", "RELU", "RELU6"])),
                      "rep": str(rng.choice(["normal", "pos", "neg"])), "per_channel": bool(rng.integers(0, 2))})
    return cases


def _depthwise_cases(mode: str) -> list[dict]:
    base = dict(kind="depthwise", mode=mode, shape=(8, 8, 3), multiplier=1, kernel=(3, 3), strides=(1, 1),
                padding="SAME", dilation=(1, 1), bias=True, act="NONE", per_channel=True, rep="normal", patch=())
    picked = [
        dict(tag="k3-same-relu", act="RELU"),
        dict(tag="dm2", multiplier=2),
        dict(tag="dm3-valid", multiplier=3, padding="VALID"),
        dict(tag="dm8-depth1-even-s2", multiplier=8, shape=(13, 10, 1), kernel=(4, 2), strides=(2, 2)),
        dict(tag="k2-same-even", kernel=(2, 2)),
        dict(tag="k3-same-d2", dilation=(2, 2)),
        dict(tag="k3-valid-d2-dm2", dilation=(2, 2), padding="VALID", multiplier=2, shape=(9, 9, 2)),
        dict(tag="k2-same-d2-even", kernel=(2, 2), dilation=(2, 2)),
        dict(tag="k1-s3-stride-gt-kernel", kernel=(1, 1), strides=(3, 3), shape=(10, 10, 3)),
        dict(tag="k2-s3-valid", kernel=(2, 2), strides=(3, 3), padding="VALID", shape=(11, 8, 2)),
        dict(tag="per-tensor", per_channel=False),
        dict(tag="relu6", act="RELU6"),
        dict(tag="relu-n1-to-1", act="RELU_N1_TO_1"),
        dict(tag="zp-min", rep="pos"),
        dict(tag="zp-max", rep="neg", multiplier=2),
        dict(tag="positive-shift", patch=(("out_scale", 1 / 1000), ("bias_zero", None))),
        dict(tag="nobias", bias=False),
        dict(tag="k1x4-s1x2-rect", kernel=(1, 4), strides=(1, 2), shape=(4, 13, 3)),
        dict(tag="batch2", batch=2),
        dict(tag="s2-d2-patched", strides=(2, 2), shape=(11, 11, 2),
             patch=(("window", {"dilationHFactor": 2, "dilationWFactor": 2}),)),
        dict(tag="deep16", shape=(5, 5, 16)),
        dict(tag="k5-same-s2-dm2", kernel=(5, 5), strides=(2, 2), multiplier=2, shape=(7, 9, 2)),
    ]
    if mode == "16x8":  # the converter fails on per-tensor 16x8 depthwise weights
        picked = [dict(tag="wide-inputs", rep="wide") if p["tag"] == "per-tensor" else p for p in picked]
    cases = [{**base, **p} for p in picked]
    rng = np.random.default_rng(303 if mode == "int8" else 404)
    while len(cases) < len(picked) + 4:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        h, w = int(rng.integers(max(k[0], 3), 11)), int(rng.integers(max(k[1], 3), 11))
        cases.append({**base, "tag": f"rand-k{k[0]}x{k[1]}-s{s[0]}x{s[1]}", "kernel": k, "strides": s,
                      "shape": (h, w, int(rng.integers(1, 5))), "multiplier": int(rng.integers(1, 4)),
                      "padding": str(rng.choice(["SAME", "VALID"])),
                      "act": str(rng.choice(["NONE", "RELU", "RELU6"])),
                      "rep": str(rng.choice(["normal", "pos", "neg"])),
                      "per_channel": mode == "16x8" or bool(rng.integers(0, 2))})
    return cases


def _fc16_cases() -> list[dict]:
    base = dict(kind="dense", mode="16x8", shape=(16,), units=8, bias=True, act="NONE", per_channel=True,
                rep="normal", patch=())
    picked = [
        dict(tag="basic"), dict(tag="relu", act="RELU"), dict(tag="relu6", act="RELU6"),
        dict(tag="relu-n1-to-1", act="RELU_N1_TO_1"), dict(tag="per-tensor", per_channel=False),
        dict(tag="nobias", bias=False), dict(tag="bias32", bias32=True),
        dict(tag="bias32-per-tensor", bias32=True, per_channel=False),
        dict(tag="bias32-nobias", bias32=True, bias=False),
        dict(tag="positive-shift", patch=(("out_scale", 1 / 1000), ("bias_zero", None))),
        dict(tag="rows3", shape=(3, 10), units=5), dict(tag="wide-784x20", shape=(784,), units=20),
        dict(tag="one-in", shape=(1,), units=6), dict(tag="one-out", shape=(33,), units=1),
        dict(tag="pos-inputs", rep="pos"), dict(tag="neg-inputs", rep="neg"),
        dict(tag="batch2", batch=2, shape=(7,), units=3),
        dict(tag="per-tensor-relu", per_channel=False, act="RELU"),
    ]
    cases = [{**base, **p} for p in picked]
    rng = np.random.default_rng(505)
    while len(cases) < len(picked) + 4:
        n, u = int(rng.integers(1, 80)), int(rng.integers(1, 24))
        cases.append({**base, "tag": f"rand-{n}x{u}", "shape": (n,), "units": u,
                      "act": str(rng.choice(["NONE", "RELU", "RELU6"])), "per_channel": bool(rng.integers(0, 2)),
                      "bias32": bool(rng.integers(0, 2))})
    return cases


def _pool_cases(kind: str, mode: str = "int8") -> list[dict]:
    base = dict(kind=kind, mode=mode, shape=(8, 8, 3), pool=(2, 2), strides=(2, 2), padding="VALID",
                act="NONE", rep="normal", patch=())
    picked = [
        dict(tag="p2-s2-valid"), dict(tag="p2-s2-same-odd", shape=(9, 7, 2), padding="SAME"),
        dict(tag="p3-s1-same", pool=(3, 3), strides=(1, 1), padding="SAME"),
        dict(tag="p3-s2-same", pool=(3, 3), padding="SAME", shape=(10, 10, 2)),
        dict(tag="p4-s1-same-even", pool=(4, 4), strides=(1, 1), padding="SAME", shape=(6, 6, 2)),
        dict(tag="p2-s3-stride-gt-pool", strides=(3, 3), shape=(11, 11, 2)),
        dict(tag="p1-s2", pool=(1, 1), strides=(2, 2)),
        dict(tag="p2x3-s1x2-rect", pool=(2, 3), strides=(1, 2), shape=(5, 11, 4)),
        dict(tag="p3-s3-same", pool=(3, 3), strides=(3, 3), padding="SAME", shape=(8, 10, 3)),
        dict(tag="global-p8", pool=(8, 8), strides=(1, 1)),
        dict(tag="p5-s2-same-big-window", pool=(5, 5), padding="SAME", shape=(6, 7, 2)),
        dict(tag="zp-min", rep="pos", padding="SAME", pool=(3, 3)),
        dict(tag="zp-max", rep="neg", padding="SAME", pool=(3, 3)),
        dict(tag="relu", act="RELU", padding="SAME", pool=(3, 3), strides=(1, 1)),
        dict(tag="relu6", act="RELU6", rep="wide"),
        dict(tag="relu-n1-to-1", act="RELU_N1_TO_1"),
        dict(tag="batch2", batch=2),
        dict(tag="deep32", shape=(4, 4, 32)),
        dict(tag="p2-s1-valid", strides=(1, 1), shape=(5, 5, 3)),
        dict(tag="p4x1-s2x1-same", pool=(4, 1), strides=(2, 1), padding="SAME", shape=(9, 3, 2)),
    ]
    if mode == "16x8":  # zero points are 0 (pos/neg data move the scale instead); wide data, many taps
        picked += [dict(tag="wide-inputs", rep="wide", pool=(3, 3), strides=(1, 1), padding="SAME"),
                   dict(tag="p7-s1-same-many-taps", pool=(7, 7), strides=(1, 1), padding="SAME", shape=(9, 9, 2))]
    cases = [{**base, **p} for p in picked]
    rng = np.random.default_rng((606 if kind == "avgpool" else 707) + (50 if mode == "16x8" else 0))
    while len(cases) < len(picked) + 4:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        cases.append({**base, "tag": f"rand-p{k[0]}x{k[1]}-s{s[0]}x{s[1]}", "pool": k, "strides": s,
                      "shape": (int(rng.integers(max(k[0], 2), 11)), int(rng.integers(max(k[1], 2), 11)),
                                int(rng.integers(1, 6))),
                      "padding": str(rng.choice(["SAME", "VALID"])), "rep": str(rng.choice(["normal", "pos", "neg"]))})
    return cases


def _pad_cases() -> list[dict]:
    base = dict(kind="pad", mode="int8", shape=(5, 5, 3), pads=((0, 0), (1, 1), (1, 1), (0, 0)), value=0.0,
                rep="normal", patch=())
    picked = [
        dict(tag="hw1"), dict(tag="asym-hw", pads=((0, 0), (1, 2), (0, 3), (0, 0))),
        dict(tag="channels", pads=((0, 0), (0, 0), (0, 0), (2, 1))),
        dict(tag="all4", pads=((1, 0), (2, 1), (1, 2), (1, 1))),
        dict(tag="zp-min", rep="pos", pads=((0, 0), (2, 2), (2, 2), (0, 0))),
        dict(tag="zp-max", rep="neg"),
        dict(tag="3d", shape=(6, 4), pads=((0, 0), (2, 3), (1, 0))),
        dict(tag="2d", shape=(7,), pads=((0, 0), (3, 4))),
        dict(tag="5d", shape=(3, 3, 2, 2), pads=((0, 0), (1, 1), (0, 1), (1, 0), (0, 1))),
        dict(tag="padv2-const", value=0.7),
        dict(tag="padv2-neg-const", value=-1.5, pads=((0, 0), (0, 2), (2, 0), (0, 0))),
        dict(tag="padv2-3d", value=0.25, shape=(4, 6), pads=((0, 0), (1, 1), (2, 0))),
        dict(tag="padv2-zp-min", value=1.0, rep="pos"),
        dict(tag="batch-axis", pads=((1, 2), (0, 0), (0, 0), (0, 0))),
        dict(tag="big", shape=(3, 3, 1), pads=((0, 0), (6, 5), (4, 7), (0, 0))),
        dict(tag="batch2", batch=2, pads=((0, 0), (1, 0), (0, 1), (0, 0))),
        dict(tag="wide-rows", shape=(2, 40, 4), pads=((0, 0), (1, 1), (3, 3), (0, 0))),
        dict(tag="16bit", mode="16x8"),
        dict(tag="16bit-asym", mode="16x8", pads=((0, 0), (2, 0), (0, 1), (1, 0))),
    ]
    cases = [{**base, **p} for p in picked]
    rng = np.random.default_rng(808)
    while len(cases) < len(picked) + 4:
        shape = tuple(int(v) for v in rng.integers(1, 6, size=3))
        pads = ((0, 0),) + tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(3, 2)))
        value = float(rng.choice([0.0, 0.5, -0.3]))
        cases.append({**base, "tag": f"rand-{'x'.join(map(str, shape))}", "shape": shape, "pads": pads,
                      "value": value, "rep": str(rng.choice(["normal", "pos", "neg"]))})
    return cases


def _mean_cases(mode: str = "int8") -> list[dict]:
    base = dict(kind="mean", mode=mode, shape=(6, 6, 4), axes=(1, 2), keepdims=False, rep="normal", patch=())
    picked = [
        dict(tag="gap"), dict(tag="gap-keepdims", keepdims=True),
        dict(tag="gap-7x5", shape=(7, 5, 3)), dict(tag="gap-1x1", shape=(1, 1, 8)),
        dict(tag="gap-16x16", shape=(16, 16, 2)), dict(tag="gap-3x3-deep", shape=(3, 3, 40)),
        dict(tag="zp-min", rep="pos"), dict(tag="zp-max", rep="neg", keepdims=True),
        dict(tag="axis1", axes=(1,)), dict(tag="axis2-keepdims", axes=(2,), keepdims=True),
        dict(tag="channels", axes=(3,)), dict(tag="axes123", axes=(1, 2, 3)),
        dict(tag="neg-axes", axes=(-3, -2)),
        dict(tag="gap1d", shape=(10, 6), axes=(1,)),
        dict(tag="narrow-output", patch=(("out_scale", 1 / 8),)),
        dict(tag="wide-output", patch=(("out_scale", 40.0),)),
        dict(tag="batch2-gap", batch=2), dict(tag="batch2-axes012", batch=2, axes=(0, 1, 2)),
        dict(tag="count-prime", shape=(7, 11, 2)), dict(tag="rep-small", rep="small"),
    ]
    cases = [{**base, **p} for p in picked]
    rng = np.random.default_rng(909 if mode == "int8" else 919)
    while len(cases) < len(picked) + 4:
        shape = tuple(int(v) for v in rng.integers(1, 9, size=3))
        cases.append({**base, "tag": f"rand-{'x'.join(map(str, shape))}", "shape": shape,
                      "keepdims": bool(rng.integers(0, 2)), "rep": str(rng.choice(["normal", "pos", "neg"]))})
    return cases


def parameter_sets(table: str) -> list[dict]:
    return {
        "CONV_2D": lambda: _conv_cases("int8"), "CONV_2D_16x8": lambda: _conv_cases("16x8"),
        "DEPTHWISE_CONV_2D": lambda: _depthwise_cases("int8"),
        "DEPTHWISE_CONV_2D_16x8": lambda: _depthwise_cases("16x8"),
        "FULLY_CONNECTED_16x8": _fc16_cases, "AVERAGE_POOL_2D": lambda: _pool_cases("avgpool"),
        "MAX_POOL_2D": lambda: _pool_cases("maxpool"),
        "AVERAGE_POOL_2D_16x8": lambda: _pool_cases("avgpool", "16x8"),
        "MAX_POOL_2D_16x8": lambda: _pool_cases("maxpool", "16x8"), "PAD": _pad_cases, "MEAN": _mean_cases,
        "MEAN_16x8": lambda: _mean_cases("16x8"),
    }[table]()


# ---- models ------------------------------------------------------------------------------------

def _rep(rng, kind: str, shape) -> np.ndarray:
    if kind == "pos":
        return rng.uniform(0.0, 2.0, shape)
    if kind == "neg":
        return rng.uniform(-2.0, 0.0, shape)
    if kind == "wide":
        return rng.normal(0.0, 6.0, shape)
    if kind == "small":
        return rng.normal(0.1, 0.05, shape)
    return rng.normal(0.2, 1.0, shape)


def _layer(tf, p):
    """The Keras layer(s) of a parameter set, as a function of the input tensor."""
    kind = p["kind"]
    act = "relu" if p.get("act") == "RELU" else None
    if kind == "conv":
        layer = tf.keras.layers.Conv2D(p["filters"], p["kernel"], strides=p["strides"], padding=p["padding"].lower(),
                                       dilation_rate=p["dilation"], groups=p["groups"], use_bias=p["bias"],
                                       activation=act)
    elif kind == "depthwise":
        layer = tf.keras.layers.DepthwiseConv2D(p["kernel"], strides=p["strides"], padding=p["padding"].lower(),
                                                depth_multiplier=p["multiplier"], dilation_rate=p["dilation"],
                                                use_bias=p["bias"], activation=act)
    elif kind == "dense":
        layer = tf.keras.layers.Dense(p["units"], use_bias=p["bias"], activation=act)
    elif kind in ("avgpool", "maxpool"):
        cls = tf.keras.layers.AveragePooling2D if kind == "avgpool" else tf.keras.layers.MaxPooling2D
        pool = cls(p["pool"], strides=p["strides"], padding=p["padding"].lower())
        if p["act"] == "RELU":
            return lambda x: tf.keras.layers.ReLU()(pool(x)), pool
        if p["act"] == "RELU6":
            return lambda x: tf.keras.layers.ReLU(6.0)(pool(x)), pool
        return pool, pool
    else:
        raise ValueError(kind)
    if p.get("act") == "RELU6":
        return lambda x: tf.keras.layers.ReLU(6.0)(layer(x)), layer
    return layer, layer


def _tf_function(tf, p, batch):
    """PAD, PADV2 and MEAN as a plain tf.function (the converter's Keras path fails on Lambda layers)."""
    spec = tf.TensorSpec((batch, *p["shape"]), tf.float32)
    if p["kind"] == "pad":
        pads, value = [list(r) for r in p["pads"]], p["value"]  # rows include the batch axis
        fn = tf.function(lambda t: tf.pad(t, pads, constant_values=value), input_signature=[spec])
    else:
        axes, keep = list(p["axes"]), p["keepdims"]
        fn = tf.function(lambda t: tf.reduce_mean(t, axis=axes, keepdims=keep), input_signature=[spec])
    return fn.get_concrete_function()


def _convert(tf, model, rep, p) -> bytes:
    if p["kind"] in ("pad", "mean"):
        conv = tf.lite.TFLiteConverter.from_concrete_functions([model], None)
    else:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([r] for r in rep)
    if p["mode"] == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
        if p.get("bias32"):
            conv._experimental_full_integer_quantization_bias_type = tf.int32
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    if not p.get("per_channel", True):
        conv._experimental_disable_per_channel = True
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return bytes(conv.convert())


def build(p) -> bytes:
    """The converted, patched model of a parameter set."""
    return _patched(_keras_model_bytes(p), p)


def _keras_model_bytes(p) -> bytes:
    from op_table import import_tf

    tf = import_tf()
    tf.keras.utils.set_random_seed(p["seed"])
    rng = np.random.default_rng(p["seed"])
    batch = p.get("batch", 1)
    if p["kind"] in ("pad", "mean"):
        model, layer = _tf_function(tf, p, batch), None
    else:
        inp = tf.keras.Input(shape=p["shape"], batch_size=batch)
        fn, layer = _layer(tf, p)
        model = tf.keras.Model(inp, fn(inp))
    if layer is not None and p.get("bias") and layer.weights:
        weights = layer.get_weights()
        weights[-1] = rng.normal(0.0, 0.3, weights[-1].shape).astype(np.float32)
        layer.set_weights(weights)
    rep = [_rep(rng, p["rep"], (batch, *p["shape"])).astype(np.float32) for _ in range(48)]
    return _convert(tf, model, rep, p)


def _patched(raw: bytes, p) -> bytes:
    """Post-conversion edits through the flatbuffer object API: RELU_N1_TO_1 (Keras has no such
    layer), an output scale that forces a positive shift, window options Keras cannot express
    (stride and dilation together) with the output shape recomputed."""
    patches = list(p["patch"])
    if p.get("act") == "RELU_N1_TO_1":
        patches.append(("act", "RELU_N1_TO_1"))
    if not patches:
        return raw
    from op_table import repack

    return repack(raw, lambda model: _edit(model, patches))


def _edit(model, patches) -> None:
    from op_table import ACT_CODES

    from tinyml_fw.aot import quant

    graph = model.subgraphs[0]
    (op,) = graph.operators
    out = graph.tensors[op.outputs[0]]
    for what, arg in patches:
        if what == "act":
            op.builtinOptions.fusedActivationFunction = ACT_CODES[arg]
        elif what == "bias_zero":
            buf = model.buffers[graph.tensors[op.inputs[2]].buffer]
            buf.data = np.zeros_like(buf.data)
        elif what == "out_scale":
            out.quantization.scale = [float(np.float32(s * arg)) for s in out.quantization.scale]
        elif what == "window":
            opts = op.builtinOptions
            for key, value in arg.items():
                setattr(opts, key, value)
            x = graph.tensors[op.inputs[0]]
            w = graph.tensors[op.inputs[1]]
            padding = "SAME" if opts.padding == 0 else "VALID"
            shape = list(out.shape)
            windows = ((opts.strideH, opts.dilationHFactor), (opts.strideW, opts.dilationWFactor))
            for axis, (s, d) in enumerate(windows):
                size, taps = int(x.shape[1 + axis]), int(w.shape[1 + axis])
                shape[1 + axis] = quant.compute_padding(padding, size, taps, s, d)[0]
            out.shape = np.array(shape, dtype=np.int32)
            if out.shapeSignature is not None:
                out.shapeSignature = np.array(shape, dtype=np.int32)


def check_ops(case, names: list[str]) -> None:
    if len(names) != 1 or names[0] not in OPS:
        raise AssertionError(f"{case.id}: the converter made {names}, not one op of the table")


# ---- inputs ------------------------------------------------------------------------------------

def inputs(spec, n: int, seed: int) -> np.ndarray:
    """Extremes, uniform random values over the whole type, values near the representative data, and
    sparse ones: the zero point everywhere but at a few places, off by a little (single taps,
    unsaturated outputs even with large multipliers)."""
    t = spec.tensors[spec.inputs[0]]
    dtype = np.int16 if t.dtype == "INT16" else np.int8
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    shape = t.shape
    alt = np.where(np.indices(shape).sum(axis=0) % 2 == 0, info.max, info.min).astype(dtype)
    special = [np.full(shape, info.min, dtype), np.full(shape, info.max, dtype), np.zeros(shape, dtype), alt,
               np.full(shape, t.zero_points[0] if t.zero_points else 0, dtype)]
    uniform = rng.integers(info.min, int(info.max) + 1, size=(n // 2, *shape), dtype=dtype)
    real = rng.normal(0.2, 1.0, (n - n // 2, *shape)) / (t.scales[0] if t.scales else 1.0)
    near = np.clip(np.round(real) + (t.zero_points[0] if t.zero_points else 0), info.min, info.max).astype(dtype)
    zp = t.zero_points[0] if t.zero_points else 0
    sparse = np.full((16, *shape), zp, dtype=np.int64)
    for i, v in enumerate(sparse.reshape(16, -1)):
        at = rng.choice(v.size, size=min(v.size, 1 + i % 3), replace=False)
        v[at] += rng.integers(-3, 4, size=at.size)
    sparse = np.clip(sparse, info.min, info.max).astype(dtype)
    return np.concatenate([np.stack(special), uniform, near, sparse])


def input_sets(spec, n: int, seed: int) -> list[dict]:
    return [{spec.inputs[0]: x} for x in inputs(spec, n, seed)]
