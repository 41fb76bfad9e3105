"""Shared fixtures: the project model (compiled once per session) and a tiny probe model."""

from __future__ import annotations

from pathlib import Path

import pytest

import urbsim
from urbsim.mdlinfo import ModelInfo, model_info

TINY = Path(__file__).with_name("tiny.mdl")


@pytest.fixture(scope="session")
def model() -> urbsim.Model:
    """The project model on the fast engine (compiling it takes a few seconds, once)."""
    m = urbsim.load_model()
    m.run(outputs=["county_town_share"])
    return m


@pytest.fixture(scope="session")
def info() -> ModelInfo:
    return model_info()


@pytest.fixture(scope="session")
def tiny() -> urbsim.Model:
    """Constants a, b in [0,2], [0,10] and c[urb, agr] in [0,4], all Uncertain; lever k.

    ``Only A = a * a`` depends on ``a`` alone; ``Additive = a + b/10 + SUM(c)/100``.
    """
    return urbsim.load_model(TINY)
