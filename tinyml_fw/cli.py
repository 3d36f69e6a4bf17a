"""The `tinyml-fw` command: one verb per stage, and `deploy` for all of them.

Exit codes: 0 passed, 1 validation failed, 2 bad input, 3 device error, 4 missing tool, 5 build failed,
130 interrupted, 143/129 terminated (SIGTERM/SIGHUP). Stages are imported inside their verbs so that
`--help` and bad input answer at once.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tinyml_fw import __version__, config
from tinyml_fw.errors import EXIT_INTERRUPTED, BadInput, TfwError, ValidationFailed

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def log(message: str) -> None:
    if message.startswith("warning:"):
        err.print(message, markup=False)
    else:
        out.print(message, markup=False)


def _progress() -> Progress:
    return Progress(TextColumn("Validating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=out, transient=True)


def _write_json(path: str | None, text: str) -> None:
    if path:
        try:
            Path(path).write_text(text + "\n")
        except OSError as exc:
            raise TfwError(f"Cannot write {path}: {exc.strerror or exc}.") from None
        log(f"Wrote {path}")


def _fmt(metric: str | None, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.4f}"


def _show_report(report) -> None:
    table = Table(title=f"Validation on {report.board} ({report.runtime})", show_header=False)
    rows = [
        ("vectors", f"{report.vectors}"),
        ("bit-exact with tflite-micro", f"{report.bit_exact}/{report.vectors}"),
        ("max |difference| (LSB)", f"{report.max_abs_diff}"),
        ("top-1 agreement", f"{report.top1_agreement:.2%}"),
    ]
    if report.metric:
        name = "accuracy" if report.metric == "accuracy" else "mean absolute error"
        rows.append((f"{name}: device / reference / float", " / ".join(
            _fmt(report.metric, v) for v in (report.score_device, report.score_reference, report.score_float))))
    if report.tolerance_lsb:
        rows.insert(2, (f"within {report.tolerance_lsb} LSB", f"{report.within_tolerance}/{report.vectors}"))
    if report.rmse is not None:
        rows.append(("RMSE / MAE / cosine similarity",
                     f"{report.rmse:.4g} / {report.mae:.4g} / {report.cosine_similarity:.6f}"))
    rows += [
        ("instructions per inference", "–" if report.instructions_per_inference is None
         else f"{report.instructions_per_inference:,.0f}"),
    ]
    if report.us_per_inference is not None:
        rows.append(("µs / cycles per inference" + (" (estimated)" if report.cycles_estimated else ""),
                     f"{report.us_per_inference:,.1f} / {report.cycles_per_inference:,.0f}"))
    rows += [
        ("flash / RAM / arena (bytes)", f"{report.flash_bytes:,} / {report.ram_bytes:,} / {report.arena_bytes:,}"),
        ("tensors + stack used = RAM at run time (bytes)",
         "–" if report.working_ram_bytes is None else f"{report.arena_bytes:,} + {report.stack_used_bytes:,} = "
         f"{report.working_ram_bytes:,} (stack reserved {report.stack_bytes:,})"),
        ("liveness floor / TFLM arena (bytes)",
         " / ".join("–" if v is None else f"{v:,}" for v in (report.liveness_floor_bytes, report.tflm_arena_bytes))),
        ("link: retries / resets / failed vectors",
         f"{report.retries} / {report.resets} / {len(report.failed_vectors)}"),
        ("result", "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    if report.layers:
        _show_layers(report.layers)
    if report.profile:
        _show_profile(report.profile)


def _show_layers(diff: dict) -> None:
    table = Table(title=f"Per-layer diff against tflite-micro (vectors {', '.join(map(str, diff['vectors']))})")
    for col in ("#", "layer", "max |diff|", "differing", "instructions"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for row in diff["layers"]:
        cost = row["instructions"] if row["instructions"] is not None else row["ticks"]
        style = None if row["bit_exact"] else "red"
        table.add_row(str(row["index"]), row["name"], str(row["max_abs_diff"]), str(row["differing"]),
                      f"{cost:,.0f}", style=style)
    out.print(table)
    first = diff["first_divergent_layer"]
    if first is None:
        log("Every layer is bit-exact with tflite-micro.")
    else:
        log(f"First layer that departs from tflite-micro: {diff['layers'][first]['name']} "
            f"(vector {diff['first_divergent_vector']})")
    log(f"Per-layer latency {diff['latency_source']}.")


def _show_profile(prof: dict) -> None:
    emulated = prof["total_instructions"] is not None
    unit = "instructions" if emulated else "µs" if prof["layers"] and prof["layers"][0]["us"] is not None else "ticks"
    table = Table(title=f"Per-layer profile (vectors {', '.join(map(str, prof['vectors']))})")
    for col in ("#", "layer", "MACs", unit, "per MAC", "share"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for row in prof["layers"]:
        cost = row["instructions"] if emulated else row["us"] if unit == "µs" else row["ticks"]
        per_mac = "–" if row["instructions_per_mac"] is None else f"{row['instructions_per_mac']:.2f}"
        table.add_row(str(row["index"]), row["name"], f"{row['macs']:,}",
                      f"{cost:,.1f}" if unit == "µs" else f"{cost:,.0f}", per_mac, f"{row['share']:.1%}")
    out.print(table)
    total, run = ((prof["total_instructions"], prof["run_instructions"]) if emulated
                  else (prof["total_ticks"], prof["run_ticks"]))
    what = "instructions" if emulated else "ticks"
    log(f"Layers add up to {total:,.0f} {what}; the untimed runs of the same vectors took {run:,.0f} "
        f"({prof['difference']:+.2%}). Latency {prof['source']}.")


def _finish(report, json_path: str | None, report_dir: str | None = None, model_path=None) -> None:
    _show_report(report)
    _write_json(json_path, report.to_json())
    if report_dir:
        from tinyml_fw.report import write_report

        write_report(report, report_dir, model_path, log=log)
    if not report.passed:
        failed = report.failed_vectors
        differ = report.vectors - report.bit_exact - len(failed)
        problems = []
        if differ:
            beyond = f" by more than {report.tolerance_lsb} LSB" if report.tolerance_lsb else ""
            differ = report.vectors - report.within_tolerance - len(failed)
            problems.append(f"{differ} of {report.vectors} outputs differ from the reference{beyond} "
                            f"(first at vector {report.first_mismatch})")
        if failed:
            problems.append(f"{len(failed)} of {report.vectors} vectors failed on the link (first, vector "
                            f"{failed[0]['index']}: {failed[0]['reason']})")
        raise ValidationFailed("; ".join(problems) + ".")


# Options shared by several verbs.
board_option = click.option("--board", default="mps2-an386", show_default=True, envvar=config.ENV["board"],
                            help="Board id (boards/*.json); env TINYML_FW_BOARD.")
port_option = click.option("--port", envvar=config.ENV["port"],
                           help="Serial port or URL of a running device (default: start the emulated board).")
data_option = click.option("--data", type=click.Path(), help=".npz with 'x' (and 'y'), or .npy of inputs.")
random_option = click.option("--random", type=click.IntRange(min=1), help="Use N random inputs (no data).")
scheme_option = click.option("--scheme", type=click.Choice(["int8", "16x8"]), default="int8", show_default=True,
                             help="Quantization: int8, or int16 activations with int8 weights.")
json_option = click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write JSON here.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinyml-fw")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """From a Keras model to a model validated on a microcontroller.

    Defaults for --board, --port and --runtime come from [tool.tinyml-fw] in pyproject.toml, overridden by
    TINYML_FW_BOARD / TINYML_FW_PORT / TINYML_FW_RUNTIME, overridden by the command line.
    """
    ctx.obj = {"debug": debug}


@cli.command()
def recipes() -> None:
    """List the training recipes."""
    from tinyml_fw.recipes import RECIPES

    table = Table("recipe", "task", "operators", "description")
    for recipe in RECIPES.values():
        table.add_row(recipe.name, recipe.task, ", ".join(recipe.ops), recipe.description)
    out.print(table)


@cli.group()
def cache() -> None:
    """The cache of trained models (~/.cache/tinyml-fw or $TINYML_FW_HOME)."""


@cache.command("clear")
def cache_clear() -> None:
    """Remove every cached trained model."""
    from tinyml_fw import cache as store

    log(f"Removed {store.clear()} cached entries from {store.root()}")


@cli.command()
@click.option("--recipe", default="mnist-mlp", show_default=True, help="What to train (see `recipes`).")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: the cache).")
@click.option("--retrain", is_flag=True, help="Train again even if a trained model is cached.")
def train(recipe: str, seed: int, out_dir: str | None, retrain: bool) -> None:
    """Train a recipe's Keras model."""
    from tinyml_fw.train import train as run

    trained = run(recipe, out_dir, seed=seed, force=retrain, log=log)
    log(f"Model: {trained.model_path}\nData: {trained.data_path}")


@cli.command()
@click.argument("model", type=click.Path())
@data_option
@random_option
@scheme_option
@click.option("--out", "out_dir", default="model", show_default=True, type=click.Path(file_okay=False))
@click.option("--samples", default=300, show_default=True, type=click.IntRange(min=1), help="Calibration samples.")
@click.option("--max-drop", type=float, help="Warn when quantization loses more accuracy (or adds more error).")
def quantize(model: str, data: str | None, random: int | None, scheme: str, out_dir: str, samples: int,
             max_drop: float | None) -> None:
    """Quantize a Keras model, SavedModel or float .tflite to a full-integer .tflite."""
    from tinyml_fw.quantize import quantize as run

    result = run(model, data, out_dir, scheme=scheme, samples=samples, random=random, max_drop=max_drop, log=log)
    log(f"sha256 {result.sha256}")


@cli.command()
@click.argument("model", type=click.Path())
@click.option("--board", envvar=config.ENV["board"], help="Also check flash and RAM against this board.")
@click.option("--no-arena", is_flag=True, help="Skip measuring the TFLM arena (a few seconds).")
@json_option
def analyze(model: str, board: str | None, no_arena: bool, json_path: str | None) -> None:
    """Operators, shapes, parameters, MACs, memory and fit of a model."""
    from tinyml_fw.analyze import analyze as run

    a = run(model, board=board, measure_arena=not no_arena)
    table = Table(title=f"{Path(model).name} ({a.size_bytes:,} bytes as .tflite)")
    for col in ("#", "op", "input", "output", "params", "MACs"):
        table.add_column(col, justify="right" if col in ("#", "params", "MACs") else "left")
    for layer in a.layers:
        table.add_row(str(layer.index), layer.op, str(layer.input_shape), str(layer.output_shape),
                      f"{layer.params:,}", f"{layer.macs:,}")
    out.print(table)
    log("Operators: " + ", ".join(f"{op} ×{n}" for op, n in a.op_counts.items()))
    log(f"Total MACs {a.total_macs:,}; parameters {a.params:,} ({a.weight_bytes:,} B); "
        f"liveness floor {a.liveness_floor:,} B")
    log(f"AOT plan: {a.aot_arena_bytes:,} B of tensor memory" if a.aot_supported else f"AOT engine: {a.aot_refusal}")
    if a.tflm_arena_bytes:
        log(f"TFLM arena: {a.tflm_arena_bytes:,} B ({a.tflm_arena_note})")
    if a.fit:
        f = a.fit
        log(f"On {f['board']}: flash {f['flash_needed']:,} of {f['flash_available']:,} B, "
            f"RAM {f['ram_needed']:,} of {f['ram_available']:,} B (estimates before building)")
    if a.tflm_fit:
        f = a.tflm_fit
        log(f"TFLM on {f['board']}: flash {f['flash_needed']:,} of {f['flash_available']:,} B, RAM "
            f"{f['ram_needed']:,} of {f['ram_available']:,} B, arena {a.tflm_arena_planned:,} B (estimates)")
    if a.tflm_refusal:
        log(f"TFLM: {a.tflm_refusal}")
    if a.default_runtime:
        log(f"Default runtime on {board}: {a.default_runtime}")
    _write_json(json_path, a.to_json())


@cli.command()
@click.argument("model", type=click.Path())
@board_option
@click.option("--out", "out_dir", default="project", show_default=True, type=click.Path(file_okay=False))
@click.option("--runtime", default=None, envvar=config.ENV["runtime"], type=click.Choice(["aot", "tflm"]),
              help="Default: tflm on a real board whose TFLM library is verified, aot otherwise.")
@click.option("--tflm-tree", type=click.Path(file_okay=False),
              help="A TFLM tree made by create_tflm_tree.py: TFLM on the emulated board (docs/tflm.md).")
@click.option("--name", help="C name of the model (default: from the file name).")
@click.option("--force", is_flag=True, help="Overwrite files edited since they were generated.")
@data_option
@random_option
@scheme_option
def generate(model: str, board: str, out_dir: str, runtime: str | None, tflm_tree: str | None, name: str | None,
             force: bool, data: str | None, random: int | None, scheme: str) -> None:
    """Render a PlatformIO project for a model and a board (quantizing it first when given data)."""
    from tinyml_fw.generate import generate as run

    project = run(model, board, out_dir, runtime=runtime, tflm_tree=tflm_tree, name=name, force=force, data=data,
                  random=random,
                  scheme=scheme, log=log)
    log(f"Build it with `tinyml-fw build {project.path}`")


@cli.command()
@click.argument("project", type=click.Path(), default="project")
@click.option("-v", "--verbose", is_flag=True, help="Show the compiler's command lines.")
def build(project: str, verbose: bool) -> None:
    """Build a generated project's firmware with PlatformIO."""
    from tinyml_fw.build import build as run

    run(project, verbose=verbose, log=log)


@cli.command()
@click.argument("project", type=click.Path(), default="project")
@port_option
def flash(project: str, port: str | None) -> None:
    """Put the firmware on its board; an emulated board runs in the foreground until Ctrl-C."""
    from tinyml_fw.flash import flash as run

    run(project, log=log, port=port)


@cli.command()
@click.argument("project", type=click.Path(), required=False)
@click.option("--port", envvar=config.ENV["port"], help="Serial port, pty or URL (socket://, rfc2217://) of the "
              "device (default: start PROJECT's firmware on its emulated board, or find BOARD's port).")
@click.option("--board", envvar=config.ENV["board"], help="Board id: its serial speed, DTR/RTS settings and USB ids.")
@click.option("--raw", is_flag=True, help="Show the bytes as they come (hex and text), undecoded.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False), help="Also append every line, timed, to this file.")
def monitor(project: str | None, port: str | None, board: str | None, raw: bool, log_file: str | None) -> None:
    """Watch a device: its frames decoded into lines, plain text passed through, until Ctrl-C.

    Lines typed are commands (help, hello, infer, probe, quit) or text sent to the device."""
    import contextlib
    import sys

    from tinyml_fw import boards as catalog
    from tinyml_fw.monitor import monitor as run
    from tinyml_fw.monitor import stdin_commands

    with contextlib.ExitStack() as stack:
        if port is None:
            if project is None and board is not None and not catalog.get(board).emulated:
                from tinyml_fw.ports import find_port

                port = find_port(catalog.get(board))
            else:
                from tinyml_fw.flash import start_emulator
                from tinyml_fw.generate import Project

                if project is None:
                    raise BadInput("Nothing to watch: give --port, the PROJECT whose firmware to run on its "
                                   "emulated board, or --board of a connected real board.")
                loaded = Project.load(project)
                if board is not None and board != loaded.board:
                    raise BadInput(f"{project} is built for {loaded.board}, not {board}.")
                board = loaded.board
                emulator = start_emulator(loaded)
                stack.enter_context(emulator)
                port = emulator.url
        commands = stdin_commands() if sys.stdin is not None and sys.stdin.isatty() else None
        try:
            run(port, board, log=log, raw=raw, log_file=log_file, commands=commands)
        except KeyboardInterrupt:
            log("Stopped.")


@cli.command()
@click.argument("project", type=click.Path(), default="project")
@data_option
@random_option
@port_option
@click.option("--limit", type=click.IntRange(min=1), help="Validate only the first N vectors.")
@click.option("--tolerance-lsb", type=click.IntRange(min=0), default=0, show_default=True,
              help="Pass outputs within N LSB of the reference (for a reference other than TFLM: LiteRT "
                   "differs from TFLM by up to 2 LSB).")
@click.option("--layers", is_flag=True, help="Also compare every layer's output with tflite-micro's (AOT "
              "runtime) and name the first layer that departs; measures each layer's latency.")
@click.option("--profile", is_flag=True, help="Also time every layer on the device in one run per vector "
              "(AOT runtime): instructions, per MAC and share of each layer.")
@click.option("--layer-vectors", metavar="I,J,…", help="Vectors for --layers (default: the first that "
              "mismatches, else vector 0) and --profile (default: the first 5).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Write report.json and a self-contained report.html (plots) into this folder.")
@json_option
def validate(project: str, data: str | None, random: int | None, port: str | None, limit: int | None,
             tolerance_lsb: int, layers: bool, profile: bool, layer_vectors: str | None, report_dir: str | None,
             json_path: str | None) -> None:
    """Run test vectors on the device and compare each output byte with tflite-micro."""
    from tinyml_fw.validate import validate as run

    chosen = None
    if layer_vectors is not None:
        if not layers and not profile:
            raise BadInput("--layer-vectors goes with --layers or --profile.")
        try:
            chosen = [int(v) for v in layer_vectors.split(",") if v.strip()]
        except ValueError:
            raise BadInput(f"--layer-vectors takes vector numbers separated by commas, not "
                           f"'{layer_vectors}'.") from None
    with _progress() as bar:
        task = bar.add_task("validate", total=None)
        report = run(project, data, port=port, limit=limit, random=random, log=log,
                     progress=lambda i, n: bar.update(task, completed=i, total=n), tolerance_lsb=tolerance_lsb,
                     layers=layers, layer_vectors=chosen, tflm_arena=report_dir is not None, profile=profile)
    _finish(report, json_path, report_dir, Path(project) / "model.tflite")


@cli.command()
@click.option("--recipe", default="mnist-mlp", show_default=True, help="What to train (see `recipes`).")
@click.option("--model", type=click.Path(), help="Deploy this model instead of a recipe's (.keras, .h5, "
              "SavedModel folder, .tflite); with --data or --random.")
@data_option
@random_option
@scheme_option
@board_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the model and project (default: tinyml-fw-out/NAME-BOARD).")
@click.option("--limit", type=click.IntRange(min=1), help="Validate only the first N test vectors.")
@click.option("--seed", default=0, show_default=True, help="Training seed.")
@click.option("--retrain", is_flag=True, help="Train again even if a trained model is cached.")
@click.option("--force", is_flag=True, help="Overwrite project files edited since they were generated.")
@json_option
def deploy(recipe: str, model: str | None, data: str | None, random: int | None, scheme: str, board: str,
           out_dir: str | None, limit: int | None, seed: int, retrain: bool, force: bool,
           json_path: str | None) -> None:
    """Train (or take a model), quantize, generate, build, flash and validate: the whole pipeline."""
    from tinyml_fw.deploy import deploy as run

    if model is not None and data is None and random is None:
        raise click.UsageError("--model needs --data FILE or --random N (the data to quantize and validate with).")
    with _progress() as bar:
        task = bar.add_task("validate", total=None, visible=False)

        def progress(i: int, n: int) -> None:
            bar.update(task, completed=i, total=n, visible=True)

        result = run(recipe, board, out_dir, model=model, data=data, random=random, scheme=scheme, limit=limit,
                     retrain=retrain, force=force, seed=seed, progress=progress, log=log)
    _finish(result.report, json_path)


@cli.command("test")
@click.argument("path", type=click.Path(), required=False)
@click.option("--board", "board_ids", multiple=True, metavar="ID",
              help="Board to run the suite on (repeat; default mps2-an386).")
@click.option("--model", "models", multiple=True, type=click.Path(dir_okay=False),
              help="Integer .tflite to test (repeat); the suite must use the plugin's `model` fixture.")
@click.option("--recipe", "recipe_names", multiple=True, help="Test this recipe's model (repeat; see `recipes`).")
@click.option("--hil-map", type=click.Path(dir_okay=False), help="YAML hardware map of real or remote boards.")
@click.option("-n", "workers", type=click.IntRange(min=1), metavar="N", help="pytest-xdist workers per session.")
@json_option
def test_matrix(path: str | None, board_ids: tuple[str, ...], models: tuple[str, ...],
                recipe_names: tuple[str, ...], hil_map: str | None, workers: int | None,
                json_path: str | None) -> None:
    """Run a HIL test suite (default: examples/hil) on each board and model; show the matrix."""
    from tinyml_fw.matrix import run_matrix

    matrix = run_matrix(path, board_ids, models, recipe_names, hil_map=hil_map, workers=workers, log=log)
    table = Table(title=f"{matrix.suite}: board × model")
    table.add_column("board")
    for model in matrix.models:
        table.add_column(model)
    style = {"PASS": "green", "FAIL": "red", "SKIP": "yellow", "ERROR": "red"}
    for board_id in matrix.boards:
        row = [board_id]
        for model in matrix.models:
            c = matrix.cell(board_id, model)
            tests = f"{c.passed}/{c.passed + c.failed} tests" + (f", {c.skipped} skipped" if c.skipped else "")
            exact = f"bit-exact {c.bit_exact}/{c.vectors}" if c.vectors is not None else "bit-exact –"
            row.append(f"[{style[c.status]}]{c.status}[/] {tests}\n{exact}\n{c.latency}")
        table.add_row(*row)
    out.print(table)
    for c in matrix.cells:
        for note in c.notes:
            out.print(f"{c.status} {c.board} × {c.model}: {note}", markup=False)
    _write_json(json_path, matrix.to_json())
    if not matrix.passed:
        bad = [f"{c.board} × {c.model} ({c.status})" for c in matrix.cells if c.status != "PASS"]
        raise ValidationFailed(f"{len(bad)} of {len(matrix.cells)} cells did not pass: {', '.join(bad)}.")


@cli.command()
def doctor() -> None:
    """Check the compilers, emulators, PlatformIO core and Python packages; say how to fix what is missing."""
    from tinyml_fw.doctor import doctor as run

    run(log=log)


def _defaults() -> dict:
    commands = {name: {p.name for p in command.params if p.name} for name, command in cli.commands.items()}
    return config.default_map(commands)


class _Terminated(BaseException):
    """SIGTERM (kill) or SIGHUP (a closed terminal): unwinds like Ctrl-C, so every `with`/`finally` stops the
    emulator and the build processes it started; then the process exits with the signal's usual code."""


def _terminated(signum, frame) -> None:
    raise _Terminated(signum)


def main(argv: list[str] | None = None) -> None:
    import signal

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminated)
    try:
        cli.main(args=argv, prog_name="tinyml-fw", standalone_mode=False, default_map=_defaults())
    except TfwError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # a usage error: one line too, with where to read the usage
        if debug:
            traceback.print_exc()
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} -h`)" if isinstance(exc, click.UsageError) and ctx else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        err.print("interrupted", markup=False)
        sys.exit(EXIT_INTERRUPTED)
    except _Terminated as exc:
        signum = exc.args[0]
        err.print(f"terminated ({signal.Signals(signum).name})", markup=False)
        sys.exit(128 + signum)
    except OSError as exc:  # a file we were told to read or write, at a level no stage anticipated
        if debug:
            traceback.print_exc()
        err.print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), markup=False)
        sys.exit(2)
    sys.exit(0)
