"""The Arduino board code (firmware/board/arduino: setup()/loop(), Serial, micros()) driving the real protocol
and a real AOT model, compiled for the host against a FAKE Arduino core (tests/fixtures/arduino_stub:
Serial is a TCP socket). The host talks to it with the same DeviceLink as to any board and compares every
output with the tflite-micro interpreter.

What this cannot test: the real Arduino cores (mbed USB CDC, ESP32 and AVR UARTs), real timing, and the
TFLM runtime on them (TFLM is not built for the host here).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tinyml_fw.generate import Project, generate
from tinyml_fw.golden import Reference
from tinyml_fw.link import DeviceLink

STUB = Path(__file__).parent / "fixtures" / "arduino_stub"


@pytest.fixture(scope="module")
def arduino_firmware(tmp_path_factory, hello_world_model):
    """The nano33ble AOT project of TFLM's hello_world, built for the host with the fake core."""
    if shutil.which("g++") is None or shutil.which("gcc") is None:
        pytest.fail("host gcc/g++ are needed (build-essential)")
    work = tmp_path_factory.mktemp("arduino")
    generate(hello_world_model, "nano33ble", work / "p", runtime="aot", log=lambda _: None)
    project = work / "p"
    src = project / "src"
    includes = [f"-I{STUB}", *(f"-I{d}" for d in sorted({p.parent for p in src.rglob("*.h")}))]
    objects = []
    for source in sorted([*src.rglob("*.c"), *src.rglob("*.cpp"), STUB / "fake_arduino.cpp"]):
        obj = work / f"{len(objects)}.o"
        compiler = ["gcc", "-std=c11"] if source.suffix == ".c" else ["g++", "-std=c++11"]
        subprocess.run([*compiler, "-O1", "-Wall", "-Wextra", "-Werror", "-c", str(source), "-o", str(obj),
                        *includes], check=True)
        objects.append(str(obj))
    exe = work / "nano33ble-on-host"
    subprocess.run(["g++", "-o", str(exe), *objects], check=True)
    return Project.load(project), exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_setup_and_loop_serve_the_protocol_bit_exact(arduino_firmware, hello_world_model):
    project, exe = arduino_firmware
    port = free_port()
    board = subprocess.Popen([str(exe)], env={**os.environ, "TFW_FAKE_PORT": str(port)}, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert board.stderr.readline().strip() == "begin 115200"  # the link's speed, from the catalog
        assert board.stderr.readline().strip() == "listening"
        reference = Reference(hello_world_model.read_bytes())
        inputs = reference.quantize(np.linspace(0, 2 * np.pi, 12, dtype=np.float32).reshape(-1, 1))
        with DeviceLink(f"socket://127.0.0.1:{port}", timeout=5) as link:
            info = link.check(project.model_sha256)
            assert (info.board, info.runtime, info.tick_hz) == ("nano33ble", "aot", 1_000_000)
            outputs = [np.frombuffer(link.infer(x.tobytes()).output, dtype=np.int8) for x in inputs]
        assert np.array_equal(np.stack(outputs).reshape(-1), reference.run_all(inputs).reshape(-1))
        board.wait(timeout=10)
        tail = board.stderr.read()
        writes = int(tail.split("write-calls")[1])
        frames = 1 + 1 + len(inputs)  # boot INFO, INFO for HELLO, one RESULT per input
        assert writes <= 2 * frames  # output is written in runs, not one call per byte
    finally:
        if board.poll() is None:
            board.kill()
        board.wait()
