"""The model itself: it runs in PySD, conserves people, keeps stocks non-negative over its ranges,
and carries every standard indicator and target."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import urbsim
from urbsim.ensemble.distributions import range_uncertainty
from urbsim.ensemble.sampling import sample
from urbsim.indicators import INDICATORS, TARGETS, UNREPRESENTED
from urbsim.mdlinfo import name_clashes

#: Stocks that accumulate a net flow and may legitimately be negative.
SIGNED_STOCKS = {"Cumulative Net In Migration"}


@pytest.fixture(scope="module")
def fast():
    return urbsim.load_model(engine="fast")


def varied_constants(info):
    """Constants with a non-degenerate documented range (control variables excluded)."""
    return [c for c in info.settable() if c.range[0] < c.range[1]]


def latin_hypercube(info, n: int, seed: int) -> dict[str, np.ndarray]:
    """n runs spread over every settable constant's documented range (elements independent)."""
    return sample(info, None, n, seed, "lhs", uncertainty=range_uncertainty(info))


def assert_people_conserved(ds) -> None:
    """People stocks = initial total + births - deaths + net in-migration, at every step."""
    total = ds["Total Population"]
    expected = (
        total.isel(time=0)
        + ds["Cumulative Births"]
        - ds["Cumulative Deaths"]
        + ds["Cumulative Net In Migration"]
    )
    np.testing.assert_allclose(total.values, expected.values, rtol=1e-9)
    stocks = (
        ds["Rural Population"].sum("Type")
        + ds["Nonhukou Residents"].sum("Type")
        + ds["Hukou Residents"].sum("Type")
        + ds["Other Urban Population"]
    )
    np.testing.assert_allclose(stocks.values, total.values, rtol=1e-12)


def assert_stocks_sane(model, ds) -> None:
    stocks = [v.name for v in model.info.variables.values() if v.kind == "stateful"]
    for name in stocks:
        values = ds[name].values
        assert np.isfinite(values).all(), f"{name} is not finite in some run"
        if name not in SIGNED_STOCKS:
            assert values.min() >= 0, f"{name} goes negative: {values.min()}"


def test_model_loads_and_runs_in_pysd(pysd_at_defaults):
    ds = pysd_at_defaults
    assert ds.attrs["engine"] == "pysd"
    assert ds.sizes["time"] == 101 and float(ds.time[0]) == 2010.0 and float(ds.time[-1]) == 2035.0
    share = ds.county_town_share.isel(run=0)
    assert 20 < float(share.sel(time=2025.0)) < 40
    assert_people_conserved(ds)


def test_population_is_conserved_over_the_ranges(fast):
    ds = fast.run(latin_hypercube(fast.info, 300, seed=7), n=300)
    assert_people_conserved(ds)


def test_no_stock_goes_negative_on_a_latin_hypercube_over_the_ranges(fast):
    n = 2000
    ds = fast.run(latin_hypercube(fast.info, n, seed=11), n=n)
    assert_stocks_sane(fast, ds)


def test_no_stock_goes_negative_at_the_corners_of_each_range(fast):
    """One constant at a time at its minimum and at its maximum (all elements together)."""
    consts = varied_constants(fast.info)
    n = 2 * len(consts)
    params = {}
    for k, c in enumerate(consts):
        column = np.broadcast_to(c.default, (n, *c.default.shape)).copy()
        column[2 * k] = c.range[0]
        column[2 * k + 1] = c.range[1]
        params[c.name] = column
    assert_stocks_sane(fast, fast.run(params, n=n))


@st.composite
def parameter_sets(draw, info):
    params = {}
    for c in varied_constants(info):
        if draw(st.booleans()):
            lo, hi = c.range
            params[c.name] = draw(
                st.floats(lo, hi, allow_nan=False).map(lambda v, s=c.default.shape: np.full(s, v))
            )
    return params


def test_no_stock_goes_negative_in_a_hypothesis_search():
    model = urbsim.load_model(engine="fast")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(parameter_sets(model.info))
    def check(params):
        assert_stocks_sane(model, model.run(params))

    check()


def test_every_indicator_and_target_is_in_the_model(fast):
    ds = fast.run(outputs=list(INDICATORS))
    for ind in INDICATORS.values():
        assert ind.variable in fast.info.variables
        assert ds[ind.name].attrs["units"] == ind.units
        assert ds[ind.name].dims == ("run", "time")
    ids = set(TARGETS) | set(UNREPRESENTED)
    # T2 is shown on three definitions of the county-town population.
    assert ids == {f"T{i}" for i in range(1, 20)} | {"T2b", "T2c"}
    for t in TARGETS.values():
        assert t.indicator in INDICATORS and 2023 <= t.year <= 2035


def test_structural_definitions_cannot_be_set(fast):
    for name in ("residential selector", "m2 to km2", "FINAL TIME"):
        with pytest.raises(urbsim.ParameterError, match="structural"):
            fast.run({name: 1})


def test_every_constant_documents_unit_range_and_source(fast):
    for c in fast.info.constants.values():
        assert c.units, c.name
        assert c.range is not None and c.range[0] <= c.range[1], c.name
        assert np.all((c.default >= c.range[0]) & (c.default <= c.range[1])), c.name
        assert c.source, f"{c.name} has no 'Source:' in its comment"


def test_plan_switch_only_acts_from_policy_start(fast):
    ds = fast.run({"plan switch": np.array([0.0, 1.0])}, n=2, outputs=list(INDICATORS))
    before = ds.sel(time=ds.time < 2022.0)
    after = ds.sel(time=2030.0)
    for name in INDICATORS:
        np.testing.assert_array_equal(before[name].isel(run=0), before[name].isel(run=1))
    assert float(after.citizenized_migrants[1]) > float(after.citizenized_migrants[0])
    assert float(after.county_town_share[1]) > float(after.county_town_share[0])


def test_plan_window_is_calendar_2023_to_2025(fast):
    """Time t is the end of year t: the plan acts on the flows of calendar 2023 from t = 2022 on,
    and after 2025 keeps the share 'post plan continuation' of its lever changes."""
    ds = fast.run({"post plan continuation": np.array([1.0, 0.0, 0.4])}, n=3, outputs=["policy on"])
    on = ds["policy on"].to_pandas().T  # time x run
    assert (on.loc[on.index < 2022] == 0).all().all()
    assert (on.loc[(on.index >= 2022) & (on.index < 2025)] == 1).all().all()
    np.testing.assert_array_equal(on.loc[on.index >= 2025].iloc[0], [1.0, 0.0, 0.4])
    assert (on.loc[on.index >= 2025].nunique() == 1).all()


def test_reverting_after_2025_changes_the_outlook_only(fast):
    ds = fast.run({"post plan continuation": np.array([1.0, 0.0])}, n=2, outputs=list(INDICATORS))
    early = ds.sel(time=ds.time < 2025.0)
    for name in INDICATORS:
        np.testing.assert_array_equal(early[name].isel(run=0), early[name].isel(run=1))
    late = ds.sel(time=2030.0)
    assert float(late.citizenized_migrants[0]) > float(late.citizenized_migrants[1])


def test_no_two_names_clash_in_vensim(fast):
    """Vensim ignores case, spaces and underscores: no two names of the model may differ only so."""
    assert name_clashes(fast.path.read_text(encoding="utf-8")) == []
    clashes = name_clashes("Use: res, ind, pub\nInd: a, b\nx = 1\nX_ = 2\nx = 3\n")
    assert clashes == [((1, "ind"), (2, "Ind")), ((3, "x"), (4, "X_"))]


def test_split_shares_sum_to_one_by_construction(fast):
    """Every split of a whole is normalized in the model: any weights give shares summing to 1."""
    names = ["rural type share", "town type share", "type share of city movers", "use share init"]
    names += ["park sector share", "service weight"]
    weights = {
        "rural type weight": [[0.6, 0.15, 0.6]],
        "town type weight": [[0.15, 0.15, 0.6]],
        "type weight of city movers": [[1.0, 0.05, 1.0]],
        "use weight init": [[0.6, 0.6, 0.1]],
        "park sector weight": [[1.0, 1.0, 0.05]],
        "service weight raw": [[1.0, 0.05, 0.05, 1.0]],
        "industry mix weight": [[[1, 0.05, 1], [0.05, 1, 1], [1, 1, 1]]],
    }
    ds = fast.run(weights, outputs=[*names, "industry mix"])
    for name in names:
        np.testing.assert_allclose(ds[name].isel(time=0).sum().item(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds["industry mix"].isel(time=0).sum("Ind").values, 1.0, rtol=1e-12)


def test_every_scenario_leaves_history_as_observed(fast):
    """Scenarios change levers, and levers act from the plan's start: before 2022 every built-in
    scenario gives the same indicators as the calibrated plan run."""
    plan = fast.run(urbsim.load_scenario("plan"), outputs=list(INDICATORS))
    before = plan.time < 2022.0
    for name in ["baseline", "plan-fiscal-tight", "accelerated", "border-towns", "shrinking-towns"]:
        ds = fast.run(urbsim.load_scenario(name), outputs=list(INDICATORS))
        for ind in INDICATORS:
            np.testing.assert_array_equal(
                ds[ind].sel(time=before).values, plan[ind].sel(time=before).values, err_msg=name
            )


def test_presets_differ_from_the_plan(fast):
    """Each built-in scenario tells its own story: no two give the same 2030 indicators."""
    names = [
        "baseline",
        "plan",
        "plan-fiscal-tight",
        "accelerated",
        "border-towns",
        "shrinking-towns",
    ]
    values = {}
    for name in names:
        ds = fast.run(urbsim.load_scenario(name), outputs=list(INDICATORS))
        values[name] = np.array([float(ds[i].sel(time=2030.0)[0]) for i in INDICATORS])
    for a in names:
        for b in names:
            if a < b:
                assert not np.allclose(values[a], values[b], rtol=1e-6), (a, b)
    shrinking = fast.run(urbsim.load_scenario("shrinking-towns"), outputs=["Town Residents"])
    plan = fast.run(urbsim.load_scenario("plan"), outputs=["Town Residents"])
    eco = {"Type": "eco", "time": 2035.0}
    assert float(shrinking["Town Residents"].sel(**eco)[0]) < float(
        plan["Town Residents"].sel(**eco)[0]
    )
