"""User defaults from `[tool.tinyml-fw]` in the nearest pyproject.toml (this folder or a parent).

Precedence: command line > environment (TINYML_FW_BOARD, TINYML_FW_PORT, TINYML_FW_RUNTIME) > file >
built-in default. Example:

    [tool.tinyml-fw]
    board = "mps2-an386"
    runtime = "aot"
"""

from __future__ import annotations

from pathlib import Path

import tomllib

from tinyml_fw.errors import BadInput

KEYS = ("board", "port", "runtime")
ENV = {key: f"TINYML_FW_{key.upper()}" for key in KEYS}


def find_pyproject(start: Path | None = None) -> Path | None:
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
    return None


def load(start: Path | None = None) -> dict[str, str]:
    path = find_pyproject(start)
    if path is None:
        return {}
    try:
        section = tomllib.loads(path.read_text()).get("tool", {}).get("tinyml-fw", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path} is not valid TOML ({exc}).") from None
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise BadInput(f"{path}: unknown [tool.tinyml-fw] setting(s) {', '.join(unknown)}; "
                       f"known: {', '.join(KEYS)}.")
    return {key: str(value) for key, value in section.items()}


def default_map(commands: dict[str, set[str]], start: Path | None = None) -> dict[str, dict[str, str]]:
    """Click's default_map: each command gets the file's values for the options it has."""
    values = load(start)
    return {name: {k: v for k, v in values.items() if k in options} for name, options in commands.items()}
