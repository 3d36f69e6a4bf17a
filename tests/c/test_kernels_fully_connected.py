"""tfw_fully_connected_s8 against the TFLM interpreter, byte for byte."""

import numpy as np
import pytest

import fc_models as h
from tinyml_fw.aot import quant

pytestmark = pytest.mark.filterwarnings(
    "ignore:Statistics for quantized inputs were expected:UserWarning",
)

# (in_dim, units, activation, batch, bias, seed)
CONFIGS = [
    (784, 20, None, 1, True, 0),
    (20, 10, "relu", 1, True, 1),
    (1, 16, None, 1, True, 2),
    (64, 20, "relu6", 1, True, 3),
    (13, 7, None, 1, False, 4),   # zero bias: the converter drops the tensor (NULL bias)
    (37, 3, "relu", 3, True, 5),  # batch 3
    (5, 1, None, 1, True, 6),     # one output channel
]
FAST = "tfw_fully_connected_s8_fast"
IDS = [f"{c[0]}x{c[1]}-{c[2]}-b{c[3]}{'' if c[4] else '-nobias'}" for c in CONFIGS]


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(cfg, per_channel):
        key = (cfg, per_channel)
        if key not in cache:
            in_dim, units, act, batch, bias, seed = cfg
            cache[key] = h.dense_model(in_dim, units, act, batch=batch, seed=seed, bias=bias,
                                       per_channel=per_channel)
        return cache[key]
    return get


def check_fc_model(kernels, model_bytes, seed):
    (op,) = h.read_ops(model_bytes)
    assert op["op"] == "FULLY_CONNECTED"
    qp, weights, bias = h.fc_setup(op)
    x = h.int8_inputs(op["inputs"][0]["shape"], n=200, seed=seed)
    golden = h.tflm_run(model_bytes, x)
    got = h.run_fully_connected(kernels, qp, weights, bias, x)
    np.testing.assert_array_equal(got, golden)
    fast = h.run_fully_connected(kernels, qp, weights, bias, x, kernel=FAST)  # the DSP cores' kernel
    np.testing.assert_array_equal(fast, golden)
    np.testing.assert_array_equal(h.fc_reference(qp, weights, bias, x).reshape(golden.shape),
                                  golden)
    return op, qp


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_fully_connected_matches_tflm(kernels, models, cfg, per_channel):
    op, qp = check_fc_model(kernels, models(cfg, per_channel), cfg[5])
    n_scales = len(op["inputs"][1]["scales"])
    assert n_scales == (cfg[1] if per_channel else 1)
    assert (qp["per_channel_multiplier"] is not None) == (n_scales > 1)
    assert op["activation"] == {None: "NONE", "relu": "RELU", "relu6": "RELU6"}[cfg[2]]
    assert (len(op["inputs"]) > 2 and op["inputs"][2] is not None) == cfg[4]


def test_dense_is_per_channel_by_default():
    """TF 2.21 quantizes Dense kernels per output channel unless disabled."""
    tf = h.import_tf()
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input(shape=(6,), batch_size=1)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4)(inp))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.ones((1, 6), np.float32) * i] for i in range(4))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    (op,) = h.read_ops(bytes(conv.convert()))
    assert len(op["inputs"][1]["scales"]) == 4


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_relu_n1_to_1(kernels, models, per_channel):
    """RELU_N1_TO_1 cannot be produced from Keras: patch the fused activation."""
    p = h.Patcher(models(CONFIGS[1], per_channel))  # a RELU model: the field is stored
    p.set_fc_activation(0, 2)
    (op,) = h.read_ops(p.bytes())
    assert op["activation"] == "RELU_N1_TO_1"
    check_fc_model(kernels, p.bytes(), 11)


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_interpreter_uses_double_rounding(kernels, models, per_channel):
    """Find inputs where the single-rounding MultiplyByQuantizedMultiplier would
    differ from the default double-rounding one; TFLM must follow double rounding."""
    model = models(CONFIGS[3], per_channel)  # 64 -> 20
    (op,) = h.read_ops(model)
    qp, weights, bias = h.fc_setup(op)
    x = np.random.default_rng(7).integers(-128, 128, (20000, 1, 64), dtype=np.int8)
    qp_none = dict(qp, act_min=-128, act_max=127)  # keep clamped outputs comparable too
    dbl = h.fc_reference(qp_none, weights, bias, x, "double")
    sgl = h.fc_reference(qp_none, weights, bias, x, "single")
    rows = np.flatnonzero((dbl != sgl).any(axis=1))[:100]
    assert len(rows) > 0
    golden = h.tflm_run(model, x[rows]).reshape(len(rows), -1)
    clamp = lambda a: np.clip(a, qp["act_min"], qp["act_max"])  # noqa: E731
    np.testing.assert_array_equal(golden, clamp(dbl[rows]))
    assert (golden != clamp(sgl[rows])).any()
    np.testing.assert_array_equal(h.run_fully_connected(kernels, qp, weights, bias, x[rows])
                                  .reshape(golden.shape), golden)


def _distinguishing_scales(rng):
    """float32 scales (in, filter, out) with real ~ 2^-23 for which the float32 and
    the double product of in * filter give different quantized multipliers, and
    the 256 accumulators `centre + x` (x int8) expose the difference."""
    while True:
        s_in, s_w = np.float32(rng.uniform(0.5, 1.0, 2) * [2.0 ** -8, 2.0 ** -9])
        s_out = np.float32(float(s_in) * float(s_w) * 2.0 ** 23 * rng.uniform(1.0, 2.0))
        dbl = quant.quantize_multiplier(float(s_in) * float(s_w) / float(s_out))
        flt = quant.quantize_multiplier(float(np.float32(s_in * s_w)) / float(s_out))
        if dbl == flt:
            continue
        centre = int(round(100.5 * float(s_out) / (float(s_in) * float(s_w))))
        accs = np.arange(centre - 128, centre + 128, dtype=np.int64)
        out_d, out_f = h.mbqm_double(accs, *dbl), h.mbqm_double(accs, *flt)
        if (out_d != out_f).any():
            return s_in, s_w, s_out, centre, out_d, out_f


def test_per_tensor_multiplier_scale_product_in_double(kernels):
    """Upstream TFLM source computes (float)(in_scale * filter_scale) for per-tensor
    FC; the PyPI interpreter multiplies in double. Craft 1->1 models whose outputs
    tell the two apart and check that quant.py follows the interpreter."""
    base = h.dense_model(1, 1, None, seed=9, bias=True, per_channel=False)
    (op,) = h.read_ops(base)
    i_idx, w_idx, b_idx = (t["index"] for t in op["inputs"])
    o_idx = op["outputs"][0]["index"]
    rng = np.random.default_rng(5)
    x = np.arange(-128, 128, dtype=np.int8).reshape(256, 1, 1)
    for _ in range(3):
        s_in, s_w, s_out, centre, out_d, out_f = _distinguishing_scales(rng)
        p = h.Patcher(base)
        p.scales(i_idx)[0], p.scales(w_idx)[0], p.scales(o_idx)[0] = s_in, s_w, s_out
        p.scales(b_idx)[0] = np.float32(s_in * s_w)
        p.zero_points(i_idx)[0] = 0
        p.zero_points(o_idx)[0] = 0
        p.data(w_idx, np.int8)[0] = 1
        p.data(b_idx, np.int32)[0] = centre  # acc = input + centre
        model = p.bytes()
        golden = h.tflm_run(model, x).reshape(-1)
        np.testing.assert_array_equal(golden, np.clip(out_d, -128, 127))
        assert (golden != np.clip(out_f, -128, 127)).any()
        (op,) = h.read_ops(model)
        qp, weights, bias = h.fc_setup(op)
        np.testing.assert_array_equal(h.run_fully_connected(kernels, qp, weights, bias, x)
                                      .reshape(-1), golden)


def test_fully_connected_rejects_bad_params(kernels):
    qp = quant.fully_connected_params(0.1, 0, [0.01], 0.05, 0)
    w = np.ones((2, 3), np.int8)
    x = np.zeros((1, 3), np.int8)
    h.run_fully_connected(kernels, qp, w, None, x)  # sanity: valid params work
    for bad in [dict(act_min=10, act_max=5), dict(output_shift=31), dict(input_offset=300),
                dict(filter_offset=1, per_channel_multiplier=[1 << 30] * 2,
                     per_channel_shift=[0, 0])]:
        with pytest.raises(AssertionError, match="returned 1"):
            h.run_fully_connected(kernels, dict(qp, **bad), w, None, x)


HELLO_WORLD = h.REPO.parent / "shared" / "models" / "hello_world_int8.tflite"


@pytest.mark.skipif(not HELLO_WORLD.is_file(), reason="shared reference models not present")
def test_tflm_hello_world_model(kernels):
    """TFLM's own hello_world model (three FCs): chain the C kernel over every int8 input."""
    model = HELLO_WORLD.read_bytes()
    ops = h.read_ops(model)
    assert [o["op"] for o in ops] == ["FULLY_CONNECTED"] * 3
    x = np.arange(-128, 128, dtype=np.int8).reshape(256, 1, 1)
    y = x
    for op in ops:
        qp, weights, bias = h.fc_setup(op)
        y = h.run_fully_connected(kernels, qp, weights, bias, y)
    np.testing.assert_array_equal(y, h.tflm_run(model, x))


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_fast_kernel_matches_portable_on_every_shape(kernels, per_channel):
    """The DSP cores' tfw_fully_connected_s8_fast (SMLAD and SXTB16 emulated in C on the host) against
    the portable kernel: every depth 1..19 (the 4-wide steps and each tail), 1..9 outputs (the 4-row
    blocks and each leftover row), batches, extreme offsets, weights and inputs at -128/127, accumulators
    that wrap modulo 2^32, bias or none."""
    from tinyml_fw.aot.ops.fully_connected import FAST_KERNELS, fast_call

    rng = np.random.default_rng(11)
    seen = set()
    for depth in range(1, 20):
        for rows in (1, 3, 4, 5, 8, 9):
            batches = int(rng.integers(1, 4))
            w = rng.integers(-128, 128, (rows, depth), dtype=np.int8)
            w[0, :] = -128
            bias = None if depth % 3 == 0 else rng.integers(-2**31, 2**31, rows, dtype=np.int64).astype(np.int32)
            x = rng.integers(-128, 128, (batches, depth), dtype=np.int8)
            x[0, : depth // 2] = 127
            qp = quant.fully_connected_params(0.05, int(rng.integers(-128, 128)), list(rng.uniform(0.001, 0.02, rows))
                                              if per_channel else [0.01], float(rng.choice([0.0004, 0.07])), int(rng.integers(-128, 128)),
                                              ("NONE", "RELU", "RELU6")[depth % 3])
            if depth in (7, 8):
                qp = dict(qp, input_offset=128 if depth == 7 else -127)
            want = h.run_fully_connected(kernels, qp, w, bias, x)
            got = h.run_fully_connected(kernels, qp, w, bias, x, kernel=FAST)
            np.testing.assert_array_equal(got, want, err_msg=f"depth {depth} rows {rows}")
            seen.add(fast_call(qp, w, bias, batches, (0, 1)).kernel)
    assert seen == set(FAST_KERNELS)  # every requantization mode's kernel ran
