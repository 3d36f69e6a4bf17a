"""Bad input gets one clear line on stderr and its documented exit code, never a traceback."""

from __future__ import annotations

import pytest

from tinyml_fw import errors


def assert_one_line_error(result, code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


def test_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0
    assert "tinyml-fw, version" in result.stdout


def test_missing_model_file(run_cli):
    assert_one_line_error(run_cli("generate", "no-such-model.tflite"), errors.EXIT_BAD_INPUT,
                          "Model file not found", "no-such-model.tflite")


def test_not_a_tflite_file(run_cli, tmp_path):
    (tmp_path / "notes.tflite").write_text("just text, not a model")
    assert_one_line_error(run_cli("analyze", "notes.tflite"), errors.EXIT_BAD_INPUT, "not a TFLite model")


def test_truncated_tflite_file(run_cli, tmp_path, hello_world_model):
    (tmp_path / "cut.tflite").write_bytes(hello_world_model.read_bytes()[:200])
    assert_one_line_error(run_cli("generate", "cut.tflite"), errors.EXIT_BAD_INPUT, "damaged TFLite model")


@pytest.mark.parametrize("verb", ["generate", "deploy"])
def test_unknown_board_suggests_close_names(run_cli, hello_world_model, verb):
    args = ["generate", str(hello_world_model)] if verb == "generate" else ["deploy"]
    result = run_cli(*args, "--board", "mps2-an38")
    assert_one_line_error(result, errors.EXIT_BAD_INPUT, "Unknown board 'mps2-an38'", "Did you mean: mps2-an386")


def test_unsupported_operator_names_op_and_layer(run_cli, micro_speech_model):
    result = run_cli("generate", str(micro_speech_model), "--out", "proj")
    assert_one_line_error(result, errors.EXIT_BAD_INPUT, "DEPTHWISE_CONV_2D", "layer 1")


def test_unknown_recipe(run_cli):
    assert_one_line_error(run_cli("train", "--recipe", "mnist-mpl"), errors.EXIT_BAD_INPUT,
                          "Unknown recipe 'mnist-mpl'", "mnist-mlp")


def test_debug_shows_traceback(run_cli):
    result = run_cli("--debug", "generate", "no-such-model.tflite")
    assert result.returncode == errors.EXIT_BAD_INPUT
    assert "Traceback" in result.stderr
