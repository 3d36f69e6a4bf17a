"""What the elementwise op-table test modules share: fixtures and the one test body (imported by
test_kernels_{elementwise,activations,shape_ops,quantize}.py, not collected itself)."""

from __future__ import annotations

import pytest

import ew_harness
import ew_table


_BUILT: dict = {}  # one build per test run, whichever module asks first


@pytest.fixture(scope="session")
def ew_kernels(tmp_path_factory):
    """The elementwise/activation/shape/conversion kernels built for the host, with a sizeof shim."""
    if "lib" not in _BUILT:
        _BUILT["lib"] = ew_harness.build(tmp_path_factory.mktemp("tfw_ew"))
    return _BUILT["lib"]


@pytest.fixture(scope="session")
def ew_cache(request):
    """Converted models, kept across runs in pytest's cache (`--cache-clear` rebuilds them)."""
    return request.config.cache.mkdir("tfw-op-table-ew")


def table_params(*tables: str):
    """pytest.param per case of the tables, every Nth only with TFW_OP_TABLE_EVERY=N."""
    every = ew_table.every_from_env()
    return [pytest.param(c, id=c.id) for t in tables for c in ew_table.sample(ew_table.cases(t), every)]


def check_case(case, lib, cache_dir):
    result = ew_table.check(case, lib, cache_dir)
    assert result.exact == result.vectors, f"{case.id}: {result.first_mismatch}"
    return result
