"""Benchmark of the whole pipeline: seconds per stage, instructions per inference, flash and RAM → JSON.

Usage: python bench/deploy.py [--recipe mnist-mlp] [--board mps2-an386] [--out bench/results/deploy.json]
Wall times are for information only (they vary with the machine); instruction counts and bytes are exact.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from tinyml_fw import __version__
from tinyml_fw.deploy import deploy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mnist-mlp")
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--limit", type=int, default=None, help="validate only N vectors")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "deploy.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run = deploy(args.recipe, args.board, Path(tmp) / "deploy", limit=args.limit, log=lambda _: None)
    report = run.report
    result = {
        "toolkit": __version__, "machine": platform.machine(), "recipe": args.recipe, "board": args.board,
        "seconds": run.seconds, "vectors": report.vectors, "bit_exact": report.bit_exact,
        "instructions_per_inference": report.instructions_per_inference,
        "flash_bytes": report.flash_bytes, "ram_bytes": report.ram_bytes, "arena_bytes": report.arena_bytes,
        "float_accuracy": report.float_accuracy, "accuracy_device": report.accuracy_device,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
