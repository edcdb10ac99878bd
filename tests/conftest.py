"""Shared fixtures: each test builds its graph in a fresh default graph."""

import pytest

import tgc


@pytest.fixture(autouse=True)
def fresh_graph():
    tgc.reset_default_graph()
    yield
    tgc.reset_default_graph()
