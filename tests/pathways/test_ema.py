"""The EMA Workbench connector on 100 experiments."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from urbsim.errors import ParameterError
from urbsim.indicators import value_at

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from ema_workbench import perform_experiments

from urbsim.pathways.ema import VectorizedEvaluator, ema_model


@pytest.fixture(scope="module")
def results(fast_model):
    model = ema_model("plan", ["county_town_share", "plan_public_cost@2030"], model=fast_model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with VectorizedEvaluator(model) as evaluator:
            experiments, outcomes = perform_experiments(model, 50, policies=2, evaluator=evaluator)
    return model, experiments, outcomes


def test_parameters_are_every_uncertain_element_and_every_lever(fast_model, results):
    model, _, _ = results
    info = fast_model.info
    elements = sum(int(np.prod(c.default.shape, dtype=int)) for c in info.uncertain())
    assert len(model.uncertainties) == elements
    levers = [c for g in info.levers().values() for c in g]
    assert len(model.levers) == sum(int(np.prod(c.default.shape, dtype=int)) for c in levers)
    assert all(p.name.isidentifier() for p in [*model.uncertainties, *model.levers])


def test_100_experiments_run_and_match_a_direct_run(fast_model, results):
    model, experiments, outcomes = results
    assert len(experiments) == 100
    series = outcomes["county_town_share"]
    assert series.shape[0] == 100 and np.isfinite(series).all()
    cost = outcomes["plan_public_cost_2030"]
    assert cost.shape == (100,) and np.ptp(cost) > 0  # the levers and draws matter
    row = experiments.iloc[7]
    arrays = {}
    for key, (name, index) in model.parameter_names.items():
        c = fast_model.info.constants[name]
        arr = arrays.setdefault(name, np.array(model.base.get(name, c.default), float).ravel())
        arr[index] = row[key]
    params = {k: v.reshape(fast_model.info.constants[k].default.shape) for k, v in arrays.items()}
    ds = fast_model.run({**model.base, **params}, outputs=["plan_public_cost"])
    direct = float(value_at(ds.plan_public_cost, 2030).squeeze())
    assert cost[7] == pytest.approx(direct, rel=1e-9)


def test_unknown_outcome_is_refused(fast_model):
    with pytest.raises(ParameterError, match="not a standard indicator"):
        ema_model("plan", ["county_town_shares"], model=fast_model)
    with pytest.raises(ParameterError, match="2023-2035"):
        ema_model("plan", ["county_town_share@2050"], model=fast_model)
