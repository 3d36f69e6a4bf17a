"""tfw_softmax_s8 against the TFLM interpreter, byte for byte."""

import numpy as np
import pytest

import fc_models as h
from tinyml_fw.aot import quant

pytestmark = pytest.mark.filterwarnings(
    "ignore:Statistics for quantized inputs were expected:UserWarning",
    "ignore:You are using a softmax over axis -1:UserWarning",
)

# (depth, rows, rep_scale): the representative range sets the input scale.
SOFTMAX_CONFIGS = [(7, 1, 30.0), (10, 1, 0.05), (100, 1, 5.0), (3, 4, 1.0), (1, 1, 1.0),
                   (16, 2, 300.0)]


@pytest.fixture(scope="module")
def softmax_models():
    cache = {}

    def get(cfg):
        if cfg not in cache:
            depth, rows, rep_scale = cfg
            cache[cfg] = h.softmax_model(depth, rows, rep_scale, seed=depth)
        return cache[cfg]
    return get


def softmax_inputs(shape, seed):
    x = h.int8_inputs(shape, n=200, seed=seed)
    rng = np.random.default_rng(seed + 1)
    # one large logit among small ones, and narrow ranges near the max
    one_hot = np.full((8, *shape), -128, np.int8)
    one_hot[..., 0] = 127
    narrow = rng.integers(120, 128, size=(8, *shape), dtype=np.int8)
    return np.concatenate([x, one_hot, narrow])


def check_softmax_model(kernels, model_bytes, seed):
    (op,) = h.read_ops(model_bytes)
    assert op["op"] == "SOFTMAX"
    inp, out = op["inputs"][0], op["outputs"][0]
    assert (out["scales"][0], out["zero_points"][0]) == (1 / 256, -128)
    sp = quant.softmax_params(inp["scales"][0], op["beta"])
    x = softmax_inputs(inp["shape"], seed)
    golden = h.tflm_run(model_bytes, x)
    np.testing.assert_array_equal(h.run_softmax(kernels, sp, x), golden)
    return sp


@pytest.mark.parametrize("cfg", SOFTMAX_CONFIGS, ids=[f"d{c[0]}-r{c[1]}-x{c[2]:g}" for c in SOFTMAX_CONFIGS])
def test_softmax_matches_tflm(kernels, softmax_models, cfg):
    check_softmax_model(kernels, softmax_models(cfg), cfg[0])


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.01])
def test_softmax_input_scales_and_beta(kernels, softmax_models, beta):
    """Patch the input scale and beta of one model over a wide range."""
    base = softmax_models(SOFTMAX_CONFIGS[1])
    (op,) = h.read_ops(base)
    seen_shifts = set()
    for scale in [2e-6, 1e-4, 3.3e-3, 0.0123, 0.1, 0.5, 1.0, 7.7, 100.0]:
        if beta * scale * 2.0 ** 26 <= 1.0:
            continue
        p = h.Patcher(base)
        p.scales(op["inputs"][0]["index"])[0] = scale
        p.set_softmax_beta(0, beta)
        sp = check_softmax_model(kernels, p.bytes(), int(scale * 1000) % 97)
        seen_shifts.add(sp["input_left_shift"])
    assert len(seen_shifts) >= 5


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("gain, rep_scale", [(1.0, 1.0), (40.0, 3.0), (0.01, 1.0)],
                         ids=["normal", "large_logits", "small_logits"])
def test_dense_softmax_chain(kernels, gain, rep_scale, per_channel):
    """Dense(..., activation='softmax') -> FC then SOFTMAX; chain both C kernels."""
    model = h.dense_model(24, 10, None, seed=int(gain * 7) + 3, softmax=True,
                          kernel_gain=gain, rep_scale=rep_scale, per_channel=per_channel)
    fc_op, sm_op = h.read_ops(model)
    assert (fc_op["op"], sm_op["op"]) == ("FULLY_CONNECTED", "SOFTMAX")
    qp, weights, bias = h.fc_setup(fc_op)
    logits_q = fc_op["outputs"][0]
    assert sm_op["inputs"][0]["index"] == logits_q["index"]
    sp = quant.softmax_params(logits_q["scales"][0], sm_op["beta"])
    x = h.int8_inputs(fc_op["inputs"][0]["shape"], n=200, seed=17)
    golden = h.tflm_run(model, x)
    got = h.run_softmax(kernels, sp, h.run_fully_connected(kernels, qp, weights, bias, x))
    np.testing.assert_array_equal(got, golden)


def test_softmax_rejects_bad_params(kernels):
    sp = quant.softmax_params(0.1)
    x = np.zeros((1, 4), np.int8)
    assert (h.run_softmax(kernels, sp, x) == -128 + 64).all()  # uniform: 1/4 = 64/256
    for bad in [dict(input_left_shift=32), dict(diff_min=1), dict(input_multiplier=-5)]:
        with pytest.raises(AssertionError, match="returned 1"):
            h.run_softmax(kernels, dict(sp, **bad), x)


def test_softmax_sum_too_large_reports_model_error(kernels):
    """TFLM aborts (TFLITE_CHECK) when the rescale exponent exceeds 31; we return
    TFW_ERR_MODEL instead. Needs >= 512 equal logits."""
    sp = quant.softmax_params(0.1)
    with pytest.raises(AssertionError, match="returned 4"):
        h.run_softmax(kernels, sp, np.zeros((1, 1024), np.int8))
    h.run_softmax(kernels, sp, np.zeros((1, 511), np.int8))  # just below the limit
