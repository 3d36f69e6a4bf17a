"""Fixtures for the host tests of the C kernels: build them once per session."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # make tinyml_fw importable however pytest is started
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tfw_harness  # noqa: E402


@pytest.fixture(scope="session")
def kernels(tmp_path_factory):
    """ctypes handle on the kernels (plus a small shim exposing the inline helpers)."""
    return tfw_harness.build_kernels(tmp_path_factory.mktemp("tfw_kernels"))
