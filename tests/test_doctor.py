"""`tinyml-fw doctor`: every piece checked, and a fix named for each one that is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tinyml_fw import doctor, errors

EXE = Path(sys.executable).with_name("tinyml-fw")


def _by_name(results) -> dict:
    return {c.name: c for c in results}


def test_doctor_passes_on_this_machine(tmp_path):
    result = subprocess.run([str(EXE), "doctor"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("arm-none-eabi-gcc", "qemu-system-arm", "python: platformio", "python: tflite-micro",
                 "PlatformIO platform tinyml-arm", "arm-none-eabi-gcc: newlib-nano (C library)"):
        assert any(line.startswith("ok") and f" {name} " in line for line in result.stdout.splitlines()), name
    assert "Everything the pipeline needs is here." in result.stdout
    real = [line for line in result.stdout.splitlines() if " board nano33ble: nordicnrf52@" in line]
    assert len(real) == 1 and real[0].split()[0] in ("ok", "optional")  # a real board's platform: never fatal


def test_missing_tools_are_named_with_their_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    lines: list[str] = []
    with pytest.raises(errors.MissingTool) as caught:
        doctor.doctor(log=lines.append)
    assert caught.value.exit_code == errors.EXIT_MISSING_TOOL
    checks = _by_name(doctor.checks())
    for name, package in (("arm-none-eabi-gcc", "gcc-arm-none-eabi"), ("qemu-system-arm", "qemu-system-arm"),
                          ("arm-none-eabi-size", "binutils-arm-none-eabi")):
        assert not checks[name].ok and checks[name].required
        assert f"apt-get install {package}" in checks[name].fix
        assert name in str(caught.value)
    assert not checks["simavr"].ok and not checks["simavr"].required  # optional: named, not fatal
    assert "simavr" not in str(caught.value)
    shown = "\n".join(lines)
    assert "MISSING  arm-none-eabi-gcc" in shown and "→ fix: sudo apt-get install gcc-arm-none-eabi" in shown


def test_missing_python_package_and_unwritable_home(tmp_path, monkeypatch):
    monkeypatch.setitem(doctor.PACKAGES, "tinyml-fw-no-such-dist", ("a test", True))
    (tmp_path / "home").write_text("a file, not a folder")
    monkeypatch.setenv("TINYML_FW_HOME", str(tmp_path / "home"))
    checks = _by_name(doctor.checks())
    package = checks["python: tinyml-fw-no-such-dist"]
    assert not package.ok and "pip install tinyml-fw-no-such-dist" in package.fix
    assert not checks["tinyml-fw home"].ok and "TINYML_FW_HOME" in checks["tinyml-fw home"].fix
    with pytest.raises(errors.MissingTool, match="tinyml-fw-no-such-dist"):
        doctor.doctor(log=lambda _: None)


def test_a_broken_board_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYML_FW_HOME", str(tmp_path))
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "mine.json").write_text("{ not json")
    checks = _by_name(doctor.checks())
    assert not checks["board catalog"].ok and "mine.json" in checks["board catalog"].detail
    assert not any(name.startswith("board nano33ble: ") for name in checks)  # the catalog did not load
