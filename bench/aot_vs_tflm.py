"""The AOT engine against real TFLM → bench/results/aot_vs_tflm.json: per recipe and emulated core, flash
(code + weights), RAM (AOT plan + stack used), instructions per inference, and instructions per MAC of every
layer of 10k MACs or more (timed per layer on the device in one run, `validate --profile`), beside the TFLM figures of
../shared/reference/tflm-reference.md (real TFLM on the emulated Cortex-M4, where that file has the model).

Usage: python bench/aot_vs_tflm.py [--boards mps2-an386,mps2-an500] [--recipes digits-mlp,sine,...] [--limit 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tinyml_fw import __version__, analyze, deploy, validate
from tinyml_fw.recipes import RECIPES

BIG_LAYER_MACS = 10_000
MAC_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
# ../shared/reference/tflm-reference.md, real TFLM on QEMU mps2-an386 (Cortex-M4F), -Os, newlib-nano:
# flash of the whole app, instructions of one Invoke (the lower end of the measured range).
TFLM_M4 = {
    "digits-mlp": {"reference": {"flash_bytes": 30_572, "instructions": 28_444},
                   "cmsis_nn": {"flash_bytes": 39_084, "instructions": 11_961}},
    "sine": {"reference": {"flash_bytes": 23_772, "instructions": 6_387},
             "cmsis_nn": {"flash_bytes": 30_396, "instructions": 4_112}},
}


def measure(recipe: str, board: str, limit: int, work: Path) -> dict:
    run = deploy(recipe, board, work, limit=limit, log=lambda _: None)
    a = analyze(run.quantized.tflite_path)
    data = run.trained.data_path
    timed = validate(run.project.path, data, limit=5, profile=True, log=lambda _: None).profile
    assert timed is not None
    per_layer = [{"layer": row["name"], "op": row["op"], "macs": row["macs"], "instructions": row["instructions"],
                  "instructions_per_mac": row["instructions_per_mac"]} for row in timed["layers"]]
    r = run.report
    out = {
        "recipe": recipe, "board": board, "vectors": r.vectors, "bit_exact": r.bit_exact, "macs": a.total_macs,
        "flash_bytes": r.flash_bytes, "static_ram_bytes": r.ram_bytes, "plan_bytes": r.arena_bytes,
        "stack_used_bytes": r.stack_used_bytes, "ram_plan_plus_stack_bytes": r.working_ram_bytes,
        "instructions_per_inference": round(r.instructions_per_inference or 0),
        "instructions_per_mac": round((r.instructions_per_inference or 0) / a.total_macs, 3),
        "layers": per_layer,
        "profile_vs_untimed": round(timed["difference"], 4),
        "big_layers": [x for x in per_layer if x["op"] in MAC_OPS and x["macs"] >= BIG_LAYER_MACS],
    }
    tflm = TFLM_M4.get(recipe)
    if tflm and board == "mps2-an386":
        out["tflm_m4"] = tflm
        best = tflm["cmsis_nn"]
        out["vs_tflm_cmsis_nn"] = {"flash": round(out["flash_bytes"] / best["flash_bytes"], 3),
                                   "instructions": round(out["instructions_per_inference"] / best["instructions"], 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", default="mps2-an386,mps2-an500")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--limit", type=int, default=20, help="test vectors per recipe and board")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "aot_vs_tflm.json"))
    args = parser.parse_args()
    rows = []
    for board in args.boards.split(","):
        for recipe in args.recipes.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(measure(recipe, board, args.limit, Path(tmp)))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "layers"}))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"toolkit": __version__, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
