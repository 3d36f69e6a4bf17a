"""Each recipe through the whole pipeline on an emulated board → bench/results/recipes.json.

Per recipe: float and int8 score, MACs, weights, the AOT plan against the liveness floor and the TFLM arena
(64-bit host figure), flash and RAM of the firmware, instructions per inference, and bit-exactness.
Usage: python bench/recipes.py [--board mps2-an386] [--limit 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tinyml_fw import __version__, analyze, deploy
from tinyml_fw.recipes import RECIPES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--limit", type=int, default=200, help="test vectors per recipe")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recipes.json"))
    args = parser.parse_args()
    rows = []
    for name in RECIPES:
        with tempfile.TemporaryDirectory() as tmp:
            run = deploy(name, args.board, Path(tmp), limit=args.limit, log=lambda _: None)
            a = analyze(run.quantized.tflite_path)
        r = run.report
        rows.append({
            "recipe": name, "metric": r.metric, "float_test_set": run.quantized.float_score,
            "int8_test_set": run.quantized.quantized_score, "int8_device": r.score_device, "vectors": r.vectors,
            "bit_exact": r.bit_exact, "macs": a.total_macs,
            "weight_bytes": a.weight_bytes, "liveness_floor": a.liveness_floor, "aot_arena": a.aot_arena_bytes,
            "tflm_arena_host64": a.tflm_arena_bytes, "flash_bytes": r.flash_bytes, "ram_bytes": r.ram_bytes,
            "instructions_per_inference": r.instructions_per_inference,
            "stack_used_bytes": r.stack_used_bytes, "working_ram_bytes": r.working_ram_bytes,
        })
        print(json.dumps(rows[-1]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"toolkit": __version__, "board": args.board, "recipes": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
