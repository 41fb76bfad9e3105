"""The calibrated defaults reproduce the official series; the calibration script recovers them."""

from __future__ import annotations

import numpy as np
import pytest

import urbsim
from urbsim.calibration import (
    MAPE_SERIES,
    calibrate,
    calibrated_constants,
    fit_summary,
    fit_table,
    load_observed,
)


@pytest.fixture(scope="module")
def model():
    return urbsim.load_model(engine="fast")


def test_plan_scenario_meets_the_fit_thresholds(model):
    ds = model.run(urbsim.load_scenario("plan"))
    summary = fit_summary(fit_table(ds, load_observed()))
    assert set(MAPE_SERIES) <= set(summary.indicator)
    assert "county_town_population" in set(summary.indicator)
    failing = summary[~summary.passes]
    assert failing.empty, failing.to_string()


def test_observed_series_carry_sources():
    observed = load_observed()
    assert {"indicator", "year", "value", "unit", "source"} <= set(observed.columns)
    assert observed.source.str.len().min() > 10
    assert observed.year.between(2010, 2024).all()


def test_calibration_recovers_the_defaults_from_a_perturbed_start(model, tmp_path):
    names = calibrated_constants(model)
    assert len(names) >= 5
    start = {}
    for name in names:
        c = model.info.constants[name]
        lo, hi = c.range
        start[name] = float(np.clip(c.default * 1.05, lo, hi))
    # Perturb the model file itself, so calibrate() starts from the wrong values.
    from urbsim.calibration import write_defaults

    mdl = tmp_path / "urbsim.mdl"
    mdl.write_text(model.path.read_text(encoding="utf-8"), encoding="utf-8")
    write_defaults(mdl, start)
    perturbed = urbsim.load_model(mdl, engine="fast")
    result = calibrate(perturbed, dict(urbsim.load_scenario("plan").parameters))
    assert result.summary.passes.all(), result.summary.to_string()
    for name in names:
        default = float(model.info.constants[name].default)
        assert result.values[name] == pytest.approx(default, rel=0.02), name
