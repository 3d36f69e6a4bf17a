"""The emulated Cortex-M matrix (issue 6): the digits MLP bit-exact on every emulated core, the fast (DSP)
kernels selected at compile time on the cores that have the DSP extension and the portable ones elsewhere,
and regression guards on the deterministic figures of the emulated Cortex-M4 (instructions per inference,
flash), so a change that slows a kernel or bloats the image fails here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyml_fw import boards
from tinyml_fw.emulator import ticks_to_instructions
from tinyml_fw.golden import Reference

pytestmark = pytest.mark.slow

# board → core; True where the core has the DSP extension (the fast kernels run there, and the board's
# tinyml.fast_kernels has the generator emit their data).
CORES = {"mps2-an385": ("cortex-m3", False), "mps2-an386": ("cortex-m4", True),
         "mps2-an500": ("cortex-m7", True), "mps2-an505": ("cortex-m33", True),
         "mps3-an547": ("cortex-m55", True), "microbit": ("cortex-m0", False)}

# Measured on the emulated Cortex-M4 (QEMU mps2-an386, -icount shift=5, arm-none-eabi-gcc 12.2), mean over
# the vectors below; a kernel change that costs more than TOLERANCE fails. Lower them when a change speeds
# things up (the test also fails when the figure falls far below the guard, so stale guards are noticed).
GUARDS = {
    "hello_world": {"instructions": 931, "flash_bytes": 8_032},
    "digits": {"instructions": 2_329, "flash_bytes": 11_676},
}
TOLERANCE = 1.03


@pytest.fixture(scope="module")
def digits(tmp_path_factory, isolated_home):
    """The digits-mlp recipe (8×8 digits, FC → FC → SOFTMAX), trained and quantized here: (tflite bytes,
    the first 12 test images quantized for the model)."""
    from tinyml_fw.data import load_data
    from tinyml_fw.quantize import quantize
    from tinyml_fw.train import train

    trained = train("digits-mlp", log=lambda _: None)
    q = quantize(trained.model_path, trained.data_path, tmp_path_factory.mktemp("digits") / "model",
                 log=lambda _: None)
    raw = Path(q.tflite_path).read_bytes()
    ref = Reference(raw)
    x = load_data(trained.data_path).x[:12]
    return raw, ref.quantize(x.reshape(len(x), -1))


def _run(tmp_path: Path, raw: bytes, board_id: str, inputs: np.ndarray, profile: list | None = None):
    """Generate, build and run on the emulated board: (outputs, instructions per inference, firmware). With
    `profile`, also time the first input's layers on the device (PROFILE): appends (TIMES, its untimed ticks)."""
    from tinyml_fw.build import build
    from tinyml_fw.flash import device
    from tinyml_fw.generate import Project, generate
    from tinyml_fw.link import DeviceLink

    (tmp_path / "model.tflite").write_bytes(raw)
    generate(tmp_path / "model.tflite", board_id, tmp_path / "project", log=lambda _: None)
    firmware = build(tmp_path / "project", log=lambda _: None)
    project = Project.load(tmp_path / "project")
    board = boards.get(board_id)
    out_dtype = Reference(raw).output["dtype"]
    rows, ticks = [], []
    with device(project) as url, DeviceLink(url) as link:
        link.check(project.model_sha256)
        for x in inputs:
            result = link.infer(np.ascontiguousarray(x).tobytes())
            rows.append(np.frombuffer(result.output, dtype=out_dtype))
            ticks.append(result.ticks)
        if profile is not None:
            profile.append((link.profile(np.ascontiguousarray(inputs[0]).tobytes())[1], ticks[0]))
    instructions = ticks_to_instructions(float(np.mean(ticks)), board.tick_hz, board.emulator.icount_shift)
    return np.stack(rows), instructions, firmware


def _symbols(elf: str) -> set[str]:
    out = subprocess.run(["arm-none-eabi-nm", elf], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("board_id", sorted(CORES))
def test_digits_bit_exact_on_every_core(tmp_path, digits, board_id):
    raw, xq = digits
    cpu, dsp = CORES[board_id]
    assert boards.get(board_id).cpu.startswith(cpu)
    timed: list = []
    got, instructions, firmware = _run(tmp_path, raw, board_id, xq, profile=timed)
    np.testing.assert_array_equal(got, Reference(raw).run_all(xq).reshape(got.shape))
    # The device's per-layer profile on every core: three layers, adding up to the untimed run (1.5 %).
    (times, untimed), = timed
    assert times.recorded == 3 and all(t > 0 for t in times.ticks)
    assert sum(times.ticks) == pytest.approx(untimed, rel=0.015), (times.ticks, untimed)
    # Generate-time selection: the generator calls a fast FULLY_CONNECTED (one per requantization mode) on the
    # boards with fast kernels, the portable one elsewhere (gc-sections drops what is not called), and it is
    # what makes the DSP cores faster.
    symbols = _symbols(firmware.elf)
    assert any(s.startswith("tfw_fully_connected_s8_fast") for s in symbols) == dsp
    assert ("tfw_fully_connected_s8" in symbols) != dsp
    # ... and the fast kernels' generate-time data (block streams, the softmax table) only where they run.
    assert any(s.endswith("_blocks") or "exp_table" in s for s in symbols) == dsp
    assert boards.get(board_id).fast_kernels == dsp
    if dsp:
        assert instructions < 0.5 * 18_000, instructions  # the portable kernels need ~18,000
    else:
        assert instructions > 15_000, instructions


def _guard(name: str, instructions: float, flash: int) -> None:
    g = GUARDS[name]
    print(f"{name}: {instructions:.1f} instructions, {flash} B flash")
    assert instructions <= g["instructions"] * TOLERANCE, f"{name}: {instructions:.0f} instructions (guard {g})"
    assert flash <= g["flash_bytes"] * TOLERANCE, f"{name}: {flash} B of flash (guard {g})"
    assert instructions >= g["instructions"] * 0.85 and flash >= g["flash_bytes"] * 0.85, \
        f"{name}: {instructions:.0f} instructions, {flash} B: far below the guards {g}; lower them"


def test_regression_guard_hello_world_on_m4(tmp_path, hello_world_model):
    """TFLM's hello_world (the sine model: three FULLY_CONNECTED, 288 MACs), every int8 input."""
    raw = hello_world_model.read_bytes()
    inputs = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    got, instructions, firmware = _run(tmp_path, raw, "mps2-an386", inputs)
    np.testing.assert_array_equal(got, Reference(raw).run_all(inputs).reshape(got.shape))
    _guard("hello_world", instructions, firmware.flash_bytes)


def test_regression_guard_digits_on_m4(tmp_path, digits):
    raw, xq = digits
    got, instructions, firmware = _run(tmp_path, raw, "mps2-an386", xq)
    np.testing.assert_array_equal(got, Reference(raw).run_all(xq).reshape(got.shape))
    _guard("digits", instructions, firmware.flash_bytes)
