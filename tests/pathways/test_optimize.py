"""The goal seeker: honest probabilities, infeasibility as an answer, the front, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbsim.ensemble.montecarlo import run_montecarlo
from urbsim.errors import ParameterError
from urbsim.pathways import optimize
from urbsim.pathways.cli import answer_scenario
from urbsim.pathways.optimize import Candidate, check_confidence, pareto_front
from urbsim.pathways.runs import check_targets, check_year, lever_space


@pytest.fixture(scope="module")
def feasible(fast_model, plan, held):
    """T2b (with temporary residents) in 2030 at 60 %: reachable with three levers, at a
    probability far enough from 0 and 1 for the honesty check to mean something."""
    return optimize(
        fast_model, plan, "T2b", 2030, 0.6, n=200, seed=3, fix=held, maxiter=3, validation=1000
    )


def test_an_independent_monte_carlo_reproduces_p_met(fast_model, plan, feasible):
    assert feasible.feasible and 0.6 <= feasible.p_met <= 0.95
    best = answer_scenario(plan, feasible)
    check = run_montecarlo(best, n=1000, seed=12345, model=fast_model)
    p = float(check.p_met.sel(target="T2b", year=2030))
    assert abs(p - feasible.p_met) <= 0.05
    assert feasible.p_met_low <= feasible.p_met <= feasible.p_met_high


def test_the_answer_changes_only_free_levers_and_states_its_ensemble(feasible, held):
    assert feasible.changed and not set(feasible.changed) & set(held)
    assert feasible.ensemble["size"] == 200 and feasible.ensemble["source"] in (
        "prior",
        "posterior",
    )
    assert feasible.ensemble["validation_seed"] != feasible.ensemble["seed"]
    assert feasible.cost > 0 and feasible.cost_unit == "亿元"
    out = feasible.to_json()
    for key in ("target", "year", "confidence", "p_met", "p_met_low", "p_met_high", "cost"):
        assert key in out
    assert out["target"] == "T2b" and set(out["levers"]) >= set(feasible.changed)


def test_the_front_is_nondominated_and_the_least_change_is_closest(feasible):
    front = feasible.front
    costs = [f["cost"] for f in front]
    probs = [f["p_met"] for f in front]
    assert costs == sorted(costs) and probs == sorted(probs) and len(set(probs)) == len(probs)
    least = feasible.least_change
    assert least is not None and least["distance"] >= 0


def test_an_unreachable_target_is_answered_as_infeasible(fast_model, plan, held):
    report = optimize(fast_model, plan, "T2", 2025, 0.99, n=200, seed=1, fix=held, maxiter=2)
    assert not report.feasible
    assert report.p_met < 0.99 and report.least_change is None
    assert report.earliest_year is None or 2025 < report.earliest_year <= 2035
    assert isinstance(report.levers_at_bounds, list)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1e4)), min_size=1, max_size=40))
def test_pareto_front_keeps_exactly_the_undominated(points):
    cands = [Candidate(np.zeros(1), p, c) for p, c in points]
    front = pareto_front(cands)
    for c in cands:
        dominated = any(o.cost <= c.cost and o.p_met >= c.p_met for o in front)
        assert dominated
    for f in front:
        assert not any(
            (o.cost < f.cost and o.p_met >= f.p_met) or (o.cost <= f.cost and o.p_met > f.p_met)
            for o in cands
        )


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda m: check_targets(["T99"]), "unknown target id"),
        (lambda m: check_year(2022), "2023-2035"),
        (lambda m: check_year(2036), "2023-2035"),
        (lambda m: check_confidence(1.0), "strictly between 0 and 1"),
        (lambda m: check_confidence(float("nan")), "strictly between 0 and 1"),
        (lambda m: lever_space(m, None, ["birth rate drift"]), "not a lever"),
        (lambda m: optimize(m, None, "T2", 2030, 0.8, n=50), "at least 200"),
    ],
)
def test_bad_input_is_one_line(fast_model, call, words):
    with pytest.raises(ParameterError, match=words) as err:
        call(fast_model)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_headline_tells_met_borderline_and_infeasible_apart(feasible, lang):
    from dataclasses import replace

    from urbsim.pathways.cli import headline

    met = headline(feasible, lang)
    border = headline(replace(feasible, feasible=False, search_feasible=True), lang)
    never = headline(replace(feasible, feasible=False, search_feasible=False), lang)
    assert len({met, border, never}) == 3
    assert ("borderline" if lang == "en" else "临界") in border
    assert str(round(feasible.p_met * 100)) in met
