"""Stage 4, generate: a model and a board → a self-contained PlatformIO project with a manifest.

The project holds everything its build needs (rendered sources, the device code from firmware/, the board
manifest, the model), so `pio run` works in it by hand and `build`, `flash`, `validate` need only its folder.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinyml_fw import __version__, boards, protocol
from tinyml_fw.analyze import fit
from tinyml_fw.aot.lower import lower
from tinyml_fw.cnames import c_identifier
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import read_model
from tinyml_fw.paths import FIRMWARE
from tinyml_fw.platformio import platform_uri
from tinyml_fw.quantize import quantize
from tinyml_fw.render import render

MANIFEST = "tinyml-fw.json"
RX_MAX = 256  # the device's receive buffer, advertised in INFO
# Device code every AOT project carries (firmware/<dir>, copied to src/tfw/<dir>).
AOT_FIRMWARE = ("common", "kernels", "protocol", "app")


@dataclass(frozen=True)
class Project:
    path: str
    name: str
    board: str
    runtime: str
    model_sha256: str
    toolkit: str
    protocol: int
    arena_bytes: int
    files: dict[str, str]  # relative path → SHA-256 of what generate wrote

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def load(cls, folder: str | Path) -> Project:
        manifest = Path(folder) / MANIFEST
        if not manifest.is_file():
            raise BadInput(f"{folder} is not a tinyml-fw project (no {MANIFEST}): run `tinyml-fw generate` first.")
        try:
            data = json.loads(manifest.read_text())
            data["path"] = str(Path(folder).resolve())
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise BadInput(f"{manifest} is damaged ({exc}): re-generate the project with --force.") from None

    @property
    def model_path(self) -> Path:
        return Path(self.path) / "model.tflite"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _firmware_files(board: boards.Board) -> dict[str, bytes]:
    files = {}
    dirs = [*AOT_FIRMWARE, "board/tfw_board.h", *(f"board/{d}" for d in board.firmware_boards)]
    for rel in dirs:
        src = FIRMWARE / rel
        for f in sorted([src] if src.is_file() else src.rglob("*")):
            if f.is_file() and f.suffix in {".c", ".cc", ".cpp", ".h", ".S", ".s"}:
                files[f"src/tfw/{f.relative_to(FIRMWARE).as_posix()}"] = f.read_bytes()
    return files


def _render_files(spec, board: boards.Board, name: str, raw: bytes) -> dict[str, bytes]:
    plan = lower(spec, name)
    common = dict(version=__version__, sha256=spec.sha256, board=board, name=plan.name)
    files = {
        "platformio.ini": render("aot/platformio.ini.j2", **common, platform=platform_uri(),
                                 include_dirs=_include_dirs(board)),
        "src/model/tfw_config.h": render("common/tfw_config.h.j2", **common, rx_max=RX_MAX),
        f"src/model/{plan.name}_model.c": render("aot/model.c.j2", **common, plan=plan,
                                                 sha256_bytes=list(bytes.fromhex(spec.sha256))),
        f"src/model/{plan.name}_model_data.c": render("common/model_data.c.j2", **common, data=raw),
    }
    out = {k: v.encode() for k, v in files.items()}
    out["model.tflite"] = raw
    out[f"boards/{board.id}.json"] = board.path.read_bytes()
    out.update(_firmware_files(board))
    return out, plan


def _include_dirs(board: boards.Board) -> list[str]:
    return ["src/model", *(f"src/tfw/{d}" for d in AOT_FIRMWARE), "src/tfw/board",
            *(f"src/tfw/board/{d}" for d in board.firmware_boards)]


def _check_user_edits(out: Path, files: dict[str, bytes], force: bool) -> None:
    """Refuses to overwrite a file the user changed since the last generate (or never generated)."""
    if force or not out.exists():
        return
    recorded = {}
    if (out / MANIFEST).is_file():
        try:
            recorded = json.loads((out / MANIFEST).read_text()).get("files", {})
        except ValueError:
            recorded = {}
    edited = []
    for rel, data in files.items():
        target = out / rel
        if target.is_file():
            current = _sha(target.read_bytes())
            if current != _sha(data) and current != recorded.get(rel):
                edited.append(rel)
    if edited:
        listed = ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
        raise BadInput(f"{out} has files changed since they were generated ({listed}): "
                       "use --force to overwrite them, or another output folder.")


def _integer_model(model: Any, data: Any, scheme: str, random: int | None, folder: Path, log) -> Path:
    """The model as an integer .tflite: as it is, or quantized when data (or --random) is given."""
    if isinstance(model, (str, Path)) and Path(model).suffix == ".tflite":
        spec = read_model(model)
        is_float = any(t.dtype == "FLOAT32" for t in spec.tensors if t.is_constant)
        if not is_float or (data is None and random is None):
            return Path(model)  # integer, or float with nothing to calibrate: the AOT engine says why
    elif data is None and random is None:
        raise BadInput("A Keras or SavedModel model must be quantized first: give --data FILE or --random N.")
    return Path(quantize(model, data, folder, scheme=scheme, random=random, log=log).tflite_path)


def generate(model: Any, board_id: str = boards.DEFAULT_BOARD, out_dir: str | Path = "project",
             runtime: str = "aot", name: str | None = None, force: bool = False, data: Any = None,
             scheme: str = "int8", random: int | None = None, log=print) -> Project:
    """Renders the project for `model` (an integer .tflite, or any model plus data to quantize it with) on
    `board_id` into out_dir; refuses a model that does not fit the board. Returns the project's manifest."""
    board = boards.get(board_id)
    if runtime not in board.runtimes:
        raise BadInput(f"Board {board.id} supports runtimes {', '.join(board.runtimes)}, not '{runtime}'.")
    if runtime != "aot":
        raise BadInput(f"Runtime '{runtime}' cannot be generated yet; use --runtime aot.")
    with tempfile.TemporaryDirectory() as tmp:
        model_path = _integer_model(model, data, scheme, random, Path(tmp), log)
        spec = read_model(model_path)
        raw = model_path.read_bytes()
    default_name = Path(model).stem if isinstance(model, (str, Path)) else "model"
    name = c_identifier(name or default_name)
    files, plan = _render_files(spec, board, name, raw)
    refusal = fit(plan, board).refusal()
    if refusal:
        raise BadInput(refusal)

    out = Path(out_dir)
    _check_user_edits(out, files, force)
    try:
        for stale in (out / "src").glob("**/*") if force and (out / "src").exists() else []:
            if stale.is_file() and stale.relative_to(out).as_posix() not in files:
                stale.unlink()
        for rel, data in files.items():
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        project = Project(str(out.resolve()), plan.name, board.id, runtime, spec.sha256, __version__,
                          protocol.PROTOCOL_VERSION, plan.arena_bytes,
                          {rel: _sha(data) for rel, data in sorted(files.items())})
        (out / MANIFEST).write_text(project.to_json())
    except OSError as exc:
        raise BadInput(f"Cannot write the project to {out}: {exc.strerror or exc}.") from None
    log(f"Generated {board.id}/{runtime} project in {out} ({len(files)} files, arena {plan.arena_bytes} B)")
    return project

