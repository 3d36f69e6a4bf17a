"""What the op-table test modules share: fixtures and the one test body (imported, not collected)."""

from __future__ import annotations

import pytest

import kcall_harness
import op_table


@pytest.fixture(scope="session")
def conv_kernels():
    return kcall_harness.shared_kernels()


@pytest.fixture(scope="session")
def op_table_cache(request):
    """Converted models, kept across runs in pytest's cache (`--cache-clear` rebuilds them)."""
    return request.config.cache.mkdir("tfw-op-table")


def table_params(*tables: str):
    """pytest.param per case of the tables, every Nth only with TFW_OP_TABLE_EVERY=N."""
    every = op_table.every_from_env()
    return [pytest.param(c, id=c.id) for t in tables for c in op_table.sample(op_table.cases(t), every)]


def check_case(case, kernels, cache_dir):
    result = op_table.check(case, kernels, cache_dir)
    assert result.exact == result.vectors, f"{case.id}: {result.first_mismatch}"
    return result
