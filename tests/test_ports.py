"""Port detection, upload and the wait for HELLO, with FAKES standing in for the hardware:

- FAKE list_ports results (pyserial ListPortInfo-like objects) for Linux, macOS and Windows names;
- a FAKE PlatformIO uploader (a `runner` that records its arguments and returns PlatformIO-like output);
- a FAKE serial port with tinyml-fw firmware behind it (answers HELLO with INFO after noise and a LOG frame).

What stays untested here: real USB enumeration timing, bossac/esptool/avrdude/picotool themselves, DTR/RTS
reset circuits, and the Arduino cores' Serial. They need the boards.
"""

from __future__ import annotations

import errno
import shutil
import struct
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import serial

from tinyml_fw import boards, protocol
from tinyml_fw.build import BuildFailed
from tinyml_fw.errors import DeviceError
from tinyml_fw.generate import generate
from tinyml_fw.ports import (check_free, example_ports, explain_open_error, find_port, system_ports,
                             wait_for_port)
from tinyml_fw.upload import upload, wait_for_info

NANO = boards.get("nano33ble")


def fake_port(device: str, vid: int | None = None, pid: int | None = None, description: str = "n/a"):
    """FAKE pyserial ListPortInfo."""
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description, serial_number=None,
                           hwid="fake")


def lister(*ports):
    return lambda: list(ports)


# ---------------------------------------------------------------------------------------------- detection

@pytest.mark.parametrize("device", ["/dev/ttyACM0", "/dev/cu.usbmodem14101", "COM7"])
def test_the_one_matching_port_is_found_on_every_system(device):
    ports = lister(fake_port("/dev/ttyS0"), fake_port(device, 0x2341, 0x805A, "Nano 33 BLE"),
                   fake_port("/dev/ttyUSB3", 0x10C4, 0xEA60, "CP2102"))
    assert find_port(NANO, lister=ports) == device


def test_a_given_port_is_used_as_it_is():
    assert find_port(NANO, "socket://127.0.0.1:4444", lister=lister()) == "socket://127.0.0.1:4444"


def test_no_matching_port_lists_ids_and_what_is_there():
    with pytest.raises(DeviceError) as info:
        find_port(NANO, lister=lister(fake_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102")))
    text = str(info.value)
    assert "No serial port of a Arduino Nano 33 BLE" in text and "2341:805A" in text and "2341:015A" in text
    assert "/dev/ttyUSB0 (10C4:EA60, CP2102)" in text and "--port" in text and "data USB cable" in text
    with pytest.raises(DeviceError, match="no serial port is present"):
        find_port(NANO, lister=lister())


def test_several_matching_ports_ask_for_port():
    ports = lister(fake_port("/dev/ttyACM0", 0x2341, 0x805A), fake_port("/dev/ttyACM1", 0x2341, 0x805A))
    with pytest.raises(DeviceError, match=r"Several serial ports could be the nano33ble: /dev/ttyACM0 .*"
                                          r"/dev/ttyACM1 .*--port"):
        find_port(NANO, lister=ports)
    esp = boards.get("esp32dev")
    ports = lister(fake_port("/dev/ttyUSB0", 0x10C4, 0xEA60), fake_port("/dev/ttyUSB1", 0x1A86, 0x7523))
    with pytest.raises(DeviceError, match="common USB-serial bridges"):
        find_port(esp, lister=ports)


def test_macos_tty_twins_are_left_out():
    ports = system_ports(lister(fake_port("/dev/tty.usbmodem1", 0x2341, 0x805A),
                                fake_port("/dev/cu.usbmodem1", 0x2341, 0x805A)))
    assert [p.device for p in ports] == ["/dev/cu.usbmodem1"]


def test_example_port_names_follow_the_system():
    assert example_ports("win32") == "COM3"
    assert "/dev/cu.usbmodem" in example_ports("darwin") and "/dev/ttyACM0" in example_ports("linux")


@pytest.mark.parametrize("exc, platform, expected", [
    (serial.SerialException(errno.EBUSY, "could not open port /dev/ttyACM0: [Errno 16] Device or resource busy"),
     "linux", "is busy: another program has it open"),
    (serial.SerialException("could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"),
     "win32", "is busy"),
    (serial.SerialException(errno.EACCES, "[Errno 13] Permission denied: '/dev/ttyACM0'"), "linux",
     "dialout group"),
    (serial.SerialException(errno.ENOENT, "[Errno 2] No such file or directory: '/dev/ttyACM0'"), "linux",
     "does not exist"),
])
def test_open_errors_say_what_to_do(exc, platform, expected):
    assert expected in explain_open_error("/dev/ttyACM0", exc, platform)


def test_busy_port_is_reported_before_upload():
    def opener(device, **kwargs):
        assert kwargs["baudrate"] != 1200  # 1200 baud would reset a native-USB Arduino into its bootloader
        raise serial.SerialException(errno.EBUSY, "[Errno 16] Device or resource busy")

    with pytest.raises(DeviceError, match="/dev/ttyACM0 is busy"):
        check_free("/dev/ttyACM0", 115200, opener)


def test_wait_for_port_skips_the_bootloader_and_takes_a_stable_port():
    sequence = iter([[], [fake_port("/dev/ttyACM0", 0x2341, 0x005A)],  # bootloader
                     [fake_port("/dev/ttyACM1", 0x2341, 0x805A)], [fake_port("/dev/ttyACM1", 0x2341, 0x805A)]])
    t = [0.0]
    port = wait_for_port(NANO, lister=lambda: next(sequence), sleep=lambda s: t.__setitem__(0, t[0] + s),
                         clock=lambda: t[0])
    assert port == "/dev/ttyACM1"


def test_wait_for_port_gives_up_with_advice():
    t = [0.0]
    with pytest.raises(DeviceError, match="did not come back within 2 s.*replug"):
        wait_for_port(NANO, timeout=2, lister=lister(), sleep=lambda s: t.__setitem__(0, t[0] + s),
                      clock=lambda: t[0])


# ------------------------------------------------------------------------------------ upload and HELLO

def info_payload(sha256: str, runtime: str = "tflm") -> bytes:
    fixed = struct.pack("<HH32s9IH", protocol.PROTOCOL_VERSION, 256, bytes.fromhex(sha256), 1, 1, 0, 0, 996,
                        1_000_000, 0, 0, 0, 0)
    return fixed + b"".join(bytes([len(s)]) + s.encode() for s in ("nano33ble", runtime, "0.1.0"))


class FakeBoardPort:
    """A FAKE serial port with tinyml-fw firmware behind it: boot noise, then INFO for each HELLO."""

    def __init__(self, sha256: str):
        self.sha256 = sha256
        self.pending = bytearray(b"\x00\xff garbage from the USB stack\r\n")
        self.parser = protocol.FrameParser()
        self.closed = False

    def write(self, data: bytes) -> int:
        for frame in self.parser.feed(data):
            if frame.type == protocol.Msg.HELLO:
                self.pending += protocol.encode(protocol.Msg.LOG, 0, b"TFLM: 996 of 2960 arena bytes used")
                self.pending += protocol.encode(protocol.Msg.INFO, frame.seq, info_payload(self.sha256))
        return len(data)

    def read(self, n: int) -> bytes:
        out, self.pending = bytes(self.pending[:n]), self.pending[n:]
        return out

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def nano_project(tmp_path, hello_world_model) -> Path:
    """A generated Nano 33 BLE project with a stand-in firmware.elf (any ELF: its sizes are read)."""
    out = tmp_path / "nano"
    generate(hello_world_model, "nano33ble", out, log=lambda _: None)
    elf = out / ".pio/build/nano33ble/firmware.elf"
    elf.parent.mkdir(parents=True)
    shutil.copy(shutil.which("true"), elf)
    return out


def test_upload_then_wait_for_info_on_the_port_that_came_back(nano_project, hello_world_model):
    import hashlib

    sha = hashlib.sha256(hello_world_model.read_bytes()).hexdigest()
    calls = []

    def runner(project_dir, targets=(), extra_args=()):  # FAKE PlatformIO upload
        calls.append((Path(project_dir), list(targets), list(extra_args)))
        return subprocess.CompletedProcess([], 0, "Uploading .pio/build/nano33ble/firmware.bin\n", "")

    before = [fake_port("/dev/ttyACM0", 0x2341, 0x805A)]
    after = [fake_port("/dev/ttyACM1", 0x2341, 0x805A)]
    states = iter([before, [], after, after, after, after])
    opened = []

    def opener(device, baud):
        opened.append((device, baud))
        return FakeBoardPort(sha)

    result = upload(nano_project, runner=runner, lister=lambda: next(states, after), opener=opener,
                    log=lambda _: None)
    assert calls == [(nano_project.resolve(), ["upload"], ["--upload-port", "/dev/ttyACM0"])]
    assert result.port == "/dev/ttyACM1" and result.info.runtime == "tflm" and result.info.arena_bytes == 996
    assert result.logs == ("TFLM: 996 of 2960 arena bytes used",)
    assert opened[-1] == ("/dev/ttyACM1", 115200)


def test_board_running_another_model_is_refused():
    with pytest.raises(DeviceError, match="runs model 000000000000…, not 111111111111…"):
        wait_for_info("/dev/ttyACM0", NANO, "1" * 64, timeout=2, opener=lambda d, b: FakeBoardPort("0" * 64))


def test_silent_board_times_out_with_advice():
    class Silent(FakeBoardPort):
        def write(self, data):
            return len(data)

    t = [0.0]

    def clock():
        t[0] += 0.05
        return t[0]

    with pytest.raises(DeviceError, match="did not answer HELLO within 3 s.*reset button.*--port /dev/ttyACM0"):
        wait_for_info("/dev/ttyACM0", NANO, None, timeout=3, opener=lambda d, b: Silent("0" * 64), clock=clock,
                      sleep=lambda s: None)


def test_port_not_back_yet_is_opened_again():
    attempts = []

    def opener(device, baud):
        attempts.append(device)
        if len(attempts) < 3:
            raise serial.SerialException(errno.ENOENT, "No such file or directory")
        return FakeBoardPort("0" * 64)

    result = wait_for_info("/dev/ttyACM0", NANO, "0" * 64, timeout=5, opener=opener, sleep=lambda s: None)
    assert len(attempts) == 3 and result.info.model_sha256 == "0" * 64


def test_upload_without_network_says_so_in_one_line(nano_project):
    def runner(project_dir, targets=(), extra_args=()):  # FAKE PlatformIO, offline
        return subprocess.CompletedProcess([], 1, "Tool Manager: Installing platformio/tool-bossac-nordicnrf52\n"
                                                  "HTTPClientError: \n", "")

    with pytest.raises(BuildFailed) as info:
        upload(nano_project, port="/dev/ttyACM0", runner=runner, opener=lambda d, b: FakeBoardPort("0" * 64),
               log=lambda _: None)
    text = str(info.value)
    assert "\n" not in text and "network" in text and "--runtime aot" in text and "--tflm-tree" in text


def test_upload_failure_names_the_bootloader_trick(nano_project):
    def runner(project_dir, targets=(), extra_args=()):
        return subprocess.CompletedProcess([], 1, "No device found on ttyACM0\n*** [upload] Error 1\n", "")

    with pytest.raises(DeviceError, match="Upload to nano33ble on /dev/ttyACM0 failed.*Double-press the reset"):
        upload(nano_project, port="/dev/ttyACM0", runner=runner, opener=lambda d, b: FakeBoardPort("0" * 64),
               log=lambda _: None)


def test_a_port_name_a_shell_would_read_is_refused_before_upload(nano_project):
    from tinyml_fw.errors import BadInput

    def runner(project_dir, targets=(), extra_args=()):
        raise AssertionError("PlatformIO must not run")

    for port in ("/dev/ttyACM0; touch x", "/dev/tty$(id)", "COM3 & calc"):
        with pytest.raises(BadInput, match="characters a shell would read"):
            upload(nano_project, port=port, runner=runner, opener=lambda d, b: FakeBoardPort("0" * 64),
                   log=lambda _: None)


def test_emulated_board_has_nothing_to_upload(tmp_path, hello_world_model):
    from tinyml_fw.errors import BadInput

    generate(hello_world_model, "mps2-an386", tmp_path / "p", log=lambda _: None)
    with pytest.raises(BadInput, match="emulated"):
        upload(tmp_path / "p", runner=None, lister=lister())


# ----------------------------------------------------------------------------------------- offline build

def test_real_board_build_offline_fails_at_once_with_the_ways_out(nano_project, monkeypatch):
    import importlib

    stage = importlib.import_module("tinyml_fw.build")  # the module (tinyml_fw.build is also a function)
    monkeypatch.setattr(stage, "registry_reachable", lambda timeout=3.0: False)  # FAKE: no network
    monkeypatch.setattr(stage, "run_pio", lambda *a, **k: pytest.fail("must not start PlatformIO"))
    with pytest.raises(BuildFailed) as info:
        stage.build(nano_project, log=lambda _: None)
    text = str(info.value)
    assert text.startswith("Cannot build for nano33ble here: PlatformIO needs the network to install "
                           "nordicnrf52@10.11.0")
    assert "--board mps2-an386 --runtime aot" in text and "--tflm-tree DIR" in text and "\n" not in text


def test_platformio_offline_output_is_recognised(nano_project):
    from tinyml_fw.build import _failure
    from tinyml_fw.generate import Project

    output = ("Processing nano33ble (platform: nordicnrf52@10.11.0; board: nano33ble; framework: arduino)\n"
              "Platform Manager: Installing nordicnrf52 @ 10.11.0\nHTTPClientError: \n")
    error = _failure(Project.load(nano_project), NANO, output)
    assert "could not fetch what it needs (Platform Manager: Installing nordicnrf52 @ 10.11.0)" in str(error)


def test_no_module_imports_a_posix_only_module_at_load_time():
    """Flashing and port detection must work on Windows: POSIX-only modules (ptys, fcntl, termios) are
    imported only inside the functions that use them."""
    import ast

    posix_only = {"pty", "fcntl", "termios", "tty", "resource", "pwd", "grp", "posix"}
    offenders = []
    for path in sorted((Path(__file__).resolve().parent.parent / "tinyml_fw").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:  # module level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in posix_only]
    assert not offenders


def test_monitor_shows_info_and_log_frames():
    from tinyml_fw.monitor import monitor

    lines = []
    t = [0.0]

    def clock():
        t[0] += 0.01
        return t[0]

    monitor("/dev/ttyACM0", "nano33ble", log=lines.append, opener=lambda d, b: FakeBoardPort("ab" * 32),
            duration=1.0, clock=clock)
    assert lines[0] == "Watching /dev/ttyACM0 (Ctrl-C stops)"
    assert "LOG: TFLM: 996 of 2960 arena bytes used" in lines
    assert any(line.startswith("INFO: board nano33ble, runtime tflm, model abababababab…, ") and
               "arena 996 B" in line for line in lines)
    assert not any(line.startswith("text:") for line in lines)  # the noise before the frames is not shown
