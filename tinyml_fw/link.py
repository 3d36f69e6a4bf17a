"""The serial link to a device: open a port or URL, shake hands, run inferences (docs/protocol.md).

The link loses nothing: a request is retransmitted (unchanged) on timeout or after the device reports a
dropped frame, within a budget; a board reset is detected (boot INFO, or a reply of another session), the
board is checked again and the vector in flight is sent again from its start. A vector either returns its
Result or raises VectorFailed with the reason; a link on which nothing valid arrives for `timeout` seconds
raises DeviceError. `stats` counts what it took.
"""

from __future__ import annotations

import dataclasses
import math
import random
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

import serial

from tinyml_fw import protocol
from tinyml_fw.errors import DeviceError
from tinyml_fw.protocol import Ack, ErrorCode, Frame, Info, Layer, Msg, Result, Times

_R = TypeVar("_R", Layer, Times)  # a reply that carries the session
_T = TypeVar("_T")

RETRIES = 20  # retransmissions of one request
MAX_RESTARTS = 4  # times one vector is sent again from offset 0 (resets, lost input)
INITIAL_RTO = 0.5  # retransmission timeout before any round trip was measured
MIN_RTO = 0.03
MAX_BACKOFF = 4  # the timeout doubles per timeout of the same request, up to this factor
MIN_CHUNK = 16  # INFER data bytes: the chunk shrinks on a lossy link, never below this
ADAPT_EVERY = 8  # INFER requests between two choices of the chunk
FRAME_OVERHEAD = 32  # bytes an INFER round trip carries besides its chunk (both frames' headers, offset, ACK)
ROUND_TRIP_COST = 0.2  # a round trip that passes, in units of the time a lost one costs (its timeout)


class VectorFailed(DeviceError):
    """One vector could not be completed within the link's budgets; the link itself still works."""


class _Reset(Exception):
    """The board reset since the handshake: handshake again, then send the vector again."""


class _Restart(Exception):
    """The device lost the input of the vector in flight: send it again from offset 0."""


class _Unanswered(Exception):
    """A request stayed unanswered after all its retransmissions."""


@dataclass
class LinkStats:
    requests: int = 0  # distinct requests sent
    retries: int = 0  # retransmissions
    timeouts: int = 0  # retransmissions caused by a timeout (the others followed an ERROR(FRAME))
    frame_errors: int = 0  # ERROR(FRAME) frames received
    resets: int = 0  # board resets detected
    restarts: int = 0  # vectors sent again from offset 0
    frames_dropped: int = 0  # corrupt frames the host discarded
    bytes_out: int = 0
    bytes_in: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class _Rtt:
    """Round-trip estimate of one kind of reply beyond the frames' time on the wire (mean + 4 × deviation),
    from replies that surely answered the first transmission."""

    def __init__(self) -> None:
        self.mean: float | None = None
        self.dev = 0.0
        self.rto = INITIAL_RTO

    def sample(self, rtt: float) -> None:
        if self.mean is None:
            self.mean, self.dev = rtt, rtt / 2
        else:
            self.dev = 0.75 * self.dev + 0.25 * abs(self.mean - rtt)
            self.mean = 0.875 * self.mean + 0.125 * rtt
        self.rto = max(MIN_RTO, self.mean + 4 * self.dev)


REPLY_BYTES = {"info": 128, "ack": 17}  # a RESULT: 21 + output bytes


class DeviceLink:
    """One connected device. Works with any pyserial URL: a port, socket://, rfc2217://, loop://.

    `timeout`: the longest the link may stay without a valid frame while waiting for a reply (eight
    attempts at least fit in it). `retries`: retransmissions per request. `integrity=False` accepts RESULT
    frames whose CRC is wrong, only to show what the CRC protects against (the rest of the link stays
    checked, so that it keeps working).
    """

    def __init__(self, url: str, baud: int = 115200, timeout: float = 10.0,
                 on_log: Callable[[str], None] | None = None, retries: int = RETRIES,
                 integrity: bool = True) -> None:
        from tinyml_fw.ports import explain_open_error

        try:  # a local port is locked (flock) so that a second program holding it shows as busy
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0.01,
                                               **({} if "://" in url else {"exclusive": True}))
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceError(explain_open_error(url, exc)) from None
        self.url = url
        self.baud = baud
        self.timeout = timeout
        self.retries = retries
        self._parser = protocol.FrameParser(unchecked=() if integrity else (Msg.RESULT,))
        self._pending: list[Frame] = []
        self._seq = 0
        self._on_log = on_log
        self._session: int | None = None  # None while no handshake has completed
        self._expected_sha: str | None = None
        self._rtt = {"info": _Rtt(), "ack": _Rtt(), "result": _Rtt(), "layer": _Rtt(), "times": _Rtt()}
        self._chunk = 0  # bytes per INFER chunk; 0 until the first INFO
        # Attempts, answered attempts and bytes on the wire of recent INFER requests (older ones fade).
        self._tries, self._answered, self._exposed = 0.0, 0.0, 0.0
        self._since_adapt = 0
        self._last_rx = time.monotonic()
        self._rng = random.Random()
        # The last request answered after retransmissions: (seq, rtt, replies still owed, first reply's RTT).
        # If every transmission gets its reply, none was lost: the timeouts were too short, and the first
        # reply answered the first transmission, which makes its round trip a valid sample.
        self._owed: tuple[int, _Rtt, int, float] | None = None
        self.stats = LinkStats()
        self.info: Info | None = None

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> DeviceLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ frames

    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1
        return self._seq

    def _write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"Serial link {self.url} failed: {exc}") from None
        self.stats.bytes_out += len(data)

    def _read_frame(self, deadline: float, quiet_since: float, waiting_for: str) -> Frame | None:
        """The next valid frame, or None at `deadline`; DeviceError after `timeout` s without one."""
        while not self._pending:
            now = time.monotonic()
            if now - max(quiet_since, self._last_rx) > self.timeout:
                raise DeviceError(
                    f"No valid frame from the device on {self.url} for {self.timeout:g} s while waiting "
                    f"for {waiting_for} ({self.stats.retries} retransmissions, "
                    f"{self._parser.dropped} corrupt frames dropped so far): the link is too noisy or "
                    "the firmware is not running. Is the port right?")
            if now >= deadline:
                return None
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"Serial link {self.url} failed: {exc}") from None
            if data:
                self.stats.bytes_in += len(data)
                frames = self._parser.feed(data)
                self.stats.frames_dropped = self._parser.dropped
                if frames:
                    self._last_rx = time.monotonic()
                    self._pending.extend(frames)
        return self._pending.pop(0)

    def _request(self, type_: int, payload: bytes, kind: str, reply_bytes: int | None = None) -> tuple[Frame, int]:
        """Sends one request until the reply carrying its seq arrives; returns it and the retransmissions
        it took. LOG frames go to on_log; a boot INFO after the handshake raises _Reset."""
        seq = self._next_seq()
        data = protocol.encode(type_, seq, payload)
        rtt = self._rtt[kind]
        name = Msg(type_).name
        reply = reply_bytes or REPLY_BYTES.get(kind) or 21 + (self.info.output_bytes if self.info else 0)
        wire = (len(data) + reply) * 10 / self.baud  # both frames at the board's baud rate (start + stop bits)
        started = time.monotonic()
        self.stats.requests += 1
        attempt, backoff, last = 0, 1, "timeout"
        while True:
            # A retransmission comes after 0-15 zero bytes, a random number each time: the device's SOF hunt
            # skips them, and they keep a parser caught in a mangled frame (one whose resync lands on a 0xA5
            # inside our payload) from meeting every copy of the request at the same point, forever.
            self._write(bytes(self._rng.randrange(16)) + data if attempt else data)
            sent = time.monotonic()
            # At least 8 attempts fit in the time the link may stay silent.
            deadline = sent + min(self.timeout / 8, wire + self._rto(rtt) * backoff)
            while True:
                frame = self._read_frame(deadline, started, f"the answer to {name}")
                if frame is None:
                    break
                if frame.type == Msg.LOG:
                    if self._on_log:
                        self._on_log(frame.payload.decode("utf-8", "replace"))
                    continue
                if frame.seq == 0:
                    if frame.type == Msg.INFO and self._session is not None:
                        raise _Reset("the board sent its boot INFO")
                    if frame.type == Msg.ERROR and _error_code(frame) == ErrorCode.FRAME:
                        # Most likely our request was the frame dropped: retransmit soon, not at once, so
                        # that a reply already on its way still arrives.
                        self.stats.frame_errors += 1
                        soon = min(self._rto(rtt), max(MIN_RTO / 3, 2 * (rtt.mean or MIN_RTO)))
                        deadline = min(deadline, time.monotonic() + soon)
                        last = "frame dropped by the device"
                    continue  # boot messages before the handshake, or noise
                if frame.seq != seq:
                    self._count_replay(frame.seq)
                    continue  # a stale or replayed reply
                now = time.monotonic()
                if attempt == 0:
                    rtt.sample(max(0.0, now - sent - wire))
                    self._owed = None
                else:
                    self._owed = (seq, rtt, attempt, max(0.0, now - started - wire))
                return frame, attempt
            if attempt >= self.retries:
                raise _Unanswered(f"no answer to {name} after {attempt + 1} attempts (last: {last})")
            attempt += 1
            self.stats.retries += 1
            if last == "timeout":
                self.stats.timeouts += 1
                backoff = min(backoff * 2, MAX_BACKOFF)
            last = "timeout"

    def _rto(self, rtt: _Rtt) -> float:
        """A kind of reply not measured yet borrows the handshake's estimate (a RESULT longer than that
        shows as spurious retransmissions, and is then measured)."""
        if rtt.mean is None and self._rtt["info"].mean is not None:
            return self._rtt["info"].rto
        return rtt.rto

    def _count_replay(self, seq: int) -> None:
        if self._owed is None or self._owed[0] != seq:
            return
        seq, rtt, owed, first = self._owed
        self._owed = (seq, rtt, owed - 1, first) if owed > 1 else None
        if owed == 1:  # every transmission was answered: the device is slower than the timeout
            rtt.sample(first)

    # --------------------------------------------------------------------------------------- handshake

    def _handshake(self) -> Info:
        """HELLO with a new session; checks the protocol version, the session and the model again."""
        self._session = None
        session = random.SystemRandom().randrange(1, 2**32)
        try:
            frame, _ = self._request(Msg.HELLO, protocol.hello(session), "info")
        except _Unanswered as exc:
            raise DeviceError(f"The device on {self.url} did not answer HELLO ({exc}). Is the firmware "
                              "running and the port right?") from None
        if frame.type == Msg.ERROR:
            raise DeviceError(f"The device refused HELLO: {protocol.DeviceErrorMsg.parse(frame.payload)}"
                              " (it may speak another protocol version)")
        if frame.type != Msg.INFO:
            raise DeviceError(f"The device answered HELLO with unexpected message type 0x{frame.type:02x}")
        try:
            info = Info.parse(frame.payload)
        except (ValueError, IndexError, struct.error) as exc:
            raise DeviceError(f"The device sent a malformed INFO: {exc}") from None
        if info.protocol != protocol.PROTOCOL_VERSION:
            raise DeviceError(
                f"The device speaks protocol {info.protocol}, this host {protocol.PROTOCOL_VERSION}: "
                "regenerate and rebuild the firmware with this tinyml-fw.")
        if info.session != session:
            raise DeviceError(f"The device did not take the session of HELLO ({info.session:#x}, not "
                              f"{session:#x}).")
        expected = self._expected_sha or (self.info.model_sha256 if self.info else None)
        if expected is not None and info.model_sha256 != expected:
            raise DeviceError(
                f"The device runs model {info.model_sha256[:12]}…, not {expected[:12]}…: "
                "flash the firmware generated from this model.")
        self._session = session
        self.info = info
        max_chunk = max(1, min(info.rx_max, protocol.MAX_PAYLOAD) - 4)
        self._chunk = min(self._chunk, max_chunk) if self._chunk else max_chunk
        return info

    def hello(self) -> Info:
        return self._handshake()

    @property
    def port(self) -> serial.SerialBase:
        """The open serial port (a pyserial object), for callers that read the device's lines between requests."""
        return self._port

    def _connected(self) -> Info:
        if self.info is None:
            raise DeviceError("No INFO from the device yet: the link has not shaken hands.")
        return self.info

    def check(self, model_sha256: str) -> Info:
        """Handshake, refusing a device of another protocol version or another model."""
        self._expected_sha = model_sha256
        info = self.info
        if info is None:
            return self._handshake()
        if info.model_sha256 != model_sha256:
            raise DeviceError(
                f"The device runs model {info.model_sha256[:12]}…, not {model_sha256[:12]}…: "
                "flash the firmware generated from this model.")
        return info

    def query_info(self) -> Info:
        """The device's INFO now, asked with an empty HELLO (the session stays): e.g. the stack's high-water
        mark after a run. A board that reset meanwhile has lost what it measured: DeviceError."""
        if self.info is None:
            self._handshake()
        try:
            frame, _ = self._request(Msg.HELLO, b"", "info")
            info = Info.parse(frame.payload) if frame.type == Msg.INFO else None
        except _Reset:
            info = None
        except _Unanswered as exc:
            raise DeviceError(f"The device on {self.url} did not answer HELLO ({exc}).") from None
        except (ValueError, IndexError, struct.error) as exc:
            raise DeviceError(f"The device sent a malformed INFO: {exc}") from None
        if info is None or info.session != self._session:
            raise DeviceError("The board reset during the run: its stack measurement is lost; run again.")
        self.info = info
        return info

    # ------------------------------------------------------------------------------------ layer probes

    def _ask(self, type_: Msg, payload: bytes, reply_type: Msg, parse: Callable[[bytes], _R], kind: str,
             reply_bytes: int) -> _R:
        """One request whose reply is `reply_type` carrying the session (PROBE → LAYER, PROFILE → TIMES)."""
        try:
            frame, _ = self._request(type_, payload, kind, reply_bytes=reply_bytes)
        except _Unanswered as exc:
            raise VectorFailed(str(exc)) from None
        if frame.type == Msg.ERROR:
            raise DeviceError(f"The device refused {type_.name}: {protocol.DeviceErrorMsg.parse(frame.payload)}")
        if frame.type != reply_type:
            raise DeviceError(f"The device answered {type_.name} with message type 0x{frame.type:02x}, not "
                              f"{reply_type.name} (protocol {protocol.PROTOCOL_VERSION} firmware does).")
        try:
            reply = parse(frame.payload)
        except ValueError as exc:
            raise VectorFailed(f"malformed {reply_type.name}: {exc}") from None
        if reply.session != self._session:
            raise _Reset(f"a reply of session {reply.session:#x}")
        return reply

    def _probe(self, layer: int, offset: int, length: int) -> Layer:
        return self._ask(Msg.PROBE, protocol.probe(layer, offset, length), Msg.LAYER, Layer.parse, "layer",
                         37 + length)

    def _times(self, on: bool, first: int = 0) -> Times:
        return self._ask(Msg.PROFILE, protocol.profile(on, first), Msg.TIMES, Times.parse, "times",
                         protocol.MAX_PAYLOAD + 10)

    def layers(self) -> int:
        """How many layers the device's runtime can stop after (0: none, e.g. TFLM)."""
        info = self.info or self._handshake()
        return info.layers

    def _run_in_mode(self, data: bytes, whole: bool, enter: Callable[[], object],
                     read: Callable[[Result], _T], leave: Callable[[], object], what: str) -> _T:
        """Sets a mode on the device (`enter`: PROBE's stop, PROFILE on), runs `data` in it and reads what the
        run left (`read`). A board reset forgets the mode, so the sequence starts again from `enter`; `leave`
        restores ordinary runs afterwards, whatever happened (a reset board runs them anyway)."""
        for _ in range(MAX_RESTARTS + 1):
            resets = self.stats.resets
            try:
                enter()
                result = self.infer(data, whole=whole)
                if self.stats.resets != resets:  # the board forgot the mode: again
                    continue
                return read(result)
            except _Reset:
                self.stats.resets += 1
                self._handshake()
            finally:
                try:
                    leave()
                except (_Reset, DeviceError, VectorFailed):
                    pass  # the next request meets a link that is still failing
        raise VectorFailed(f"the board reset {MAX_RESTARTS + 1} times while {what}")

    def layer_output(self, data: bytes, layer: int) -> tuple[int, bytes]:
        """Runs `data` through layers 0 … `layer` only and reads that layer's output back:
        (ticks of the stopped run, the output's bytes). Later inferences run the whole model again."""
        info = self.info or self._handshake()
        size = 0

        def enter() -> None:
            nonlocal size
            size = self._probe(layer, 0, 0).size

        def read(result: Result) -> tuple[int, bytes]:
            out = b""
            while len(out) < size:
                part = self._probe(layer, len(out), min(protocol.MAX_PAYLOAD - 16, size - len(out)))
                if part.offset != len(out) or not part.data:
                    raise VectorFailed(f"LAYER for offset {len(out)} carries offset {part.offset}, "
                                       f"{len(part.data)} bytes")
                out += part.data
            return result.ticks, out

        # A run stopped after the last layer is the whole model's run.
        return self._run_in_mode(data, layer + 1 >= info.layers, enter, read,
                                 lambda: self._probe(protocol.ALL_LAYERS, 0, 0), f"layer {layer} was read")

    def profile(self, data: bytes) -> tuple[Result, Times]:
        """Runs `data` once with every layer timed on the device (PROFILE): the run's RESULT, and TIMES with
        the ticks of every layer (`ticks`) and of the whole profiled run (`total`). Later runs are untimed."""
        info = self.info or self._handshake()
        if not info.layers:
            raise DeviceError(f"The device's runtime ({info.runtime}) has no layers to time: PROFILE needs the AOT "
                              "runtime.")

        def read(result: Result) -> tuple[Result, Times]:
            times = self._times(False)
            ticks = list(times.ticks)
            while len(ticks) < times.recorded:
                ticks += self._times(False, len(ticks)).ticks
            if times.recorded != info.layers:
                raise DeviceError(f"The device timed {times.recorded} of its {info.layers} layers: "
                                  "build the project again.")
            return result, dataclasses.replace(times, ticks=tuple(ticks))

        return self._run_in_mode(data, True, lambda: self._times(True), read, lambda: self._times(False),
                                 "a run was profiled")

    # --------------------------------------------------------------------------------------- inference

    def infer(self, data: bytes, whole: bool = True) -> Result:
        """Runs one input; VectorFailed when it cannot be completed within the budgets. The RESULT carries
        the model's output (`whole` False: a run stopped after a layer by PROBE, whose RESULT carries none)."""
        info = self.info or self._handshake()
        if len(data) != info.input_bytes:
            raise DeviceError(f"Input has {len(data)} bytes; the device's model takes {info.input_bytes}.")
        if not data:
            raise DeviceError("The device reports a model with an empty input tensor.")
        restarts = 0
        expect = info.output_bytes if whole else 0
        while True:
            try:
                return self._send_vector(data, expect)
            except _Reset as why:
                self.stats.resets += 1
                reason = f"board reset ({why})"
                self._handshake()
            except _Restart as why:
                reason = str(why)
            except _Unanswered as why:
                if self._chunk <= MIN_CHUNK:
                    raise VectorFailed(str(why)) from None
                # Frames this long rarely pass: start again with shorter ones (a new request; any input the
                # device holds is replaced from offset 0).
                self._chunk = max(MIN_CHUNK, self._chunk // 2)
                reason = f"{why}; chunks shortened to {self._chunk} bytes"
            restarts += 1
            self.stats.restarts += 1
            if restarts > MAX_RESTARTS:
                raise VectorFailed(f"sent from the start {restarts} times; last because: {reason}")

    def _send_vector(self, data: bytes, expect: int) -> Result:
        offset = 0
        while True:
            chunk = min(self._chunk, len(data) - offset)
            last = offset + chunk == len(data)
            frame, retransmissions = self._request(
                Msg.INFER, protocol.infer_chunk(offset, data[offset : offset + chunk]),
                "result" if last else "ack")
            self._adapt_chunk(retransmissions, chunk)
            if frame.type == Msg.ERROR:
                error = protocol.DeviceErrorMsg.parse(frame.payload)
                if error.code == ErrorCode.SEQUENCE:
                    raise _Restart(f"the device lost the input at offset {offset} ({error})")
                if error.code == ErrorCode.MODEL:
                    raise VectorFailed(f"the model failed on the device ({error})")
                raise DeviceError(f"The device refused INFER: {error}")
            expected = Msg.RESULT if last else Msg.ACK
            if frame.type != expected:
                raise VectorFailed(f"the device answered INFER at offset {offset} with message type "
                                   f"0x{frame.type:02x}, not {expected.name}")
            try:
                reply = Result.parse(frame.payload) if last else Ack.parse(frame.payload)
            except (ValueError, struct.error) as exc:
                raise VectorFailed(f"malformed {expected.name}: {exc}") from None
            if reply.session != self._session:
                raise _Reset(f"a reply of session {reply.session:#x}")
            if isinstance(reply, Result):
                if len(reply.output) != expect:
                    raise VectorFailed(f"RESULT carries {len(reply.output)} bytes, expected {expect}")
                return reply
            if reply.received != offset + chunk:
                raise _Restart(f"the device holds {reply.received} input bytes, the host sent {offset + chunk}")
            offset += chunk

    def _adapt_chunk(self, retransmissions: int, chunk: int) -> None:
        """Picks the chunk that costs least per vector on this link. A short frame passes more often, but
        each one costs a round trip: with a loss rate of λ per byte, a chunk of L bytes takes
        ceil(input / L) requests of exp(λ (L + overhead)) attempts each. λ is estimated from the recent
        requests (attempts, answers, bytes)."""
        self._tries = 0.95 * self._tries + 1 + retransmissions
        self._answered = 0.95 * self._answered + 1
        self._exposed = 0.95 * self._exposed + (1 + retransmissions) * (chunk + FRAME_OVERHEAD)
        self._since_adapt += 1
        if self._since_adapt < ADAPT_EVERY:
            return
        self._since_adapt = 0
        loss = -math.log(self._answered / self._tries) / (self._exposed / self._tries)  # per byte
        info = self._connected()
        size = info.input_bytes
        full = max(1, min(info.rx_max, protocol.MAX_PAYLOAD) - 4)
        candidates, c = [full], full
        while c > MIN_CHUNK:
            c = max(MIN_CHUNK, c // 2)
            candidates.append(c)

        def cost(c: int) -> float:
            requests = -(-size // c)
            attempts = math.exp(min(50.0, loss * (min(c, size) + FRAME_OVERHEAD)))
            return requests * (attempts - 1 + ROUND_TRIP_COST)

        self._chunk = min(candidates, key=cost)


def _error_code(frame: Frame) -> int | None:
    return struct.unpack_from("<H", frame.payload)[0] if len(frame.payload) >= 2 else None
