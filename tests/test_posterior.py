"""The Bayesian posterior: reproducible by seed, refused for another model, drawn jointly by every
ensemble (unless --prior), and it brings history inside the ensemble."""

from __future__ import annotations

import numpy as np
import pytest

import urbsim
from urbsim.calibration import calibrated_constants
from urbsim.cli import main
from urbsim.ensemble.montecarlo import run_montecarlo
from urbsim.ensemble.sampling import sample
from urbsim.params import resolve_name
from urbsim.posterior import (
    PRIOR,
    PosteriorError,
    ensemble_posterior,
    load_posterior,
    posterior,
    posterior_status,
)


@pytest.fixture(scope="module")
def model():
    return urbsim.load_model(engine="fast")


@pytest.fixture(scope="module")
def committed(model):
    return load_posterior(model)


def test_the_committed_posterior_matches_the_model_and_is_diagnosed(model, committed):
    assert committed.attrs["model_sha256"] == model.sha256
    assert "matches the model" in posterior_status(model)
    calibrated = [c.name for c in model.info.constants.values() if c.calibrated]
    assert set(calibrated) <= set(committed.names)
    assert len(committed.draws) >= 1000 and np.isfinite(committed.log_prob).all()
    assert (committed.draws >= committed.lo).all() and (committed.draws <= committed.hi).all()
    assert (committed.ess > 100).all()
    # the data pin the calibrated constants: their spread shrinks well below the prior's
    shrink = dict(zip(committed.names, committed.shrinkage, strict=True))
    assert np.median([shrink[c] for c in calibrated]) > 0.5


def test_the_calibration_module_offers_the_posterior():
    import urbsim.calibration

    assert urbsim.calibration.posterior is posterior


def test_a_short_chain_is_reproducible_by_seed(model):
    walkers = 2 * (len(calibrated_constants(model)) + 1)  # emcee's least
    runs = [
        posterior(model, seed=3, steps=12, walkers=walkers, extra=["rural out region rate"])
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].draws, runs[1].draws)
    other = posterior(model, seed=4, steps=12, walkers=walkers, extra=["rural out region rate"])
    assert not np.array_equal(runs[0].draws, other.draws)


def test_a_posterior_for_another_model_is_refused(model, committed, tmp_path):
    stale = committed.to_dataset()
    stale.attrs["model_sha256"] = "0" * 64
    path = tmp_path / "posterior.nc"
    stale.to_netcdf(path)
    with pytest.raises(PosteriorError, match="was made for model 000000000000"):
        load_posterior(model, path)
    (tmp_path / "garbage.nc").write_bytes(b"not a netcdf file")
    with pytest.raises(PosteriorError, match="cannot be read"):
        load_posterior(model, tmp_path / "garbage.nc")


def test_ensembles_draw_whole_posterior_draws_and_the_scenario_still_overrides(model, committed):
    plan = urbsim.load_scenario("plan")
    post, label = ensemble_posterior(model, "auto")
    assert label.startswith("posterior") and ensemble_posterior(model, "prior")[1] == PRIOR
    drawn = sample(model.info, plan, 400, 5, posterior=post)
    rows = {tuple(r) for r in np.round(committed.draws, 12)}
    calibrated = [n for n in committed.names if "[" not in n]
    cols = [committed.names.index(n) for n in calibrated]
    picked = np.stack([drawn[n] for n in calibrated], axis=1)
    full = {tuple(np.round(r[cols], 12)) for r in committed.draws}
    assert all(tuple(np.round(r, 12)) in full for r in picked) and len(rows) > 1
    table = {"rural out region rate": {"dist": "uniform", "min": 0.005, "max": 0.006}}
    overridden = sample(model.info, plan, 200, 5, uncertainty=table, posterior=post)
    assert overridden["rural out region rate"].min() >= 0.005


def test_mc_says_which_ensemble_it_used(model, capsys):
    ds = run_montecarlo(urbsim.load_scenario("plan"), 64, 1, model=model)
    assert ds.attrs["ensemble"].startswith("posterior")
    prior = run_montecarlo(urbsim.load_scenario("plan"), 64, 1, model=model, posterior=None)
    assert prior.attrs["ensemble"] == PRIOR
    assert main(["mc", "--scenario", "plan", "--n", "64", "--seed", "1", "--prior"]) == 0
    assert "from the prior" in capsys.readouterr().out


def test_history_is_closer_to_the_posterior_ensemble_than_to_the_prior(model):
    """Observed 2021-2023 urban population and urbanization lie nearer the posterior ensemble's
    median than the prior ensemble's."""
    from urbsim.calibration import load_observed

    obs = load_observed()
    obs = obs[obs.indicator.isin(["urban_population", "urbanization_rate"]) & obs.year.ge(2021)]
    plan = urbsim.load_scenario("plan")
    errors = {}
    for kind in ("auto", None):
        ds = run_montecarlo(plan, 500, 2, model=model, posterior=kind)
        errors[kind] = sum(
            abs(float(ds[r.indicator].sel(time=float(r.year), percentile=50)) - r.value) / r.value
            for r in obs.itertuples()
        )
    assert errors["auto"] < errors[None] / 2


def test_history_and_run_lie_inside_the_default_ensembles_middle_half(model):
    """The issue's check: ``urbsim mc --scenario plan --n 2000 --seed 1`` has the observed
    2021-2023 urban and rural population and urbanization inside its 25-75 % band, and the
    central run (``urbsim run``) has every scorecard target's 2025 value inside it too."""
    from urbsim.calibration import load_observed
    from urbsim.indicators import TARGETS
    from urbsim.posterior import central_run, middle_half

    plan = urbsim.load_scenario("plan")
    ds = run_montecarlo(plan, 2000, 1, model=model)
    run = central_run(model, plan, outputs=[t.indicator for t in TARGETS.values()])
    check = middle_half(ds, run, load_observed())
    assert (check.kind == "history").sum() == 9 and (check.kind == "target").sum() == len(TARGETS)
    assert check.inside.all(), check[~check.inside]
    assert run.attrs["inputs"].startswith("central") and "posterior" in run.attrs["inputs"]


def test_the_middle_half_check_can_fail(model):
    """A band that misses a point says so (the check is not vacuous)."""
    from urbsim.calibration import load_observed
    from urbsim.indicators import TARGETS
    from urbsim.posterior import central_run, middle_half

    plan = urbsim.load_scenario("plan")
    ds = run_montecarlo(plan, 64, 1, model=model)
    run = central_run(model, plan, outputs=[t.indicator for t in TARGETS.values()])
    shifted = ds.copy()
    shifted["rural_population"] = ds["rural_population"] + 100.0  # 万人: far above history
    check = middle_half(shifted, run, load_observed())
    rural = check[check.name == "rural_population"]
    assert len(rural) == 3 and not rural.inside.any()


def test_the_central_inputs_are_each_inputs_median(model, committed):
    """Posterior constants at the posterior median, uniform ones at the middle of their range,
    what the scenario sets as it sets it."""
    from urbsim.ensemble.sampling import central

    plan = urbsim.load_scenario("plan")
    p = central(model.info, plan, posterior=committed)
    j = committed.names.index("rural migration scale")
    assert p["rural migration scale"] == pytest.approx(np.median(committed.draws[:, j]))
    uniform = next(
        c
        for c in model.info.uncertain()
        if not c.dims and c.name not in committed.constants and c.name not in plan.parameters
    )
    assert p[uniform.name] == pytest.approx(sum(uniform.range) / 2)
    for name, value in plan.parameters.items():
        if not isinstance(value, dict):
            assert np.all(p[resolve_name(model.info, name).name] == value)


def test_check_reports_a_stale_posterior(model, tmp_path, monkeypatch, capsys):
    stale = load_posterior(model).to_dataset()
    stale.attrs["model_sha256"] = "f" * 64
    path = tmp_path / "posterior.nc"
    stale.to_netcdf(path)
    monkeypatch.setattr("urbsim.posterior.default_path", lambda: path)
    assert "STALE" in posterior_status(model)


BAD_OBSERVED = {
    "malformed row": ("urban_population,2021,1637.04,万人\n", ":2: 4 fields, expected 6"),
    "unknown indicator": (
        "gdp_per_capita,2021,1,x,y,z\n",
        ":2: unknown indicator 'gdp_per_capita'",
    ),
    "non-numeric value": ("urban_population,2021,lots,x,y,z\n", ":2: year '2021' and value 'lots'"),
    "year outside the horizon": ("urban_population,2050,1,x,y,z\n", ":2: year 2050 is outside"),
}


@pytest.mark.parametrize("case", sorted(BAD_OBSERVED))
def test_a_bad_observed_file_is_one_line_and_exit_2(case, tmp_path, capsys):
    row, message = BAD_OBSERVED[case]
    path = tmp_path / "observed.csv"
    path.write_text("indicator,year,value,unit,basis,source\n" + row, encoding="utf-8")
    out = tmp_path / "post.nc"
    code = main(["calibrate", "--seed", "1", "--observed", str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err
    assert not out.exists()
