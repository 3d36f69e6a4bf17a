"""The device's frame parser and message handling under libFuzzer, AddressSanitizer and UBSan.

tests/fuzz/fuzz_device.c drives firmware/protocol and firmware/app/tfw_device.c (the code the boards run) on
a fake board and aborts when a reply breaks docs/protocol.md; bench/fuzz.py runs the same target longer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tinyml_fw.protocol import DeviceErrorMsg, ErrorCode, FrameParser, Msg

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import fuzzing  # noqa: E402

FUZZ_SECONDS = 60


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    if fuzzing.clang() is None:
        pytest.fail("clang is missing: `make setup` installs clang and libclang-rt-14-dev (libFuzzer, sanitizers)")
    work = tmp_path_factory.mktemp("fuzz")
    binary = fuzzing.build(work / "fuzz_device")
    fuzzing.write_seeds(work / "seeds")
    return binary, work / "seeds"


def device_output(binary: Path, seed: Path, out: Path, **env: str) -> list:
    run = fuzzing.replay(binary, [seed], env={**os.environ, "TFW_FUZZ_DUMP": str(out), **env})
    assert run.returncode == 0, run.stderr[-3000:]
    parser = FrameParser()
    frames = parser.feed(out.read_bytes())
    assert parser.dropped == 0
    return frames


def test_every_seed_passes_the_oracle(fuzzer):
    binary, seeds = fuzzer
    run = fuzzing.replay(binary, sorted(seeds.iterdir()))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("Executed ") == len(fuzzing.seeds())


@pytest.mark.parametrize("seed, dropped, hello_survives", [
    ("corrupt_crc", 1, True), ("too_long", 1, True), ("cut_off", 1, True),
    ("noise", 2, True),  # the noise's header fails its check; the HELLO's SOF inside it is found again
    ("false_header", 1, False),  # a header that passes the check swallows what follows (1 in 256 of noise)
])
def test_malformed_frames_get_error_frames(fuzzer, tmp_path, seed, dropped, hello_survives):
    binary, seeds = fuzzer
    frames = device_output(binary, seeds / seed, tmp_path / "out")
    errors = [f for f in frames if f.type == Msg.ERROR and f.seq == 0]
    assert len(errors) >= dropped
    assert {DeviceErrorMsg.parse(f.payload).code for f in errors} == {ErrorCode.FRAME}
    assert any(f.type == Msg.INFO and f.seq == 1 for f in frames) == hello_survives


def test_a_conversation_gets_its_result(fuzzer, tmp_path):
    binary, seeds = fuzzer
    frames = device_output(binary, seeds / "replay", tmp_path / "out")
    assert [f.type for f in frames] == [Msg.INFO, Msg.INFO, Msg.ACK, Msg.ACK, Msg.RESULT, Msg.RESULT, Msg.RESULT]
    assert frames[-1] == frames[-2] == frames[-3]  # the retransmissions got the same RESULT


def test_the_oracle_fires_when_error_frames_go_missing(fuzzer):
    """The harness itself can fail: hide ERROR frames from it and a malformed frame is caught."""
    binary, seeds = fuzzer
    run = fuzzing.replay(binary, [seeds / "corrupt_crc"], env={**os.environ, "TFW_FUZZ_BREAK_ORACLE": "1"})
    assert run.returncode != 0
    assert "oracle:" in run.stderr


@pytest.mark.slow
def test_fuzz_the_device_parser_for_a_minute(fuzzer, tmp_path):
    binary, seeds = fuzzer
    result = fuzzing.run(binary, FUZZ_SECONDS, tmp_path / "corpus", seeds, tmp_path / "artifacts")
    print({k: v for k, v in result.items() if k != "log_tail"})
    assert result["returncode"] == 0 and not result["crashes"], result["log_tail"]
    assert result["executions"] >= 50_000, result["log_tail"]  # it really ran (~10k inputs/s on one core)
    assert result["corpus_inputs"] > len(fuzzing.seeds())  # and found inputs beyond the seeds
