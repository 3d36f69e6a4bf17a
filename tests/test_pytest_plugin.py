"""The pytest plugin (tinyml_fw/pytest_plugin.py), run by pytester in suites of its own: options and the
`boards` marker, the hardware map and its locks, `dut` on real emulators (QEMU) and real builds, the example
suite of examples/hil on the emulated Cortex-M7, two xdist workers with two emulators at once, and a board
behind rfc2217:// (tinyml_fw/rfc2217.py on loopback, bridging to an emulator's UART)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tinyml_fw import boards
from tinyml_fw.pytest_plugin import _claimed, build_firmware, load_hil_map

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
QUIET = ("-p", "no:cacheprovider", "-W", "ignore::UserWarning", "-W", "ignore::DeprecationWarning")


# ---------------------------------------------------------------------------------- options and marker

def test_the_plugin_adds_its_options_and_marker(pytester):
    help_text = pytester.runpytest("--help").stdout.str()
    for option in ("--board=ID", "--port=PORT", "--hil-map=FILE", "--model=PATH", "--hil-wait=S"):
        assert option in help_text
    assert "@pytest.mark.boards(*ids)" in pytester.runpytest("--markers").stdout.str()


def test_the_boards_marker_runs_a_test_on_each_named_board(pytester):
    pytester.makepyfile(test_marker="""
        import pytest

        def test_default(board):
            assert board.emulated

        @pytest.mark.boards("mps2-an386", "mps2-an500")
        def test_both(board):
            assert board.cpu in ("cortex-m4", "cortex-m7")
    """)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_default?mps2-an386? PASSED*", "*test_both?mps2-an386? PASSED*",
                                 "*test_both?mps2-an500? PASSED*"])
    result = pytester.runpytest("-v", "-rs", "--board", "mps2-an500")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*test_default?mps2-an500? PASSED*", "*test_both?mps2-an386? SKIPPED*",
                                 "*for mps2-an386; --board selects mps2-an500*"])


def test_an_unknown_board_is_refused_with_the_close_names(pytester):
    pytester.makepyfile(test_unknown="""
        import pytest

        @pytest.mark.boards("mps2-an50")
        def test_x(board):
            pass
    """)
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*Unknown board 'mps2-an50'. Did you mean: *mps2-an500*"])


def test_a_projects_own_board_fixture_is_left_alone(pytester):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def board():
            return "mine"
    """)
    pytester.makepyfile(test_own="def test_own(board):\n    assert board == 'mine'\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_own PASSED*"])


def test_a_real_board_without_a_port_is_skipped(pytester, hello_world_model):
    pytester.makepyfile(test_real="def test_real(dut):\n    raise AssertionError('never reached')\n")
    result = pytester.runpytest("-rs", "--board", "nano33ble", "--model", str(hello_world_model))
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*nano33ble is real hardware: give --port or a --hil-map entry for it*"])


# ----------------------------------------------------------------------------------------- hardware map

def test_the_hardware_map_reads_ports_urls_serial_numbers_and_lists(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("nano33ble: /dev/ttyACM0\n"
                    "esp32dev:\n  - rfc2217://farm:4001\n  - url: rfc2217://farm:4002\n"
                    "nucleo_f401re:\n  serial_number: '0671FF'\n")
    assert load_hil_map(path) == {
        "nano33ble": [{"port": "/dev/ttyACM0"}],
        "esp32dev": [{"port": "rfc2217://farm:4001"}, {"port": "rfc2217://farm:4002"}],
        "nucleo_f401re": [{"serial_number": "0671FF"}],
    }
    path.write_text("nano33ble:\n  speed: 9600\n")
    with pytest.raises(pytest.UsageError, match="each entry is a port, a URL or a mapping"):
        load_hil_map(path)


def test_each_session_locks_its_own_board_of_the_map():
    """Two boards of one kind: two sessions (xdist workers) get one each; a third waits, then fails."""
    board_id = f"test-{os.getpid()}-{time.monotonic_ns()}"
    entries = [{"port": "rfc2217://farm:4001"}, {"port": "rfc2217://farm:4002"}]
    with _claimed(board_id, entries, wait=1) as first, _claimed(board_id, entries, wait=1) as second:
        assert {first, second} == {"rfc2217://farm:4001", "rfc2217://farm:4002"}
        started = time.monotonic()
        with pytest.raises(pytest.fail.Exception, match="stayed in use for 0.3 s"):
            with _claimed(board_id, entries, wait=0.3):
                pass
        assert time.monotonic() - started >= 0.3
    with _claimed(board_id, entries, wait=1) as again:  # released at the end of a session
        assert again == "rfc2217://farm:4001"
    with pytest.raises(pytest.skip.Exception, match="no nano33ble of the hardware map is connected"):
        with _claimed("nano33ble", [{"serial_number": "no-such-serial-number"}], wait=1):
            pass


# ----------------------------------------------------------------------------------------- real devices

DUT_SUITE = """
    import re
    import numpy as np
    import pytest
    from tinyml_fw.golden import Reference
    from tinyml_fw.dut import ExpectTimeout

    def test_info(dut, board, model):
        info = dut.info()
        assert info.board == board.id == "{board}" and info.runtime == "aot"
        assert info.model_sha256 == dut.project.model_sha256
        assert (dut.emulator is not None) == {own_emulator}

    def test_infer_matches_tflite_micro(dut, model):
        ref = Reference(open(model, "rb").read())
        for value in (-1.5, 0.0, 0.7, 3.0):
            x = np.array([[value]], np.float32)
            assert np.array_equal(dut.infer(x), ref.run(ref.quantize(x)))
            assert dut.last_instructions > 0

    def test_validate(dut):
        x = np.linspace(0, 6.28, 25, dtype=np.float32).reshape(25, 1)
        report = dut.validate(x, np.sin(x))
        assert report.passed and report.bit_exact == 25 and report.board == "{board}"
        assert dut.info().board == "{board}"  # connected again after the validation

    def test_reset_and_expect(dut):
        first = dut.info().session
        info = dut.reset()
        assert info.session != first
        assert re.match(r"INFO: board {board}, runtime aot, .*\\(boot\\)$", dut.expect("(boot)"))
        with pytest.raises(ExpectTimeout, match="no line matching 'never shown'"):
            dut.expect("never shown", timeout=0.3)
        assert dut.infer(np.zeros((1, 1), np.int8)).shape == (1,)
"""


@pytest.mark.slow
def test_dut_on_the_emulated_m4(pytester, hello_world_model):
    pytester.makepyfile(test_dut=DUT_SUITE.format(board="mps2-an386", own_emulator=True))
    result = pytester.runpytest_subprocess("--model", str(hello_world_model), "-v", *QUIET)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_reset_and_expect?mps2-an386? PASSED*"])


@pytest.mark.slow
def test_the_example_suite_passes_on_the_emulated_m7(pytester):
    """examples/hil as a user runs it, on the Cortex-M7 (QEMU mps2-an500)."""
    for item in (ROOT / "examples" / "hil").iterdir():
        if item.suffix in (".py", ".yaml"):
            shutil.copy(item, pytester.path / item.name)
    result = pytester.runpytest_subprocess("--board", "mps2-an500", "-v", "-rs", *QUIET, timeout=600)
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*test_every_output_is_bit_exact_with_tflite_micro?mps2-an500? PASSED*",
                                 "*test_one_inference_fits_the_latency_budget?mps2-an386? SKIPPED*",
                                 "*test_every_dense_layer_stays_within_its_budget?mps2-an500? PASSED*"])


@pytest.mark.slow
def test_the_m7_firmware_is_built_for_the_m7(hello_world_model):
    """boards/mps2-an500.json alone makes the platform build for a Cortex-M7 with its double FPU."""
    firmware = build_firmware(hello_world_model.read_bytes(), "mps2-an500")
    attributes = subprocess.run(["arm-none-eabi-readelf", "-A", firmware.elf], capture_output=True,
                                text=True, check=True).stdout
    assert 'Tag_CPU_name: "7E-M"' in attributes and "FPv5/FP-D16" in attributes
    assert boards.get("mps2-an500").emulator.machine == "mps2-an500"


TWO_AT_ONCE = """
    import json, os, time
    from pathlib import Path
    import numpy as np
    import pytest

    MEET = Path(os.environ["TFW_MEET"])

    def alive(pid):
        return Path(f"/proc/{{pid}}").exists()

    @pytest.mark.parametrize("side", ["a", "b"])
    def test_side(dut, side):
        me = os.environ["PYTEST_XDIST_WORKER"]
        (MEET / f"{{me}}.json").write_text(json.dumps({{"pid": dut.emulator.pid, "url": dut.url}}))
        deadline = time.monotonic() + 120
        while len(list(MEET.glob("*.json"))) < 2:  # wait for the other worker's emulator
            assert time.monotonic() < deadline, "the other worker never started its emulator"
            time.sleep(0.05)
        other = next(json.loads(p.read_text()) for p in MEET.glob("*.json") if p.stem != me)
        assert other["pid"] != dut.emulator.pid and other["url"] != dut.url
        out = dut.infer(np.zeros((1, 1), np.float32))  # this emulator answers ...
        seen = {{"start": time.time(), "other_alive": alive(other["pid"]), "out": out.tolist()}}
        for _ in range(20):
            dut.infer(np.zeros((1, 1), np.float32))
        seen.update(end=time.time(), other_alive_after=alive(other["pid"]))  # ... while the other runs
        (MEET / f"{{me}}.seen").write_text(json.dumps(seen))
"""


@pytest.mark.slow
def test_two_xdist_workers_run_two_emulators_at_the_same_time(pytester, hello_world_model, monkeypatch):
    meet = pytester.mkdir("meet")
    monkeypatch.setenv("TFW_MEET", str(meet))
    pytester.makepyfile(test_two=TWO_AT_ONCE.format())
    # Two tests for two workers: xdist's load scheduling sends them round-robin, one to each worker.
    result = pytester.runpytest_subprocess("-n", "2", "--model", str(hello_world_model), *QUIET, timeout=600)
    result.assert_outcomes(passed=2)
    started = {p.stem: json.loads(p.read_text()) for p in meet.glob("*.json")}
    seen = {p.stem: json.loads(p.read_text()) for p in meet.glob("*.seen")}
    assert set(started) == set(seen) == {"gw0", "gw1"}
    assert started["gw0"]["pid"] != started["gw1"]["pid"]
    assert started["gw0"]["url"] != started["gw1"]["url"]  # two serial ports, no clash
    assert all(s["other_alive"] and s["other_alive_after"] for s in seen.values())
    assert seen["gw0"]["start"] < seen["gw1"]["end"] and seen["gw1"]["start"] < seen["gw0"]["end"]


# ---------------------------------------------------------------------------------------------- rfc2217

@pytest.fixture(scope="module")
def remote_board(hello_world_model):
    """The hello_world firmware on the emulated M4, served as rfc2217:// on loopback; a DTR pulse resets it."""
    from tinyml_fw.emulator import Qemu
    from tinyml_fw.rfc2217 import Rfc2217Server

    firmware = build_firmware(hello_world_model.read_bytes(), "mps2-an386")
    with Qemu(firmware.elf, "mps2-an386", 5, qmp=True) as emulator, \
            Rfc2217Server(emulator.url, on_reset=emulator.reset) as server:
        yield firmware, emulator, server


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")  # pyserial 3.5
def test_the_plugin_reaches_a_board_behind_rfc2217(pytester, hello_world_model, remote_board):
    _, emulator, server = remote_board
    clients, resets = server.clients, server.resets
    pytester.makepyfile(test_remote=DUT_SUITE.format(board="mps2-an386", own_emulator=False))
    result = pytester.runpytest_subprocess("--model", str(hello_world_model), "--port", server.url, "-v", *QUIET)
    result.assert_outcomes(passed=4)
    assert server.resets == resets + 1  # dut.reset() pulsed DTR over RFC 2217; the bridge reset QEMU
    assert server.clients >= clients + 2  # the plugin's link, then validate's, then the plugin's again
    assert emulator.running


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")
def test_a_port_with_another_board_behind_it_is_refused(pytester, hello_world_model, remote_board):
    _, _, server = remote_board
    pytester.makepyfile(test_other="def test_other(dut):\n    pass\n")
    result = pytester.runpytest_subprocess("--model", str(hello_world_model), "--board", "mps2-an500",
                                           "--port", server.url, *QUIET)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*mps2-an500: The device on {server.url} is a mps2-an386, not a mps2-an500.*"])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")
def test_validate_and_monitor_over_rfc2217(remote_board):
    from tinyml_fw.monitor import monitor

    firmware, _, server = remote_board
    tfw = str(Path(sys.executable).with_name("tinyml-fw"))
    result = subprocess.run([tfw, "validate", firmware.project, "--port", server.url, "--random", "40"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "40/40" in result.stdout
    lines: list[str] = []
    thread = threading.Thread(target=monitor, args=(server.url, "mps2-an386"),
                              kwargs={"log": lines.append, "duration": 2.0})
    thread.start()
    thread.join(10)
    assert any(line.startswith("INFO: board mps2-an386, runtime aot") for line in lines), lines


FARM = """
    import json, os, time
    from pathlib import Path
    import numpy as np

    MEET = Path(os.environ["TFW_MEET"])

    def test_my_board(dut, board):
        me = os.environ["PYTEST_XDIST_WORKER"]
        (MEET / f"{me}.json").write_text(json.dumps({"url": dut.url, "board": dut.info().board}))
        deadline = time.monotonic() + 120
        while len(list(MEET.glob("*.json"))) < 2:  # both workers hold their board at once
            assert time.monotonic() < deadline, "the other worker never got a board"
            time.sleep(0.05)
        assert dut.emulator is None and dut.infer(np.zeros((1, 1), np.float32)).shape == (1,)

    def test_another(dut):
        test_my_board(dut, None)
"""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")
def test_a_farm_of_two_boards_behind_rfc2217_serves_two_workers(pytester, hello_world_model, remote_board,
                                                                monkeypatch):
    """A hardware map listing two boards of one kind (two emulators, each behind its RFC 2217 server): two
    xdist workers lock one each."""
    from tinyml_fw.emulator import Qemu
    from tinyml_fw.rfc2217 import Rfc2217Server

    firmware, _, first = remote_board
    with Qemu(firmware.elf, "mps2-an386", 5) as emulator, Rfc2217Server(emulator.url) as second:
        pytester.path.joinpath("farm.yaml").write_text(f"mps2-an386:\n  - {first.url}\n  - url: {second.url}\n")
        meet = pytester.mkdir("meet")
        monkeypatch.setenv("TFW_MEET", str(meet))
        pytester.makepyfile(test_farm=FARM)
        clients = (first.clients, second.clients)
        result = pytester.runpytest_subprocess("-n", "2", "--model", str(hello_world_model), "--hil-map",
                                               "farm.yaml", *QUIET, timeout=300)
        result.assert_outcomes(passed=2)
        held = {p.stem: json.loads(p.read_text()) for p in meet.glob("*.json")}
        assert sorted(h["url"] for h in held.values()) == sorted([first.url, second.url])
        assert all(h["board"] == "mps2-an386" for h in held.values())
        assert first.clients > clients[0] and second.clients > clients[1]
