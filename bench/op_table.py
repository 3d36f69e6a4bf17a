"""Every op table (tests/c/op_table.py): each parameter set converted, run by the TFLM interpreter and by
the host-built C kernels with the calls the lowerings plan, compared bit for bit.

    .venv/bin/python bench/op_table.py [--vectors N] [--out bench/results/op_table.json] [--only CONV_2D ADD ...]

Writes JSON: per op table, the number of cases, how many were bit-exact on every vector, the vectors
compared, and the mismatching cases. Converted models are cached in $TINYML_FW_HOME/op-table (or
~/.cache/tinyml-fw/op-table)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "c")]

import harness  # noqa: E402
import op_table  # noqa: E402

from tinyml_fw.paths import home  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=None,
                    help="input vectors per case (default: the table's own, 64 or 24, extremes added)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "op_table.json")
    ap.add_argument("--only", nargs="*", choices=op_table.TABLES, help="some op tables only")
    args = ap.parse_args(argv)
    cache = home() / "op-table"
    cache.mkdir(parents=True, exist_ok=True)
    kernels = harness.shared()
    report, started, failed = {}, time.monotonic(), 0
    for table in args.only or op_table.TABLES:
        entry = {"cases": 0, "bit_exact": 0, "vectors": 0, "mismatches": []}
        for case in op_table.cases(table):
            try:
                r = op_table.check(case, kernels, cache, n=args.vectors)
                ok, detail = r.exact == r.vectors, r.first_mismatch
                entry["vectors"] += r.vectors
            except Exception as exc:  # a refusal or a conversion failure is a failed case too
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            entry["cases"] += 1
            entry["bit_exact"] += ok
            if not ok:
                entry["mismatches"].append({"case": case.id, "detail": detail})
        failed += entry["cases"] - entry["bit_exact"]
        report[table] = entry
        print(f"{table:24s} {entry['bit_exact']:3d}/{entry['cases']:3d} cases bit-exact "
              f"({entry['vectors']} vectors)", flush=True)
    summary = {"seconds": round(time.monotonic() - started, 1), "ops": report}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
