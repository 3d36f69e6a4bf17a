"""Run firmware on emulated boards: QEMU's Arm boards with the serial port on TCP (:class:`Qemu`), and AVR
boards on simavr with UART0 on a pty (:class:`Simavr`, through tinyml-fw's bridge, see the end of the file).

::

    with Qemu("firmware.elf", "mps2-an386", icount_shift=5) as q:
        with serial.serial_for_url(q.url, timeout=5) as port:
            print(port.readline())

QEMU is started with ``-serial tcp:127.0.0.1:PORT,server=on,wait=on``: it
listens on a free loopback port and does not start the guest before the host
connects, so nothing the firmware prints is lost.  ``start()`` returns once the
port listens (without connecting to it).  With ``-icount shift=N`` every guest
instruction takes 2^N ns of virtual time and SysTick runs from the virtual
clock, so tick counts are repeatable run to run (see :func:`ticks_to_instructions`).

With ``qmp=True`` QEMU also serves its QMP monitor on a unix socket in a private
temporary folder, and :meth:`Qemu.reset` resets the guest through it
(``system_reset``, as the board's reset button would): the serial connection
stays up and the firmware boots again.

The QEMU process is stopped on every way out: ``stop()``, leaving the ``with``
block (also through an exception or KeyboardInterrupt), and at interpreter exit
for any instance left running.

Standard library only, and tinyml_fw.signals (the caller uses pyserial to talk to ``url``).
"""

from __future__ import annotations

import abc
import atexit
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tinyml_fw.signals import deferred_signals

__all__ = [
    "DEFAULT_QEMU",
    "EmulatorError",
    "Qemu",
    "Simavr",
    "instructions_to_ticks",
    "simavr_bridge",
    "ticks_to_instructions",
]

DEFAULT_QEMU = "qemu-system-arm"

_READY_MARKER = b"waiting for connection"
_PORT_IN_USE_MARKERS = (b"Address already in use", b"address already in use")


class EmulatorError(RuntimeError):
    """QEMU is missing, could not start, or exited before it was ready."""


def ticks_to_instructions(ticks: float, f_cpu_hz: float, icount_shift: int) -> float:
    """Guest instructions that take ``ticks`` timer ticks under ``-icount shift=N``.

    One instruction lasts 2^N ns of virtual time and the timer ticks at
    ``f_cpu_hz``, so instructions = ticks * 1e9 / (f_cpu_hz * 2^N).
    """
    if f_cpu_hz <= 0:
        raise ValueError("f_cpu_hz must be positive")
    if icount_shift < 0:
        raise ValueError("icount_shift must be >= 0")
    return float(ticks) * 1e9 / (float(f_cpu_hz) * float(2 ** int(icount_shift)))


def instructions_to_ticks(instructions: float, f_cpu_hz: float, icount_shift: int) -> float:
    """Inverse of :func:`ticks_to_instructions`."""
    return float(instructions) * float(f_cpu_hz) * float(2 ** int(icount_shift)) / 1e9


# --------------------------------------------------------------------- cleanup

_live: set[_EmulatorProcess] = set()
_live_lock = threading.Lock()


def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for emulator in leftovers:
        try:
            emulator.stop(timeout=1.0)
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(_stop_leftovers)


# ----------------------------------------------------------------------- helpers


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_on_loopback(port: int) -> bool | None:
    """True/False from /proc/net/tcp (Linux), None when that cannot be read."""
    try:
        with open("/proc/net/tcp", encoding="ascii") as fp:
            lines = fp.readlines()[1:]
    except OSError:
        return None
    wanted = "0100007F:%04X" % port
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[1] == wanted and fields[3] == "0A":  # LISTEN
            return True
    return False


_P = TypeVar("_P", bound="_EmulatorProcess")


class _EmulatorProcess(abc.ABC):
    """What every emulator process shares: its Popen, its stderr kept in a log file, its exit code, and the
    context-manager protocol (stopped on every way out of a ``with`` block)."""

    _proc: subprocess.Popen | None = None
    _log_path: str | None = None
    _stderr_text = ""
    _returncode: int | None = None

    @abc.abstractmethod
    def start(self: _P) -> _P:
        """Starts the process; returns self, running."""

    stop_timeout = 5.0

    def stop(self, timeout: float | None = None) -> int | None:
        """Ends the emulator (SIGTERM, then SIGKILL after ``timeout`` s); idempotent. Returns its exit code,
        or None when it was never started."""
        proc = self._proc
        if proc is None:
            return self._returncode
        wait = self.stop_timeout if timeout is None else float(timeout)
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=wait)
        finally:
            if proc.poll() is None:  # interrupted while waiting: do not leave it behind
                try:
                    proc.kill()
                    proc.wait(timeout=wait)
                except Exception:
                    pass
            self._cleanup_after_exit()
        return self._returncode

    def _cleanup_after_exit(self) -> None:
        proc = self._proc
        if proc is not None:
            self._returncode = proc.poll()
            if proc.stdout is not None:
                proc.stdout.close()
        self.stderr_text()
        self._proc = None
        self._forget()
        with _live_lock:
            _live.discard(self)
        if self._log_path is not None:
            try:
                os.unlink(self._log_path)
            except OSError:
                pass
            self._log_path = None

    @abc.abstractmethod
    def _forget(self) -> None:
        """Drops what the running process had (its port, its files)."""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def process(self) -> subprocess.Popen | None:
        return self._proc

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else self._returncode

    def stderr_text(self) -> str:
        """What the emulator wrote to stderr so far (kept after stop())."""
        if self._log_path is not None:
            try:
                self._stderr_text = Path(self._log_path).read_bytes().decode("utf-8", "replace")
            except OSError:
                pass
        return self._stderr_text

    def __enter__(self: _P) -> _P:
        return self if self._proc is not None else self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort; normally stop() already ran
        try:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        except Exception:
            pass


# --------------------------------------------------------------------------- Qemu


class Qemu(_EmulatorProcess):
    """One QEMU process running ``elf_path`` on ``machine`` (context manager).

    ``icount_shift=None`` runs without ``-icount`` (timers follow wall time).
    ``extra_args`` are appended to QEMU's command line.
    """

    def __init__(
        self,
        elf_path: str | os.PathLike,
        machine: str,
        icount_shift: int | None = None,
        *,
        qemu_binary: str = DEFAULT_QEMU,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        qmp: bool = False,
    ) -> None:
        self.elf_path = Path(elf_path)
        self.machine = str(machine)
        self.icount_shift = None if icount_shift is None else int(icount_shift)
        self.qemu_binary = qemu_binary
        self.extra_args = [str(a) for a in extra_args]
        self.start_timeout = float(start_timeout)
        self.stop_timeout = float(stop_timeout)
        self._proc: subprocess.Popen | None = None
        self._port: int | None = None
        self._log_path: str | None = None
        self._stderr_text = ""
        self._returncode: int | None = None
        self.argv: list[str] = []
        self.qmp = bool(qmp)
        self._qmp_dir: str | None = None

    @classmethod
    def for_board(cls, elf_path: str | os.PathLike, board: Mapping[str, Any], **kwargs: Any) -> Qemu:
        """Build from a board manifest (dict) with a ``tinyml.emulator`` object."""
        emulator = board.get("tinyml", {}).get("emulator", {})
        if emulator.get("kind", "qemu") != "qemu":
            raise EmulatorError("board emulator kind %r is not qemu" % emulator.get("kind"))
        if "machine" not in emulator:
            raise EmulatorError("board manifest has no tinyml.emulator.machine")
        return cls(elf_path, emulator["machine"], emulator.get("icount_shift"), **kwargs)

    # ---------------------------------------------------------------- properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmulatorError("QEMU is not started")
        return self._port

    @property
    def url(self) -> str:
        """pyserial URL of the guest's first serial port."""
        return "socket://127.0.0.1:%d" % self.port

    def __repr__(self) -> str:
        state = "running pid=%s port=%s" % (self.pid, self._port) if self.running else "stopped"
        return "<Qemu %s %s %s>" % (self.machine, self.elf_path.name, state)

    # ------------------------------------------------------------------ lifecycle

    def _command(self, port: int) -> list[str]:
        argv = [
            self.qemu_binary,
            "-M",
            self.machine,
            "-kernel",
            str(self.elf_path),
            "-display",
            "none",
            "-monitor",
            "none",
            "-nodefaults",
        ]
        if self._qmp_dir is not None:
            argv += ["-qmp", "unix:%s,server=on,wait=off" % self._qmp_path]
        argv += [
            "-serial",
            "tcp:127.0.0.1:%d,server=on,wait=on,nodelay=on" % port,
        ]
        if self.icount_shift is not None:
            argv += ["-icount", "shift=%d" % self.icount_shift]
        return argv + self.extra_args

    def start(self) -> Qemu:
        """Start QEMU and wait until its serial port listens; returns self."""
        if self._proc is not None:
            raise EmulatorError("QEMU is already started")
        exe = shutil.which(self.qemu_binary)
        if exe is None:
            raise EmulatorError(
                "%s not found on PATH." % self.qemu_binary
            )
        if not self.elf_path.is_file():
            raise EmulatorError("firmware file does not exist: %s" % self.elf_path)
        try:
            for _ in range(3):
                if self._launch(exe):
                    return self
                # The port was taken between choosing and binding it: try another.
                self._cleanup_after_exit()
            raise EmulatorError("QEMU could not bind a loopback port:\n" + self._stderr_text)
        except BaseException:
            self.stop()
            raise

    @property
    def _qmp_path(self) -> str:
        return os.path.join(self._qmp_dir or "", "qmp.sock")

    def _launch(self, exe: str) -> bool:
        port = _free_loopback_port()
        if self.qmp:
            self._qmp_dir = tempfile.mkdtemp(prefix="tinyml-fw-qmp-")
        fd, self._log_path = tempfile.mkstemp(prefix="tinyml-fw-qemu-", suffix=".log")
        os.close(fd)
        self.argv = self._command(port)
        self.argv[0] = exe
        with open(self._log_path, "ab") as log, deferred_signals():  # no QEMU without its Popen
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                close_fds=True,
            )
        self._port = port
        with _live_lock:
            _live.add(self)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                text = self.stderr_text().encode()
                if any(marker in text for marker in _PORT_IN_USE_MARKERS):
                    return False
                raise EmulatorError(
                    "QEMU exited early (code %s): %s\n%s"
                    % (self._proc.returncode, " ".join(self.argv), self.stderr_text().strip())
                )
            listening = _listening_on_loopback(port)
            if listening or (listening is None and _READY_MARKER in self.stderr_text().encode()):
                return True
            if time.monotonic() > deadline:
                raise EmulatorError(
                    "QEMU did not open its serial port within %.1f s: %s\n%s"
                    % (self.start_timeout, " ".join(self.argv), self.stderr_text().strip())
                )
            time.sleep(0.01)

    def _forget(self) -> None:
        self._port = None
        if self._qmp_dir is not None:
            shutil.rmtree(self._qmp_dir, ignore_errors=True)
            self._qmp_dir = None

    def reset(self, timeout: float = 5.0) -> None:
        """Resets the guest (QMP ``system_reset``); needs ``qmp=True``. The serial port stays connected."""
        if not self.qmp:
            raise EmulatorError("QEMU was started without qmp=True: it cannot be reset")
        if not self.running:
            raise EmulatorError("QEMU is not running")
        self.qmp_command("system_reset", timeout=timeout)

    def qmp_command(self, command: str, timeout: float = 5.0, **arguments: Any) -> Any:
        """Runs one QMP command (after ``qmp_capabilities``) and returns its ``return`` value."""
        if self._qmp_dir is None:
            raise EmulatorError("QEMU has no QMP monitor (start it with qmp=True)")
        try:
            return self._qmp(command, timeout, arguments)
        except (OSError, ValueError) as exc:  # socket errors and timeouts, a garbled answer
            raise EmulatorError("QMP %s failed: %s" % (command, exc)) from None

    def _qmp(self, command: str, timeout: float, arguments: Mapping[str, Any]) -> Any:
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            while True:
                try:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    sock.connect(self._qmp_path)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline or not self.running:
                        raise EmulatorError("QEMU's QMP monitor did not answer at %s" % self._qmp_path) from None
                    time.sleep(0.02)
            stream = sock.makefile("rwb")

            def receive() -> dict:
                while True:
                    line = stream.readline()
                    if not line:
                        raise EmulatorError("QEMU closed its QMP monitor")
                    message = json.loads(line)
                    if "event" not in message:  # events (RESET, ...) are not answers
                        return message

            receive()  # the greeting
            result: Any = None
            for name, args in (("qmp_capabilities", {}), (command, arguments)):
                request = {"execute": name, **({"arguments": args} if args else {})}
                stream.write(json.dumps(request).encode() + b"\n")
                stream.flush()
                answer = receive()
                if "error" in answer:
                    raise EmulatorError("QMP %s failed: %s" % (name, answer["error"].get("desc", answer)))
                result = answer.get("return")
            return result

    def wait(self, timeout: float | None = None) -> int:
        """Wait for QEMU to exit by itself (e.g. the guest powered off)."""
        if self._proc is None:
            raise EmulatorError("QEMU is not started")
        code = self._proc.wait(timeout=timeout)
        self._cleanup_after_exit()
        return code



# -------------------------------------------------------------------------- simavr

BRIDGE_SOURCE = Path(__file__).resolve().parent.parent / "firmware" / "host" / "simavr_bridge.c"


def simavr_bridge(home_dir: str | os.PathLike, cc: str = "cc") -> Path:
    """The simavr bridge (firmware/host/simavr_bridge.c) built for this machine, in ``home_dir/bin``; built
    once per version of its source (the file name carries the source's hash). Needs a C compiler, pkg-config
    and libsimavr-dev (Debian: simavr libsimavr-dev libelf-dev pkg-config)."""
    import hashlib

    source = BRIDGE_SOURCE.read_bytes()
    exe = Path(home_dir) / "bin" / ("simavr_bridge-" + hashlib.sha256(source).hexdigest()[:12])
    if exe.is_file():
        return exe
    if shutil.which(cc) is None or shutil.which("pkg-config") is None:
        raise EmulatorError("the simavr bridge needs a C compiler (%s) and pkg-config: not found on PATH" % cc)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "simavr", "simavrparts"],
                           capture_output=True, text=True)
    if flags.returncode != 0:
        raise EmulatorError("libsimavr not found by pkg-config (simavr): install simavr libsimavr-dev libelf-dev")
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(exe.name + ".%d.tmp" % os.getpid())
    built = subprocess.run([cc, "-O2", "-Wall", "-o", str(tmp), str(BRIDGE_SOURCE), *flags.stdout.split(),
                            "-lelf", "-lpthread"], capture_output=True, text=True)
    if built.returncode != 0:
        raise EmulatorError("the simavr bridge did not build:\n" + (built.stderr or built.stdout).strip())
    os.replace(tmp, exe)
    return exe


class Simavr(_EmulatorProcess):
    """One simavr process (the bridge) running ``elf_path`` on AVR ``mcu`` at ``f_cpu`` Hz, UART0 on a pty
    (context manager, like :class:`Qemu`). ``url`` is the pty's path; the AVR starts when the host opens it.
    Device time is simulated cycle by cycle: the firmware's timer counts exact clock cycles."""

    def __init__(self, elf_path: str | os.PathLike, mcu: str, f_cpu: int, *, home_dir: str | os.PathLike,
                 realtime: bool = False, start_timeout: float = 10.0, stop_timeout: float = 5.0) -> None:
        self.elf_path = Path(elf_path)
        self.mcu = str(mcu)
        self.f_cpu = int(f_cpu)
        self.home_dir = Path(home_dir)
        self.realtime = bool(realtime)  # hold simulated time to wall time (else simavr runs free, faster)
        self.start_timeout = float(start_timeout)
        self.stop_timeout = float(stop_timeout)
        self.argv: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._pty: str | None = None
        self._log_path: str | None = None
        self._stderr_text = ""
        self._returncode: int | None = None

    @property
    def url(self) -> str:
        if self._pty is None:
            raise EmulatorError("simavr is not started")
        return self._pty

    @property
    def cycles(self) -> int | None:
        """simavr's cycle counter when the bridge ended (None while it runs: see cycles_now)."""
        if self.running:
            return None
        for line in reversed(self.stderr_text().splitlines()):
            if line.startswith("cycles "):
                return int(line.split()[1])
        return None

    def __repr__(self) -> str:
        state = "running pid=%s pty=%s" % (self.pid, self._pty) if self.running else "stopped"
        return "<Simavr %s %s %s>" % (self.mcu, self.elf_path.name, state)

    def start(self) -> Simavr:
        if self._proc is not None:
            raise EmulatorError("simavr is already started")
        if not self.elf_path.is_file():
            raise EmulatorError("firmware file does not exist: %s" % self.elf_path)
        exe = simavr_bridge(self.home_dir)
        fd, self._log_path = tempfile.mkstemp(prefix="tinyml-fw-simavr-", suffix=".log")
        os.close(fd)
        self.argv = [str(exe), self.mcu, str(self.f_cpu), str(self.elf_path), *(["realtime"] if self.realtime else [])]
        try:
            with open(self._log_path, "ab") as log, deferred_signals():
                self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=log, close_fds=True)
            with _live_lock:
                _live.add(self)
            self._pty = self._read_pty()
            return self
        except BaseException:
            self.stop()
            raise

    def _read_pty(self) -> str:
        """The bridge prints simavr's own notes, then "pty PATH"; it reads nothing more from the pipe."""
        import selectors

        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while True:
                for line in buffer.split(b"\n")[:-1]:
                    if line.startswith(b"pty "):
                        return line[4:].decode().strip()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EmulatorError("simavr did not open its pty within %.1f s: %s"
                                        % (self.start_timeout, " ".join(self.argv)))
                if sel.select(timeout=left):
                    chunk = os.read(self._proc.stdout.fileno(), 4096)
                    if not chunk:
                        self._proc.wait(timeout=self.stop_timeout)
                        raise EmulatorError("simavr exited early (code %s): %s\n%s"
                                            % (self._proc.returncode, " ".join(self.argv), self.stderr_text().strip()))
                    buffer += chunk

    def cycles_now(self, timeout: float = 5.0) -> int:
        """simavr's cycle counter now (the bridge's SIGUSR2): simulated time in clock cycles."""
        import signal

        if not self.running:
            raise EmulatorError("simavr is not running")
        assert self._proc is not None
        before = self.stderr_text().count("cycles ")
        self._proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while self.stderr_text().count("cycles ") == before:
            if time.monotonic() > deadline or not self.running:
                raise EmulatorError("simavr did not report its cycle counter")
            time.sleep(0.002)
        return int(self.stderr_text().rsplit("cycles ", 1)[1].split()[0])

    def reset(self, timeout: float = 5.0) -> None:
        """Resets the AVR (the bridge's SIGUSR1): the pty stays open and the firmware boots again."""
        import signal

        if not self.running:
            raise EmulatorError("simavr is not running")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGUSR1)

    def _forget(self) -> None:
        self._pty = None

