"""The host's link against the device's own protocol code, fast: firmware/app/tfw_device.c compiled for the host
on the fake board (tests/fuzz/fake_board.c) and served on a real loopback socket, alone or behind the fault
proxy. Here a board reset can lose its boot INFO on purpose, which QEMU cannot be made to do on demand.
"""

from __future__ import annotations

import contextlib
import ctypes
import random
import select
import socket
import threading
import time

import pytest

from tinyml_fw.errors import DeviceError
from tinyml_fw.faults import FaultProxy, Faults
from tinyml_fw.link import DeviceLink
from tinyml_fw.paths import FIRMWARE, ROOT

FUZZ = ROOT / "tests" / "fuzz"
SHA = bytes(range(32)).hex()  # the fake model's
INPUT = 600


def fake_model(x: bytes) -> bytes:
    out = []
    for j in range(10):
        acc = j
        for i in range(j, INPUT, 10):
            acc = (acc * 31 + x[i]) & 0xFFFFFFFF
        out.append(acc & 0xFF)
    return bytes(out)


class SocketBoard:
    """The fake board's serial port on 127.0.0.1: one connection, bytes in and replies out, its timer
    advancing with the wall clock while the line is quiet."""

    def __init__(self, lib) -> None:
        self.lib = lib
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._conn: socket.socket | None = None
        self._out = ctypes.create_string_buffer(1 << 20)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _take(self) -> bytes:
        n = self.lib.harness_take(self._out, len(self._out))
        return ctypes.string_at(self._out, n)

    def reset(self, lose_boot_info: bool = False) -> None:
        with self._lock:
            self.lib.harness_reset()
            self.lib.harness_boot()
            boot = self._take()
            if not lose_boot_info and self._conn is not None:
                self._conn.sendall(boot)

    def _serve(self) -> None:
        self._listener.settimeout(10)
        with contextlib.suppress(OSError):
            conn, _ = self._listener.accept()
            self._conn = conn
            self.reset()
            while not self._stop.is_set():
                ready, _, _ = select.select([conn], [], [], 0.001)
                with self._lock:
                    if ready:
                        data = conn.recv(4096)
                        if not data:
                            return
                        self.lib.harness_feed(data, len(data))
                    else:
                        self.lib.harness_idle(ctypes.c_uint64(1000))  # ~1 ms of quiet line
                    out = self._take()
                    if out:
                        conn.sendall(out)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in (self._conn, self._listener):
            if sock is not None:
                sock.close()


@pytest.fixture(scope="module")
def lib(tmp_path_factory, host_library):
    lib = host_library(
        [FIRMWARE / "protocol/tfw_frame.c", FIRMWARE / "protocol/tfw_crc32.c", FIRMWARE / "app/tfw_device.c",
         FUZZ / "fake_board.c"],
        tmp_path_factory.mktemp("link") / "libdevice.so",
        [FIRMWARE / "protocol", FIRMWARE / "common", FIRMWARE / "app", FIRMWARE / "board", FUZZ])
    lib.harness_take.restype = ctypes.c_size_t
    lib.harness_idle.argtypes = [ctypes.c_uint64]
    return lib


@pytest.fixture
def board(lib):
    board = SocketBoard(lib)
    yield board
    board.close()


def inputs(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [bytes(rng.randrange(256) for _ in range(INPUT)) for _ in range(n)]


@pytest.mark.parametrize("lose_boot_info", [False, True])
def test_a_reset_between_vectors_is_noticed(board, lose_boot_info):
    """The boot INFO tells; when it is lost, the next reply's session (0 after boot) tells."""
    with DeviceLink(board.url) as link:
        link.check(SHA)
        x1, x2 = inputs(2, 1)
        assert link.infer(x1).output == fake_model(x1)
        board.reset(lose_boot_info=lose_boot_info)
        time.sleep(0.05)
        assert link.infer(x2).output == fake_model(x2)
        assert (link.stats.resets, link.stats.restarts) == (1, 1)
        assert link.infer(x1).output == fake_model(x1)
        assert link.stats.resets == 1


def test_a_reset_in_the_middle_of_a_vector_resends_it_whole(board):
    with DeviceLink(board.url) as link:
        link.check(SHA)
        (x,) = inputs(1, 2)
        sent = link._write

        def write_then_reset(data: bytes) -> None:  # the board resets right after the second chunk
            sent(data)
            if link.stats.requests == 3 and not board_reset.is_set():
                board_reset.set()
                time.sleep(0.05)
                board.reset(lose_boot_info=True)

        board_reset = threading.Event()
        link._write = write_then_reset
        assert link.infer(x).output == fake_model(x)
        # The third chunk meets a device holding nothing (ERROR SEQUENCE: a restart); the vector's first chunk
        # then comes back with session 0 (the reset, noticed: a handshake and a second restart).
        assert link.stats.resets == 1 and link.stats.restarts == 2


def test_a_board_that_comes_back_with_another_model_is_refused(board):
    with DeviceLink(board.url) as link:
        link.check(SHA)
        link._expected_sha = "ff" * 32  # as if the firmware had been swapped while the run went on
        board.reset()
        with pytest.raises(DeviceError, match="runs model 000102030405"):
            link.infer(inputs(1, 3)[0])


@pytest.mark.slow  # ~25 s
def test_vectors_of_many_chunks_through_1_percent_faults_are_all_right(board):
    with FaultProxy(board.port, Faults(0.01), Faults(0.01), seed=11) as proxy, \
            DeviceLink(proxy.url) as link:
        link.check(SHA)
        xs = inputs(15, 4)
        outputs = [link.infer(x).output for x in xs]
        stats, chunk = link.stats, link._chunk
    assert outputs == [fake_model(x) for x in xs]
    assert stats.retries > 50 and stats.frames_dropped > 10
    assert all(v > 0 for v in proxy.stats["to_device"].values())
    assert 16 <= chunk < 252  # shorter frames than on a clean link
