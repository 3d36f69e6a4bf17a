"""Fixtures for the host tests of the C kernels: the kernels built once per session (harness.py) and
the op tables' model cache."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # make tinyml_fw importable however pytest is started
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def kernels():
    """Every kernel built for the host (plus a shim exposing the inline helpers and struct sizes)."""
    return harness.shared()


@pytest.fixture(scope="session")
def op_table_cache(request):
    """Converted models, kept across runs in pytest's cache (`--cache-clear` rebuilds them)."""
    return request.config.cache.mkdir("tfw-op-table")
