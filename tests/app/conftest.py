"""Shared fixtures of the app tests: one compiled model and a few runs per test session."""

from __future__ import annotations

import numpy as np
import pytest

import urbsim
from urbsim.app.compute import OUTPUTS


@pytest.fixture(scope="session")
def model():
    return urbsim.load_model()


@pytest.fixture(scope="session")
def plan_run(model):
    return model.run(urbsim.load_scenario("plan"), outputs=OUTPUTS)


@pytest.fixture(scope="session")
def baseline_run(model):
    return model.run(urbsim.load_scenario("baseline"), outputs=OUTPUTS)


@pytest.fixture(scope="session")
def small_ensemble(model):
    """20 runs varying one uncertain constant over its range (enough to test band plumbing)."""
    return model.run({"rural migration scale": np.linspace(0.5, 2.0, 20)}, outputs=OUTPUTS)
