"""The Arduino Uno and Mega 2560 on simavr: real builds (the tinyml-avr platform, avr-gcc and Debian's
Arduino AVR core with `framework = arduino`), real simavr through tinyml-fw's bridge (UART0 on a pty),
outputs compared with tflite-micro, cycles counted by the AVR's own timer under simavr."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from tinyml_fw import boards
from tinyml_fw.analyze import fit
from tinyml_fw.aot.lower import lower
from tinyml_fw.deploy import deploy
from tinyml_fw.emulator import Simavr
from tinyml_fw.errors import BadInput
from tinyml_fw.generate import Project, generate
from tinyml_fw.modelspec import read_model
from tinyml_fw.paths import home
from tinyml_fw.protocol import FrameParser, Info, Msg

pytestmark = pytest.mark.skipif(shutil.which("avr-gcc") is None or shutil.which("pkg-config") is None,
                                reason="the AVR toolchain and simavr are installed by `make setup`")


@pytest.fixture(scope="module")
def uno_digits(tmp_path_factory):
    """`tinyml-fw deploy --recipe digits-mlp --board uno-sim` through the CLI, 50 vectors."""
    work = tmp_path_factory.mktemp("uno")
    exe = Path(sys.executable).with_name("tinyml-fw")
    started = time.monotonic()
    result = subprocess.run([str(exe), "deploy", "--recipe", "digits-mlp", "--board", "uno-sim", "--limit", "50",
                             "--out", "out", "--json", "report.json"], cwd=work, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((work / "report.json").read_text()), work / "out", time.monotonic() - started


def _report(data: dict) -> dict:
    return data.get("report", data)


def test_uno_runs_digits_mlp_bit_exact_with_cycles(uno_digits):
    data, out, _ = uno_digits
    report = _report(data)
    assert report["board"] == "uno-sim" and report["runtime"] == "aot"
    assert report["vectors"] == 50 and report["bit_exact"] == 50 and report["passed"]
    # Cycles from the AVR's Timer1 at clk/1 under simavr: tick_hz is the 16 MHz clock, so ticks are cycles.
    assert report["cycles_per_inference"] == report["ticks_per_inference"]
    assert 100_000 < report["cycles_per_inference"] < 2_000_000
    assert not report["cycles_estimated"] and report["instructions_per_inference"] is None
    uno = boards.get("uno-sim")
    assert 0 < report["flash_bytes"] <= uno.flash_bytes and 0 < report["ram_bytes"] + uno.stack_bytes <= uno.ram_bytes


def test_uno_profile_times_each_layer_in_cycles(uno_digits):
    """PROFILE on the AVR: each layer's cycles (Timer1 at the CPU clock) add up to the untimed run's."""
    from tinyml_fw.validate import validate

    _, out, _ = uno_digits
    data = next(home().glob("cache/trained/digits-mlp-*/data.npz"))
    report = validate(out / "project", data, limit=3, profile=True, log=lambda _: None)
    prof = report.profile
    assert report.bit_exact == 3 and prof is not None and prof["vectors"] == [0, 1, 2]
    assert [row["op"] for row in prof["layers"]] == ["FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert all(row["ticks"] > 0 and row["us"] == pytest.approx(row["ticks"] / 16) for row in prof["layers"])
    assert prof["total_instructions"] is None and abs(prof["difference"]) <= 0.01


def test_uno_weights_are_in_progmem(uno_digits):
    """The weight tables sit in flash (.text, PROGMEM), not in .data: RAM holds no copy of them."""
    _, out, _ = uno_digits
    elf = out / "project" / ".pio" / "build" / "uno-sim" / "firmware.elf"
    symbols = subprocess.run(["avr-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    weights = [line.split() for line in symbols.splitlines() if line.split()[-1].startswith("digits_mlp_l")
               and line.split()[-1].endswith("_weights")]
    assert len(weights) == 2
    for address, size, kind, name in weights:
        assert kind in "tT" and int(address, 16) < 0x800000, name  # program memory, not the SRAM window
    assert sum(int(size, 16) for _, size, _, _ in weights) == 64 * 20 + 20 * 10


@pytest.fixture(scope="module")
def mega_mnist(tmp_path_factory):
    work = tmp_path_factory.mktemp("mega")
    run = deploy("mnist-mlp", "mega-sim", work / "out", limit=20, log=lambda *_: None)
    return run, work / "out"


def test_mega_runs_mnist_mlp_bit_exact(mega_mnist):
    run, _ = mega_mnist
    report = run.report
    assert report.vectors == 20 and report.bit_exact == 20 and report.passed
    assert report.cycles_per_inference == report.ticks_per_inference > 1_000_000
    mega = boards.get("mega-sim")
    assert report.ram_bytes + mega.stack_bytes <= mega.ram_bytes


def test_mnist_mlp_does_not_fit_the_uno_and_generate_says_why(mega_mnist, tmp_path):
    """Weights in PROGMEM fit the Uno's flash; its 2 KB of SRAM cannot hold the 816 B of tensors next to the
    core, the serial buffers and the protocol: the fit check refuses with the numbers, before building."""
    run, _ = mega_mnist
    tflite = Path(run.quantized.tflite_path)
    with pytest.raises(BadInput, match=r"does not fit uno-sim: it needs RAM [\d,]+ B of 2,048 B \(over by"):
        generate(tflite, "uno-sim", tmp_path / "p", log=lambda _: None)
    uno = boards.get("uno-sim")
    estimate = fit(lower(read_model(tflite), "m", fast_kernels=uno.fast_kernels), uno)  # as generate lowers
    assert estimate.flash_needed <= estimate.flash_available < estimate.flash_needed + 32_256
    assert estimate.ram_needed > estimate.ram_available


def _frames_within(port, seconds: float) -> list:
    parser, frames = FrameParser(), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not frames:
        frames += parser.feed(port.read(256))
    return frames


def test_bridge_holds_the_avr_until_the_pty_is_open_and_resets_it(uno_digits):
    """The boot INFO is the firmware's first output: it arrives even when the host opens the pty late (and
    pyserial flushes input on open), so the AVR did not run before. SIGUSR1 resets it: a boot INFO again."""
    _, out, _ = uno_digits
    project = Project.load(out / "project")
    elf = out / "project" / ".pio" / "build" / "uno-sim" / "firmware.elf"
    with Simavr(elf, "atmega328p", 16_000_000, home_dir=home()) as sim:
        time.sleep(1.0)  # the firmware would have sent its boot INFO long ago
        with serial.Serial(sim.url, timeout=0.1) as port:
            frames = _frames_within(port, 5)
            assert frames and frames[0].type == Msg.INFO and frames[0].seq == 0
            assert Info.parse(frames[0].payload).model_sha256 == project.model_sha256
            sim.reset()
            again = _frames_within(port, 5)
            assert again and again[0].type == Msg.INFO and again[0].seq == 0
    assert sim.cycles is not None and sim.cycles > 0
    assert not sim.running


def test_bridge_ends_with_its_parent(uno_digits, tmp_path):
    """The bridge is never left behind: when the process that started it dies, it ends too."""
    _, out, _ = uno_digits
    elf = out / "project" / ".pio" / "build" / "uno-sim" / "firmware.elf"
    script = ("import sys, time\nfrom tinyml_fw.emulator import Simavr\n"
              f"s = Simavr({str(elf)!r}, 'atmega328p', 16000000, home_dir={str(home())!r}).start()\n"
              "print(s.pid, flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        os.kill(pid, 0)  # running
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"the simavr bridge {pid} outlived its parent")


def test_fit_estimate_covers_what_the_avr_build_takes(uno_digits, mega_mnist):
    """The estimate generate checks before building (board data: runtime_flash, runtime_ram) is never below
    the measured flash and static RAM + stack, so a model it passes links and runs."""
    data, out, _ = uno_digits
    _, mega_out = mega_mnist
    for project_dir in (out / "project", mega_out / "project"):
        project = Project.load(project_dir)
        board = boards.get(project.board)
        estimate = fit(lower(read_model(project.model_path), project.name, fast_kernels=board.fast_kernels), board)
        elf = project_dir / ".pio" / "build" / board.id / "firmware.elf"
        sizes = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
        section = {line.split()[0]: int(line.split()[1]) for line in sizes.splitlines()[2:] if len(line.split()) >= 2
                   and line.split()[1].isdigit()}
        assert section[".text"] + section[".data"] <= estimate.flash_needed
        assert section[".data"] + section[".bss"] + board.stack_bytes <= estimate.ram_needed <= board.ram_bytes
