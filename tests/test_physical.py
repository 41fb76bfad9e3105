"""Physical at every corner: no negative stock, NaN, infinity or share outside 0-100 % for any
combination of documented constant values, and rate constants far beyond their ranges (x0.1 and
x10 of the range ends) still give physical results thanks to first-order outflow limits."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import urbsim
from urbsim.indicators import INDICATORS
from urbsim.paths import default_model_path

#: Stocks that accumulate a net flow and may legitimately be negative.
SIGNED = {"Cumulative Net In Migration"}
SHARES = ("county_town_share", "county_town_share_incl_temporary", "county_town_share_incl_cities")
#: The unit field of a rate or time constant, with its range.
RATE_UNITS = ("1/year", "year", "1/(year*year)")
_UNITS = "|".join(map(re.escape, RATE_UNITS))
RATE_RANGE = re.compile(rf"^(\t~\t(?:{_UNITS}) )\[(-?[0-9.eE+]+),(-?[0-9.eE+]+)", re.M)


@pytest.fixture(scope="module")
def model():
    return urbsim.load_model(engine="fast")


def varied(info):
    return [c for c in info.settable() if c.range[0] < c.range[1]]


def assert_physical(model, params, n):
    """Every stock finite and non-negative, every share within 0-100 %, in every run."""
    stocks = [v.name for v in model.info.variables.values() if v.kind == "stateful"]
    ds = model.run(params, n=n, outputs=[*stocks, *INDICATORS])
    for name in [*stocks, *INDICATORS]:
        values = ds[name].values
        assert np.isfinite(values).all(), f"{name} is not finite"
        if name not in SIGNED:
            assert values.min() >= -1e-9, f"{name} goes negative: {values.min()}"
    for name in (*SHARES, "urbanization_rate"):
        values = ds[name].values
        assert values.min() >= 0 and values.max() <= 100 + 1e-9, (name, values.min(), values.max())


def corners(info, pick: np.ndarray) -> dict[str, np.ndarray]:
    """Each varied constant at its range minimum (pick 0) or maximum (1), element by element."""
    out = {}
    start = 0
    n = pick.shape[0]
    for c in varied(info):
        size = max(c.default.size, 1)
        p = pick[:, start : start + size].reshape((n, *c.default.shape))
        out[c.name] = np.where(p == 0, c.range[0], c.range[1]).astype(float)
        start += size
    return out


def corner_width(info) -> int:
    return sum(max(c.default.size, 1) for c in varied(info))


def test_a_thousand_random_corners_are_physical(model):
    n = 1000
    pick = np.random.default_rng(2026).integers(0, 2, size=(n, corner_width(model.info)))
    assert_physical(model, corners(model.info, pick), n)


def test_corners_found_by_hypothesis_are_physical(model):
    width = corner_width(model.info)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.integers(0, 1), min_size=width, max_size=width))
    def check(bits):
        assert_physical(model, corners(model.info, np.array([bits])), 1)

    check()


def widened_model(tmp_path):
    """A copy of the model in which every rate (1/year, 1/year^2) and time (year) constant may go
    to x0.1 and x10 of its documented range ends."""

    def widen(m: re.Match) -> str:
        lo, hi = float(m[2]), float(m[3])
        if lo == hi:
            return m[0]
        return f"{m[1]}[{lo * 10 if lo < 0 else lo / 10:.6g},{hi * 10 if hi > 0 else hi / 10:.6g}"

    text = RATE_RANGE.sub(widen, default_model_path().read_text(encoding="utf-8"))
    path = tmp_path / "urbsim.mdl"
    path.write_text(text, encoding="utf-8")
    return urbsim.load_model(path, engine="fast")


#: The four cases that broke the first model: far too fast settlement, land supply, perception,
#: and a falling birth rate that would turn births negative.
EXTREMES = {
    "max citizenization rate": 1.5,
    "minimum land supply time": 0.05,
    "attractiveness perception time": 0.1,
    "birth rate drift": -0.003,
}


def test_rate_constants_far_beyond_their_ranges_stay_physical(tmp_path):
    model = widened_model(tmp_path)
    rates = [c for c in varied(model.info) if c.units in RATE_UNITS]
    assert len(rates) > 20 and set(EXTREMES) <= {c.name for c in rates}
    n = 2 * len(rates) + len(EXTREMES)
    params = {}
    for c in varied(model.info):
        params[c.name] = np.broadcast_to(c.default, (n, *c.default.shape)).copy()
    for k, c in enumerate(rates):
        params[c.name][2 * k] = c.range[0]
        params[c.name][2 * k + 1] = c.range[1]
    for j, (name, value) in enumerate(EXTREMES.items()):
        assert model.info.constants[name].range[0] <= value <= model.info.constants[name].range[1]
        params[name][2 * len(rates) + j] = value
    assert_physical(model, params, n)
