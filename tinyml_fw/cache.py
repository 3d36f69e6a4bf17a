"""The per-user cache of trained and quantized artefacts: content-keyed folders, atomic writes, a lock.

Folders are named by a hash of everything that decides their content (recipe, seed, data, versions), and
appear only when complete (built in a temporary sibling, then renamed), so parallel test workers and
interrupted runs never see half an artefact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tinyml_fw.paths import home


def root() -> Path:
    return home() / "cache"


def key(parts: dict) -> str:
    """A short, stable hash of the parts that decide an artefact's content."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def entry(kind: str, name: str, parts: dict) -> Path:
    return root() / kind / f"{name}-{key(parts)}"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside `path`, held while one process builds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        if sys.platform == "win32":  # msvcrt's lock; fcntl is POSIX only
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def building(final: Path) -> Iterator[Path]:
    """Yields a temporary folder that becomes `final` only if the block finishes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def clear() -> int:
    """Removes every cached artefact; returns how many entries were removed."""
    count = sum(1 for entry in root().glob("*/*") if entry.is_dir()) if root().exists() else 0
    shutil.rmtree(root(), ignore_errors=True)
    return count
