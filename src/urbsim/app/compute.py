"""What the app computes, without Streamlit: runs, ensembles, sensitivity, the scorecard.

:mod:`urbsim.app.runs` wraps these in Streamlit caches; ``urbsim chart`` and ``bench/app.py``
call them directly. Only the variables the charts, the scorecard and the compare table need are
recorded (:data:`OUTPUTS`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from urbsim.charts import CHART_OUTPUTS
from urbsim.i18n import article, text, unit
from urbsim.indicators import INDICATORS, TARGETS, value_at
from urbsim.mdlinfo import ConstantInfo, ModelInfo
from urbsim.model import Model
from urbsim.report import goal_text
from urbsim.scenarios import Scenario

#: Runs in the live uncertainty ensemble (the issue asks for at least 200).
ENSEMBLE_SIZE = 200
#: Years of the compare table.
COMPARE_YEARS = (2025, 2030, 2035)
#: Years the sensitivity tab measures the county-town share in.
SENSITIVITY_YEARS = (2025, 2030)
#: Output the sensitivity tab explains.
SENSITIVITY_OUTPUT = "county_town_share"
#: Preset the app opens with when the URL names none.
PREFERRED_DEFAULT = "plan"
#: Preset drawn as "the baseline" in every chart.
BASELINE = "baseline"

#: Model variables recorded for the app: charts, targets and the compare table.
OUTPUTS: list[str] = list(
    dict.fromkeys([*CHART_OUTPUTS, *(INDICATORS[i].variable for i in INDICATORS)])
)


def default_preset(presets: Mapping[str, Scenario]) -> str:
    """The preset the app opens with: ``plan`` if present, else the first, else none."""
    if PREFERRED_DEFAULT in presets:
        return PREFERRED_DEFAULT
    return next(iter(presets), "")


def model_defaults() -> Scenario:
    """The model's own constant values, as a scenario without parameters."""
    return Scenario(
        name="default",
        title={"en": "Model defaults", "zh": "模型默认值"},
        description={"en": "", "zh": ""},
    )


def scenario_for(presets: Mapping[str, Scenario], preset: str, overrides: Mapping[str, Any]):
    """The preset (or the model defaults) with ``overrides`` applied."""
    base = presets[preset] if preset else model_defaults()
    return base.with_overrides(dict(overrides))


def overrides_key(overrides: Mapping[str, Any]) -> str:
    """A canonical text of parameter changes: the cache key of a run."""
    return json.dumps(overrides, sort_keys=True, ensure_ascii=False)


def whole_years(ds: xr.Dataset) -> slice | np.ndarray:
    """Positions of the whole years in ``ds``'s time (the model saves every quarter year): the
    app draws and tabulates those only. A quarter of the points to send and redraw on each slider
    move; the target years and the compare years are whole years, so no value shown changes.

    Evenly spaced positions come as a slice, so that selecting them is a view of the 200-run
    ensemble rather than a copy (tens of milliseconds on every slider move).
    """
    time = ds["time"].values
    where = np.flatnonzero(np.isclose(time, np.round(time)))
    steps = np.unique(np.diff(where))
    if len(steps) == 1:
        return slice(int(where[0]), int(where[-1]) + 1, int(steps[0]))
    return where


def simulate_live(model: Model, scenario: Any, seed: int, n: int = ENSEMBLE_SIZE):
    """Run ``scenario`` and its uncertainty ensemble in one vectorized call, kept at whole
    years (:func:`whole_years`).

    Run 0 is the scenario at the ensemble's central inputs (every varied input at its median,
    ``urbsim.ensemble.sampling.central``, as ``urbsim run``); runs 1..n draw the uncertain
    constants by Latin hypercube (``urbsim.ensemble.sampling.sample``) with ``seed``, the
    calibrated and history-relevant ones jointly from the posterior when there is one.

    Returns
    -------
    (single, ensemble) : Datasets of 1 and ``n`` runs.
    """
    from urbsim.ensemble.sampling import central, sample
    from urbsim.posterior import live_posterior

    post = live_posterior(model)
    drawn = sample(model.info, scenario, n=n, seed=seed, sampler="lhs", posterior=post)
    middle = central(model.info, scenario, posterior=post)
    merged = {}
    for name, arr in drawn.items():
        c = model.info.constants[name]
        if arr.ndim > len(c.dims):
            merged[name] = np.concatenate([middle[name][None, ...], arr], axis=0)
        else:
            merged[name] = arr
    ds = model.run(merged, n=n + 1, outputs=OUTPUTS, scenario=scenario.name)
    years = whole_years(ds)
    return ds.isel(run=[0], time=years), ds.isel(run=slice(1, None), time=years)


def simulate_case(model: Model, scenario: Any) -> xr.Dataset:
    """One run of ``scenario`` recording :data:`OUTPUTS`, at the live ensemble's central inputs
    (as run 0 of :func:`simulate_live`), at whole years."""
    from urbsim.ensemble.sampling import central
    from urbsim.posterior import live_posterior

    params = central(model.info, scenario, posterior=live_posterior(model))
    ds = model.run(params, n=1, outputs=OUTPUTS, scenario=scenario.name)
    return ds.isel(time=whole_years(ds))


def sensitivity_factors(info: ModelInfo) -> list[tuple[ConstantInfo, str]]:
    """Levers and uncertain assumptions with a range: ``(constant, "lever"|"assumption")``."""
    out = [(c, "lever") for group in info.levers().values() for c in group]
    out += [(c, "assumption") for c in info.uncertain()]
    return [(c, kind) for c, kind in out if c.range is not None and c.range[0] < c.range[1]]


def simulate_tornado(model: Model, scenario: Any) -> pd.DataFrame:
    """One-at-a-time effects of every lever and uncertain constant, in ONE batched run.

    Run 0 is the scenario; runs ``2i+1`` and ``2i+2`` put factor ``i`` (all its elements) at the
    low and at the high end of its range.

    Returns
    -------
    DataFrame
        Columns ``name``, ``kind``, ``year``, ``low``, ``high``: change of the county-town share
        (percentage points) from the scenario's value.
    """
    factors = sensitivity_factors(model.info)
    n = 1 + 2 * len(factors)
    _, fixed, _ = model.prepare(scenario, 1)
    params = dict(fixed)
    for i, (c, _) in enumerate(factors):
        base = fixed.get(c.name, c.default)
        arr = np.broadcast_to(base, (n, *base.shape)).copy()
        arr[2 * i + 1] = c.range[0]
        arr[2 * i + 2] = c.range[1]
        params[c.name] = arr
    ds = model.run(params, n=n, outputs=[SENSITIVITY_OUTPUT])
    rows = []
    for year in SENSITIVITY_YEARS:
        values = value_at(ds[SENSITIVITY_OUTPUT], year).values
        for i, (c, kind) in enumerate(factors):
            rows.append(
                {
                    "name": c.name,
                    "kind": kind,
                    "year": year,
                    "low": values[2 * i + 1] - values[0],
                    "high": values[2 * i + 2] - values[0],
                }
            )
    return pd.DataFrame(rows)


def scorecard_frame(single: xr.Dataset, ensemble: xr.Dataset | None) -> pd.DataFrame:
    """Each represented target: value in its year, whether met, share of ensemble runs met
    (``prob``) with its 95 % Wilson interval (``prob_low``, ``prob_high``)."""
    from urbsim.ensemble.montecarlo import wilson

    rows = []
    for t in TARGETS.values():
        value = float(value_at(single[t.indicator], t.year).values.squeeze())
        prob = low = high = None
        if ensemble is not None:
            met = t.is_met(value_at(ensemble[t.indicator], t.year).values)
            prob = float(np.mean(met))
            low, high = (float(x) for x in wilson(int(np.sum(met)), met.size))
        rows.append(
            {
                "id": t.id,
                "value": value,
                "met": bool(t.is_met(value)),
                "prob": prob,
                "prob_low": low,
                "prob_high": high,
            }
        )
    return pd.DataFrame(rows)


def scorecard_table(frame: pd.DataFrame, lang: str, interval: bool = False) -> pd.DataFrame:
    """The scorecard as displayed: translated headers, values with units, met and P(met).

    Parameters
    ----------
    frame : output of :func:`scorecard_frame` (``prob`` a share 0-1 or ``None``).
    interval : show P(met) with its 95 % interval (the brief does; the app shows the share).
    """
    rows = []
    for r in frame.itertuples():
        t = TARGETS[r.id]
        units = unit(lang, INDICATORS[t.indicator].units)
        if r.prob is None or pd.isna(r.prob):
            prob = text(lang, "scorecard.na")
        elif interval:
            prob = text(
                lang,
                "scorecard.prob_interval",
                p=100 * r.prob,
                lo=100 * r.prob_low,
                hi=100 * r.prob_high,
            )
        else:
            prob = text(lang, "scorecard.prob_value", p=100 * r.prob)
        rows.append(
            {
                text(lang, "scorecard.target"): f"{t.id} {text(lang, f'targets.{t.id}')}",
                text(lang, "scorecard.article"): article(lang, t.article),
                text(lang, "scorecard.value"): f"{r.value:,.2f} {units}",
                text(lang, "scorecard.goal"): f"{goal_text(lang, t.id)} {units}",
                text(lang, "scorecard.met"): text(
                    lang, "scorecard.yes" if r.met else "scorecard.no"
                ),
                text(lang, "scorecard.prob"): prob,
            }
        )
    return pd.DataFrame(rows)


#: The indicator the page's headline answers for (the plan's 30 % question).
HEADLINE_INDICATOR = "county_town_share"


def headline(frame: pd.DataFrame, baseline: xr.Dataset | None, lang: str) -> str:
    """One sentence that answers the page's question from model values: the 2025 county-town
    share, its target and definition, the share of the ensemble meeting it and, when a
    ``baseline`` run is given, the difference from it (this scenario minus the baseline)."""
    target = next(t for t in TARGETS.values() if t.indicator == HEADLINE_INDICATOR)
    row = frame.set_index("id").loc[target.id]
    prob = row["prob"]
    sentence = text(
        lang,
        "headline.sentence",
        year=target.year,
        value=row["value"],
        target=target.value,
        definition=text(lang, "headline.definition"),
        p=100 * prob if prob is not None and not pd.isna(prob) else float("nan"),
    )
    if baseline is not None:
        base = float(value_at(baseline[HEADLINE_INDICATOR], target.year).values.squeeze())
        delta = float(row["value"]) - base
        change = text(lang, "headline.up" if delta >= 0 else "headline.down")
        sentence += text(lang, "headline.delta", change=change, delta=abs(delta))
    return sentence
