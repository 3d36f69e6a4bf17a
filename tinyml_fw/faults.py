"""Fault injection: a loopback proxy between the host and a board's TCP serial port that drops, corrupts,
duplicates and delays bytes in both directions, and resets the board after set numbers of bytes.

::

    with faulty_board(project, Faults(0.01), Faults(0.01), seed=1, reset_after=[20_000]) as proxy:
        validate(project.path, data, port=proxy.url)

A seeded random generator per direction decides which bytes are hit, so the same byte stream meets the
same faults. A fault hits a byte: `drop` removes it, `corrupt` flips some of its bits, `duplicate` sends
it twice, `delay` holds the stream (order is kept, as on a UART) for up to `max_delay` seconds before it.

The proxy serves one connection on 127.0.0.1 (standard library sockets and threads). It stops by itself
when either side closes, or when nobody connects within `accept_timeout`; `stop()` (or leaving the `with`
block, Ctrl-C included) closes its sockets and joins its threads.
"""

from __future__ import annotations

import contextlib
import math
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinyml_fw.errors import BadInput

if TYPE_CHECKING:
    from tinyml_fw.emulator import Qemu

KINDS = ("drop", "corrupt", "duplicate", "delay")
TO_DEVICE, TO_HOST = "to_device", "to_host"


@dataclass(frozen=True)
class Faults:
    """What happens to the bytes of one direction: each byte is hit with probability `rate`, by one of
    `kinds` chosen at random."""

    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    max_delay: float = 0.03

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate {self.rate} is not within 0…1")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be some of {', '.join(KINDS)}; got {self.kinds}")


@dataclass
class DirectionStats:
    bytes: int = 0  # bytes that came in
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    delayed: int = 0


@dataclass
class _Direction:
    faults: Faults
    rng: random.Random
    gap: float = 0.0  # clean bytes before the next hit
    stats: DirectionStats = field(default_factory=DirectionStats)

    def next_gap(self) -> None:
        rate = self.faults.rate
        if rate <= 0.0:
            self.gap = math.inf
        elif rate >= 1.0:
            self.gap = 0
        else:  # geometric: how many bytes pass before the next one is hit
            self.gap = int(math.log(1.0 - self.rng.random()) / math.log(1.0 - rate))


class FaultProxy:
    """Listens on a free loopback port (`url`), connects to 127.0.0.1:`upstream_port` when the host
    connects, and forwards bytes both ways through the faults. `reset` is called once the host has sent
    each of the byte counts in `reset_after` (from the stream towards the device, in the middle of
    whatever frame is passing)."""

    def __init__(self, upstream_port: int, to_device: Faults = Faults(), to_host: Faults = Faults(),
                 seed: int = 0, reset: Callable[[], None] | None = None, reset_after: Sequence[int] = (),
                 accept_timeout: float = 30.0) -> None:
        if reset_after and reset is None:
            raise ValueError("reset_after needs a reset function")
        self.upstream_port = int(upstream_port)
        self._dirs = {TO_DEVICE: _Direction(to_device, random.Random(f"{seed}/{TO_DEVICE}")),
                      TO_HOST: _Direction(to_host, random.Random(f"{seed}/{TO_HOST}"))}
        for d in self._dirs.values():
            d.next_gap()
        self._reset = reset
        self._reset_after = sorted(int(n) for n in reset_after)
        self.resets_done = 0
        self.errors: list[str] = []
        self.accept_timeout = accept_timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port: int | None = None
        self.emulator: Qemu | None = None  # the Qemu behind the proxy, when faulty_board started both

    # ------------------------------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fault proxy is not started")
        return f"socket://127.0.0.1:{self.port}"

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(vars(d.stats)) for name, d in self._dirs.items()}

    def set_faults(self, to_device: Faults | None = None, to_host: Faults | None = None) -> None:
        """Changes the faults while the proxy runs."""
        with self._lock:
            for name, faults in ((TO_DEVICE, to_device), (TO_HOST, to_host)):
                if faults is not None:
                    self._dirs[name].faults = faults
                    self._dirs[name].next_gap()

    def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self._listener = listener
        self._sockets.append(listener)
        self.port = listener.getsockname()[1]
        self._spawn(self._serve, "accept")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Closes every socket and joins the threads; idempotent."""
        self._stop.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def __enter__(self) -> FaultProxy:
        return self if self.port is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ threads

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=self._guard, args=(target, *args), name=f"fault-proxy-{name}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guard(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except (OSError, ValueError) as exc:
            if not self._stop.is_set():  # else a socket closed under us: the proxy is stopping
                self.errors.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._stop.set()
            self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        listener = self._listener
        if listener is None:
            return
        deadline = time.monotonic() + self.accept_timeout
        while True:
            if self._stop.is_set() or time.monotonic() > deadline:
                return  # stopped, or nobody came: stop by ourselves
            ready, _, _ = select.select([listener], [], [], 0.1)
            if ready:
                break
        host, _ = listener.accept()
        device = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        device.settimeout(None)
        for sock in (host, device):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets += [host, device]
        pumps = [threading.Thread(target=self._guard, args=(self._pump, host, device, TO_DEVICE), daemon=True,
                                  name="fault-proxy-to-device"),
                 threading.Thread(target=self._guard, args=(self._pump, device, host, TO_HOST), daemon=True,
                                  name="fault-proxy-to-host")]
        self._threads += pumps
        for pump in pumps:
            pump.start()
        for pump in pumps:  # the proxy lives as long as both directions do
            pump.join()

    def _pump(self, src: socket.socket, dst: socket.socket, name: str) -> None:
        direction = self._dirs[name]
        received = 0
        while not self._stop.is_set():
            ready, _, _ = select.select([src], [], [], 0.1)
            if not ready:
                continue
            data = src.recv(4096)
            if not data:
                return  # that side closed: so does the proxy
            while data:
                cut = len(data)
                if name == TO_DEVICE and self._reset_after:
                    cut = min(cut, max(0, self._reset_after[0] - received))
                self._forward(direction, data[:cut], dst)
                received += cut
                data = data[cut:]
                if name == TO_DEVICE and self._reset_after and received >= self._reset_after[0]:
                    self._reset_after.pop(0)
                    if self._reset is not None:
                        self._reset()
                    self.resets_done += 1

    def _forward(self, d: _Direction, data: bytes, dst: socket.socket) -> None:
        with self._lock:
            faults = d.faults
            d.stats.bytes += len(data)
        out = bytearray()
        i = 0
        while i < len(data):
            if d.gap >= len(data) - i:
                out += data[i:]
                d.gap -= len(data) - i
                break
            gap = int(d.gap)
            out += data[i : i + gap]
            byte = data[i + gap]
            i += gap + 1
            kind = d.rng.choice(faults.kinds)
            if kind == "drop":
                d.stats.dropped += 1
            elif kind == "corrupt":
                out.append(byte ^ d.rng.randrange(1, 256))
                d.stats.corrupted += 1
            elif kind == "duplicate":
                out += bytes((byte, byte))
                d.stats.duplicated += 1
            else:
                d.stats.delayed += 1
                if out:
                    dst.sendall(out)
                    out.clear()
                if self._stop.wait(d.rng.uniform(0.0, faults.max_delay)):
                    return
                out.append(byte)
            d.next_gap()
        if out:
            dst.sendall(out)


@contextlib.contextmanager
def faulty_board(project, to_device: Faults = Faults(), to_host: Faults = Faults(), seed: int = 0,
                 reset_after: Sequence[int] = ()) -> Iterator[FaultProxy]:
    """The project's emulated board (resettable through QMP) behind a FaultProxy; yields the proxy, whose
    `url` the host connects to. Both stop on every way out."""
    from tinyml_fw.emulator import Qemu
    from tinyml_fw.flash import start_emulator

    with start_emulator(project, qmp=True) as emulator:
        if not isinstance(emulator, Qemu):  # the proxy sits on a TCP serial port and resets through QMP
            raise BadInput(f"Fault injection runs on QEMU boards; {project.board} runs in another emulator.")
        proxy = FaultProxy(emulator.port, to_device, to_host, seed=seed, reset=emulator.reset,
                           reset_after=reset_after)
        proxy.emulator = emulator
        with proxy:
            yield proxy
