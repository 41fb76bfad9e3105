"""``urbsim.plot``: one call charts a run, a sweep, an ensemble or a Monte Carlo result."""

from __future__ import annotations

import altair as alt
import numpy as np
import pytest

import urbsim
from urbsim.app.compute import OUTPUTS
from urbsim.charts import BAND, MAX_LINES, chart_data, chart_def, with_vensim_names
from urbsim.ensemble.montecarlo import run_montecarlo
from urbsim.errors import OutputError


def _data(chart: alt.VConcatChart, name: str) -> list[dict]:
    spec = chart.to_dict()
    view = spec["vconcat"][0]
    layer = next(layer for layer in view["layer"] if layer["data"]["name"] == name)
    return spec["datasets"][layer["data"]["name"]]


def _footer(chart: alt.VConcatChart) -> str:
    spec = chart.to_dict()
    return " ".join(r["line"] for r in spec["datasets"][spec["vconcat"][1]["data"]["name"]])


@pytest.fixture(scope="module")
def mc_runs(model):
    return run_montecarlo(urbsim.load_scenario("plan"), n=40, seed=3, model=model, save_runs=True)


def test_plot_of_one_run_is_stamped_and_draws_its_values(plan_run, model):
    chart = urbsim.plot(plan_run, "county_gdp", lang="zh")
    assert isinstance(chart, alt.VConcatChart)
    lines = _data(chart, "lines")
    values = plan_run.county_gdp.isel(run=0).values
    assert [r["value"] for r in lines] == pytest.approx(list(values))
    assert "plan" in _footer(chart) and model.sha256[:12] in _footer(chart)
    assert "band" not in {layer["data"]["name"] for layer in chart.to_dict()["vconcat"][0]["layer"]}


def test_plot_of_a_sweep_labels_each_run_by_its_inputs(model):
    ds = model.run({"reward per settler": np.array([1000.0, 6000.0])}, outputs=["county_gdp"])
    cases = {r["case"] for r in _data(urbsim.plot(ds, "county_gdp"), "lines")}
    assert len(cases) == 2 and all("= 1000" in c or "= 6000" in c for c in cases)


def test_plot_of_an_ensemble_draws_median_and_band(small_ensemble):
    assert small_ensemble.sizes["run"] > MAX_LINES
    chart = urbsim.plot(small_ensemble, "county_town_share")
    band = _data(chart, "band")
    share = small_ensemble.county_town_share.values
    lo, hi = np.quantile(share, BAND, axis=0)
    first = [r for r in band if r["series"] == band[0]["series"]]
    assert [r["lo"] for r in first] == pytest.approx(list(lo))
    assert [r["hi"] for r in first] == pytest.approx(list(hi))


def test_plot_of_a_monte_carlo_summary_uses_its_percentiles(model):
    mc = run_montecarlo(urbsim.load_scenario("plan"), n=32, seed=1, model=model)
    chart = urbsim.plot(mc, "county_town_share", lang="zh", county_type="urb")
    band = [r for r in _data(chart, "band") if r["series"] == "县城 / 城镇人口"]
    assert [r["lo"] for r in band] == pytest.approx(
        list(mc.county_town_share.sel(percentile=5).values)
    )
    lines = [r for r in _data(chart, "lines") if r["series"] == "县城 / 城镇人口"]
    assert [r["value"] for r in lines] == pytest.approx(
        list(mc.county_town_share.sel(percentile=50).values)
    )
    footer = _footer(chart)
    assert "种子 1" in footer and "集合" in footer  # seed, and the sampled inputs counted


def test_plot_of_saved_monte_carlo_runs_and_chart_data_with_it(mc_runs, plan_run):
    chart = urbsim.plot(mc_runs, "debt_ratio", baseline=plan_run)
    assert len({r["case"] for r in _data(chart, "lines")}) == 2
    # chart_data accepts the runs of an mc result as its ensemble (it raised KeyError)
    data = chart_data(
        chart_def("county_town_share"),
        {"plan": plan_run},
        "en",
        ensemble=with_vensim_names(mc_runs),
    )
    assert data.band is not None and len(data.band) > 0


def test_plot_accepts_any_indicator_and_rejects_unknown_names(plan_run):
    chart = urbsim.plot(plan_run, "total_population")
    assert chart.to_dict()["vconcat"][0]["title"]["text"] == "Total population"
    with pytest.raises(OutputError, match="unknown chart 'nope'"):
        urbsim.plot(plan_run, "nope")
    with pytest.raises(OutputError, match="unknown county type"):
        urbsim.plot(plan_run, county_type="city")


def test_runs_keep_their_inputs_whatever_the_outputs(model):
    scenario = urbsim.load_scenario("plan")
    ds = model.run(scenario, outputs=["county_town_share"])
    for name in scenario.arrays(model.info):
        assert name in ds and ds[name].dims[0] == "run" and ds[name].attrs["role"] == "input"
    sweep = model.run({"reward per settler": np.array([100.0, 200.0, 300.0])}, outputs=OUTPUTS[:1])
    assert sweep["reward per settler"].values.tolist() == [100.0, 200.0, 300.0]
