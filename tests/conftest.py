"""Shared fixtures: the project's model, compiled once per test session with the fast engine."""

from __future__ import annotations

from pathlib import Path

import pytest

import urbsim
from urbsim.mdlinfo import ModelInfo, model_info

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def info() -> ModelInfo:
    """Documentation of ``model/urbsim.mdl`` (constants, ranges, levers)."""
    return model_info()


@pytest.fixture(scope="session")
def fast_model() -> urbsim.Model:
    """``model/urbsim.mdl`` on the fast engine (compiling takes a few seconds, so share it)."""
    model = urbsim.load_model()
    model.time  # noqa: B018 - compile now, not inside the first test that runs it
    return model


@pytest.fixture()
def data_dir() -> Path:
    """``tests/data``: deliberately broken scenario files."""
    return DATA


@pytest.fixture(scope="session")
def pysd_at_defaults():
    """``model/urbsim.mdl`` run once by PySD (the reference) at its defaults, every variable
    recorded, through ``urbsim.load_model(engine="pysd")``: one PySD run takes ~40 s, so the
    tests that need it share it."""
    return urbsim.load_model(engine="pysd").run()
