"""Shared fixtures: repository paths and a host C compiler for device code."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"


def compile_shared(sources: list[Path], out: Path, includes: list[Path]) -> ctypes.CDLL:
    """Compiles device C sources for the host, warnings as errors, into a library ctypes loads."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no host C compiler (gcc) on this machine")
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-o", str(out),
           *(f"-I{i}" for i in includes), *map(str, sources)]
    subprocess.run(cmd, check=True)
    return ctypes.CDLL(str(out))
