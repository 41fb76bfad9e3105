"""Scenario discovery: which ranges of the uncertain constants make a target met (or missed).

PRIM (the Patient Rule Induction Method) peels the space of the uncertain constants into boxes
where the outcome of interest is dense. The implementation is EMA Workbench's
(``ema_workbench.analysis.prim``, version 2.5): the field's reference, maintained, and it gives
the quasi-p-value of each restriction. EMA Workbench 3.0.0 needs Python >= 3.12 and urbsim
supports 3.11, so the optional extra pins ``ema-workbench>=2.5,<4``; 2.5.3 installs cleanly
with numpy 2 here. The PyPI ``prim`` package was not used: it has no quasi-p-values.

Each box is the box on PRIM's peeling trajectory with the highest coverage x density among
those whose density reaches ``threshold`` (default 0.8), or among all when none does.
Restrictions with a quasi-p-value of 0.05 or more are dropped and the box's coverage and
density recomputed without them. Up to ``max_boxes`` boxes are found, each on the runs the
previous ones left (its coverage and density are shares of those runs).

Example
-------
>>> result = discover(model, scenario, "T2", 2035, n=4000, seed=1)   # doctest: +SKIP
>>> result.to_json()["boxes"][0]["restrictions"][0]["name"]           # doctest: +SKIP
'base settlement willingness'
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from urbsim.errors import UrbsimError
from urbsim.i18n import text
from urbsim.mdlinfo import ModelInfo
from urbsim.model import Model
from urbsim.pathways.runs import (
    Ensemble,
    check_draws,
    check_targets,
    check_year,
    draw_ensemble,
    evaluate,
)

#: Fewest runs PRIM is given (fewer leave too few points in a box to peel).
MIN_RUNS = 200


@dataclass(frozen=True)
class Restriction:
    """One restricted uncertain constant (element): its box range, its full range, and the
    quasi-p-value of the restriction (larger of the two sides when both are restricted)."""

    name: str
    min: float
    max: float
    p_value: float
    full_min: float
    full_max: float


@dataclass(frozen=True)
class Box:
    """A PRIM box: share of the cases of interest inside it (coverage), share of the runs
    inside it that are cases (density), share of all runs inside it (mass)."""

    coverage: float
    density: float
    mass: float
    restrictions: tuple[Restriction, ...]


@dataclass(frozen=True)
class Discovery:
    """The result of :func:`discover`."""

    targets: tuple[str, ...]
    year: int
    met: bool
    base_rate: float
    boxes: tuple[Box, ...]
    ensemble: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """``{"base_rate", "boxes": [{"coverage", "density", "restrictions": [{"name", "min",
        "max", "p_value"}]}]}`` (the ``boxes.json`` format)."""
        return {
            "base_rate": self.base_rate,
            "boxes": [
                {
                    "coverage": b.coverage,
                    "density": b.density,
                    "restrictions": [
                        {"name": r.name, "min": r.min, "max": r.max, "p_value": r.p_value}
                        for r in b.restrictions
                    ],
                }
                for b in self.boxes
            ],
        }


def factor_frame(info: ModelInfo, ensemble: Ensemble) -> pd.DataFrame:
    """The drawn uncertain constants as columns (``name`` or ``name[element]``), one row per
    draw; columns that do not vary are left out."""
    from urbsim.ensemble.distributions import element_labels

    columns: dict[str, np.ndarray] = {}
    for name, arr in sorted(ensemble.drawn(info).items()):
        flat = arr.reshape(arr.shape[0], -1)
        for j, element in enumerate(element_labels(info, info.constants[name])):
            if np.ptp(flat[:, j]) > 0:
                columns[f"{name}[{element}]" if element else name] = flat[:, j]
    return pd.DataFrame(columns)


def prim_boxes(
    x: pd.DataFrame,
    y: np.ndarray,
    threshold: float = 0.8,
    max_boxes: int = 1,
    significance: float = 0.05,
    peel_alpha: float = 0.1,
) -> list[Box]:
    """PRIM boxes of the cases ``y`` (bool per row) in the inputs ``x``.

    Restrictions whose quasi-p-value is ``significance`` or more are dropped from a box (they
    are not distinguishable from chance), and its coverage and density are recomputed without
    them; restrictions are listed most significant first. ``peel_alpha`` is the share of runs
    each peel removes (0.1: the upper end of the usual 0.05-0.1, half the peels of 0.05, so
    4,000 runs of ~70 inputs take seconds, not tens of seconds).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA's notices about optional packages and defaults
        try:
            from ema_workbench.analysis import prim
        except ModuleNotFoundError:
            raise UrbsimError(
                "scenario discovery needs EMA Workbench's PRIM: pip install 'urbsim[ema]'"
            ) from None

        y = np.asarray(y, dtype=bool)
        if not y.any() or y.all():
            return []
        finder = prim.Prim(x, y, threshold=threshold, peel_alpha=peel_alpha)
        boxes: list[Box] = []
        left = np.ones(len(x), dtype=bool)
        for _ in range(max_boxes):
            found = finder.find_box()
            if found is None:
                break
            chosen = _chosen(found, x[left], y[left], threshold, significance)
            if chosen is None:
                break
            box, inside = chosen
            boxes.append(box)
            left[np.flatnonzero(left)[inside]] = False
    return boxes


def _chosen(found: Any, x: pd.DataFrame, y: np.ndarray, threshold: float, alpha: float):
    """The box of ``found``'s trajectory described in the module docstring and which runs of
    ``x`` lie in it, or ``None`` when no box stands out from the runs PRIM was left with."""
    traj = found.peeling_trajectory
    found.select(int(len(traj) - 1))  # (EMA removes the runs of the current box next time)
    dense = traj[traj["density"] >= threshold]
    pool = dense if len(dense) else traj
    i = int((pool["coverage"] * pool["density"]).idxmax())
    if i == 0 or float(traj.loc[i, "density"]) <= float(traj.loc[0, "density"]):
        return None
    lim = found.box_lims[i]
    restrictions = []
    for name, sides in found.qp[i].items():
        p = max(v for v in sides if v >= 0)
        if p < alpha:
            lo, hi = float(lim.loc[0, name]), float(lim.loc[1, name])
            column = x[name]
            restrictions.append(
                Restriction(str(name), lo, hi, float(p), float(column.min()), float(column.max()))
            )
    if not restrictions:
        return None
    restrictions.sort(key=lambda r: r.p_value)
    inside = np.ones(len(x), dtype=bool)
    for r in restrictions:
        inside &= (x[r.name].to_numpy() >= r.min) & (x[r.name].to_numpy() <= r.max)
    hits = int(np.count_nonzero(inside & y))
    box = Box(
        coverage=hits / max(1, int(np.count_nonzero(y))),
        density=hits / max(1, int(np.count_nonzero(inside))),
        mass=float(inside.mean()),
        restrictions=tuple(restrictions),
    )
    return box, inside


def discover(
    model: Model,
    scenario: Any,
    targets: str | Sequence[str] = "T2",
    year: int = 2035,
    *,
    n: int = 4000,
    seed: int = 1,
    met: bool = True,
    threshold: float = 0.8,
    max_boxes: int = 1,
    ensemble: Ensemble | None = None,
) -> Discovery:
    """Run ``n`` draws of the uncertainty ensemble under ``scenario`` and find PRIM boxes where
    every target is met in ``year`` (``met=False``: where at least one is missed).

    ``ensemble`` reuses draws already made; otherwise they are drawn here. ``max_boxes``:
    boxes to find, each on the runs the previous ones left.
    """
    found = check_targets(targets)
    year = check_year(year)
    n = check_draws(n, "n", MIN_RUNS)
    ensemble = ensemble or draw_ensemble(model, scenario, n, seed)
    runs = evaluate(model, ensemble, {}, [t.indicator for t in found], [year])
    ok = np.all([t.is_met(runs[t.indicator][0, :, 0]) for t in found], axis=0)
    y = ok if met else ~ok
    boxes = prim_boxes(factor_frame(model.info, ensemble), y, threshold, max_boxes)
    return Discovery(
        tuple(t.id for t in found), year, met, float(y.mean()), tuple(boxes), ensemble.describe()
    )


def sentence(result: Discovery, lang: str, digits: int = 3, most: int = 3) -> str:
    """The first box in one plain sentence of ``lang`` (its ``most`` most significant
    restrictions)."""
    fields = {
        "target": "+".join(result.targets),
        "year": result.year,
        "met": text(lang, "pathways.met" if result.met else "pathways.missed"),
        "base": round(result.base_rate * 100),
    }
    if not result.boxes:
        return text(lang, "pathways.no_box", **fields)
    box = result.boxes[0]
    parts = [
        text(
            lang,
            "pathways.between",
            name=label(lang, r.name),
            lo=f"{r.min:.{digits}g}",
            hi=f"{r.max:.{digits}g}",
        )
        for r in box.restrictions[:most]
    ]
    return text(
        lang,
        "pathways.box",
        conditions=text(lang, "pathways.and").join(parts),
        density=round(box.density * 100),
        coverage=round(box.coverage * 100),
        **fields,
    )


def label(lang: str, name: str) -> str:
    """An uncertain constant's column label (``name`` or ``name[element]``) in ``lang``."""
    from urbsim.i18n import constant_name, text_or

    base, _, element = name.partition("[")
    shown = constant_name(lang, base)
    if not element:
        return shown
    element = element.rstrip("]")
    return f"{shown}[{text_or(lang, f'elements.{element}', element)}]"
