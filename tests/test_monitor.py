"""`tinyml-fw monitor`: frames decoded into lines, text passed through; on a pty, and interactively in tmux
against the emulated board (real QEMU, real serial socket)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tinyml_fw import boards, protocol
from tinyml_fw.monitor import Decoder, monitor

TFW = str(Path(sys.executable).with_name("tinyml-fw"))


def test_decoder_keeps_the_order_of_text_and_frames():
    d = Decoder(boards.get("mps2-an386"))
    stream = (b"\x00\xff\xfe boot noise\r\n" + b"bootloader v1.2\r\n" + protocol.encode(protocol.Msg.LOG, 0, b"hi")
              + b"half a line " + protocol.encode(protocol.Msg.RESULT, 3, bytes(4) + (800).to_bytes(8, "little")
                                                   + bytes([1, 255, 128]))
              + protocol.encode(protocol.Msg.ERROR, 0, b"\x02\x00frame dropped") + b"no newline")
    lines = d.feed(stream[:7]) + d.feed(stream[7:]) + d.flush()
    assert lines == ["(14 bytes that are not text)", "bootloader v1.2", "LOG: hi", "half a line ",
                     "RESULT seq 3: 800 ticks = 1,000 instructions, output [1, -1, -128] (session 0x0)",
                     "ERROR: FRAME: frame dropped", "no newline"]


def test_monitor_decodes_frames_on_a_pty(tmp_path):
    """A pty as the port (as a USB-serial adapter or simavr would give): frames and text both ways out."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    lines: list[str] = []
    sent = (b"hello from a pty\n" + protocol.encode(protocol.Msg.LOG, 0, b"TFLM: ready")
            + protocol.encode(protocol.Msg.ERROR, 0, b"\x05\x00unknown message type"))

    def device() -> None:
        time.sleep(0.3)
        os.write(master, sent)

    threading.Thread(target=device, daemon=True).start()
    try:
        monitor(path, None, log=lines.append, duration=1.5, log_file=tmp_path / "pty.log")
        asked = os.read(master, 4096)  # what the monitor sent: an empty HELLO, asking for INFO
    finally:
        os.close(master)
        os.close(slave)
    assert lines[1:] == ["hello from a pty", "LOG: TFLM: ready", "ERROR: UNKNOWN_TYPE: unknown message type"]
    assert protocol.FrameParser().feed(asked)[0] == protocol.Frame(protocol.Msg.HELLO, 1, b"")
    logged = (tmp_path / "pty.log").read_text().splitlines()
    assert len(logged) == 4 and re.match(r"\d\d:\d\d:\d\d LOG: TFLM: ready$", logged[2])


@pytest.fixture
def tmux(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: `make setup` installs it")
    name = f"tfw-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", session], capture_output=True,
                          text=True).stdout


def wait_for(session: str, pattern: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = pane(session)
        if re.search(pattern, text):
            return text
        time.sleep(0.2)
    pytest.fail(f"no {pattern!r} in the monitor's pane:\n{pane(session)}")


def keys(session: str, *what: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *what], check=True)


def test_monitor_in_tmux_decodes_the_emulated_boards_frames(digits_deployed, tmp_path, tmux):
    project, _ = digits_deployed
    log = tmp_path / "monitor.log"
    command = f"{TFW} monitor {project} --log {log}; echo EXIT=$?; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", tmux, "-x", "250", "-y", "60", command], check=True,
                   env={**os.environ, "TERM": "xterm"})
    wait_for(tmux, r"INFO: board mps2-an386, runtime aot, .*3 layers, protocol 4")
    text = wait_for(tmux, r"type help for commands")
    assert re.search(r"stack [\d,]+ of 4,096 B used", text)
    keys(tmux, "infer ramp", "Enter")
    wait_for(tmux, r"RESULT seq \d+: [\d,]+ ticks = [\d,]+ instructions, output \[(-?\d+, ){9}-?\d+\]")
    keys(tmux, "probe 1", "Enter")
    wait_for(tmux, r"LAYER seq \d+: layer 1 of 3, output 10 B; from 0: \[")
    keys(tmux, "probe all", "Enter")
    wait_for(tmux, r"LAYER seq \d+: whole model of 3")
    keys(tmux, "profile on", "Enter")
    wait_for(tmux, r"TIMES seq \d+: 0 layers timed")
    keys(tmux, "infer ramp", "Enter")
    keys(tmux, "profile off", "Enter")
    wait_for(tmux, r"TIMES seq \d+: 3 layers timed in a run of [\d,]+ ticks = [\d,]+ instructions; ticks from "
                   r"layer 0: [\d,]+, [\d,]+, [\d,]+")
    keys(tmux, "C-c")
    text = wait_for(tmux, r"EXIT=\d+")
    assert "Stopped." in text and "EXIT=0" in text and "Traceback" not in text
    logged = log.read_text()
    assert re.search(r"^\d\d:\d\d:\d\d RESULT seq", logged, re.M) and "> INFER 1 chunks of ramp" in logged
    running = subprocess.run(["pgrep", "-f", f"qemu-system-arm.*{re.escape(str(project))}"], capture_output=True)
    assert running.stdout == b"", "Ctrl-C left the emulator running"


def test_monitor_without_a_target_is_one_line_of_error(run_cli):
    result = run_cli("monitor")
    assert result.returncode == 2 and result.stderr.startswith("error: Nothing to watch")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")  # pyserial 3.5
def test_monitor_speaks_rfc2217():
    """An rfc2217:// port (a serial server on the network): pyserial's own RFC 2217 port manager serves a
    fake device that sends a text line and a LOG frame, and receives the monitor's HELLO."""
    import socket

    import serial
    import serial.rfc2217

    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def serve() -> None:
        conn, _ = server.accept()

        class Wire:
            def write(self, data: bytes) -> None:
                conn.sendall(data)

        manager = serial.rfc2217.PortManager(serial.serial_for_url("loop://", timeout=0.05), Wire())
        conn.settimeout(0.05)
        sent, start = False, time.monotonic()
        while time.monotonic() - start < 3:
            try:
                data = conn.recv(1024)
                if not data:
                    break
                received.extend(b"".join(manager.filter(data)))  # option negotiation answered, data kept
            except socket.timeout:
                pass
            if not sent and time.monotonic() - start > 0.5:
                out = b"plain line\n" + protocol.encode(protocol.Msg.LOG, 0, b"via rfc2217")
                conn.sendall(b"".join(manager.escape(out)))
                sent = True
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    lines: list[str] = []
    try:
        monitor(f"rfc2217://127.0.0.1:{server.getsockname()[1]}", None, log=lines.append, duration=2.0)
    finally:
        thread.join(5)
        server.close()
    assert lines[1:] == ["plain line", "LOG: via rfc2217"]
    assert protocol.FrameParser().feed(bytes(received))[0].type == protocol.Msg.HELLO
