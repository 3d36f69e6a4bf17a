"""Validation users can read: metrics, the stack measured on the device, the per-layer diff and the HTML report,
on the emulated Cortex-M4 (real build, QEMU, serial link) with the digits MLP of the `digits_deployed` fixture.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyml_fw import errors, metrics
from weight_flip import flip_weight

TFW = str(Path(sys.executable).with_name("tinyml-fw"))
CHROMIUM = ("chromium-headless-shell", "chromium", "chromium-browser")


def tfw(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([TFW, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------------- metrics

def test_agreement_counts_lsb_differences_and_the_tolerance():
    expected = np.array([[10, 20, 30], [0, 0, 0], [5, 6, 7]], np.int8)
    got = expected.copy()
    got[1, 2] = -2  # 2 LSB off, the top-1 stays
    got[2, 0] = 9  # 4 LSB off, changes the top-1
    a = metrics.agreement(got, expected, got * 0.5, expected * 0.5, tolerance_lsb=2)
    assert (a.bit_exact, a.within_tolerance, a.max_abs_diff, a.mismatches) == (1, 2, 4, (2,))
    assert a.error_histogram["0"] == 7 and a.error_histogram["2"] == 1 and a.error_histogram["4"] == 1
    assert a.top1_agreement == pytest.approx(2 / 3)
    assert a.mae == pytest.approx((2 + 4) * 0.5 / 9)
    assert a.rmse == pytest.approx(np.sqrt((1.0**2 + 2.0**2) / 9))
    assert 0.9 < a.cosine_similarity < 1.0
    assert metrics.confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2) == [[1, 1], [0, 1]]


# ------------------------------------------------------------------------------------ the good firmware

@pytest.fixture(scope="module")
def validated(digits_deployed, tmp_path_factory):
    """`validate --layers --profile --report` on the deployed digits firmware: 150 vectors, one emulator run."""
    project, data = digits_deployed
    work = tmp_path_factory.mktemp("report")
    result = tfw("validate", str(project), "--data", str(data), "--limit", "150", "--layers", "--profile",
                 "--report", "rep", "--json", "r.json", cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    return work, result, json.loads((work / "r.json").read_text())


def test_report_metrics_stack_and_layers(validated):
    work, result, r = validated
    assert r == json.loads((work / "rep" / "report.json").read_text())
    assert r["schema_version"] == 1
    assert r["vectors"] == r["bit_exact"] == r["within_tolerance"] == 150 and r["passed"] is True
    assert (r["max_abs_diff"], r["rmse"], r["mae"]) == (0, 0.0, 0.0) and r["cosine_similarity"] == pytest.approx(1.0)
    assert r["error_histogram"]["0"] == 150 * 10 and sum(r["error_histogram"].values()) == 1500
    confusion = np.array(r["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 150
    assert np.trace(confusion) / 150 == pytest.approx(r["accuracy_device"]) and r["accuracy_device"] > 0.9
    # Memory: the stack's high-water mark comes from the device (painted at boot), the rest from the plan.
    assert r["stack_bytes"] == 4096 and 0 < r["stack_used_bytes"] < r["stack_bytes"]
    assert r["working_ram_bytes"] == r["arena_bytes"] + r["stack_used_bytes"]
    # The plan (with in-place execution) stays within the no-in-place floor + 10 %, below tflite-micro's arena.
    assert 0 < r["arena_bytes"] <= 1.1 * r["liveness_floor_bytes"] and r["arena_bytes"] < r["tflm_arena_bytes"]
    assert r["us_per_inference"] is None and r["instructions_per_inference"] > 1480  # emulated: instructions
    # Per-layer: every layer bit-exact, latencies measured, adding up to the whole inference.
    layers = r["layers"]
    assert layers["first_divergent_layer"] is None and layers["vectors"] == [0]
    assert [row["op"] for row in layers["layers"]] == ["FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert all(row["bit_exact"] and row["instructions"] > 0 for row in layers["layers"])
    total = sum(row["instructions"] for row in layers["layers"])
    assert total == pytest.approx(r["instructions_per_inference"], rel=0.02)
    assert "measured on the device" in layers["latency_source"]
    assert "Every layer is bit-exact with tflite-micro." in result.stdout


def test_profile_times_every_layer_in_one_run_and_adds_up(validated):
    """`--profile` (PROFILE): the device times each layer of one run per vector; the layers add up to the
    untimed runs' count, and agree with --layers' figures, measured independently (runs stopped after each
    layer)."""
    work, result, r = validated
    prof = r["profile"]
    assert prof["vectors"] == [0, 1, 2, 3, 4]
    rows = prof["layers"]
    assert [(row["index"], row["op"], row["macs"]) for row in rows] == [
        (0, "FULLY_CONNECTED", 64 * 20), (1, "FULLY_CONNECTED", 20 * 10), (2, "SOFTMAX", 0)]
    assert all(row["instructions"] > 0 and row["us"] is None for row in rows)  # emulated: instructions
    assert sum(row["instructions"] for row in rows) == pytest.approx(prof["total_instructions"])
    assert sum(row["share"] for row in rows) == pytest.approx(1.0)
    assert rows[0]["instructions_per_mac"] == pytest.approx(rows[0]["instructions"] / 1280, abs=1e-3)
    # The total matches the whole-inference count: the untimed runs of the same vectors (within 1.5 %: the
    # calls between layers that a single run does not make).
    assert abs(prof["difference"]) <= 0.015
    assert prof["total_instructions"] == pytest.approx(prof["run_instructions"], rel=0.015)
    assert prof["run_instructions"] == pytest.approx(r["instructions_per_inference"], rel=0.01)
    for timed, stopped in zip(rows, r["layers"]["layers"], strict=True):
        assert timed["instructions"] == pytest.approx(stopped["instructions"], rel=0.1, abs=40)
    assert "Layers add up to" in result.stdout and "Per-layer profile (vectors 0, 1, 2, 3, 4)" in result.stdout
    page = (work / "rep" / "report.html").read_text(encoding="utf-8")
    assert "Per-layer profile (vectors 0, 1, 2, 3, 4)" in page


def test_report_html_is_self_contained_and_every_plot_decodes(validated):
    from PIL import Image

    work, _, _ = validated
    page = (work / "rep" / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(images) == 4  # error histogram, confusion matrix, memory, per-layer latency
    for src in images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"http" not in png
        with Image.open(io.BytesIO(png)) as img:
            img.load()  # decodes every pixel
            assert img.width > 100 and img.height > 100
            assert len(img.getcolors(1 << 16) or range(1000)) > 2  # not a blank picture
    text = re.sub(r'src="data:[^"]*"', "", page)
    assert not re.search(r"(?i)(https?|ftp):|//[a-z0-9.-]+\.[a-z]{2,}/|<link|<script|url\(", text)
    assert "Per-layer latency (measured" not in text or "FULLY_CONNECTED" in text
    assert "PASS" in text and "stack used (measured)" in text


def test_report_renders_in_headless_chromium(validated, tmp_path):
    from PIL import Image

    work, _, _ = validated
    browser = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    if browser is None:
        pytest.fail("no headless Chromium: `make setup` installs Debian's chromium-headless-shell")
    shot = tmp_path / "report.png"
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--screenshot={shot}", "--window-size=1200,2400",
                          (work / "rep" / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    with Image.open(shot) as img:
        assert img.size == (1200, 2400)
        colors = img.convert("RGB").getcolors(1 << 20)
        assert colors is not None and len(colors) > 50  # text, tables and plots drawn, not an empty page


# ------------------------------------------------------------------------------ a flipped weight byte

def test_layer_diff_names_the_middle_layer_whose_weight_was_flipped(digits_deployed, tmp_path):
    project, data = digits_deployed
    bad = tmp_path / "project"
    shutil.copytree(project, bad, ignore=shutil.ignore_patterns(".pio"))
    # Middle layer: the second FULLY_CONNECTED (model op 2, the device's layer 1); the weight from hidden
    # unit 0 to class 0 (its weights are [10 classes][20 hidden units]).
    flip_weight(bad, "digits_mlp_l2", 0, 0, rows=10, depth=20)
    assert tfw("build", str(bad), cwd=tmp_path).returncode == 0
    result = tfw("validate", str(bad), "--data", str(data), "--limit", "60", "--layers", "--json", "bad.json",
                 cwd=tmp_path)
    assert result.returncode == errors.EXIT_VALIDATION_FAILED, result.stdout + result.stderr
    r = json.loads((tmp_path / "bad.json").read_text())
    layers = r["layers"]
    assert layers["first_divergent_layer"] == 1
    assert layers["vectors"] == [r["first_mismatch"]] == [layers["first_divergent_vector"]]
    rows = layers["layers"]
    assert rows[0]["bit_exact"] and not rows[1]["bit_exact"] and rows[1]["max_abs_diff"] > 0
    assert rows[1]["name"].startswith("layer 2 (FULLY_CONNECTED")
    assert "First layer that departs from tflite-micro: layer 2 (FULLY_CONNECTED" in result.stdout


def test_layer_options_refuse_bad_input_in_one_line(digits_deployed, tmp_path):
    project, data = digits_deployed
    for args, needle in [(["--layer-vectors", "1"], "goes with --layers"),
                         (["--layers", "--layer-vectors", "one"], "separated by commas"),
                         (["--layers", "--layer-vectors", "3,10", "--limit", "10"], "10 is not a vector of this run"),
                         (["--profile", "--layer-vectors", "12", "--limit", "10"], "12 is not a vector of this run")]:
        result = tfw("validate", str(project), "--data", str(data), *args, cwd=tmp_path)
        assert result.returncode == errors.EXIT_BAD_INPUT
        assert result.stderr.strip().splitlines() == [result.stderr.strip()] and needle in result.stderr
        assert "Traceback" not in result.stderr
