"""Serve a board's serial port over the network as `rfc2217://host:port` (RFC 2217: Telnet with serial
port control), for a board farm or a board on another machine.

`validate --port`, `monitor --port` and the pytest plugin reach such a board through pyserial's rfc2217
client; this module is the other end. It serves any pyserial URL — a local port (`/dev/ttyACM0`) or an
emulator's UART (`socket://127.0.0.1:PORT`) — to one client at a time, and keeps the port open between
clients (an emulated board keeps running; what the board sends while no client is connected is dropped).
The Telnet and RFC 2217 details (option negotiation, escaping of 0xFF bytes, baud rate and control lines)
are pyserial's `serial.rfc2217.PortManager`.

`on_reset`: called when a client pulses DTR (low, then high), as the reset line of boards reset by DTR.
For an emulated board it resets the emulator (`Qemu.reset`), so a remote `dut.reset()` works there too.

    python -m tinyml_fw.rfc2217 /dev/ttyACM0 --listen 0.0.0.0:4001
"""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Callable

import serial
import serial.rfc2217
from serial.urlhandler.protocol_socket import Serial as _SocketSerial


class _Connection:
    """What PortManager writes to: the client's socket (thread-safe, errors end the client)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            try:
                self._sock.sendall(data)
            except OSError:
                pass  # the client went away: its reader notices


class _EmulatorSerial(_SocketSerial):
    """socket:// to an emulator's UART, whose DTR line (set by the rfc2217 client) can reset the board."""

    on_dtr: Callable[[bool], None] | None = None

    def _update_dtr_state(self) -> None:
        if self.on_dtr is not None:
            self.on_dtr(bool(self._dtr_state))


class Rfc2217Server:
    """Serves `serial_url` on `rfc2217://host:port` (port 0: a free one; see `url`) until stop()."""

    def __init__(self, serial_url: str, host: str = "127.0.0.1", port: int = 0, baud: int = 115200,
                 on_reset: Callable[[], None] | None = None) -> None:
        if serial_url.startswith("socket://"):
            self.serial = _EmulatorSerial(None, baudrate=baud, timeout=0.05)
            self.serial.port = serial_url
            self.serial.open()
        else:
            self.serial = serial.serial_for_url(serial_url, baudrate=baud, timeout=0.05)
        self._on_reset = on_reset
        self._dtr: bool | None = None
        if isinstance(self.serial, _EmulatorSerial):
            self.serial.on_dtr = self._dtr_changed
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._client: socket.socket | None = None
        self._manager: serial.rfc2217.PortManager | None = None
        self._alive = threading.Event()
        self._threads: list[threading.Thread] = []
        self.clients = 0  # connections served so far
        self.resets = 0  # DTR pulses passed on as resets

    @property
    def url(self) -> str:
        return f"rfc2217://{self.host}:{self.port}"

    def _dtr_changed(self, high: bool) -> None:
        if self._dtr is False and high and self._on_reset is not None:  # a pulse: low, then high again
            self.resets += 1
            self._on_reset()
        self._dtr = high

    def start(self) -> Rfc2217Server:
        self._alive.set()
        for target in (self._accept, self._from_serial):
            thread = threading.Thread(target=target, daemon=True, name=f"rfc2217-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._alive.clear()
        self._drop_client()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=2)
        self.serial.close()

    def __enter__(self) -> Rfc2217Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _drop_client(self) -> None:
        client, self._client, self._manager = self._client, None, None
        if client is not None:
            try:
                client.close()
            except OSError:
                pass

    def _accept(self) -> None:
        """One client at a time: its bytes go through the PortManager's filter to the serial port."""
        while self._alive.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.clients += 1
            self._dtr = None
            manager = serial.rfc2217.PortManager(self.serial, _Connection(client))
            self._client, self._manager = client, manager
            try:
                while self._alive.is_set():
                    data = client.recv(4096)
                    if not data:
                        break
                    payload = b"".join(manager.filter(data))
                    if payload:
                        self.serial.write(payload)
            except OSError:
                pass
            finally:
                if self._client is client:
                    self._drop_client()

    def _from_serial(self) -> None:
        """The board's bytes, escaped, to the client (dropped while there is none)."""
        while self._alive.is_set():
            try:
                data = self.serial.read(self.serial.in_waiting or 1)
            except (serial.SerialException, OSError):
                if self._alive.is_set():
                    self._alive.clear()
                    self._drop_client()
                return
            manager = self._manager
            if data and manager is not None:
                manager.connection.write(b"".join(manager.escape(data)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tinyml_fw.rfc2217", description=__doc__.split("\n\n")[0])
    parser.add_argument("port", help="the serial port or pyserial URL to serve (e.g. /dev/ttyACM0)")
    parser.add_argument("--listen", default="127.0.0.1:4001", help="HOST:PORT to serve on (default %(default)s)")
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = Rfc2217Server(args.port, host or "127.0.0.1", int(port), args.baud).start()
    print(f"Serving {args.port} on {server.url} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
