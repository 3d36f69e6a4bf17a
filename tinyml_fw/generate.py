"""Stage 4, generate: a model and a board → a self-contained PlatformIO project with a manifest.

The project holds everything its build needs (rendered sources, the device code from firmware/, the board
manifest, the model), so `pio run` works in it by hand and `build`, `flash`, `validate` need only its folder.

Two runtimes implement firmware/app/tfw_model.h behind the same serial protocol:
- `aot`: the ahead-of-time engine (tinyml_fw/aot, firmware/kernels), on every board;
- `tflm`: TensorFlow Lite Micro (templates/tflm, plan in tinyml_fw/tflm.py). A real board gets TFLM from
  its PlatformIO library (the catalog's `tinyml.tflm`); an emulated board from a tree made by TFLM's
  create_tflm_tree.py (`tflm_tree`), since no TFLM library can be installed offline.
Real boards use their real PlatformIO platform and the Arduino framework; generating for them only renders
files (no network); building them needs the network once (see build.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tinyml_fw import __version__, boards, protocol
from tinyml_fw.analyze import fit
from tinyml_fw.aot.lower import lower
from tinyml_fw.cnames import c_identifier
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import read_model
from tinyml_fw.paths import FIRMWARE
from tinyml_fw.platformio import check_project_path, core_dir, platform_uri
from tinyml_fw.quantize import quantize
from tinyml_fw.render import render

MANIFEST = "tinyml-fw.json"
RX_MAX = 256  # the device's receive buffer, advertised in INFO
# Device code each runtime's project carries (firmware/<dir>, copied to src/tfw/<dir>).
AOT_FIRMWARE = ("common", "kernels", "protocol", "app")
TFLM_FIRMWARE = ("common", "protocol", "app")
# Where the Arduino core owns main(), the board folder's setup()/loop() replace the bare-metal main loop.
BARE_METAL_MAIN = "app/tfw_app.c"
BOARD_RECORD = "tinyml-fw-board.json"  # a real board's catalog entry (boards/ would shadow PlatformIO's own)


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
    tflm: dict | None = None  # the TFLM plan (operators, arena measured + margin) and its library or tree

    def to_json(self) -> str:
        # The folder is not recorded (load() takes it from where the manifest is): the same model generated
        # in two folders gives byte-identical projects.
        data = asdict(self)
        del data["path"]
        return json.dumps(data, indent=2, sort_keys=True)

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


def _firmware_files(board: boards.Board, dirs: tuple[str, ...]) -> dict[str, bytes]:
    files = {}
    for rel in [*dirs, "board/tfw_board.h", *(f"board/{d}" for d in board.firmware_boards)]:
        src = FIRMWARE / rel
        for f in sorted([src] if src.is_file() else src.rglob("*")):
            if f.is_file() and f.suffix in {".c", ".cc", ".cpp", ".h", ".S", ".s"}:
                rel_path = f.relative_to(FIRMWARE).as_posix()
                if board.framework == "arduino" and rel_path == BARE_METAL_MAIN:
                    continue
                files[f"src/tfw/{rel_path}"] = f.read_bytes()
    return files


def _include_dirs(board: boards.Board, dirs: tuple[str, ...]) -> list[str]:
    return ["src/model", *(f"src/tfw/{d}" for d in dirs), "src/tfw/board",
            *(f"src/tfw/board/{d}" for d in board.firmware_boards)]


def _platformio_ini(board: boards.Board, runtime: str, common: dict, include_dirs: list[str], **extra) -> str:
    if not board.emulated:
        return render("common/platformio_arduino.ini.j2", **common, runtime=runtime, include_dirs=include_dirs)
    template = "tflm/platformio.ini.j2" if runtime == "tflm" else "aot/platformio.ini.j2"
    return render(template, **common, platform=platform_uri(board.local_platform), include_dirs=include_dirs,
                  **extra)


def _board_files(board: boards.Board) -> dict[str, bytes]:
    """The board's catalog entry: boards/<id>.json for the local platform, which reads it; a record beside
    platformio.ini for a real board, whose platform has its own boards/<id>.json."""
    return {f"boards/{board.id}.json" if board.emulated else BOARD_RECORD: board.path.read_bytes()}


def _aot_files(spec, board: boards.Board, name: str, raw: bytes, common: dict):
    plan = lower(spec, name, fast_kernels=board.fast_kernels)
    refusal = fit(plan, board).refusal()
    if refusal:
        raise BadInput(refusal)
    files = {
        "platformio.ini": _platformio_ini(board, "aot", common, _include_dirs(board, AOT_FIRMWARE)),
        "src/model/tfw_config.h": render("common/tfw_config.h.j2", **common, rx_max=RX_MAX,
                                         profile_layers=len(plan.steps)),
        f"src/model/{name}_model.c": render("aot/model.c.j2", **common, plan=plan,
                                            sha256_bytes=list(bytes.fromhex(spec.sha256))),
        f"src/model/{name}_model_data.c": render("common/model_data.c.j2", **common, data=raw),
    }
    out = {k: v.encode() for k, v in files.items()}
    out.update(_firmware_files(board, AOT_FIRMWARE))
    return out, plan.arena_bytes, None


def _tflm_files(spec, model_path: Path, board: boards.Board, name: str, raw: bytes, common: dict,
                tree_dir: str | Path | None, labels: tuple[str, ...]):
    from tinyml_fw import tflm, tflm_tree

    tree = tflm_tree.load(tree_dir) if tree_dir is not None else None
    plan = tflm.plan(spec, model_path, name, labels)
    refusal = tflm.fit(plan, board).refusal() or tflm.static_arena_refusal(plan, board)
    if refusal:
        raise BadInput(refusal)
    include_dirs = _include_dirs(board, TFLM_FIRMWARE)
    if tree is not None:
        log = dict(debug_log=tree.debug_log, log_symbol="DebugLog", debug_vsnprintf=tree.debug_vsnprintf)
        source: dict[str, Any] = {"tree": tree.to_dict()}
    else:
        log = dict(debug_log=board.tflm.debug_log, log_symbol="__wrap_DebugLog", debug_vsnprintf=False)
        source = {"library": board.tflm.library, "version": board.tflm.version, "commit": board.tflm.commit,
                  "lib_deps": board.tflm.lib_deps, "status": board.tflm.status}
    files = {
        "platformio.ini": _platformio_ini(board, "tflm", common, include_dirs, tree=tree,
                                          build_cache=core_dir() / "build-cache",
                                          lib_dir=_tree_library(tree, common) if tree else None),
        "src/model/tfw_config.h": render("common/tfw_config.h.j2", **common, rx_max=RX_MAX, profile_layers=0),
        f"src/model/{name}_model_settings.h": render("tflm/model_settings.h.j2", **common, plan=plan),
        f"src/model/{name}_model_data.h": render("tflm/model_data.h.j2", **common),
        f"src/model/{name}_model_data.cpp": render("tflm/model_data.cpp.j2", **common, data=raw),
        f"src/model/{name}_model.cpp": render(
            "tflm/model.cpp.j2", **common, plan=plan, sha256_bytes=list(bytes.fromhex(spec.sha256)),
            initialize_target=tree is not None or board.tflm.initialize_target),
        "src/model/tfw_tflm_log.h": render("tflm/tfw_tflm_log.h.j2", **common),
        "src/model/tfw_tflm_log.cpp": render("tflm/tfw_tflm_log.cpp.j2", **common, **log),
    }
    if tree is not None:
        files["src/model/tfw_tflm_time.cpp"] = render("tflm/tfw_tflm_time.cpp.j2", **common)
    out = {k: v.encode() for k, v in files.items()}
    out.update(_firmware_files(board, TFLM_FIRMWARE))
    return out, plan.arena_bytes, plan.to_dict() | source


def _tree_library(tree, common: dict) -> Path:
    """The TFLM tree as the PlatformIO library `tflm`: a library.json (srcDir = the tree) in the private core,
    one folder per tree, shared by every project built against that tree. One path for all projects is what
    lets their builds share TFLM's objects through the build cache (PlatformIO names a library's build
    folder after the library's path, and SCons keys cached objects by their path)."""
    folder = core_dir() / "tflm-libraries" / tree.fingerprint[:16]
    manifest = folder / "tflm" / "library.json"
    text = render("tflm/library.json.j2", **common, tree=tree)
    if not manifest.is_file() or manifest.read_text() != text:
        manifest.parent.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(manifest)
    return folder


def choose_runtime(board: boards.Board, runtime: str | None, tflm_tree: str | Path | None) -> str:
    """The runtime to generate: the one asked for, or the board's default (`tflm` on a real 32-bit board
    whose TFLM library is verified, `aot` otherwise; `tflm` on an emulated board when given a tree)."""
    if runtime is None:
        runtime = "tflm" if tflm_tree is not None and "tflm" in board.runtimes else board.default_runtime
    if runtime not in boards.RUNTIMES:
        raise BadInput(f"Unknown runtime '{runtime}': use aot or tflm.")
    if runtime not in board.runtimes:
        why = f" ({board.tflm.note})" if runtime == "tflm" and board.tflm.note else ""
        raise BadInput(f"Board {board.id} supports runtime {', '.join(board.runtimes)}, not '{runtime}'{why}.")
    if tflm_tree is not None and runtime != "tflm":
        raise BadInput("--tflm-tree is for the TFLM runtime: use --runtime tflm (or leave --runtime out).")
    if runtime == "tflm" and board.emulated and tflm_tree is None:
        raise BadInput(f"TFLM on the emulated {board.id} is built from a TFLM tree (no TFLM library can be "
                       "installed offline): give --tflm-tree DIR, a tree made by TFLM's create_tflm_tree.py "
                       "(see docs/tflm.md), or use --runtime aot.")
    if tflm_tree is not None and (not board.emulated or not board.cpu.startswith("cortex-m")):
        raise BadInput(f"--tflm-tree builds TFLM for the emulated Cortex-M boards; {board.id} gets TFLM from its "
                       f"PlatformIO library ({board.tflm.library or 'none'}).")
    return runtime


def _labels(data: Any, labels: Any) -> tuple[str, ...]:
    """Output labels: given, or the `labels` array of a training data file (.npz)."""
    if labels is not None:
        return tuple(str(x) for x in labels)
    if isinstance(data, (str, Path)) and Path(data).suffix == ".npz" and Path(data).is_file():
        import numpy as np

        try:
            with np.load(data, allow_pickle=False) as npz:
                return tuple(str(x) for x in npz["labels"]) if "labels" in npz.files else ()
        except (OSError, ValueError):
            return ()
    return ()


def _recorded(out: Path) -> dict[str, str]:
    """The files the previous generate recorded; only paths inside the project count (a manifest is a file
    anyone can edit: '../x' or '/x' must never make generate remove a file outside the project)."""
    try:
        files = json.loads((out / MANIFEST).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {rel: sha for rel, sha in files.items() if isinstance(rel, str) and isinstance(sha, str) and rel
            and not PurePosixPath(rel).is_absolute() and ".." not in PurePosixPath(rel).parts and "\\" not in rel}


def _check_user_edits(out: Path, files: dict[str, bytes], force: bool) -> list[Path]:
    """Refuses to overwrite or remove a file the user changed since the last generate (or never generated);
    returns the files the previous generate wrote that this one does not (another runtime's), to remove."""
    if not out.exists():
        return []
    recorded = _recorded(out)
    stale = [out / rel for rel in recorded if rel not in files and (out / rel).is_file()]
    if force:
        return stale + [p for p in _generated_files(out) if p not in stale
                        and p.relative_to(out).as_posix() not in files]
    edited = []
    for rel, data in files.items():
        target = out / rel
        if target.is_file():
            current = _sha(target.read_bytes())
            if current != _sha(data) and current != recorded.get(rel):
                edited.append(rel)
    edited += [p.relative_to(out).as_posix() for p in stale
               if _sha(p.read_bytes()) != recorded[p.relative_to(out).as_posix()]]
    if edited:
        listed = ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
        raise BadInput(f"{out} has files changed since they were generated ({listed}): "
                       "use --force to overwrite them, or another output folder.")
    return stale


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
             runtime: str | None = None, name: str | None = None, force: bool = False, data: Any = None,
             scheme: str = "int8", random: int | None = None, tflm_tree: str | Path | None = None,
             labels: Any = None, log=print) -> Project:
    """Renders the project for `model` (an integer .tflite, or any model plus data to quantize it with) on
    `board_id` into out_dir; refuses a model that does not fit the board. `runtime` None picks the board's
    default (see choose_runtime). Returns the project's manifest."""
    board = boards.get(board_id)
    runtime = choose_runtime(board, runtime, tflm_tree)
    check_project_path(out_dir)
    default_name = Path(model).stem if isinstance(model, (str, Path)) else "model"
    name = c_identifier(name or default_name)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = _integer_model(model, data, scheme, random, Path(tmp), log)
        spec = read_model(model_path)
        raw = model_path.read_bytes()
        common = dict(version=__version__, sha256=spec.sha256, board=board, name=name)
        if runtime == "aot":
            files, arena_bytes, tflm_info = _aot_files(spec, board, name, raw, common)
        else:
            files, arena_bytes, tflm_info = _tflm_files(spec, model_path, board, name, raw, common, tflm_tree,
                                                        _labels(data, labels))
    files["model.tflite"] = raw
    files.update(_board_files(board))

    out = Path(out_dir)
    stale = _check_user_edits(out, files, force)
    try:
        for path in [*stale, *(out / rel for rel in files)]:
            _check_inside(out, path)
        for path in stale:
            path.unlink()
        for folder in sorted({p.parent for p in stale}, key=lambda p: len(p.parts), reverse=True):
            while folder != out and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
        for rel, data in files.items():
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():  # replaced, never written through
                target.unlink()
            target.write_bytes(data)
        project = Project(str(out.resolve()), name, board.id, runtime, spec.sha256, __version__,
                          protocol.PROTOCOL_VERSION, arena_bytes,
                          {rel: _sha(data) for rel, data in sorted(files.items())}, tflm_info)
        (out / MANIFEST).write_text(project.to_json())
    except OSError as exc:
        raise BadInput(f"Cannot write the project to {out}: {exc.strerror or exc}.") from None
    where = f"TFLM tree {tflm_tree}" if tflm_tree else (board.tflm.library if runtime == "tflm" else None)
    log(f"Generated {board.id}/{runtime} project in {out} ({len(files)} files, arena {arena_bytes:,} B"
        + (f"; TFLM from {where}" if where else "") + ")")
    return project


def _check_inside(out: Path, path: Path) -> None:
    """Generate writes and removes files inside the project only, also when a folder in it is a symlink."""
    root, folder = out.resolve(), path.parent
    while not folder.exists() and folder != out and folder != folder.parent:
        folder = folder.parent
    if folder.exists() and not folder.resolve().is_relative_to(root):
        raise BadInput(f"{path} would be written outside the project {out} (a folder in it links to "
                       f"{folder.resolve()}): remove that link, or generate into another folder.")


def _generated_files(out: Path) -> list[Path]:
    """Files a previous generate may have written that a new one may not write again (runtime changed)."""
    found = []
    for folder in ("src", "lib"):
        if (out / folder).exists():
            found += [p for p in (out / folder).glob("**/*") if p.is_file()]
    found += [p for p in (out / BOARD_RECORD, *(out / "boards").glob("*.json")) if p.is_file()]
    return found
