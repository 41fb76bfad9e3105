"""Every policy lever moves a target or headline indicator when swept over its range (issue: a
lever that moves nothing is a model defect), and the land and money constraints bind."""

from __future__ import annotations

import pytest

import urbsim
from urbsim.sweep import THRESHOLD_PP, THRESHOLD_REL, lever_sweep


@pytest.fixture(scope="module")
def model():
    return urbsim.load_model(engine="fast")


def test_every_lever_moves_a_target_or_headline_indicator_by_2030(model):
    table = lever_sweep(model, urbsim.load_scenario("plan"), 2030)
    assert len(table) == sum(len(g) for g in model.info.levers().values()) >= 20
    inert = table[~table.passes]
    assert inert.empty, f"inert levers:\n{inert.to_string()}"


def test_sweep_thresholds_are_the_issue_s():
    assert THRESHOLD_PP == 0.05 and THRESHOLD_REL == 0.002


def test_land_and_money_bind_under_the_plan(model):
    """Both constraints are below 100 % at some time under the plan (so the land and money levers
    act through them), and turning the people-land-money linkage off changes the 2030 share."""
    ds = model.run(urbsim.load_scenario("plan"), outputs=["land_fulfilment", "funding_ratio"])
    assert float(ds.land_fulfilment.min()) < 90
    assert float(ds.funding_ratio.min()) < 90
    plan = dict(urbsim.load_scenario("plan").parameters)
    off = {
        **plan,
        "land link policy": 0.0,
        "permit land weight": 0.0,
        "reward per settler": 0.0,
        "transfer weight policy": 0.3,
    }
    on = model.run(plan, outputs=["county_town_share"]).county_town_share.sel(time=2030.0)
    no = model.run(off, outputs=["county_town_share"]).county_town_share.sel(time=2030.0)
    assert abs(float(on[0]) - float(no[0])) >= THRESHOLD_PP
