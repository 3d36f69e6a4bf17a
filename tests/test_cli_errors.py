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


def test_unsupported_operator_names_op_and_layer(run_cli, unsupported_op_model):
    result = run_cli("generate", str(unsupported_op_model), "--out", "proj")
    assert_one_line_error(result, errors.EXIT_BAD_INPUT, "Operator GATHER in layer 1", "not supported")


def test_unknown_recipe(run_cli):
    assert_one_line_error(run_cli("train", "--recipe", "mnist-mpl"), errors.EXIT_BAD_INPUT,
                          "Unknown recipe 'mnist-mpl'", "mnist-mlp")


def test_debug_shows_traceback(run_cli):
    result = run_cli("--debug", "generate", "no-such-model.tflite")
    assert result.returncode == errors.EXIT_BAD_INPUT
    assert "Traceback" in result.stderr


def _without_toolchains(run_cli, keep: tuple[str, ...] = ()):
    """The CLI with a PATH of the venv and the `keep` tools only: no compiler, no emulator."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    venv_bin = Path(sys.executable).parent
    tools = Path(tempfile.mkdtemp(prefix="tools-"))
    for tool in keep:
        (tools / tool).symlink_to(shutil.which(tool))

    def run(*args: str, cwd) -> subprocess.CompletedProcess:
        env = dict(os.environ, PATH=f"{venv_bin}:{tools}")
        return subprocess.run([str(venv_bin / "tinyml-fw"), *args], cwd=cwd, capture_output=True, text=True,
                              env=env, timeout=300)

    return run


def test_missing_compiler(run_cli, tmp_path, hello_world_model):
    assert run_cli("generate", str(hello_world_model), "--out", "p").returncode == 0
    result = _without_toolchains(run_cli)("build", "p", cwd=tmp_path)
    assert_one_line_error(result, errors.EXIT_MISSING_TOOL, "arm-none-eabi-gcc not found")


def test_missing_emulator(run_cli, tmp_path, hello_world_model):
    import numpy as np

    assert run_cli("generate", str(hello_world_model), "--out", "p").returncode == 0
    assert run_cli("build", "p").returncode == 0
    np.savez(tmp_path / "x.npz", x=np.zeros((1, 1), np.float32))
    result = _without_toolchains(run_cli, keep=("arm-none-eabi-size",))(
        "validate", "p", "--data", "x.npz", cwd=tmp_path)
    assert_one_line_error(result, errors.EXIT_MISSING_TOOL, "qemu-system-arm not found")


def test_validate_without_build(run_cli, tmp_path, hello_world_model):
    import numpy as np

    assert run_cli("generate", str(hello_world_model), "--out", "p").returncode == 0
    np.savez(tmp_path / "x.npz", x=np.zeros((1, 1), np.float32))
    assert_one_line_error(run_cli("validate", "p", "--data", "x.npz"), errors.EXIT_BUILD_FAILED,
                          "No firmware", "tinyml-fw build")


def test_data_of_the_wrong_shape(run_cli, tmp_path, hello_world_model):
    import numpy as np

    assert run_cli("generate", str(hello_world_model), "--out", "p").returncode == 0
    assert run_cli("build", "p").returncode == 0
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 28, 28), np.float32))
    assert_one_line_error(run_cli("validate", "p", "--data", "x.npz"), errors.EXIT_BAD_INPUT,
                          "shape [28, 28]", "the model takes [1]")


def test_not_a_project(run_cli, tmp_path):
    assert_one_line_error(run_cli("build", "nowhere"), errors.EXIT_BAD_INPUT, "not a tinyml-fw project")
