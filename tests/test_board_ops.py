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
