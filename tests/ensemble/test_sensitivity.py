"""Sensitivity on the tiny model, whose structure fixes the right answer."""

from __future__ import annotations

import numpy as np
import pytest

from urbsim.ensemble.sensitivity import morris_indices, sobol_indices, top_drivers
from urbsim.errors import ParameterError


def test_sobol_finds_the_only_driver(tiny):
    ds = sobol_indices(n=512, seed=3, model=tiny, outputs=["Only A", "Additive"], years=[2025])
    only = ds.sel(output="Only A", year=2025)
    assert float(only.ST.sel(factor="a")) > 0.95 and float(only.S1.sel(factor="a")) > 0.9
    for f in ("b", "c[urb]", "c[agr]"):
        assert abs(float(only.ST.sel(factor=f))) < 0.02
    add = ds.sel(output="Additive", year=2025)
    # Var(a) = 4/12, Var(b/10) = 1/12, Var(SUM(c)/100) ~ 0.0003: ST(a) ~ 0.8, ST(b) ~ 0.2.
    assert 0.7 < float(add.ST.sel(factor="a")) < 0.9
    assert 0.1 < float(add.ST.sel(factor="b")) < 0.3
    assert top_drivers(ds, "Only A", 2025, k=1)[0][0] == "a"
    assert set(ds.data_vars) == {"S1", "S1_conf", "ST", "ST_conf"}


def test_sobol_is_reproducible_and_time_resolved(tiny):
    a = sobol_indices(n=64, seed=1, model=tiny, outputs=["Stock"], years=[2022, 2030])
    b = sobol_indices(n=64, seed=1, model=tiny, outputs=["Stock"], years=[2022, 2030])
    assert a.ST.values.tobytes() == b.ST.values.tobytes()
    assert list(a.year.values) == [2022, 2030]


def test_morris_sees_no_effect_of_unused_factors(tiny):
    ds = morris_indices(n=20, seed=2, model=tiny, outputs=["Only A"], years=[2025, 2035])
    mu = ds.mu_star.sel(output="Only A")
    assert np.all(mu.sel(factor="b").values == 0) and np.all(mu.sel(factor="c[urb]").values == 0)
    assert np.all(mu.sel(factor="a").values > 0.5)


def test_bad_outputs_and_years(tiny):
    with pytest.raises(ParameterError, match="unknown output 'nope'"):
        sobol_indices(n=8, seed=1, model=tiny, outputs=["nope"])
    with pytest.raises(ParameterError, match="must be a scalar time series"):
        sobol_indices(n=8, seed=1, model=tiny, outputs=["a"])
    with pytest.raises(ParameterError, match="outside the model's time"):
        sobol_indices(n=8, seed=1, model=tiny, outputs=["Stock"], years=[1999])


def test_salib_warnings_become_one_notice(caplog):
    import warnings

    from urbsim.ensemble.sensitivity import _analyze_all

    def one(y, rng):
        warnings.warn("the sample size is small", RuntimeWarning, stacklevel=1)
        return {"S1": np.zeros(2)}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping to the caller would raise here
        res = _analyze_all(one, np.zeros((1, 3, 5)), 1, ["S1"], 2)
    assert res["S1"].shape == (1, 3, 2)
    notices = [r.getMessage() for r in caplog.records if r.name == "urbsim"]
    assert len(notices) == 1 and "SALib warned 3 time(s)" in notices[0]
