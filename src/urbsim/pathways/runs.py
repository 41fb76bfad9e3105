"""The shared machinery of the pathway tools: the uncertainty ensemble, the lever space, and
running many lever settings against one ensemble in a few vectorized engine calls.

Every tool of :mod:`urbsim.pathways` draws its uncertainty through :func:`draw_ensemble`, the one
place that decides where the draws come from: as every urbsim ensemble (``urbsim mc``, the
app), the project's posterior file when it exists and matches the model
(:func:`urbsim.posterior.ensemble_posterior` ``"auto"``), else the prior (each ``Uncertain.``
constant uniform over its documented range).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from urbsim.ensemble.sampling import check_seed, sample
from urbsim.errors import ParameterError
from urbsim.indicators import INDICATORS, TARGETS, Target
from urbsim.mdlinfo import ConstantInfo, ModelInfo
from urbsim.model import Model
from urbsim.params import split_scenario

#: Years a target may be asked for (the plan starts in 2023; the model ends in 2035).
FIRST_YEAR, LAST_YEAR = 2023, 2035
#: Engine runs per call: bounds working memory whatever the population and ensemble sizes.
RUNS_PER_CALL = 16384
COST = "plan_public_cost"


@dataclass(frozen=True)
class Ensemble:
    """Uncertainty draws shared by every candidate (common random numbers).

    Attributes
    ----------
    params : Vensim name -> array; ``(n, *dims)`` for drawn constants, ``dims`` for the
        scenario's fixed values.
    n : number of draws.
    seed : seed of the sampler.
    source : ``"prior"`` or ``"posterior"``.
    detail : the line that says which prior or posterior.
    """

    params: dict[str, np.ndarray]
    n: int
    seed: int
    source: str
    detail: str = ""

    def describe(self) -> dict[str, Any]:
        """``{"size", "seed", "source", "detail", "sampler"}`` for reports."""
        return {
            "size": self.n,
            "seed": self.seed,
            "source": self.source,
            "detail": self.detail,
            "sampler": "lhs",
        }

    def drawn(self, info: ModelInfo) -> dict[str, np.ndarray]:
        """Only the constants drawn per run."""
        return {k: v for k, v in self.params.items() if v.ndim > len(info.constants[k].dims)}


def draw_ensemble(
    model: Model, scenario: Any, n: int, seed: int, posterior: Any = "auto"
) -> Ensemble:
    """The uncertainty ensemble of ``n`` draws under ``scenario`` (Latin hypercube, ``seed``).

    The one function through which every pathway tool gets its draws; ``posterior`` as in
    :func:`urbsim.posterior.ensemble_posterior` (``"auto"``, ``"prior"``, a path).
    """
    from urbsim.posterior import ensemble_posterior

    post, detail = ensemble_posterior(model, posterior)
    params = sample(model.info, scenario, n, check_seed(seed), "lhs", posterior=post)
    return Ensemble(params, n, int(seed), "prior" if post is None else "posterior", detail)


def check_year(year: Any) -> int:
    """``year`` as an int in 2023-2035, or a :class:`ParameterError`."""
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
        raise ParameterError(f"--year {year!r}: give a whole year from {FIRST_YEAR} to {LAST_YEAR}")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ParameterError(f"--year {year}: allowed years are {FIRST_YEAR}-{LAST_YEAR}")
    return int(year)


def check_draws(n: Any, flag: str, least: int) -> int:
    """``n`` as an int of at least ``least``, or a :class:`ParameterError`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < least:
        raise ParameterError(f"--{flag} {n!r}: too few; give a whole number of at least {least}")
    return int(n)


def check_targets(ids: str | Sequence[str]) -> list[Target]:
    """The targets named by ``ids`` (``"T2"`` or a list), or a :class:`ParameterError`."""
    ids = [ids] if isinstance(ids, str) else list(ids)
    if not ids:
        raise ParameterError(f"--target: name at least one; allowed: {', '.join(TARGETS)}")
    unknown = [t for t in ids if t not in TARGETS]
    if unknown:
        raise ParameterError(
            f"--target {unknown[0]!r}: unknown target id; allowed: {', '.join(TARGETS)}"
        )
    return [TARGETS[t] for t in dict.fromkeys(ids)]


def time_index(model: Model, years: Sequence[int]) -> np.ndarray:
    """Positions of the saved times nearest ``years`` (as :func:`urbsim.indicators.value_at`)."""
    t = model.time
    return np.array([int(np.argmin(np.abs(t - float(y)))) for y in years])


@dataclass(frozen=True)
class LeverSpace:
    """The free lever elements, each mapped from ``[0, 1]`` onto its documented range.

    Attributes
    ----------
    constants : the lever constants (fixed ones included), in model order.
    labels : one label per free element, ``name`` or ``name[element]``.
    slots : per free element, ``(constant name, flat element index)``.
    lo, hi : documented range of each free element (the constant's unit).
    base : the scenario's setting of every lever, Vensim name -> array shaped ``dims``.
    info : the model's metadata (element labels).
    """

    info: ModelInfo
    constants: tuple[ConstantInfo, ...]
    labels: tuple[str, ...]
    slots: tuple[tuple[str, int], ...]
    lo: np.ndarray
    hi: np.ndarray
    base: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        """Number of free elements (the search's dimensions)."""
        return len(self.labels)

    def base_point(self) -> np.ndarray:
        """The scenario's setting as a point in ``[0, 1]^size``."""
        x = np.array([self.base[c].ravel()[i] for c, i in self.slots])
        width = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        return np.clip((x - self.lo) / width, 0.0, 1.0)

    def values(self, u: np.ndarray) -> np.ndarray:
        """Points ``(k, size)`` in ``[0, 1]`` as lever values ``(k, size)`` (rounded to 4
        significant digits, as written to a scenario)."""
        raw = self.lo + np.clip(u, 0.0, 1.0) * (self.hi - self.lo)
        return np.clip(np.vectorize(lambda v: float(f"{v:.4g}"))(raw), self.lo, self.hi)

    def arrays(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Lever values ``(k, size)`` as parameter arrays ``(k, *dims)`` by Vensim name."""
        k = values.shape[0]
        out = {}
        for c in self.constants:
            arr = np.broadcast_to(self.base[c.name], (k, *c.default.shape)).reshape(k, -1).copy()
            out[c.name] = arr
        for j, (name, index) in enumerate(self.slots):
            out[name][:, index] = values[:, j]
        return {c.name: out[c.name].reshape(k, *c.default.shape) for c in self.constants}

    def settings(self, values: np.ndarray) -> dict[str, float | dict[str, float]]:
        """One candidate's levers (every lever, free or fixed) as scenario values: a number,
        or ``{element: number}`` for a subscripted lever."""
        from urbsim.ensemble.distributions import element_labels

        arrays = self.arrays(values[None, :])
        out: dict[str, float | dict[str, float]] = {}
        for c in self.constants:
            flat = arrays[c.name][0].ravel()
            if c.dims:
                labels = element_labels(self.info, c)
                out[c.name] = {e: float(v) for e, v in zip(labels, flat, strict=True)}
            else:
                out[c.name] = float(flat[0])
        return out


def lever_space(model: Model, scenario: Any, fix: Sequence[str] = ()) -> LeverSpace:
    """The levers of ``model`` as a search space, holding those named in ``fix`` (and any
    lever whose range is a single value) at the scenario's setting.

    Raises
    ------
    ParameterError
        If a name in ``fix`` is not a lever, or nothing is left free.
    """
    from urbsim.ensemble.distributions import element_labels
    from urbsim.params import coerce_params

    info = model.info
    levers = [c for group in info.levers().values() for c in group]
    names = {c.name for c in levers}
    fixed = set()
    for name in fix:
        try:
            real = info.resolve(name)
        except KeyError:
            real = None
        if real not in names:
            raise ParameterError(
                f"--fix {name!r}: not a lever; allowed: {', '.join(sorted(names, key=str.lower))}"
            )
        fixed.add(real)
    _, raw, _ = split_scenario(scenario)
    given = coerce_params(info, raw, n=1)
    base = {c.name: np.asarray(given.get(c.name, c.default), dtype=float) for c in levers}
    labels, slots, lo, hi = [], [], [], []
    for c in levers:
        if c.name in fixed or c.range is None or c.range[0] >= c.range[1]:
            continue
        for i, element in enumerate(element_labels(info, c)):
            labels.append(f"{c.name}[{element}]" if element else c.name)
            slots.append((c.name, i))
            lo.append(c.range[0])
            hi.append(c.range[1])
    if not labels:
        raise ParameterError("--fix holds every lever; leave at least one free to search")
    return LeverSpace(
        info, tuple(levers), tuple(labels), tuple(slots), np.array(lo), np.array(hi), base
    )


def evaluate(
    model: Model,
    ensemble: Ensemble,
    levers: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    years: Sequence[int],
    stop: Callable[[], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``k`` lever settings, each against every draw of ``ensemble``.

    Parameters
    ----------
    levers : Vensim name -> ``(k, *dims)``, the same ``k`` for every lever; empty: one
        candidate, the ensemble's own settings.
    outputs : standard indicator names to record.
    years : whole years to keep.
    stop : called between engine calls; when it returns true a :class:`KeyboardInterrupt` is
        raised (the app's cancel button).

    Returns
    -------
    dict
        indicator -> ``(k, n, len(years))`` values, in the indicator's unit.
    """
    k = next(iter(levers.values())).shape[0] if levers else 1
    n = ensemble.n
    drawn = ensemble.drawn(model.info)
    idx = time_index(model, years)
    variables = [INDICATORS[o].variable for o in outputs]
    out = {o: np.empty((k * n, len(years))) for o in outputs}
    per_call = max(1, RUNS_PER_CALL // n) * n  # whole candidates per call
    for start in range(0, k * n, per_call):
        if stop is not None and stop():
            raise KeyboardInterrupt("cancelled")
        stop_at = min(k * n, start + per_call)
        cand = np.arange(start, stop_at) // n
        draw = np.arange(start, stop_at) % n
        params = dict(ensemble.params)
        params.update({name: arr[draw] for name, arr in drawn.items()})
        params.update({name: arr[cand] for name, arr in levers.items()})
        result = model.simulate(params, n=stop_at - start, outputs=variables)
        for o, v in zip(outputs, variables, strict=True):
            out[o][start:stop_at] = result[v][:, idx]
    return {o: v.reshape(k, n, len(years)) for o, v in out.items()}
