"""Where tinyml-fw keeps its own files: the toolkit tree and a per-user home for caches."""

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent  # the source tree: templates/, firmware/, boards/, platforms/
TEMPLATES = ROOT / "templates"
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
PLATFORMS = ROOT / "platforms"


def home() -> Path:
    """Caches (trained models, the private PlatformIO core): $TINYML_FW_HOME or ~/.cache/tinyml-fw."""
    raw = os.environ.get("TINYML_FW_HOME")
    return (Path(raw).expanduser() if raw else Path.home() / ".cache" / "tinyml-fw").resolve()
