"""tfw_softmax_s8 and tfw_softmax_s16 against the TFLM interpreter, byte for byte (int16 over the op
table, tests/c/tables_ew.py); the int16 kernel's generate-time tables against C's float arithmetic."""

import dataclasses
import subprocess

import numpy as np
import pytest

import fc_models as h
import harness
import op_table
from op_table import check_case, table_params
from tinyml_fw.aot import quant
from tinyml_fw.aot.call import Call, Const
from tinyml_fw.aot.lower import Lowering
from tinyml_fw.aot.ops import LOWERINGS
from tinyml_fw.errors import BadInput

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


FAST = "tfw_softmax_s8_fast"


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
    np.testing.assert_array_equal(h.run_softmax(kernels, sp, x, kernel=FAST), golden)  # the exp table's kernel
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
    fast = h.run_softmax(kernels, sp, h.run_fully_connected(kernels, qp, weights, bias, x,
                                                            kernel="tfw_fully_connected_s8_fast"), kernel=FAST)
    np.testing.assert_array_equal(fast, golden)


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
    with pytest.raises(AssertionError, match="returned 4"):
        h.run_softmax(kernels, sp, np.zeros((1, 1024), np.int8), kernel=FAST)


def test_softmax_exp_table_matches_the_c_exponential(kernels):
    """The generator's table (tinyml_fw/aot/fixedpoint.py) against the C fixed-point exponential, entry by
    entry, for input scales giving every left shift the int8 SOFTMAX meets."""
    from tinyml_fw.aot import fixedpoint

    for scale in [2e-6, 1e-4, 3.3e-3, 0.0123, 0.1, 0.5, 1.0, 7.7, 100.0]:
        sp = quant.softmax_params(scale)
        table = fixedpoint.softmax_exp_table(sp["input_multiplier"], sp["input_left_shift"], sp["diff_min"])
        last = min(255, -sp["diff_min"])
        assert len(table) == 256 and not any(table[last + 1:])
        for k, value in enumerate(table[:last + 1]):
            scaled = kernels.dll.shim_srdhm(fixedpoint.wrap32(-k << sp["input_left_shift"]), sp["input_multiplier"])
            assert value == kernels.dll.shim_exp_q5(scaled), (scale, k)


# ---- int16 (16x8 models) -----------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("case", table_params("SOFTMAX_16x8"))
def test_softmax_16x8_matches_tflm(case, kernels, op_table_cache):
    check_case(case, kernels, op_table_cache)


def test_softmax_16x8_table_is_big_enough():
    cases = op_table.cases("SOFTMAX_16x8")
    assert len(cases) >= 20 and len({c.id for c in cases}) == len(cases)


# The tables once more, written in C the way TFLM fills them: float32 arithmetic and the C library's
# expf. The generator computes them in Python (numpy float32); the two must agree entry for entry.
_C_TABLES = r"""
#include <math.h>
#include <stdio.h>

static float f_exp(float x) { return expf(x); }
static float f_recip(float x) { return 1.0f / (1.0f + x); }

static void table(float (*fn)(float), float in_scale, int in_zp, float out_scale, int out_zp) {
  const float in_min = in_scale * (float)(-32768 - in_zp), in_max = in_scale * (float)(32767 - in_zp);
  const float out_min = out_scale * (float)(-32768 - out_zp), out_max = out_scale * (float)(32767 - out_zp);
  const float step = (in_max - in_min) / 512.0f, half = step / 2.0f;
  const float inv = 65536.0f / (out_max - out_min);
  int i;
  for (i = 0; i < 512; ++i) {
    const float x = in_min + (float)i * step;
    const float v = fn(x), mid = fn(x + half), next = fn(in_min + (float)(i + 1) * step);
    const float sample = roundf(v * inv);
    const float err = roundf((next * inv + sample) / 2.0f) - roundf(mid * inv);
    const float q = sample - roundf(err / 2.0f);
    printf("%d\n", (int)fminf(fmaxf(q, -32768.0f), 32767.0f));
  }
  printf("%d\n", (int)fminf(fmaxf(roundf(fn(in_max) * inv), -32768.0f), 32767.0f));
}

int main(void) {
  table(f_exp, 10.0f / 65535.0f, 32767, 2.0f / 65535.0f, 0);
  table(f_recip, 1.0f / 65535.0f, -32768, 2.0f / 65535.0f, 0);
  return 0;
}
"""


def test_softmax_16x8_tables_match_c_float_arithmetic(tmp_path):
    (tmp_path / "tables.c").write_text(_C_TABLES)
    subprocess.run(["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-o", str(tmp_path / "tables"),
                    str(tmp_path / "tables.c"), "-lm"], check=True)
    got = subprocess.run([str(tmp_path / "tables")], check=True, capture_output=True, text=True).stdout
    values = [int(v) for v in got.split()]
    exp_lut, recip_lut = quant.softmax_s16_tables()
    size = quant.SOFTMAX_S16_LUT_SIZE
    header = (harness.KERNEL_DIR / "tfw_softmax.h").read_text()
    assert f"#define TFW_SOFTMAX_S16_LUT_SIZE {size}\n" in header  # the size the kernel reads
    assert len(values) == 2 * size
    assert exp_lut == values[:size] and recip_lut == values[size:]
    # the shapes TFLM's tables have: exp rises to 1.0 (32767), 1/(1+x) falls from 1.0 to 0.5 (16384)
    assert exp_lut[-1] == 32767 and all(a <= b for a, b in zip(exp_lut, exp_lut[1:]))
    assert recip_lut[0] == 32767 and recip_lut[-1] == 16384


def _s16_call(**over) -> Call:
    exp_lut, recip_lut = quant.softmax_s16_tables()
    fields = {**quant.softmax_s16_params(1e-3), "outer_size": 1, "depth": 4,
              "exp_lut": Const("int16_t", np.array(exp_lut, np.int16)),
              "recip_lut": Const("int16_t", np.array(recip_lut, np.int16))}
    fields.update(over)
    return Call("tfw_softmax_s16", "TfwSoftmaxS16Params", "tfw_softmax.h", fields, (0, 1), ("int16_t", "int16_t"))


def test_softmax_s16_uniform_rows_and_bad_params(kernels):
    out = kernels.run(_s16_call(), np.full((1, 4), 123, np.int16), 4)
    assert (np.abs(out.astype(int) - 32768 // 4) <= 2).all()  # four equal logits: about 1/4 each
    for bad in [dict(depth=0), dict(depth=65537), dict(outer_size=0), dict(input_shift=31),
                dict(input_multiplier=-1), dict(exp_lut=None), dict(recip_lut=None)]:
        kernels.run(_s16_call(**bad), np.zeros((1, 4), np.int16), 4, expect_status=1)


def test_softmax_s16_reports_a_sum_tflm_cannot_rescale(kernels):
    """A table of zeros makes every exp 0: TFLM would shift by a negative amount; the kernel says so."""
    zeros = Const("int16_t", np.zeros(quant.SOFTMAX_S16_LUT_SIZE, np.int16))
    kernels.run(_s16_call(exp_lut=zeros), np.zeros((1, 4), np.int16), 4, expect_status=4)


@pytest.mark.parametrize("tensor, changes, message", [
    ("x", {"zero_points": (3,)}, "zero points of 0"),
    ("y", {"scales": (1 / 256,)}, "output scale 1/32768"),
    ("y", {"dtype": "INT8"}, "SOFTMAX from INT16 to INT8"),
])
def test_softmax_16x8_lowering_refuses(op_table_cache, tensor, changes, message):
    from tinyml_fw.modelspec import read_model

    spec = read_model(op_table.model_path(op_table.cases("SOFTMAX_16x8")[0], op_table_cache))
    (op,) = spec.ops
    t = op.inputs[0] if tensor == "x" else op.outputs[0]
    tensors = list(spec.tensors)
    tensors[t] = dataclasses.replace(tensors[t], **changes)
    spec = dataclasses.replace(spec, tensors=tuple(tensors))
    with pytest.raises(BadInput, match=message) as info:  # the generator's error: one line, naming the layer
        LOWERINGS["SOFTMAX"](Lowering(spec, "m"), op)
    assert str(info.value).startswith("layer 0 (SOFTMAX") and "\n" not in str(info.value)
