"""The `tinyml-fw` command: one verb per stage, and `deploy` for all of them.

Exit codes: 0 passed, 1 validation failed, 2 bad input, 3 device error, 4 missing tool, 5 build failed,
130 interrupted. Stages are imported inside their verbs so that `--help` and bad input answer at once.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tinyml_fw import __version__
from tinyml_fw.errors import EXIT_INTERRUPTED, TfwError, ValidationFailed

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def log(message: str) -> None:
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


def _show_report(report) -> None:
    table = Table(title=f"Validation on {report.board} ({report.runtime})", show_header=False)
    pct = lambda v: "–" if v is None else f"{v:.2%}"  # noqa: E731
    rows = [
        ("vectors", f"{report.vectors}"),
        ("bit-exact with tflite-micro", f"{report.bit_exact}/{report.vectors}"),
        ("max |difference| (LSB)", f"{report.max_abs_diff}"),
        ("top-1 agreement", pct(report.top1_agreement)),
        ("accuracy: device / reference / float", " / ".join(
            pct(v) for v in (report.accuracy_device, report.accuracy_reference, report.float_accuracy))),
        ("instructions per inference", "–" if report.instructions_per_inference is None
         else f"{report.instructions_per_inference:,.0f}"),
        ("flash / RAM / arena (bytes)", f"{report.flash_bytes:,} / {report.ram_bytes:,} / {report.arena_bytes:,}"),
        ("result", "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)


def _finish(report, json_path: str | None) -> None:
    _show_report(report)
    _write_json(json_path, report.to_json())
    if not report.passed:
        raise ValidationFailed(f"{report.vectors - report.bit_exact} of {report.vectors} outputs differ from "
                               f"the reference (first at vector {report.first_mismatch}).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinyml-fw")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """From a Keras model to a model validated on a microcontroller."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.option("--recipe", default="mnist-mlp", show_default=True, help="What to train.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder (default: the cache).")
@click.option("--force", is_flag=True, help="Train again even if a trained model is cached.")
def train(recipe: str, out_dir: str | None, force: bool) -> None:
    """Train a recipe's Keras model."""
    from tinyml_fw.train import train as run

    trained = run(recipe, Path(out_dir) if out_dir else None, force=force, log=log)
    log(f"Model: {trained.model_path}\nData: {trained.data_path}")


@cli.command()
@click.argument("model", type=click.Path())
@click.option("--data", required=True, type=click.Path(), help=".npz with x_train (calibration), x_test, y_test.")
@click.option("--out", "out_dir", default="model", show_default=True, type=click.Path(file_okay=False))
@click.option("--samples", default=300, show_default=True, help="Calibration samples.")
def quantize(model: str, data: str, out_dir: str, samples: int) -> None:
    """Quantize a Keras model to a full-integer int8 .tflite."""
    from tinyml_fw.quantize import quantize as run

    result = run(model, data, out_dir, samples=samples, log=log)
    log(f"Wrote {result.tflite_path} (sha256 {result.sha256[:12]}…)")


@cli.command()
@click.argument("model", type=click.Path())
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the analysis as JSON.")
def analyze(model: str, json_path: str | None) -> None:
    """Operators, shapes, parameters, MACs and AOT memory of a .tflite model."""
    from tinyml_fw.analyze import analyze as run

    a = run(model)
    table = Table(title=f"{Path(model).name} ({a.size_bytes:,} bytes)")
    for col in ("#", "op", "input", "output", "params", "MACs"):
        table.add_column(col, justify="right" if col in ("#", "params", "MACs") else "left")
    for layer in a.layers:
        table.add_row(str(layer.index), layer.op, str(layer.input_shape), str(layer.output_shape),
                      f"{layer.params:,}", f"{layer.macs:,}")
    out.print(table)
    log(f"Total MACs {a.total_macs:,}; weights {a.weight_bytes:,} B; "
        + (f"AOT arena {a.aot_arena_bytes:,} B (liveness floor {a.liveness_floor:,} B)" if a.aot_supported
           else f"AOT engine: {a.aot_refusal}"))
    _write_json(json_path, a.to_json())


@cli.command()
@click.argument("model", type=click.Path())
@click.option("--board", default="mps2-an386", show_default=True)
@click.option("--out", "out_dir", default="project", show_default=True, type=click.Path(file_okay=False))
@click.option("--runtime", default="aot", show_default=True, type=click.Choice(["aot", "tflm"]))
@click.option("--name", help="C name of the model (default: from the file name).")
@click.option("--force", is_flag=True, help="Overwrite files edited since they were generated.")
def generate(model: str, board: str, out_dir: str, runtime: str, name: str | None, force: bool) -> None:
    """Render a PlatformIO project for a model and a board."""
    from tinyml_fw.generate import generate as run

    project = run(model, board, out_dir, runtime=runtime, name=name, force=force, log=log)
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
def flash(project: str) -> None:
    """Put the firmware on its board; an emulated board runs in the foreground until Ctrl-C."""
    from tinyml_fw.flash import flash as run

    run(project, log=log)


@cli.command()
@click.argument("project", type=click.Path(), default="project")
@click.option("--data", required=True, type=click.Path(), help=".npz with x_test (and y_test for accuracy).")
@click.option("--port", help="Serial port or URL of a running device (default: start the emulated board).")
@click.option("--limit", type=click.IntRange(min=1), help="Validate only the first N vectors.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the report as JSON.")
def validate(project: str, data: str, port: str | None, limit: int | None, json_path: str | None) -> None:
    """Run test vectors on the device and compare each output byte with tflite-micro."""
    from tinyml_fw.validate import validate as run

    with _progress() as bar:
        task = bar.add_task("validate", total=None)
        report = run(project, data, port=port, limit=limit, log=log,
                     progress=lambda i, n: bar.update(task, completed=i, total=n))
    _finish(report, json_path)


@cli.command()
@click.option("--recipe", default="mnist-mlp", show_default=True)
@click.option("--board", default="mps2-an386", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the model and project (default: tinyml-fw-out/RECIPE-BOARD).")
@click.option("--limit", type=click.IntRange(min=1), help="Validate only the first N test vectors.")
@click.option("--retrain", is_flag=True, help="Train again even if a trained model is cached.")
@click.option("--force", is_flag=True, help="Overwrite project files edited since they were generated.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the report as JSON.")
def deploy(recipe: str, board: str, out_dir: str | None, limit: int | None, retrain: bool, force: bool,
           json_path: str | None) -> None:
    """Train, quantize, generate, build, flash and validate: the whole pipeline."""
    from tinyml_fw.deploy import deploy as run

    with _progress() as bar:
        task = bar.add_task("validate", total=None, visible=False)

        def progress(i: int, n: int) -> None:
            bar.update(task, completed=i, total=n, visible=True)

        result = run(recipe, board, out_dir, limit=limit, retrain=retrain, force=force, progress=progress,
                     log=log)
    _finish(result.report, json_path)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="tinyml-fw", standalone_mode=False)
    except TfwError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        err.print("interrupted", markup=False)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)
