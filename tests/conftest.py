"""Shared fixtures: each test builds its graph in a fresh default graph."""

import itertools

import pytest

import tgc


@pytest.fixture(autouse=True)
def fresh_graph():
    tgc.reset_default_graph()
    yield
    tgc.reset_default_graph()


_GEMM_CACHES = itertools.count()


@pytest.fixture(autouse=True)
def private_gemm_cache(tmp_path_factory, monkeypatch):
    """Each test's GEMM choices (tgc/lowering/cpu/gemm_tuning.py) cached in a directory of its own
    (made when a choice is stored), not the user's ~/.cache/tgc: a Session's matmuls call OpenBLAS,
    as with an empty cache, whatever the user or an earlier test tuned."""
    from tgc.lowering.cpu.gemm_tuning import CACHE_ENVIRONMENT

    directory = tmp_path_factory.getbasetemp() / f"gemm-cache-{next(_GEMM_CACHES)}"
    monkeypatch.setenv(CACHE_ENVIRONMENT, str(directory))
