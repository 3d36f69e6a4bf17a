"""The whole op table of the elementwise, activation, shape and conversion ops (tests/c/ew_table.py):
every parameter set converted, run by the TFLM interpreter and by the host-built C kernels with the
calls the lowerings plan, compared byte for byte.

    .venv/bin/python bench/op_table_elementwise.py [--vectors N] [--out bench/results/op_table_elementwise.json]
                                                   [--only ADD TANH_16x8 ...]

Writes JSON: per op table, the number of cases, how many were bit-exact on every vector, the vectors
compared, and the mismatching cases. Converted models are cached in $TINYML_FW_HOME/op-table-ew (or
~/.cache/tinyml-fw/op-table-ew)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "c")]

import ew_harness  # noqa: E402
import ew_table  # noqa: E402
from tinyml_fw.paths import home  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=24, help="input vectors per case (extremes included)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "op_table_elementwise.json")
    ap.add_argument("--only", nargs="*", choices=ew_table.TABLES, help="some op tables only")
    args = ap.parse_args(argv)
    cache = home() / "op-table-ew"
    cache.mkdir(parents=True, exist_ok=True)
    report, started, failed = {}, time.monotonic(), 0
    with tempfile.TemporaryDirectory() as build:
        kernels = ew_harness.build(Path(build))
        for table in args.only or ew_table.TABLES:
            entry = {"cases": 0, "bit_exact": 0, "vectors": 0, "mismatches": []}
            for case in ew_table.cases(table):
                try:
                    r = ew_table.check(case, kernels, cache, n=args.vectors)
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
            print(f"{table:20s} {entry['bit_exact']:3d}/{entry['cases']:3d} cases bit-exact "
                  f"({entry['vectors']} vectors)", flush=True)
    summary = {"seconds": round(time.monotonic() - started, 1), "ops": report}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
