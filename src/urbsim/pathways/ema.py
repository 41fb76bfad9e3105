"""An EMA Workbench connector: urbsim as an ``ema_workbench`` model, run vectorized.

``ema_model(scenario="plan", outcomes=[...])`` returns an :class:`UrbsimEMAModel` whose

- uncertainties are the model's ``Uncertain.`` constants, one ``RealParameter`` per element of a
  subscripted constant (``normal_rural_to_town_rate_urb``), over the range of the scenario's
  distribution (the documented ``[min,max]`` unless the scenario's ``[uncertainty]`` narrows
  it; EMA samples its own designs over those ranges); a ``choice`` becomes a
  ``CategoricalParameter``;
- levers are the ``Lever:`` constants, one ``RealParameter`` per element, over their ranges;
- outcomes are standard indicators by name: ``"county_town_share"`` is a ``TimeSeriesOutcome``
  (one value per whole year), ``"county_town_share@2030"`` a ``ScalarOutcome`` named
  ``county_town_share_2030`` (the value in that year).

Parameter names are Python identifiers (EMA Workbench 3 requires them); ``parameter_names``
maps each to its constant and element. Constants neither varied nor levers stay as the scenario
sets them.

Run it with :class:`VectorizedEvaluator`: every experiment of a ``perform_experiments`` call
goes to urbsim's engine in a few vectorized calls instead of one call per experiment. Any other
EMA evaluator works too (one engine call per experiment)::

    from ema_workbench import perform_experiments
    model = ema_model("plan", ["county_town_share@2030", "plan_public_cost@2030"])
    with VectorizedEvaluator(model) as evaluator:
        experiments, outcomes = perform_experiments(model, 1000, evaluator=evaluator)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from urbsim.errors import ParameterError, UrbsimError
from urbsim.indicators import INDICATORS
from urbsim.model import Model as UrbsimModel
from urbsim.pathways.runs import LAST_YEAR, RUNS_PER_CALL, check_year

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # EMA's notice that ipyparallel is not installed
    try:
        from ema_workbench import (
            CategoricalParameter,
            Model,
            RealParameter,
            ScalarOutcome,
            TimeSeriesOutcome,
        )
        from ema_workbench.em_framework.evaluators import BaseEvaluator
        from ema_workbench.em_framework.points import experiment_generator
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is not installed
        raise UrbsimError(
            "the EMA Workbench connector needs the ema extra: pip install 'urbsim[ema]'"
        ) from exc


def identifier(label: str) -> str:
    """``"normal rural to town rate[urb]"`` -> ``"normal_rural_to_town_rate_urb"``."""
    name = re.sub(r"\W+", "_", label).strip("_")
    return name if name.isidentifier() else f"p_{name}"


def parse_outcome(spec: str) -> tuple[str, int | None]:
    """``"indicator"`` or ``"indicator@YEAR"`` as ``(indicator, year or None)``."""
    name, _, year = spec.partition("@")
    if name not in INDICATORS:
        raise ParameterError(
            f"outcome {spec!r}: not a standard indicator; allowed: {', '.join(INDICATORS)} "
            "(add @YEAR for the value in one year)"
        )
    if not year:
        return name, None
    if not year.isdigit():
        raise ParameterError(f"outcome {spec!r}: give the year as indicator@{LAST_YEAR}")
    return name, check_year(int(year))


class UrbsimEMAModel(Model):
    """An ``ema_workbench.Model`` running urbsim (see the module docstring).

    Attributes
    ----------
    urbsim : the loaded urbsim model.
    base : the scenario's parameter arrays (Vensim names), what no experiment sets.
    parameter_names : EMA parameter name -> ``(Vensim constant, flat element index)``.
    specs : ``(outcome name, indicator, year or None)`` per outcome.
    """

    def __init__(self, name: str, model: UrbsimModel, scenario: Any, outcomes: Sequence[str]):
        super().__init__(name, function=self._run_one)
        from urbsim.ensemble.distributions import Choice, element_labels
        from urbsim.ensemble.sampling import resolve_uncertainty
        from urbsim.params import coerce_params, split_scenario

        self.urbsim = model
        info = model.info
        _, raw, table = split_scenario(scenario)
        self.base = coerce_params(info, raw, n=1)
        self.parameter_names: dict[str, tuple[str, int]] = {}
        uncertainties = []
        for dist in resolve_uncertainty(info, self.base, table, scenario).values():
            for label, index, marginal in dist.factors():
                key = self._key(label, dist.name, index)
                if isinstance(marginal, Choice):
                    uncertainties.append(CategoricalParameter(key, list(marginal.values)))
                else:
                    lo, hi = (float(v) for v in marginal.ppf(np.array([0.0, 1.0])))
                    uncertainties.append(RealParameter(key, lo, hi))
        levers = []
        for group in info.levers().values():
            for c in group:
                if c.range is None or c.range[0] >= c.range[1]:
                    continue
                for index, element in enumerate(element_labels(info, c)):
                    label = f"{c.name}[{element}]" if element else c.name
                    levers.append(RealParameter(self._key(label, c.name, index), *c.range))
        self.uncertainties = uncertainties
        self.levers = levers
        self.specs = []
        for spec in outcomes:
            indicator, year = parse_outcome(spec)
            key = indicator if year is None else f"{indicator}_{year}"
            self.specs.append((key, indicator, year))
        self.outcomes = [
            TimeSeriesOutcome(key) if year is None else ScalarOutcome(key)
            for key, _, year in self.specs
        ]

    def _key(self, label: str, constant: str, index: int) -> str:
        key = identifier(label)
        self.parameter_names[key] = (constant, index)
        return key

    def _run_one(self, **values: float) -> dict[str, Any]:
        """One experiment (the path of EMA's own evaluators)."""
        return self.run_batch([values])[0]

    def run_batch(self, experiments: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
        """Outcomes of many experiments (EMA parameter name -> value each), computed by the
        engine in calls of at most :data:`urbsim.pathways.runs.RUNS_PER_CALL` runs."""
        info = self.urbsim.info
        n = len(experiments)
        arrays: dict[str, np.ndarray] = {}
        for key, (name, index) in self.parameter_names.items():
            if name not in arrays:
                c = info.constants[name]
                base = np.asarray(self.base.get(name, c.default), dtype=float)
                arrays[name] = np.broadcast_to(base, (n, *c.default.shape)).reshape(n, -1).copy()
            column = arrays[name][:, index]
            for i, values in enumerate(experiments):
                if key in values:
                    column[i] = values[key]
        params = dict(self.base)
        params.update(
            {k: v.reshape(n, *info.constants[k].default.shape) for k, v in arrays.items()}
        )
        t = self.urbsim.time
        keep = np.flatnonzero(np.isclose(t, np.round(t)))  # whole years
        years = [int(round(y)) for y in t[keep]]
        variables = sorted({INDICATORS[ind].variable for _, ind, _ in self.specs})
        out: list[dict[str, Any]] = []
        for start in range(0, n, RUNS_PER_CALL):
            stop = min(n, start + RUNS_PER_CALL)
            chunk = {
                k: (v[start:stop] if v.ndim > len(info.constants[k].dims) else v)
                for k, v in params.items()
            }
            result = self.urbsim.simulate(chunk, n=stop - start, outputs=variables)
            for i in range(stop - start):
                row = {}
                for key, indicator, year in self.specs:
                    series = result[INDICATORS[indicator].variable][i, keep]
                    row[key] = series if year is None else float(series[years.index(year)])
                out.append(row)
        return out


def ema_model(
    scenario: Any = "plan",
    outcomes: Sequence[str] = ("county_town_share",),
    *,
    model: UrbsimModel | None = None,
    name: str = "urbsim",
) -> UrbsimEMAModel:
    """An EMA Workbench model of urbsim under ``scenario`` (a name, path or Scenario)."""
    import urbsim

    if isinstance(scenario, str):
        scenario = urbsim.load_scenario(scenario)
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    return UrbsimEMAModel(name, model or urbsim.load_model(), scenario, outcomes)


class VectorizedEvaluator(BaseEvaluator):
    """Runs all experiments of a ``perform_experiments`` call through
    :meth:`UrbsimEMAModel.run_batch`: one batch per model, not one run per experiment."""

    def initialize(self) -> None:
        """Nothing to start (the engine runs in this process)."""

    def finalize(self) -> None:
        """Nothing to stop."""

    def evaluate_experiments(self, scenarios, policies, callback, combine="factorial", **kwargs):
        """Used by ``ema_workbench.perform_experiments``."""
        experiments = list(experiment_generator(scenarios, self._msis, policies, combine=combine))
        models = {m.name: m for m in self._msis}
        for model_name, model in models.items():
            mine = [e for e in experiments if e.model_name == model_name]
            values = [{**e.scenario, **e.policy} for e in mine]
            for experiment, outcomes in zip(mine, model.run_batch(values), strict=True):
                callback(experiment, outcomes)
