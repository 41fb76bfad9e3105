"""Lever sweep: how far each policy lever moves the plan's targets and headline indicators.

Each constant marked ``Lever:`` is set to the minimum and then the maximum of its documented range
(every element alike) on top of a scenario, and the largest change of any target indicator or
headline indicator in one year is reported. A lever that moves nothing is a model defect, so
``tests/test_levers.py`` asserts that every lever clears :data:`THRESHOLD_PP` (indicators in %) or
:data:`THRESHOLD_REL` (any other), and ``model/README.md`` shows the table.

Example
-------
>>> import urbsim
>>> from urbsim.sweep import lever_sweep
>>> table = lever_sweep(urbsim.load_model(), urbsim.load_scenario("plan"), 2030)  # doctest: +SKIP
>>> table.loc["reward per settler", "indicator"]  # doctest: +SKIP
'funding_ratio'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from urbsim.indicators import INDICATORS, TARGETS, value_at
from urbsim.model import Model
from urbsim.params import coerce_params
from urbsim.scenarios import Scenario

#: Headline indicators swept beside the target indicators.
HEADLINE = ("county_town_share", "citizenized_migrants", "urbanization_rate", "county_gdp")
#: Smallest change that counts, in percentage points, for indicators measured in %.
THRESHOLD_PP = 0.05
#: Smallest change that counts, relative to the value at the minimum, for other indicators.
THRESHOLD_REL = 0.002


def swept_indicators() -> list[str]:
    """Target indicators and headline indicators, each once."""
    return list(dict.fromkeys([*(t.indicator for t in TARGETS.values()), *HEADLINE]))


def lever_sweep(model: Model, scenario: Scenario, year: int = 2030) -> pd.DataFrame:
    """Each lever at its range minimum and maximum on top of ``scenario``, in one vectorized run.

    Returns
    -------
    DataFrame indexed by lever name with columns ``group``, ``min``, ``max``, ``indicator`` (the
    one moved most, measured against its threshold), ``at_min``, ``at_max``, ``change`` (pp for %
    indicators, relative otherwise), ``score`` (change / threshold; >= 1 passes), ``passes``, and
    ``share_at_min`` / ``share_at_max``: the headline county-town share (%) at the two ends.
    """
    levers = [c for group in model.info.levers().values() for c in group]
    n = 2 * len(levers)
    params = {
        k: np.broadcast_to(v, (n, *model.info.constants[k].default.shape)).copy()
        for k, v in coerce_params(model.info, scenario.parameters, 1).items()
    }
    for k, c in enumerate(levers):
        column = params.get(c.name)
        if column is None:
            column = np.broadcast_to(c.default, (n, *c.default.shape)).copy()
            params[c.name] = column
        column[2 * k] = c.range[0]
        column[2 * k + 1] = c.range[1]
    names = swept_indicators()
    ds = model.run(params, n=n, outputs=names)
    share = value_at(ds["county_town_share"], year).values
    rows = []
    for k, c in enumerate(levers):
        best = None
        for name in names:
            v = value_at(ds[name], year).values
            lo, hi = float(v[2 * k]), float(v[2 * k + 1])
            if INDICATORS[name].units == "%":
                change, threshold = abs(hi - lo), THRESHOLD_PP
            else:
                change, threshold = abs(hi - lo) / max(abs(lo), 1e-12), THRESHOLD_REL
            if best is None or change / threshold > best[-1]:
                best = (name, lo, hi, change, change / threshold)
        rows.append((c.name, c.lever, c.range[0], c.range[1], *best, *share[2 * k : 2 * k + 2]))
    table = pd.DataFrame(
        rows,
        columns=["lever", "group", "min", "max", "indicator"]
        + ["at_min", "at_max", "change", "score", "share_at_min", "share_at_max"],
    ).set_index("lever")
    table["passes"] = table.score >= 1
    return table
