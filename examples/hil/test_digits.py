"""The digits classifier on the board: the same tests on an emulator, a board on this machine, or a board
of a farm (`--board`, `--port`, `--hil-map`; see README.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest


def test_the_board_runs_the_model_under_test(dut, board, model):
    info = dut.info()
    assert info.board == board.id
    assert info.model_sha256 == hashlib.sha256(Path(model).read_bytes()).hexdigest()
    assert info.stack_used <= info.stack_bytes


def test_it_recognises_digits(dut, digits):
    x, y = digits
    right = sum(int(dut.infer(x[i]).argmax() == y[i]) for i in range(30))
    assert right >= 27  # 98 % on the whole test set


def test_every_output_is_bit_exact_with_tflite_micro(dut, digits):
    x, y = digits
    report = dut.validate(x[:60], y[:60])
    assert report.passed, report.failed_vectors or report.first_mismatch
    assert report.bit_exact == 60 and report.max_abs_diff == 0


def test_it_comes_back_after_a_reset(dut, digits):
    x, _ = digits
    before = dut.infer(x[0])
    info = dut.reset()
    assert dut.expect("(boot)").startswith(f"INFO: board {info.board}")
    assert np.array_equal(dut.infer(x[0]), before)


@pytest.mark.boards("mps2-an386", "mps2-an500")
def test_one_inference_fits_the_latency_budget(dut, digits):
    """Only on the emulated boards, whose instruction counts are exact (QEMU -icount)."""
    dut.infer(digits[0][0])
    assert 1_480 < dut.last_instructions < 40_000  # at least one instruction per MAC


@pytest.mark.boards("mps2-an386", "mps2-an500")
def test_every_dense_layer_stays_within_its_budget(dut, digits):
    """Per-layer budgets, timed on the device in one run per vector (PROFILE): a kernel that gets slower fails
    here, and the message names its layer."""
    report = dut.validate(digits[0][:2], profile=True)
    dense = [layer for layer in report.profile["layers"] if layer["op"] == "FULLY_CONNECTED"]
    assert dense
    for layer in dense:
        assert layer["instructions_per_mac"] < 6, f"{layer['name']}: {layer['instructions_per_mac']} per MAC"
