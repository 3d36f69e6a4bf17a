"""`tinyml-fw test` (tinyml_fw/matrix.py): a HIL suite run once per board and model, the matrix it prints and
writes, and its exit code. Real runs: the digits-mlp recipe trained and quantized (cached), built for the
emulated M4 and M7, and a tiny suite run on QEMU through the pytest plugin."""

from __future__ import annotations

import json

import pytest

TINY_SUITE = """
import numpy as np


def test_every_output_is_bit_exact(dut):
    x = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    report = dut.validate(x)
    assert report.passed and report.bit_exact == 20


def test_one_inference(dut):
    dut.infer(np.zeros((8, 8), np.float32))
    assert 1_480 < dut.last_instructions < 40_000


def test_host_only():
    from tinyml_fw import boards

    assert "mps2-an386" in boards.known()  # a test that needs no board still counts in its cell
"""

FAILING_SUITE = """
def test_runs_everywhere(board):
    assert board.emulated


def test_fails_on_the_m7_on_purpose(board):
    assert board.cpu != "cortex-m7", "fails on the M7 on purpose"
"""


@pytest.mark.slow
def test_the_matrix_of_a_suite_on_two_emulated_boards(run_cli, tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_tiny.py").write_text(TINY_SUITE)
    result = run_cli("test", str(suite), "--board", "mps2-an386", "--board", "mps2-an500",
                     "--recipe", "digits-mlp", "--json", "matrix.json")
    assert result.returncode == 0, result.stdout + result.stderr
    matrix = json.loads((tmp_path / "matrix.json").read_text())
    assert matrix["passed"] is True
    assert matrix["boards"] == ["mps2-an386", "mps2-an500"] and matrix["models"] == ["digits-mlp"]
    for cell in matrix["cells"]:
        assert cell["status"] == "PASS", cell
        assert (cell["passed"], cell["failed"], cell["skipped"]) == (3, 0, 0)
        assert (cell["bit_exact"], cell["vectors"]) == (20, 20)
        assert cell["inferences"] == 21  # 20 validated + 1 inferred
        assert 1_480 < cell["instructions"] < 40_000 and cell["cycles"] is None
        assert len(cell["model_sha256"]) == 1  # the recipe's model, on both boards
    assert matrix["cells"][0]["model_sha256"] == matrix["cells"][1]["model_sha256"]
    for board in ("mps2-an386", "mps2-an500"):
        assert board in result.stdout
    assert result.stdout.count("bit-exact 20/20") == 2 and result.stdout.count("PASS 3/3 tests") == 2


@pytest.mark.slow
def test_a_failing_test_makes_a_fail_cell_and_a_nonzero_exit(run_cli, tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_failing.py").write_text(FAILING_SUITE)
    result = run_cli("test", str(suite), "--board", "mps2-an386", "--board", "mps2-an500", "--json", "m.json")
    assert result.returncode == 1, result.stdout + result.stderr
    matrix = json.loads((tmp_path / "m.json").read_text())
    good, bad = matrix["cells"]
    assert (good["board"], good["status"], good["passed"], good["failed"]) == ("mps2-an386", "PASS", 2, 0)
    assert (bad["board"], bad["status"], bad["passed"], bad["failed"]) == ("mps2-an500", "FAIL", 1, 1)
    [note] = bad["notes"]
    assert note.endswith("test_failing.py::test_fails_on_the_m7_on_purpose[mps2-an500]: "
                         "AssertionError: fails on the M7 on purpose"), note
    assert good["vectors"] is None and good["instructions"] is None  # no dut: nothing measured
    assert matrix["models"] == ["suite"] and matrix["passed"] is False
    assert "FAIL 1/2 tests" in result.stdout
    assert result.stderr.strip() == "error: 1 of 2 cells did not pass: mps2-an500 × suite (FAIL)."


@pytest.mark.parametrize(("args", "message"), [
    (("--board", "mps2-an38"), "error: Unknown board 'mps2-an38'. Did you mean: "),
    (("--recipe", "digits-mpl"), "error: Unknown recipe 'digits-mpl'. Did you mean: digits-mlp"),
    (("no-such-suite",), "error: Test suite not found: no-such-suite."),
    (("--model", "nothing.tflite"), "error: Model file not found: nothing.tflite"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, args, message):
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    result = run_cli("test", *(args if args[0] == "no-such-suite" else (str(tmp_path), *args)), timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert args[-1] != "mps2-an38" or "mps2-an386" in result.stderr  # the close board is named
    assert "running" not in result.stdout  # refused before any session started


def test_a_suite_that_tests_another_model_than_asked_fails_its_cell():
    """The suite's own `model` fixture wins over --model/--recipe: the cell says so rather than pass."""
    from tinyml_fw.matrix import Subject, _cell

    test = {"nodeid": "t.py::test_x[mps2-an386]", "outcome": "passed", "duration": 1.0, "message": "",
            "properties": {"tfw_board": "mps2-an386", "tfw_model_sha256": "b" * 64}}
    results = {"exitstatus": 0, "tests": [test], "collection_errors": []}
    asked = Subject("mine.tflite", "/m/mine.tflite", "a" * 64)
    cell = _cell("mps2-an386", asked, results, 0, "", 1.0)
    assert cell.status == "FAIL" and cell.passed == 1
    assert cell.notes == ["the suite tested another model (bbbbbbbbbbbb), not mine.tflite (aaaaaaaaaaaa): "
                          "--model and --recipe need a suite that uses the plugin's `model` fixture"]
    assert _cell("mps2-an386", Subject("mine.tflite", "/m", "b" * 64), results, 0, "", 1.0).status == "PASS"
    other_board = {**test, "properties": {"tfw_board": "mps2-an500"}}  # another board's test: not this cell
    assert _cell("mps2-an386", Subject("suite"), {**results, "tests": [other_board]}, 0, "", 1.0).status == "SKIP"
    broken = _cell("mps2-an386", Subject("suite"), None, 4, "ERROR: usage: pytest …\nbad option\n", 1.0)
    assert broken.status == "ERROR" and broken.notes == ["pytest exited with 4: ERROR: usage: pytest … | bad option"]
