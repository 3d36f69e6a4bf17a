"""Kernels on the emulated Cortex-M4: the same outputs as tflite-micro, through the real firmware path."""

from __future__ import annotations

import numpy as np
import pytest

from tinyml_fw.golden import Reference

pytestmark = pytest.mark.slow


def test_hello_world_on_m4_all_256_inputs(run_on_board, hello_world_model):
    raw = hello_world_model.read_bytes()
    inputs = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    expected = Reference(raw).run_all(inputs)
    np.testing.assert_array_equal(run_on_board(raw, inputs), expected)


# ---- the convolution family on the M4: three firmware builds in all ----------------------------------

def _convert(model, shape, int16=False, seed=0) -> bytes:
    import tensorflow as tf

    from tinyml_fw.quiet import quiet_fds

    rng = np.random.default_rng(seed)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.normal(0.2, 1.0, shape).astype(np.float32)] for _ in range(64))
    if int16:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    with quiet_fds():
        return bytes(conv.convert())


def _random_inputs(shape, dtype, n, seed):
    """The extremes of the type, then n random tensors over its whole range."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    special = np.stack([np.full(shape, info.min, dtype), np.full(shape, info.max, dtype), np.zeros(shape, dtype)])
    return np.concatenate([special, rng.integers(info.min, int(info.max) + 1, (n, *shape), dtype=dtype)])


def _ops(raw: bytes) -> list[str]:
    import tempfile
    from pathlib import Path

    from tinyml_fw.modelspec import read_model

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.tflite").write_bytes(raw)
        spec = read_model(Path(tmp) / "m.tflite")
    return [op.op for op in spec.ops]


def test_conv_family_int8_model_on_m4(run_on_board):
    """CONV_2D (strided, dilated), PAD, DEPTHWISE_CONV_2D (depth multiplier 2, fused RELU6), MAX_POOL_2D,
    AVERAGE_POOL_2D, MEAN (keep_dims; the converter folds the Flatten into the FC), FULLY_CONNECTED and
    SOFTMAX in one int8 model."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((12, 12, 2), batch_size=1)
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(inp)
    x = layers.ZeroPadding2D(((1, 0), (0, 1)))(x)
    x = layers.ReLU(6.0)(layers.DepthwiseConv2D(2, depth_multiplier=2, padding="same")(x))
    x = layers.MaxPooling2D(2, strides=1, padding="same")(x)
    x = layers.Conv2D(8, 2, dilation_rate=2, padding="valid")(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Flatten()(layers.GlobalAveragePooling2D(keepdims=True)(x))
    x = layers.Softmax()(layers.Dense(5)(x))
    raw = _convert(tf.keras.Model(inp, x), (1, 12, 12, 2))
    assert _ops(raw) == ["CONV_2D", "PAD", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "CONV_2D", "AVERAGE_POOL_2D",
                         "MEAN", "FULLY_CONNECTED", "SOFTMAX"]
    inputs = _random_inputs((1, 12, 12, 2), np.int8, 24, seed=3)
    np.testing.assert_array_equal(run_on_board(raw, inputs), Reference(raw).run_all(inputs))


def test_conv_family_16x8_model_on_m4(run_on_board):
    """16x8: CONV_2D (int64 bias), PAD, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, MEAN,
    FULLY_CONNECTED and SOFTMAX (the generate-time tables in flash) on int16 activations."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((10, 10, 3), batch_size=1)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid")(x)
    x = layers.MaxPooling2D(2, strides=1, padding="same")(x)
    x = layers.AveragePooling2D(2, padding="same")(x)
    x = layers.Flatten()(layers.GlobalAveragePooling2D(keepdims=True)(x))
    x = layers.Softmax()(layers.Dense(6)(x))
    raw = _convert(tf.keras.Model(inp, x), (1, 10, 10, 3), int16=True)
    assert _ops(raw) == ["CONV_2D", "PAD", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
                         "FULLY_CONNECTED", "SOFTMAX"]
    inputs = _random_inputs((1, 10, 10, 3), np.int16, 24, seed=4)
    np.testing.assert_array_equal(run_on_board(raw, inputs), Reference(raw).run_all(inputs))


def test_micro_speech_on_m4(run_on_board, micro_speech_model):
    """TFLM's micro_speech model (RESHAPE, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX) on random spectrograms."""
    raw = micro_speech_model.read_bytes()
    inputs = _random_inputs((1960,), np.int8, 29, seed=5)
    expected = Reference(raw).run_all(inputs)
    assert len(np.unique(expected, axis=0)) > 5  # the outputs vary: not a constant-output check
    np.testing.assert_array_equal(run_on_board(raw, inputs), expected)


# ---- elementwise, activation, shape and conversion ops on the M4: three firmware builds in all --------

def _ew_convert(model, shape, mode: str, seed: int) -> bytes:
    """int8 or 16x8 conversion; mode "float" keeps float32 input and output (QUANTIZE/DEQUANTIZE)."""
    import tensorflow as tf

    from tinyml_fw.quiet import quiet_fds

    rng = np.random.default_rng(seed)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.normal(0.0, 2.0, shape).astype(np.float32)] for _ in range(64))
    if mode == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if mode == "int8":
            conv.inference_input_type = conv.inference_output_type = tf.int8
    with quiet_fds():
        return bytes(conv.convert())


def _ew_steps(raw: bytes) -> list[str]:
    import tempfile
    from pathlib import Path

    from tinyml_fw.aot.lower import lower
    from tinyml_fw.modelspec import read_model

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.tflite").write_bytes(raw)
        plan = lower(read_model(Path(tmp) / "m.tflite"), "m")
    return [s.kernel for s in plan.steps]


def test_elementwise_int8_model_with_dynamic_batch_flatten_on_m4(run_on_board):
    """LOGISTIC, TANH, MUL, RELU6, ADD (fused RELU; broadcast constant), SUB, LEAKY_RELU, HARD_SWISH,
    CONCATENATION, STRIDED_SLICE (negative stride), and a Keras Flatten with a dynamic batch whose
    SHAPE → STRIDED_SLICE → PACK chain folds at generate time; activations run in place."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((6, 6, 4))  # no batch size: Flatten emits the shape arithmetic
    m = layers.Multiply()([layers.Activation("sigmoid")(inp), layers.Activation("tanh")(inp)])
    x = layers.ReLU()(layers.Add()([m, layers.ReLU(6.0)(inp)]))
    x = layers.Activation("hard_swish")(layers.LeakyReLU(negative_slope=0.3)(layers.Subtract()([x, inp])))
    x = layers.Lambda(lambda z: z + tf.constant(np.linspace(-1, 1, 4, dtype=np.float32)))(x)
    x = layers.Concatenate(axis=-1)([x, inp])
    x = layers.Flatten()(layers.Lambda(lambda z: z[:, 1:5:2, ::-1, :])(x))
    raw = _ew_convert(tf.keras.Model(inp, x), (1, 6, 6, 4), "int8", seed=1)
    assert {"SHAPE", "PACK", "HARD_SWISH", "CONCATENATION"} <= set(_ops(raw))
    assert _ew_steps(raw) == ["tfw_logistic_s8", "tfw_tanh_s8", "tfw_mul_s8", "tfw_relu6_s8", "tfw_add_s8",
                              "tfw_sub_s8", "tfw_leaky_relu_s8", "tfw_hard_swish_s8", "tfw_add_s8",
                              "tfw_concatenation", "tfw_strided_slice"]
    inputs = _random_inputs((1, 6, 6, 4), np.int8, 24, seed=6)
    np.testing.assert_array_equal(run_on_board(raw, inputs), Reference(raw).run_all(inputs))


def test_float_in_float_out_model_on_m4(run_on_board):
    """float32 in and out: QUANTIZE → TANH, RELU, MUL, ADD, LOGISTIC → DEQUANTIZE; the device receives and
    returns float32 bytes and matches TFLM bit for bit."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((16,), batch_size=1)
    y = layers.Activation("tanh")(inp)
    x = layers.Activation("sigmoid")(layers.Add()([layers.Multiply()([layers.ReLU()(y), inp]), y]))
    raw = _ew_convert(tf.keras.Model(inp, x), (1, 16), "float", seed=2)
    ops = _ops(raw)
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
    ref = Reference(raw)
    assert ref.input["dtype"] == np.float32 and ref.output["dtype"] == np.float32
    rng = np.random.default_rng(7)
    inputs = (rng.normal(0.0, 3.0, (24, 1, 16))).astype(np.float32)
    inputs[0, 0, :6] = [np.inf, -np.inf, np.nan, 1e30, -0.0, 0.0]
    got, want = run_on_board(raw, inputs), ref.run_all(inputs)
    np.testing.assert_array_equal(got.view(np.uint32), want.reshape(got.shape).view(np.uint32))


def test_elementwise_16x8_model_on_m4(run_on_board):
    """16x8 (int16 activations): ADD with a broadcast constant, LOGISTIC and TANH (the interpolated table),
    MUL, SUB with fused RELU6, LEAKY_RELU, RELU, QUANTIZE int16 → int16, CONCATENATION, STRIDED_SLICE."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input((8, 16), batch_size=1)
    a = layers.Lambda(lambda z: z + tf.constant(np.linspace(-2, 2, 16, dtype=np.float32)))(inp)
    m = layers.Multiply()([layers.Activation("sigmoid")(a), layers.Activation("tanh")(inp)])
    r = layers.ReLU(6.0)(layers.Subtract()([m, inp]))
    x = layers.Concatenate(axis=1)([r, layers.ReLU()(layers.LeakyReLU(negative_slope=0.2)(inp))])
    x = layers.Lambda(lambda z: z[:, ::3, 2:14:2])(x)
    raw = _ew_convert(tf.keras.Model(inp, x), (1, 8, 16), "16x8", seed=3)
    steps = _ew_steps(raw)
    assert {"tfw_logistic_s16", "tfw_tanh_s16", "tfw_add_s16", "tfw_requantize_s16_s16",
            "tfw_strided_slice"} <= set(steps)
    inputs = _random_inputs((1, 8, 16), np.int16, 24, seed=8)
    np.testing.assert_array_equal(run_on_board(raw, inputs), Reference(raw).run_all(inputs))
