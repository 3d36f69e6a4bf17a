"""End to end on the emulated Cortex-M4: real training, PlatformIO build, QEMU, serial link.

The deploy case validates all 1,000 MNIST test images and is the one place the whole pipeline runs; the
other cases reuse its project.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyml_fw import errors
from weight_flip import flip_weight

pytestmark = pytest.mark.slow
TFW = str(Path(sys.executable).with_name("tinyml-fw"))


def tfw(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([TFW, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def qemu_pids(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"qemu-system-arm.*{re.escape(marker)}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """`tinyml-fw deploy` with its defaults: mnist-mlp on mps2-an386, all 1,000 test vectors."""
    work = tmp_path_factory.mktemp("deploy")
    result = tfw("deploy", "--out", "out", "--json", "report.json", cwd=work)
    return work, result


def test_deploy_is_bit_exact_on_the_emulated_m4(deployed):
    work, result = deployed
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((work / "report.json").read_text())
    assert report["board"] == "mps2-an386" and report["runtime"] == "aot"
    assert report["vectors"] == 1000
    assert report["bit_exact"] == 1000 and report["max_abs_diff"] == 0
    assert report["top1_agreement"] == 1.0
    assert report["passed"] is True
    assert abs(report["accuracy_device"] - report["float_accuracy"]) <= 0.01
    assert report["accuracy_device"] > 0.85
    assert report["instructions_per_inference"] > 15_880 / 2  # SMLAD: two MACs per instruction at most
    assert 15_880 < report["flash_bytes"] < 64_000  # the weights, plus the code
    assert 0 < report["arena_bytes"] <= report["ram_bytes"]
    assert "1000/1000" in result.stdout
    assert not qemu_pids(str(work)), "the emulator outlived deploy"


def test_flipped_weight_byte_fails_validation(deployed, tmp_path):
    """Negative control: the same firmware with one weight byte flipped must fail validate."""
    work, result = deployed
    assert result.returncode == 0
    project = tmp_path / "project"
    shutil.copytree(work / "out" / "project", project, ignore=shutil.ignore_patterns(".pio"))
    flip_weight(project, "mnist_mlp_l1", 0, 14 * 28 + 14, rows=20, depth=784)  # hidden unit 0, the centre pixel
    assert tfw("build", str(project), cwd=tmp_path).returncode == 0
    data = next(Path(os.environ["TINYML_FW_HOME"]).glob("cache/trained/mnist-mlp-*/data.npz"))
    bad = tfw("validate", str(project), "--data", str(data), "--limit", "100", "--json", "bad.json", cwd=tmp_path)
    assert bad.returncode == errors.EXIT_VALIDATION_FAILED, bad.stdout + bad.stderr
    report = json.loads((tmp_path / "bad.json").read_text())
    assert report["passed"] is False and report["bit_exact"] < report["vectors"] == 100
    assert "outputs differ from the reference" in bad.stderr


def test_flash_serves_the_board_until_ctrl_c(deployed, tmp_path):
    """`flash` runs the emulated board in the foreground; validate talks to it by URL; Ctrl-C stops both."""
    work, result = deployed
    assert result.returncode == 0
    project = work / "out" / "project"
    proc = subprocess.Popen([TFW, "flash", str(project)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "socket://" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        url = re.search(r"socket://\S+", line).group(0).rstrip(";.")
        data = next(Path(os.environ["TINYML_FW_HOME"]).glob("cache/trained/mnist-mlp-*/data.npz"))
        ok = tfw("validate", str(project), "--data", str(data), "--port", url, "--limit", "20", cwd=tmp_path)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "20/20" in ok.stdout
        assert qemu_pids(str(project))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == errors.EXIT_INTERRUPTED
    assert not qemu_pids(str(project)), "Ctrl-C left the emulator running"


def test_device_running_another_model_is_refused(deployed, tmp_path, hello_world_model):
    work, result = deployed
    assert result.returncode == 0
    project = tmp_path / "project"
    shutil.copytree(work / "out" / "project", project)
    shutil.copy(hello_world_model, project / "model.tflite")  # the host now expects another model
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 1), np.float32))
    bad = tfw("validate", str(project), "--data", "x.npz", cwd=tmp_path)
    assert bad.returncode == errors.EXIT_DEVICE, bad.stdout + bad.stderr
    assert "The device runs model" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not qemu_pids(str(project))


def test_hello_world_model_is_bit_exact(tmp_path, hello_world_model):
    """TFLM's own hello_world model through generate, build and validate on random inputs."""
    assert tfw("generate", str(hello_world_model), "--out", "hw", cwd=tmp_path).returncode == 0
    built = tfw("build", "hw", cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    x = np.random.default_rng(0).uniform(-np.pi, 3 * np.pi, size=(200, 1)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    result = tfw("validate", "hw", "--data", "x.npz", "--json", "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["bit_exact"] == report["vectors"] == 200


def test_ctrl_c_during_validate_stops_the_emulator(deployed, tmp_path):
    work, result = deployed
    assert result.returncode == 0
    project = work / "out" / "project"
    data = next(Path(os.environ["TINYML_FW_HOME"]).glob("cache/trained/mnist-mlp-*/data.npz"))
    proc = subprocess.Popen([TFW, "validate", str(project), "--data", str(data)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "Device on" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "Device on" in line
        assert qemu_pids(str(project))
        time.sleep(1)  # mid-run
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == errors.EXIT_INTERRUPTED
    assert proc.stderr.read().strip() == "interrupted"
    assert not qemu_pids(str(project)), "Ctrl-C left the emulator running"
