"""The model front end: every input kind, the recipes, both quantization schemes, the cache, the fit
check and user defaults. Models are trained for real (digits-mlp trains in seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyml_fw
from tinyml_fw import cache, errors, recipes
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import read_model
from tinyml_fw.tf import tensorflow
from tinyml_fw.train import cache_parts

pytestmark = pytest.mark.slow
quiet = {"log": lambda _: None}


@pytest.fixture(scope="module")
def digits():
    return tinyml_fw.train("digits-mlp", **quiet)


def every_kind(trained, folder: Path) -> dict:
    """A trained recipe's model in every form a user may bring it."""
    tf = tensorflow()
    model = tf.keras.models.load_model(trained.model_path)
    model.save(folder / "model.h5")
    model.export(str(folder / "saved_model"), verbose=False)
    (folder / "float.tflite").write_bytes(tinyml_fw.quantize.__globals__["float_tflite"](model))
    q = tinyml_fw.quantize(model, trained.data_path, folder / "int8", **quiet)
    return {"keras": Path(trained.model_path), "h5": folder / "model.h5", "savedmodel": folder / "saved_model",
            "tflite-float": folder / "float.tflite", "tflite-int": Path(q.tflite_path), "live": model}


@pytest.fixture(scope="module")
def model_files(digits, tmp_path_factory):
    """The trained digits model in every form a user may bring it."""
    return every_kind(digits, tmp_path_factory.mktemp("kinds"))


@pytest.fixture(scope="module")
def recipe_files(tmp_path_factory):
    """recipe → (trained, its model in every form), trained and converted once per recipe."""
    made = {}

    def get(recipe: str):
        if recipe not in made:
            trained = tinyml_fw.train(recipe, **quiet)
            made[recipe] = trained, every_kind(trained, tmp_path_factory.mktemp(f"kinds-{recipe}"))
        return made[recipe]
    return get


@pytest.mark.parametrize("kind", ["keras", "h5", "savedmodel", "tflite-float", "tflite-int", "live"])
def test_every_input_kind_deploys_bit_exact(kind, model_files, digits, tmp_path):
    model = model_files[kind]
    run = tinyml_fw.deploy(None, model=model, data=digits.data_path, out_dir=tmp_path / "out", limit=40, **quiet)
    assert run.report.bit_exact == run.report.vectors == 40, run.report
    assert run.report.metric == "accuracy" and run.report.score_device > 0.85
    spec = read_model(run.quantized.tflite_path)
    assert spec.tensors[spec.inputs[0]].dtype == "INT8"
    expected_source = "keras" if kind in ("h5", "live") else kind
    assert run.quantized.source == expected_source
    if kind in ("keras", "h5", "live", "tflite-float"):  # the float side is scored too
        assert abs(run.quantized.float_score - run.quantized.quantized_score) < 0.02


def test_recipes_are_listed(run_cli):
    result = run_cli("recipes")
    assert result.returncode == 0
    for name in ("mnist-mlp", "digits-mlp", "sine", "mnist-cnn"):
        assert name in result.stdout


@pytest.mark.parametrize("kind", ["keras", "h5", "savedmodel", "tflite-float", "tflite-int"])
@pytest.mark.parametrize("recipe", ["mnist-mlp", "sine"])
def test_recipes_deploy_bit_exact_from_every_input_kind(recipe, kind, recipe_files, tmp_path):
    """Issue 4: mnist-mlp and sine (digits-mlp above) from every input kind, 50 vectors each on the M4."""
    trained, files = recipe_files(recipe)
    run = tinyml_fw.deploy(None, model=files[kind], data=trained.data_path, out_dir=tmp_path / "out", limit=50,
                           **quiet)
    report = run.report
    assert report.bit_exact == report.vectors == 50, report
    assert run.quantized.source == ("keras" if kind == "h5" else kind)
    spec = read_model(run.quantized.tflite_path)
    assert spec.tensors[spec.inputs[0]].dtype == "INT8"
    if recipe == "sine":  # a regression: scored by mean absolute error, no accuracy
        assert report.metric == "mae" and report.accuracy_device is None
        assert report.score_device < 0.2
    else:
        assert report.metric == "accuracy" and report.score_device > 0.85
    if kind in ("keras", "h5", "tflite-float"):  # the float side is scored too
        assert abs(run.quantized.float_score - run.quantized.quantized_score) < 0.05


def test_mnist_cnn_is_analyzed_and_deploys_bit_exact(tmp_path):
    trained = tinyml_fw.train("mnist-cnn", **quiet)
    run = tinyml_fw.deploy("mnist-cnn", out_dir=tmp_path / "out", limit=40, **quiet)
    assert run.report.bit_exact == run.report.vectors == 40
    assert run.report.score_device > 0.8
    q = run.quantized
    assert q.quantized_score > 0.85
    analysis = tinyml_fw.analyze(q.tflite_path, board="mps2-an386")
    assert set(analysis.op_counts) >= {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D",
                                       "FULLY_CONNECTED", "SOFTMAX"}
    conv = next(layer for layer in analysis.layers if layer.op == "CONV_2D")
    assert conv.output_shape == [1, 26, 26, 8] and conv.macs == 26 * 26 * 8 * 9
    assert analysis.tflm_arena_bytes > analysis.liveness_floor > 0
    assert "64-bit host" in analysis.tflm_arena_note
    assert trained.float_accuracy > 0.85


@pytest.mark.parametrize("recipe", ["mnist-mlp", "digits-mlp", "sine", "mnist-cnn"])
def test_aot_memory_plan_is_within_10_percent_of_the_liveness_floor(recipe, tmp_path):
    trained = tinyml_fw.train(recipe, **quiet)
    q = tinyml_fw.quantize(trained.model_path, trained.data_path, tmp_path, **quiet)
    analysis = tinyml_fw.analyze(q.tflite_path, measure_arena=False)
    assert analysis.aot_arena_bytes <= 1.1 * analysis.liveness_floor, analysis


def test_16x8_quantization(digits, tmp_path):
    q = tinyml_fw.quantize(digits.model_path, digits.data_path, tmp_path, scheme="16x8", **quiet)
    spec = read_model(q.tflite_path)
    assert q.scheme == "16x8"
    assert spec.tensors[spec.inputs[0]].dtype == "INT16"
    assert {spec.tensors[op.inputs[1]].dtype for op in spec.ops if op.op == "FULLY_CONNECTED"} == {"INT8"}
    assert abs(q.float_score - q.quantized_score) < 0.02


def test_mnist_mlp_16x8_deploys_bit_exact(recipe_files, tmp_path):
    """Dense → softmax with int16 activations: FULLY_CONNECTED and SOFTMAX int16 on the M4."""
    trained, files = recipe_files("mnist-mlp")
    run = tinyml_fw.deploy(None, model=files["keras"], data=trained.data_path, out_dir=tmp_path / "out",
                           scheme="16x8", limit=50, **quiet)
    assert run.report.bit_exact == run.report.vectors == 50, run.report
    assert run.report.score_device > 0.85
    spec = read_model(run.quantized.tflite_path)
    assert [op.op for op in spec.ops] == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert {spec.tensors[t].dtype for op in spec.ops for t in (op.inputs[0], op.outputs[0])} == {"INT16"}


def test_mnist_cnn_16x8_deploys_bit_exact(tmp_path):
    """Every int16 kernel of a CNN on the M4: CONV_2D, MAX_POOL_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D,
    FULLY_CONNECTED and SOFTMAX."""
    trained = tinyml_fw.train("mnist-cnn", **quiet)
    run = tinyml_fw.deploy(None, model=trained.model_path, data=trained.data_path, out_dir=tmp_path / "out",
                           scheme="16x8", limit=30, **quiet)
    assert run.report.bit_exact == run.report.vectors == 30, run.report
    assert run.report.score_device > 0.8
    spec = read_model(run.quantized.tflite_path)
    assert {"CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "SOFTMAX"} <= {op.op for op in spec.ops}
    assert spec.tensors[spec.inputs[0]].dtype == "INT16"


def test_max_drop_warns(digits, tmp_path):
    lines = []
    tinyml_fw.quantize(digits.model_path, digits.data_path, tmp_path, max_drop=-1.0, log=lines.append)
    assert any(line.startswith("warning: quantization costs") for line in lines)


def test_random_data_for_a_model_without_data(digits, tmp_path):
    q = tinyml_fw.quantize(digits.model_path, None, tmp_path, random=50, **quiet)
    assert q.metric is None and Path(q.tflite_path).is_file()
    with pytest.raises(BadInput, match="--random N"):
        tinyml_fw.quantize(digits.model_path, None, tmp_path, **quiet)


def test_user_npz_and_npy_data(digits, tmp_path):
    data = np.load(digits.data_path)
    np.savez(tmp_path / "user.npz", x=data["x_test"], y=data["y_test"])
    np.save(tmp_path / "user.npy", data["x_test"])
    with_labels = tinyml_fw.quantize(digits.model_path, tmp_path / "user.npz", tmp_path / "a", **quiet)
    assert with_labels.metric == "accuracy"
    inputs_only = tinyml_fw.quantize(digits.model_path, tmp_path / "user.npy", tmp_path / "b", **quiet)
    assert inputs_only.metric is None
    np.savez(tmp_path / "bad.npz", x=np.zeros((4, 28, 28), np.float32))
    with pytest.raises(BadInput, match=r"shape \[28, 28\]; the model takes \[8, 8\]"):
        tinyml_fw.quantize(digits.model_path, tmp_path / "bad.npz", tmp_path / "c", **quiet)
    np.savez(tmp_path / "labels.npz", x=data["x_test"], y=data["y_test"][:5])
    with pytest.raises(BadInput, match="inputs but 5 labels"):
        tinyml_fw.quantize(digits.model_path, tmp_path / "labels.npz", tmp_path / "d", **quiet)


def test_cache_key_and_retrain(digits):
    recipe = recipes.get("digits-mlp")
    data = recipe.load(0)
    base = cache_parts(recipe, 0, data)
    assert cache.key(base) == cache.key(cache_parts(recipe, 0, data))
    assert cache.key(base) != cache.key(cache_parts(recipe, 1, data))
    other = recipes.Dataset(data.x_train[:-1], data.y_train[:-1], data.x_test, data.y_test, data.labels)
    assert cache.key(base) != cache.key(cache_parts(recipe, 0, other))
    assert Path(digits.model_path).parent.name == f"digits-mlp-{cache.key(base)}"
    lines = []
    again = tinyml_fw.train("digits-mlp", log=lines.append)
    assert again == digits and lines[0].startswith("Using trained digits-mlp")
    mtime = Path(digits.model_path).stat().st_mtime_ns
    tinyml_fw.train("digits-mlp", force=True, **quiet)
    assert Path(digits.model_path).stat().st_mtime_ns != mtime


def test_cache_clear(run_cli, digits):
    result = run_cli("cache", "clear")
    assert result.returncode == 0 and "Removed" in result.stdout
    assert not Path(digits.model_path).exists()
    tinyml_fw.train("digits-mlp", **quiet)  # leave the cache as other tests expect it
    assert Path(digits.model_path).exists()


def test_model_that_does_not_fit_is_refused_before_building(model_files, tmp_path):
    board = json.loads((Path(tinyml_fw.__file__).parent.parent / "boards" / "mps2-an386.json").read_text())
    board["upload"]["maximum_size"] = 8192
    board["upload"]["maximum_ram_size"] = 2048
    user_boards = Path(os.environ["TINYML_FW_HOME"]) / "boards"
    user_boards.mkdir(parents=True, exist_ok=True)
    (user_boards / "tiny-m4.json").write_text(json.dumps(board))
    try:
        with pytest.raises(BadInput) as info:
            tinyml_fw.generate(model_files["tflite-int"], "tiny-m4", tmp_path / "p", **quiet)
        message = str(info.value)
        assert "does not fit tiny-m4" in message and "of 8,192 B (over by" in message
        assert "of 2,048 B (over by" in message and "smaller model" in message
        assert not (tmp_path / "p").exists()
    finally:
        (user_boards / "tiny-m4.json").unlink()


def test_defaults_from_pyproject_env_and_cli(tmp_path, hello_world_model):
    (tmp_path / "pyproject.toml").write_text('[tool.tinyml-fw]\nboard = "from-file"\n')
    tfw = str(Path(sys.executable).with_name("tinyml-fw"))

    def generate(*extra: str, env: dict | None = None) -> str:
        result = subprocess.run([tfw, "generate", str(hello_world_model), *extra], cwd=tmp_path, text=True,
                                capture_output=True, env={**os.environ, **(env or {})})
        return result.stderr + result.stdout

    assert "Unknown board 'from-file'" in generate()
    assert "Unknown board 'from-env'" in generate(env={"TINYML_FW_BOARD": "from-env"})
    assert "Unknown board 'from-cli'" in generate("--board", "from-cli", env={"TINYML_FW_BOARD": "from-env"})
    (tmp_path / "pyproject.toml").write_text('[tool.tinyml-fw]\nbord = "typo"\n')
    assert "unknown [tool.tinyml-fw] setting(s) bord" in generate()


def test_float_model_is_refused_by_the_aot_engine(model_files, tmp_path):
    with pytest.raises(BadInput, match="FLOAT32 tensor .* int8 models. Quantize"):
        tinyml_fw.generate(model_files["tflite-float"], out_dir=tmp_path / "p", **quiet)
