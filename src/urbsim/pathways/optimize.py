"""What it takes: the cheapest lever mix that meets target(s) with a given confidence.

Problem: over every free lever element (each within its documented range), minimize the
expected plan public cost (indicator ``plan_public_cost``, 亿元, cumulative from the start of
2023 to the end of the target year) subject to ``P(every target met in the year) >= confidence``
over the uncertainty ensemble.

- Common random numbers: every candidate is run against the same ``n`` draws (default 200) of
  :func:`urbsim.pathways.runs.draw_ensemble`, so two candidates differ only by their levers.
- Search: :func:`scipy.optimize.differential_evolution` with ``vectorized=True``: each
  generation's whole population x draws runs in a few vectorized engine calls. The constraint is
  smoothed for the search: a candidate short of the confidence is ranked by how far the
  ``1 - confidence`` quantile of its worst target margin falls below the threshold, so the
  search climbs towards feasibility instead of facing a flat probability.
- Every evaluated candidate is kept: the cost-probability Pareto front comes from all of them,
  the least-change solution is the feasible candidate (or a point on the segment from the
  scenario's setting to the best mix) closest to the scenario in range-normalized distance.
- Honest probabilities: the chosen mix (rounded to 4 significant digits, as written to a
  scenario) is re-run on an independent validation ensemble (another seed, 1,000 draws by
  default); the reported ``p_met`` and its Wilson interval come from that run, not from the
  draws the search fitted to.
- Infeasible is an answer: when no mix reaches the confidence on the validation ensemble, the
  report says so (``search_feasible`` tells whether some mix reached it on the search's draws
  only: a borderline case), gives the best probability found, the levers at their bounds in
  that mix and the earliest year (to 2035) in which that mix reaches the confidence, if any.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution

from urbsim.ensemble.montecarlo import wilson
from urbsim.errors import ParameterError
from urbsim.indicators import INDICATORS
from urbsim.model import Model
from urbsim.params import split_scenario
from urbsim.pathways.runs import (
    COST,
    LAST_YEAR,
    Ensemble,
    LeverSpace,
    check_draws,
    check_targets,
    check_year,
    draw_ensemble,
    evaluate,
    lever_space,
)

#: Fewest uncertainty draws per candidate.
MIN_DRAWS = 200
#: Draws of the independent validation ensemble.
VALIDATION_DRAWS = 1000
#: Added to an infeasible candidate's objective, above any feasible normalized cost.
PENALTY = 1e3
#: Feasible front candidates re-run on the validation ensemble when the cheapest fails there.
VALIDATE_AT_MOST = 8


def check_confidence(confidence: Any) -> float:
    """``confidence`` as a float strictly between 0 and 1, or a :class:`ParameterError`."""
    try:
        p = float(confidence)
    except (TypeError, ValueError):
        p = float("nan")
    if isinstance(confidence, bool) or not 0.0 < p < 1.0:
        raise ParameterError(
            f"--confidence {confidence!r}: give a probability strictly between 0 and 1"
        )
    return p


@dataclass
class Candidate:
    """One evaluated lever mix: values of the free elements, probability, expected cost."""

    values: np.ndarray
    p_met: float
    cost: float


@dataclass
class OptimizeReport:
    """The answer of :func:`optimize` (``to_json`` gives ``report.json``).

    Probabilities are shares of the validation ensemble (``p_met_low``/``p_met_high``: 95 %
    Wilson interval); ``cost`` is the mean over the validation draws of ``plan_public_cost`` in
    the target year, in ``cost_unit``; ``levers`` holds every lever of the chosen mix (a
    number, or ``{element: number}``), ``changed`` those that differ from the scenario.
    """

    target: list[str]
    year: int
    confidence: float
    scenario: str
    feasible: bool
    search_feasible: bool
    p_met: float
    p_met_low: float
    p_met_high: float
    p_met_search: float
    cost: float
    cost_unit: str
    levers: dict[str, Any]
    changed: dict[str, Any]
    least_change: dict[str, Any] | None
    front: list[dict[str, Any]]
    levers_at_bounds: list[str]
    earliest_year: int | None
    ensemble: dict[str, Any]
    search: dict[str, Any] = field(default_factory=dict)
    model_sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; ``target`` is the id when there is one target."""
        out = asdict(self)
        out["target"] = self.target[0] if len(self.target) == 1 else self.target
        out["targets"] = list(self.target)
        return out


class _Search:
    """Evaluates candidates on the common draws and remembers every one of them."""

    def __init__(self, model, ensemble, space, targets, year, confidence, stop):
        self.model, self.ensemble, self.space = model, ensemble, space
        self.targets, self.year, self.confidence, self.stop = targets, year, confidence, stop
        self.outputs = list(dict.fromkeys([t.indicator for t in targets] + [COST]))
        self.seen: list[Candidate] = []
        self.cost_ref = 1.0

    def margins(self, runs: dict[str, np.ndarray], col: int) -> np.ndarray:
        """Worst target margin per (candidate, draw), relative to each threshold."""
        parts = [
            (runs[t.indicator][:, :, col] - t.threshold) / max(abs(t.threshold), 1e-9)
            for t in self.targets
        ]
        return np.min(parts, axis=0)

    def run(self, values: np.ndarray, ensemble: Ensemble | None = None, years=None):
        """``(p_met (k,), cost (k,), margins (k, n), runs)`` of lever values ``(k, size)``."""
        years = years or [self.year]
        runs = evaluate(
            self.model,
            ensemble or self.ensemble,
            self.space.arrays(values),
            self.outputs,
            years,
            self.stop,
        )
        col = years.index(self.year)
        m = self.margins(runs, col)
        return (m >= 0).mean(axis=1), runs[COST][:, :, col].mean(axis=1), m, runs

    def objective(self, u: np.ndarray) -> np.ndarray:
        """scipy's vectorized objective: ``u`` is ``(size, k)``; returns ``(k,)``."""
        values = self.space.values(u.T)
        p, cost, m, _ = self.run(values)
        self.seen += [
            Candidate(v, float(a), float(c)) for v, a, c in zip(values, p, cost, strict=True)
        ]
        short = np.maximum(0.0, -np.quantile(m, 1.0 - self.confidence, axis=1))
        return np.where(p >= self.confidence, cost / self.cost_ref, PENALTY + short * 100.0)


def pareto_front(cands: Sequence[Candidate]) -> list[Candidate]:
    """Candidates no other one beats on both cost (lower) and probability (higher), by cost."""
    front: list[Candidate] = []
    for c in sorted(cands, key=lambda c: (c.cost, -c.p_met)):
        if not front or c.p_met > front[-1].p_met:
            front.append(c)
    return front


def optimize(
    model: Model,
    scenario: Any,
    targets: str | Sequence[str] = "T2",
    year: int = 2030,
    confidence: float = 0.8,
    *,
    n: int = MIN_DRAWS,
    seed: int = 0,
    fix: Sequence[str] = (),
    maxiter: int = 30,
    popsize: int = 1,
    validation: int = VALIDATION_DRAWS,
    progress: Callable[[float, str], bool | None] | None = None,
) -> OptimizeReport:
    """Find the cheapest lever mix meeting ``targets`` in ``year`` with ``P >= confidence``.

    Parameters
    ----------
    model : the loaded model (vectorized engine recommended).
    scenario : the Scenario whose levers are the starting point (others stay as it sets them).
    targets : target id(s) of :data:`urbsim.indicators.TARGETS`; all must be met together.
    year : 2023-2035.
    confidence : required probability, strictly between 0 and 1.
    n : uncertainty draws per candidate (common to all candidates), at least 200.
    seed : seed of the search ensemble; the validation ensemble uses ``seed + 1``.
    fix : levers held at the scenario's setting.
    maxiter, popsize : differential evolution's generations and population multiplier (the
        population is ``popsize x`` free lever elements).
    validation : draws of the independent validation ensemble.
    progress : called with ``(fraction done, message)``; returning true cancels the search
        (raises :class:`KeyboardInterrupt`).
    """
    found = check_targets(targets)
    year = check_year(year)
    confidence = check_confidence(confidence)
    n = check_draws(n, "n", MIN_DRAWS)
    validation = check_draws(validation, "validation", 100)
    space = lever_space(model, scenario, fix)
    started = time.perf_counter()
    cancelled = [False]

    def stop() -> bool:
        return cancelled[0]

    def tell(fraction: float, message: str) -> None:
        if progress is not None and progress(fraction, message):
            cancelled[0] = True

    tell(0.0, "drawing the ensemble")
    search = _Search(
        model, draw_ensemble(model, scenario, n, seed), space, found, year, confidence, stop
    )
    x0 = space.base_point()
    p0, c0, _, _ = search.run(space.values(x0[None, :]))
    search.cost_ref = max(float(c0[0]), 1.0)
    generation = [0]

    def callback(*_args: Any) -> bool:
        generation[0] += 1
        best = max((c.p_met for c in search.seen), default=0.0)
        tell(
            0.9 * generation[0] / maxiter,
            f"generation {generation[0]}/{maxiter}, best P {best:.2f}",
        )
        return cancelled[0]

    result = differential_evolution(
        search.objective,
        [(0.0, 1.0)] * space.size,
        x0=x0,
        maxiter=maxiter,
        popsize=popsize,
        seed=seed,
        init="sobol",
        polish=False,
        vectorized=True,
        updating="deferred",
        callback=callback,
        tol=1e-4,
    )
    if cancelled[0]:
        raise KeyboardInterrupt("cancelled")
    tell(0.9, "checking the answer on an independent ensemble")
    report = _answer(search, scenario, x0, validation, seed)
    report.model_sha256 = model.sha256
    report.search = {
        "optimizer": "scipy.optimize.differential_evolution",
        "evaluations": len(search.seen),
        "generations": int(result.nit),
        "free_lever_elements": space.size,
        "seconds": round(time.perf_counter() - started, 1),
        "baseline_p_met": float(p0[0]),
        "baseline_cost": float(c0[0]),
    }
    tell(1.0, "done")
    return report


def _answer(
    search: _Search, scenario: Any, x0: np.ndarray, validation: int, seed: int
) -> OptimizeReport:
    """Choose, validate and describe the answer from everything the search evaluated."""
    space, conf = search.space, search.confidence
    feasible = [c for c in search.seen if c.p_met >= conf]
    front = pareto_front(search.seen)
    base_values = space.values(x0[None, :])[0]
    if feasible:
        best = min(feasible, key=lambda c: c.cost)
        t = np.linspace(0.0, 1.0, 17)[1:, None]
        line = base_values + t * (best.values - base_values)
        p, cost, _, _ = search.run(space.values(_unit(space, line)))
        feasible += [
            Candidate(v, float(a), float(c))
            for v, a, c in zip(line, p, cost, strict=True)
            if a >= conf
        ]
        least = min(feasible, key=lambda c: _distance(space, c.values, base_values))
        trials = sorted(feasible, key=lambda c: c.cost)[:VALIDATE_AT_MOST]
    else:
        least = None
        trials = [max(search.seen, key=lambda c: (c.p_met, -c.cost))]
    check = draw_ensemble(search.model, scenario, validation, seed + 1)
    values = np.array([c.values for c in trials] + ([least.values] if least else []))
    years = list(range(search.year, LAST_YEAR + 1))
    p, cost, _, runs = search.run(values, check, years)
    ok = [i for i in range(len(trials)) if p[i] >= conf]
    pick = min(ok, key=lambda i: cost[i]) if ok else int(np.argmax(p[: len(trials)]))
    chosen = trials[pick]
    k = int(round(p[pick] * validation))
    low, high = wilson(k, validation)
    levers = space.settings(chosen.values)
    base = space.settings(base_values)
    earliest = None
    if not ok:
        for j, y in enumerate(years):
            if (search.margins(runs, j)[pick] >= 0).mean() >= conf:
                earliest = y
                break
    name, _, _ = split_scenario(scenario)
    return OptimizeReport(
        target=[t.id for t in search.targets],
        year=search.year,
        confidence=conf,
        scenario=name,
        feasible=bool(ok),
        search_feasible=least is not None,
        p_met=float(p[pick]),
        p_met_low=float(low),
        p_met_high=float(high),
        p_met_search=chosen.p_met,
        cost=float(cost[pick]),
        cost_unit=INDICATORS[COST].units,
        levers=levers,
        changed={k: v for k, v in levers.items() if v != base[k]},
        least_change=None
        if least is None
        else {
            "levers": {k: v for k, v in space.settings(least.values).items() if v != base[k]},
            "p_met": float(p[-1]),
            "cost": float(cost[-1]),
            "distance": round(_distance(space, least.values, base_values), 4),
        },
        front=[
            {"p_met": c.p_met, "cost": c.cost, "levers": space.settings(c.values)} for c in front
        ],
        levers_at_bounds=[] if ok else _at_bounds(space, chosen.values),
        earliest_year=earliest if not ok else search.year,
        ensemble={
            **search.ensemble.describe(),
            "validation_size": validation,
            "validation_seed": seed + 1,
            "targets_joint": len(search.targets) > 1,
        },
    )


def _unit(space: LeverSpace, values: np.ndarray) -> np.ndarray:
    width = np.where(space.hi > space.lo, space.hi - space.lo, 1.0)
    return (values - space.lo) / width


def _distance(space: LeverSpace, a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance in range-normalized lever units (each element's range = 1)."""
    return float(np.linalg.norm(_unit(space, a) - _unit(space, b)))


def _at_bounds(space: LeverSpace, values: np.ndarray) -> list[str]:
    """Labels of the free elements at (within 1 % of) their range's ends, with which end."""
    u = _unit(space, values)
    return [
        f"{label} = {'max' if x > 0.5 else 'min'}"
        for label, x in zip(space.labels, u, strict=True)
        if x <= 0.01 or x >= 0.99
    ]
