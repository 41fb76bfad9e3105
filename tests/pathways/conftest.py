"""A small probe for the pathway tools: three levers free, the rest held at the plan."""

from __future__ import annotations

import pytest

import urbsim

FREE = ("settlement openness policy", "reward per settler", "permit coverage policy")


@pytest.fixture(scope="session")
def plan() -> urbsim.Scenario:
    return urbsim.load_scenario("plan")


@pytest.fixture(scope="session")
def held(fast_model) -> list[str]:
    """Every lever but :data:`FREE`."""
    levers = [c.name for g in fast_model.info.levers().values() for c in g]
    return [name for name in levers if name not in FREE]
