"""Parsing [uncertainty] tables: specs, truncation to documented ranges, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from urbsim.ensemble.distributions import (
    Choice,
    TruncatedNormal,
    default_uncertainty,
    parse_uncertainty,
)
from urbsim.errors import ScenarioError

U = np.linspace(0.0, 1.0, 10_001)


def test_default_uncertainty_is_uniform_over_each_range(info):
    dists = default_uncertainty(info)
    assert set(dists) == {c.name for c in info.uncertain()}
    c = info.constants["normal rural to town rate"]
    d = dists[c.name]
    assert d.elements == info.subscripts["Type"]
    for _, _, m in d.factors():
        x = m.ppf(U)
        assert x.min() == c.range[0] and x.max() == c.range[1]


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "normal", "mean": 0.06, "sd": 0.05},
        {"dist": "lognormal", "mean": 0.06, "sd": 0.05},
        {"dist": "triangular", "min": 0.03, "mode": 0.04, "max": 0.09},
        {"dist": "uniform", "min": 0.02, "max": 0.05},
    ],
)
def test_draws_stay_within_documented_range(info, spec):
    lo, hi = info.constants["productivity growth"].range
    (d,) = parse_uncertainty(info, {"productivity growth": spec}).values()
    x = d.marginals[0].ppf(U)
    assert np.all(np.isfinite(x)) and x.min() >= lo and x.max() <= hi
    assert np.all(np.diff(x) >= 0), "an inverse CDF must be non-decreasing"


def test_truncated_normal_matches_scipy(info):
    from scipy.stats import truncnorm

    (d,) = parse_uncertainty(
        info, {"productivity growth": {"dist": "normal", "mean": 0.05, "sd": 0.02}}
    ).values()
    lo, hi = 0.02, 0.09
    ref = truncnorm((lo - 0.05) / 0.02, (hi - 0.05) / 0.02, loc=0.05, scale=0.02)
    u = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(d.marginals[0].ppf(u), ref.ppf(u), rtol=1e-9)


def test_lognormal_mean_and_sd_are_of_the_variable(info):
    m = parse_uncertainty(
        info, {"park crowd in ratio": {"dist": "lognormal", "mean": 3.0, "sd": 0.3}}
    )["park crowd in ratio"].marginals[0]
    assert isinstance(m, TruncatedNormal) and m.log
    # with truncation at [1, 6] far in the tails, the sample mean is that of the variable.
    x = m.ppf((np.arange(200_000) + 0.5) / 200_000)
    assert abs(x.mean() - 3.0) < 0.01 and abs(x.std() - 0.3) < 0.01


def test_choice_follows_weights(info):
    m = parse_uncertainty(
        info, {"resource price boom": {"dist": "choice", "values": [0, 1], "weights": [0.25, 0.75]}}
    )["resource price boom"].marginals[0]
    assert isinstance(m, Choice)
    x = m.ppf((np.arange(1000) + 0.5) / 1000)
    assert set(np.unique(x)) == {0.0, 1.0} and np.count_nonzero(x == 0) == 250


def test_element_table_leaves_other_elements_unset(info):
    d = parse_uncertainty(
        info, {"normal rural to town rate": {"agr": {"dist": "uniform", "min": 0.01, "max": 0.02}}}
    )["normal rural to town rate"]
    assert [m is None for m in d.marginals] == [True, False, True]
    assert d.factors()[0][0] == "normal rural to town rate[agr]"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"dist": "uniform", "min": 0.05, "max": 0.03}, "must be below max"),
        ({"dist": "uniform", "min": 0.0, "max": 0.05}, "outside the constant's documented range"),
        ({"dist": "normal", "mean": 0.05, "sd": 0}, "sd must be positive"),
        ({"dist": "normal", "mean": 0.5, "sd": 0.1}, "mean = 0.5 is outside"),
        ({"dist": "triangular", "min": 0.03, "mode": 0.1, "max": 0.05}, "mode"),
        ({"dist": "choice", "values": [0.03, 0.05], "weights": [0.5, 0.6]}, "sum to 1"),
        ({"dist": "choice", "values": [0.03, 0.5]}, "values = 0.5 is outside"),
        ({"dist": "beta", "a": 1}, "unknown dist 'beta'"),
        ({"dist": "normal", "mean": 0.05}, "missing sd"),
    ],
)
def test_bad_specs_name_file_line_and_variable(info, spec, message):
    text = '[parameters]\nx = 1\n\n[uncertainty]\n"productivity growth" = {}\n'
    with pytest.raises(ScenarioError) as err:
        parse_uncertainty(info, {"productivity growth": spec}, "plan.toml", text=text)
    line = str(err.value)
    assert message in line and "\n" not in line
    assert line.startswith("plan.toml:5: [uncertainty] 'productivity growth'")


def test_unknown_variable_and_element_are_errors(info):
    with pytest.raises(ScenarioError, match="unknown variable 'no such thing'"):
        parse_uncertainty(info, {"no such thing": {"dist": "uniform", "min": 0, "max": 1}})
    with pytest.raises(ScenarioError, match="no element 'xyz'; allowed: urb, agr, eco"):
        parse_uncertainty(
            info,
            {"normal rural to town rate": {"xyz": {"dist": "uniform", "min": 0.01, "max": 0.02}}},
        )
