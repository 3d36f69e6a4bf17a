"""Static checks in `make test`: ruff on the package and the benchmarks, mypy on the package, and the generated
C of every catalog board compiled with -Wall -Wextra -Werror by a compiler for that board's CPU.

Real boards cannot be built here (their PlatformIO platforms come from the registry), so the board's CPU
compiler stands in: arm-none-eabi-gcc with the board's -mcpu (which also selects the DSP kernels where the
core has them), avr-gcc with its -mmcu; the ESP32's Xtensa compiler is not in Debian, so its sources are
compiled with the host's gcc instead (the Arduino-framework glue against a small stub of Arduino.h in
every case: what stays untested is the real cores' headers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyml_fw import boards
from tinyml_fw.errors import BadInput
from tinyml_fw.generate import generate

ROOT = Path(__file__).resolve().parent.parent
ARDUINO_STUB = ROOT / "tests" / "fixtures" / "arduino_stub"
WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def _tool(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean_on_the_package_and_benchmarks():
    result = _tool(["ruff", "check", "tinyml_fw", "bench"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_the_package():
    result = _tool(["mypy", "tinyml_fw"])
    assert result.returncode == 0, result.stdout + result.stderr


def _compiler(board: boards.Board) -> tuple[list[str], list[str]]:
    """(C compiler, C++ compiler) with the flags for the board's CPU."""
    cpu = board.cpu
    if cpu.startswith("cortex-"):
        flags = [f"-mcpu={cpu}", "-mthumb", "-Os"]
        return ["arm-none-eabi-gcc", "-std=gnu11", *flags], ["arm-none-eabi-g++", "-std=gnu++17", *flags]
    if cpu.startswith("atmega"):
        if not shutil.which("avr-gcc"):
            pytest.skip("avr-gcc is not installed (scripts/setup.sh installs gcc-avr)")
        flags = [f"-mmcu={cpu}", "-Os"]
        return ["avr-gcc", "-std=gnu11", *flags], ["avr-g++", "-std=gnu++11", *flags]
    return ["gcc", "-std=gnu11", "-Os"], ["g++", "-std=gnu++17", "-Os"]  # Xtensa: no cross compiler here


@pytest.fixture(scope="module")
def models(hello_world_model, micro_speech_model):
    return [hello_world_model, micro_speech_model]


@pytest.mark.parametrize("board_id", sorted(b.id for b in boards.catalog()))
def test_generated_c_compiles_without_warnings(board_id, models, tmp_path):
    board = boards.get(board_id)
    cc, cxx = _compiler(board)
    compiled = 0
    for model in models:
        out = tmp_path / model.stem
        try:
            generate(model, board_id, out, runtime="aot", log=lambda *_: None)
        except BadInput as exc:  # micro_speech does not fit an Uno: the fit check says so, nothing to compile
            assert "does not fit" in str(exc) or "too large" in str(exc), exc
            continue
        includes = sorted({f"-I{p.parent}" for p in (out / "src").rglob("*.h")})
        if board.framework == "arduino":
            includes.append(f"-I{ARDUINO_STUB}")
        includes += [f"-D{key}={value}" for key, value in board.defines.items()]
        for source in sorted((out / "src").rglob("*.c*")):
            compiler = cxx if source.suffix == ".cpp" else cc
            result = subprocess.run([*compiler, *WARNINGS, *includes, "-c", str(source), "-o",
                                     str(tmp_path / f"{source.stem}.o")], capture_output=True, text=True)
            assert result.returncode == 0, f"{source.relative_to(out)} on {board_id}:\n{result.stderr}"
            compiled += 1
    assert compiled >= 20  # the kernels, the model, the protocol and the board's glue
