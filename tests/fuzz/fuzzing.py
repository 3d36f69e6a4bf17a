"""Builds and runs the libFuzzer target of the device's protocol code (tests/test_fuzz.py, bench/fuzz.py).

The target is fuzz_device.c: the device's parser and message handling (firmware/protocol, firmware/app/
tfw_device.c) on the fake board of fake_board.c, under AddressSanitizer and UBSan, with an oracle that
aborts on any reply the protocol does not allow. Seeds are valid conversations written by the host's own
encoder (tinyml_fw.protocol), plus a few malformed ones.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tinyml_fw import protocol
from tinyml_fw.protocol import Msg

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent.parent
FIRMWARE = ROOT / "firmware"
SOURCES = [FIRMWARE / "protocol/tfw_frame.c", FIRMWARE / "protocol/tfw_crc32.c", FIRMWARE / "app/tfw_device.c",
           FUZZ / "fake_board.c", FUZZ / "fuzz_device.c"]
INCLUDES = [FIRMWARE / "protocol", FIRMWARE / "common", FIRMWARE / "app", FIRMWARE / "board", FUZZ]
FLAGS = ["-std=c11", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=all"]
INPUT_BYTES, RX_MAX = 600, 256  # fake_board.h, tfw_config.h
MAX_LEN = 4096


def clang() -> str | None:
    return shutil.which("clang") or shutil.which("clang-14")


def build(out: Path) -> Path:
    """Compiles the fuzzer into `out` (a file path); raises CalledProcessError with the compiler's output."""
    cc = clang()
    if cc is None:
        raise FileNotFoundError("clang is not installed (Debian: clang libclang-rt-14-dev; `make setup`)")
    cmd = [cc, *FLAGS, *(f"-I{i}" for i in INCLUDES), *map(str, SOURCES), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def _records(*frames: tuple[int, int, bytes]) -> bytes:
    """The fuzzer's structured mode: records of (type selector, seq, length, payload)."""
    selector = {Msg.HELLO: 0, Msg.INFER: 1}  # other types: selector (type << 2) | 3
    out = b"\x01"
    for type_, seq, payload in frames:
        code = 255 if len(payload) == RX_MAX else min(len(payload), 254)  # 255: RX_MAX bytes
        out += bytes([selector.get(type_, ((type_ << 2) | 3) & 0xFF), seq, code]) + payload[:RX_MAX if code == 255 else 254]
    return out


def _vector(first_seq: int, data: bytes, chunk: int = RX_MAX - 4) -> list[tuple[int, int, bytes]]:
    return [(Msg.INFER, first_seq + i, protocol.infer_chunk(off, data[off : off + chunk]))
            for i, off in enumerate(range(0, len(data), chunk))]


def _false_header(then: bytes) -> bytes:
    """A noise SOF whose header passes the check and promises 200 bytes, followed by `then`."""
    header = bytes([0x10, 9]) + (200).to_bytes(2, "little")
    return bytes([protocol.SOF]) + header + bytes([protocol.crc8(header)]) + b"\x01\x02" + then


def seeds() -> dict[str, bytes]:
    """Named seed inputs: valid conversations (raw and structured), and malformed streams."""
    data = bytes(range(256)) * 2 + bytes(INPUT_BYTES - 512)
    hello = (Msg.HELLO, 1, protocol.hello(0x1234_5678))
    vector = _vector(2, data)
    raw = lambda frames: b"\x00" + b"".join(protocol.encode(*f) for f in frames)  # noqa: E731
    corrupt = bytearray(protocol.encode(*vector[0]))
    corrupt[20] ^= 0x10
    return {
        "conversation": raw([hello, *vector]),
        "replay": raw([hello, *vector, vector[-1], vector[-1]]),
        "lost_ack": raw([hello, vector[0], vector[0], *vector[1:]]),
        "two_vectors": raw([hello, *vector, *_vector(5, data[::-1])]),
        "empty_hello": raw([(Msg.HELLO, 9, b"")]),
        "bad_requests": raw([(Msg.HELLO, 1, b"\x00\x00\x00\x00"), (Msg.HELLO, 2, b"xy"), (Msg.INFER, 3, b"\x01"),
                             (Msg.INFER, 4, protocol.infer_chunk(8, b"abc")), (0x77, 5, b"?")]),
        "overrun": raw([hello, (Msg.INFER, 2, protocol.infer_chunk(0, bytes(INPUT_BYTES - 10))),
                        (Msg.INFER, 3, protocol.infer_chunk(INPUT_BYTES - 10, bytes(20)))]),
        "model_fails": raw([hello, *_vector(2, b"\x7f\x80" + data[2:])]),
        "noise": b"\x00" + b"\xa5\x13\x00" + protocol.encode(*hello) + b"\xa5\xa5\xff\xff" + b"".join(
            b"\x5a" + protocol.encode(*f) for f in vector),
        "false_header": b"\x00" + _false_header(protocol.encode(*hello)),
        "corrupt_crc": b"\x00" + bytes(corrupt) + protocol.encode(*hello),
        "too_long": b"\x00" + protocol.encode(Msg.INFER, 2, bytes(RX_MAX + 1)) + protocol.encode(*hello),
        "cut_off": raw([hello]) + protocol.encode(*vector[0])[:40],
        "probe": raw([hello, (Msg.PROBE, 2, protocol.probe(0, 0, 0)), *_vector(3, data),
                      (Msg.PROBE, 6, protocol.probe(0, 0, 1000)), (Msg.PROBE, 7, protocol.probe(0, 590, 64)),
                      (Msg.PROBE, 8, protocol.probe(1, 0, 64)), (Msg.PROBE, 9, protocol.probe(0xFFFF, 0, 0)),
                      *_vector(10, data), (Msg.PROBE, 13, protocol.probe(1, 0, 64))]),
        "probe_errors": raw([(Msg.PROBE, 1, b"\x00"), (Msg.PROBE, 2, protocol.probe(2, 0, 1)),
                             (Msg.PROBE, 3, protocol.probe(1, 11, 1)), (Msg.PROBE, 4, protocol.probe(0xFFFF, 1, 1))]),
        "profile": raw([hello, (Msg.PROFILE, 2, protocol.profile(True)), *_vector(3, data),
                        (Msg.PROFILE, 6, protocol.profile(True, 1)), (Msg.PROBE, 7, protocol.probe(0, 0, 0)),
                        *_vector(8, data), (Msg.PROFILE, 11, protocol.profile(False)), *_vector(12, data),
                        (Msg.PROFILE, 15, protocol.profile(False, 1)), (Msg.PROFILE, 16, protocol.profile(True, 1))]),
        "profile_errors": raw([(Msg.PROFILE, 1, b"\x01"), (Msg.PROFILE, 2, b"\x02\x00\x00"),
                               (Msg.PROFILE, 3, protocol.profile(True, 1)), *_vector(4, b"\x7f\x80" + data[2:]),
                               (Msg.PROFILE, 7, protocol.profile(False, 2)), (Msg.PROFILE, 8, protocol.profile(False, 3))]),
        "structured": _records(hello, *vector, vector[-1]),
        "structured_profile": _records(hello, (Msg.PROFILE, 2, protocol.profile(True)), *_vector(3, data),
                                       (Msg.PROFILE, 6, protocol.profile(False))),
        "structured_errors": _records((Msg.INFER, 1, b""), (0x30, 2, b"x"), (Msg.HELLO, 3, b"\x00" * 4)),
    }


def write_seeds(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, blob in seeds().items():
        assert len(blob) <= MAX_LEN, name
        path = folder / name
        path.write_bytes(blob)
        paths.append(path)
    return paths


def run(binary: Path, seconds: int, corpus: Path, seed_dir: Path, artifacts: Path,
        extra: list[str] = ()) -> dict:
    """Fuzzes for `seconds`; returns the run's figures, its exit code and any crash files."""
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    before = set(artifacts.iterdir())
    cmd = [str(binary), f"-max_total_time={seconds}", f"-max_len={MAX_LEN}", "-timeout=10",
           "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={artifacts}/", *extra,
           str(corpus), str(seed_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    log = proc.stderr

    def stat(name: str) -> int | None:
        match = re.search(rf"stat::{name}:\s+(\d+)", log)
        return int(match.group(1)) if match else None

    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", log)
    return {
        "seconds": seconds,
        "returncode": proc.returncode,
        "executions": stat("number_of_executed_units"),
        "executions_per_second": stat("average_exec_per_sec"),
        "peak_rss_mb": stat("peak_rss_mb"),
        "edges_covered": int(cov[-1][0]) if cov else None,
        "features": int(cov[-1][1]) if cov else None,
        "corpus_inputs": int(cov[-1][2]) if cov else None,
        "crashes": sorted(p.name for p in set(artifacts.iterdir()) - before),  # found by this run
        "log_tail": "\n".join(log.splitlines()[-25:]),
    }


def replay(binary: Path, inputs: list[Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs the target once on each input file (no fuzzing): the oracle still checks every reply."""
    return subprocess.run([str(binary), *map(str, inputs)], capture_output=True, text=True, timeout=120, env=env)
