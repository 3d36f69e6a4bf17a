"""The validation report as files: `report.json` (the Report, with its schema version) and one self-contained
`report.html` (inline style, plots as embedded PNG data; no external URL, so it opens offline and can be
mailed as one file). Plots: confusion matrix, error histogram, per-layer latency, memory.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from tinyml_fw.errors import TfwError

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #0a7d27; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
tr.bad td { background: #fde7ea; } .note { color: #555; font-size: 0.9em; } img { max-width: 100%; }
"""


def _png(fig) -> str:
    """The figure as an <img> whose source is the PNG's bytes (no Software tag: no URL hides in it)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode("ascii")}">'


def _figures(r: dict[str, Any], layer_estimate: list[tuple[str, float]] | None) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, str] = {}
    if r.get("confusion_matrix"):
        m = r["confusion_matrix"]
        fig, ax = plt.subplots(figsize=(5, 4.5))
        im = ax.imshow(m, cmap="Blues")
        for i, row in enumerate(m):
            for j, v in enumerate(row):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                            color="white" if v > max(map(max, m)) / 2 else "black")
        ax.set_xlabel("device's top-1")
        ax.set_ylabel("label")
        ax.set_xticks(range(len(m)))
        ax.set_yticks(range(len(m)))
        ax.set_title("Confusion matrix (device)")
        fig.colorbar(im, ax=ax, shrink=0.8)
        figs["confusion"] = _png(fig)
    hist = r.get("error_histogram") or {}
    if hist:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.bar(list(hist), list(hist.values()), color=["#0a7d27"] + ["#b00020"] * (len(hist) - 1))
        ax.set_yscale("symlog")
        ax.set_xlabel("|device − tflite-micro| (LSB)")
        ax.set_ylabel("output elements")
        ax.set_title("Error histogram")
        figs["errors"] = _png(fig)
    layers = (r.get("layers") or {}).get("layers")
    timed = (r.get("profile") or {}).get("layers")
    if timed:
        names = [f"{row['index']} {row['op']}" for row in timed]
        values = [_cost(row) for row in timed]
        unit = "instructions" if timed[0]["instructions"] is not None else "timer ticks"
        title = "Per-layer latency (measured on the device: validate --profile)"
        colors = ["#3465a4"] * len(values)
    elif layers:
        names = [f"{row['index']} {row['op']}" for row in layers]
        values = [_cost(row) for row in layers]
        unit = "instructions" if layers[0]["instructions"] is not None else "timer ticks"
        title = "Per-layer latency (measured on the device)"
        colors = ["#b00020" if not row["bit_exact"] else "#3465a4" for row in layers]
    elif layer_estimate:
        names = [name for name, _ in layer_estimate]
        values = [v for _, v in layer_estimate]
        unit = "instructions"
        title = "Per-layer latency: ESTIMATE from MACs (measure with validate --profile)"
        colors = ["#999999"] * len(values)
    else:
        names = []
    if names:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.2))
        ax.barh(names[::-1], values[::-1], color=colors[::-1])
        ax.set_xlabel(unit)
        ax.set_title(title)
        figs["layers"] = _png(fig)
    memory = [(label, int(r[key])) for label, key in MEMORY if r.get(key)]
    if memory:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(memory) + 1.2))
        ax.barh([m[0] for m in memory][::-1], [m[1] for m in memory][::-1], color="#75507b")
        ax.set_xlabel("bytes")
        ax.set_title("Memory")
        figs["memory"] = _png(fig)
    return figs


MEMORY = [("flash", "flash_bytes"), ("static RAM (ELF)", "ram_bytes"), ("tensor memory", "arena_bytes"),
          ("liveness floor", "liveness_floor_bytes"), ("TFLM arena (host)", "tflm_arena_bytes"),
          ("stack reserved", "stack_bytes"), ("stack used (measured)", "stack_used_bytes"),
          ("tensors + stack used", "working_ram_bytes")]


def _num(v: Any, fmt: str = "{:,}") -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and fmt == "{:,}":
        fmt = "{:,.4g}" if abs(v) < 100 else "{:,.0f}"
    return fmt.format(v)


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td class=n>{v}</td></tr>" for k, v in rows) + "</table>"


def render_html(r: dict[str, Any], layer_estimate: list[tuple[str, float]] | None = None) -> str:
    e = html.escape
    figs = _figures(r, layer_estimate)
    score = (lambda v: _num(v, "{:.2%}")) if r.get("metric") == "accuracy" else (lambda v: _num(v, "{:.4f}"))
    verdict = '<span class="pass">PASS</span>' if r["passed"] else '<span class="fail">FAIL</span>'
    agreement = [
        ("result", verdict),
        ("vectors", _num(r["vectors"])),
        ("bit-exact with tflite-micro", f"{r['bit_exact']}/{r['vectors']}"),
        (f"within {r['tolerance_lsb']} LSB", f"{r['within_tolerance']}/{r['vectors']}"),
        ("max |difference| (LSB)", _num(r["max_abs_diff"])),
        ("top-1 agreement", _num(r["top1_agreement"], "{:.2%}")),
        ("RMSE / MAE (dequantized)", f"{_num(r['rmse'], '{:.4g}')} / {_num(r['mae'], '{:.4g}')}"),
        ("cosine similarity", _num(r["cosine_similarity"], "{:.6f}")),
        ("first mismatch (vector)", _num(r["first_mismatch"])),
    ]
    if r.get("metric"):
        name = "accuracy" if r["metric"] == "accuracy" else "mean absolute error"
        agreement.append((f"{name}: device / reference / float model",
                          " / ".join(score(r[k]) for k in ("score_device", "score_reference", "score_float"))))
    latency = [("instructions per inference (emulated, -icount)", _num(r["instructions_per_inference"])),
               ("µs per inference", _num(r.get("us_per_inference"), "{:,.1f}")),
               ("cycles per inference" + (" (estimate: µs timer × clock)" if r.get("cycles_estimated") else ""),
                _num(r.get("cycles_per_inference"), "{:,.0f}")),
               ("timer ticks per inference", _num(r["ticks_per_inference"], "{:,.1f}"))]
    memory = [(label, _num(r.get(key))) for label, key in MEMORY]
    link = [("retransmissions", _num(r["retries"])), ("board resets", _num(r["resets"])),
            ("vectors restarted", _num(r["restarts"])), ("corrupt frames dropped", _num(r["frames_dropped"])),
            ("failed vectors", _num(len(r["failed_vectors"])))]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Validation: {e(r['board'])}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>Validation on {e(r['board'])} ({e(r['runtime'])}) — {verdict}</h1>",
             f"<p class=note>model sha256 {e(r['model_sha256'])}; report schema {r['schema_version']}</p>",
             "<h2>Agreement with tflite-micro</h2>", _table(agreement), figs.get("errors", ""),
             figs.get("confusion", ""), "<h2>Latency</h2>", _table(latency), "<h2>Memory</h2>", _table(memory),
             "<p class=note>The stack's use is measured on the device (painted at boot, high-water mark after "
             "the run); the TFLM arena is tflite-micro's smallest on this 64-bit host, an upper bound for a "
             "32-bit target.</p>", figs.get("memory", "")]
    diff = r.get("layers")
    if diff:
        first = diff["first_divergent_layer"]
        head = ("every layer is bit-exact" if first is None else
                f"first departs at <b>{e(diff['layers'][first]['name'])}</b> (vector {diff['first_divergent_vector']})")
        rows = "".join(
            f"<tr{' class=bad' if not row['bit_exact'] else ''}><td class=n>{row['index']}</td><td>{e(row['name'])}"
            f"</td><td>{e(str(row['shape']))}</td><td class=n>{row['max_abs_diff']}</td><td class=n>{row['differing']}"
            f"</td><td class=n>{_num(_cost(row))}</td></tr>"
            for row in diff["layers"])
        parts += [f"<h2>Per-layer diff (vectors {', '.join(map(str, diff['vectors']))})</h2><p>{head}</p>",
                  "<table><tr><th>#</th><th>layer</th><th>shape</th><th>max |diff|</th><th>differing</th>"
                  f"<th>instructions</th></tr>{rows}</table><p class=note>Latency {e(diff['latency_source'])}.</p>"]
    prof = r.get("profile")
    if prof:
        emulated = prof["total_instructions"] is not None
        rows = "".join(
            f"<tr><td class=n>{row['index']}</td><td>{e(row['name'])}</td><td class=n>{_num(row['macs'])}</td>"
            f"<td class=n>{_num(round(_cost(row)))}</td><td class=n>{_num(row['instructions_per_mac'], '{:.2f}')}</td>"
            f"<td class=n>{row['share']:.1%}</td></tr>" for row in prof["layers"])
        total, run = ((prof["total_instructions"], prof["run_instructions"]) if emulated
                      else (prof["total_ticks"], prof["run_ticks"]))
        unit = "instructions" if emulated else "ticks"
        parts += [f"<h2>Per-layer profile (vectors {', '.join(map(str, prof['vectors']))})</h2>",
                  f"<table><tr><th>#</th><th>layer</th><th>MACs</th><th>{unit}</th><th>per MAC</th><th>share</th>"
                  f"</tr>{rows}</table><p class=note>The layers add up to {_num(round(total))} {unit}; the untimed "
                  f"runs of the same vectors took {_num(round(run))} ({prof['difference']:+.2%}). Latency "
                  f"{e(prof['source'])}.</p>"]
    elif not diff:
        parts.append("<h2>Per-layer latency</h2><p class=note>Not measured: the bars are an estimate from each "
                     "layer's MACs, scaled to the measured total. Run <code>validate --profile</code> to measure "
                     "them on the device.</p>" if layer_estimate else "")
    parts += [figs.get("layers", ""), "<h2>Link</h2>", _table(link)]
    if r["failed_vectors"]:
        parts.append("<ul>" + "".join(f"<li>vector {f['index']}: {e(f['reason'])}</li>" for f in r["failed_vectors"])
                     + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def layer_estimate(model_path: str | Path, total: float | None) -> list[tuple[str, float]] | None:
    """Each layer's share of the measured total, in proportion to its MACs: an estimate, labelled so."""
    if not total:
        return None
    from tinyml_fw.analyze import analyze

    layers = analyze(model_path, measure_arena=False).layers
    macs = sum(layer.macs for layer in layers)
    if not macs:
        return None
    return [(f"{layer.index} {layer.op}", total * layer.macs / macs) for layer in layers]


def write_report(report, folder: str | Path, model_path: str | Path | None = None, log=print) -> Path:
    """Writes report.json and report.html into `folder` (created); returns the HTML's path."""
    folder = Path(folder)
    data = report.to_dict()
    estimate = None
    if not data.get("layers") and not data.get("profile") and model_path is not None:
        estimate = layer_estimate(model_path, data.get("instructions_per_inference") or data.get("ticks_per_inference"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(report.to_json() + "\n")
        page = folder / "report.html"
        page.write_text(render_html(data, estimate), encoding="utf-8")
    except OSError as exc:
        raise TfwError(f"Cannot write the report to {folder}: {exc.strerror or exc}.") from None
    log(f"Wrote {folder / 'report.json'} and {page}")
    return page


def _cost(row: dict) -> Any:
    """A layer's instructions (emulated boards), else its ticks (real ones)."""
    return row["instructions"] if row["instructions"] is not None else row["ticks"]
