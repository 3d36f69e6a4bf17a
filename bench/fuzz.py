"""Longer fuzzing of the device's frame parser and message handling (libFuzzer + ASan + UBSan) → JSON.

Usage: python bench/fuzz.py [--seconds 600] [--corpus bench/results/fuzz-corpus] [--out bench/results/fuzz.json]

The same target as tests/test_fuzz.py (tests/fuzz/fuzz_device.c, 60 s there). The corpus folder is kept between
runs, so each run starts from what the last one found. Exits 1 when the fuzzer found a crash or an oracle
violation; the input that caused it is in the artifacts folder named in the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "fuzz"))
import fuzzing  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--corpus", default=str(HERE / "results" / "fuzz-corpus"))
    parser.add_argument("--out", default=str(HERE / "results" / "fuzz.json"))
    args = parser.parse_args()

    if fuzzing.clang() is None:
        print("clang is missing: `make setup` installs clang and libclang-rt-14-dev", file=sys.stderr)
        return 4
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    artifacts = out.parent / "fuzz-artifacts"
    with tempfile.TemporaryDirectory() as tmp:
        binary = fuzzing.build(Path(tmp) / "fuzz_device")
        seeds = Path(tmp) / "seeds"
        fuzzing.write_seeds(seeds)
        result = fuzzing.run(binary, args.seconds, Path(args.corpus), seeds, artifacts)
    result["artifacts"] = str(artifacts)
    tail = result.pop("log_tail")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if result["returncode"] != 0 or result["crashes"]:
        print(tail, file=sys.stderr)
        return 1
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
