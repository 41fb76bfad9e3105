"""Time-resolved global sensitivity: Sobol (S1, ST) and Morris (mu*, sigma) at each year.

Every varied scalar (a constant, or one element of a subscripted constant) is a factor. SALib
draws its design in the unit cube and each factor's marginal maps it through its inverse CDF
(:mod:`.distributions`), so the indices respect the scenario's distributions, not just ranges.
Morris elementary effects are therefore per unit of the factor's quantile, i.e. relative to its
whole distribution, which makes factors with different units comparable.

Example
-------
>>> from urbsim.ensemble import sobol_indices
>>> ds = sobol_indices(n=512, seed=1, outputs=["county_town_share"])    # doctest: +SKIP
>>> ds.ST.sel(output="county_town_share", year=2025).to_series().nlargest(3)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import xarray as xr

from urbsim.ensemble.distributed import local_map, slice_params
from urbsim.ensemble.montecarlo import DEFAULT_CHUNK, model_indicators, progress_bar
from urbsim.ensemble.sampling import (
    SAMPLE_COPIES,
    apply_design,
    check_memory,
    check_n,
    check_seed,
    factor_list,
    resolve_uncertainty,
    round_sobol_n,
)
from urbsim.errors import ParameterError
from urbsim.indicators import INDICATORS, TARGETS
from urbsim.model import Model, load_model
from urbsim.params import coerce_params, split_scenario

DEFAULT_YEARS = tuple(range(2023, 2036))


def default_outputs(model: Model) -> list[str]:
    """``county_town_share`` and every indicator a target of the plan is measured by."""
    names = ["county_town_share", *(t.indicator for t in TARGETS.values())]
    present = model_indicators(model)
    return [n for n in dict.fromkeys(names) if n in present]


def _check_outputs(model: Model, outputs: Sequence[str] | None) -> list[str]:
    names = list(outputs) if outputs else default_outputs(model)
    if not names:
        raise ParameterError("--outputs: name at least one output (a model variable or indicator)")
    for name in names:
        variable = INDICATORS[name].variable if name in INDICATORS else None
        try:
            variable = variable or model.info.resolve(name)
        except KeyError:
            raise ParameterError(
                f"--outputs: unknown output {name!r}; give a model variable or a standard "
                f"indicator ({', '.join(INDICATORS)})"
            ) from None
        var = model.info.variables.get(variable)
        if var is None or var.dims or var.kind not in ("auxiliary", "stateful"):
            raise ParameterError(
                f"--outputs: {name!r} must be a scalar time series (no subscripts, not a constant)"
            )
    return names


def _check_years(model: Model, years: Sequence[int]) -> list[int]:
    t0, t1 = float(model.time[0]), float(model.time[-1])
    years = [int(y) for y in years]
    bad = [y for y in years if not t0 <= y <= t1]
    if not years or bad:
        shown = "none given" if not bad else f"{bad[0]}" if len(bad) == 1 else f"{bad[0]}-{bad[-1]}"
        raise ParameterError(
            f"--years {shown}: outside the model's time; allowed years are {t0:g}-{t1:g}"
        )
    return years


def _evaluate(
    model: Model,
    scenario: Any,
    uncertainty: Any,
    design_fn: Callable[[dict], np.ndarray],
    outputs: Sequence[str],
    years: Sequence[int],
    chunk: int,
    progress: bool,
) -> tuple[dict, np.ndarray, list, np.ndarray]:
    """Run a SALib design; returns the problem, the design, factor list and outputs
    ``(output, year, sample)``."""
    _, raw, table = split_scenario(scenario)
    info = model.info
    fixed = coerce_params(info, raw)
    chosen = table if uncertainty is None else uncertainty
    dists = resolve_uncertainty(info, fixed, chosen, scenario)
    factors = factor_list(dists)
    if len(factors) < 2:
        raise ParameterError(
            f"sensitivity analysis needs at least two varied factors; this scenario varies "
            f"{len(factors)}"
        )
    problem = {
        "num_vars": len(factors),
        "names": [f[0] for f in factors],
        "bounds": [[0.0, 1.0]] * len(factors),
    }
    design = design_fn(problem)
    n = design.shape[0]
    params = apply_design(info, fixed, dists, design)
    variables = [INDICATORS[o].variable if o in INDICATORS else info.resolve(o) for o in outputs]
    columns = [int(np.argmin(np.abs(model.time - y))) for y in years]
    y = np.empty((len(outputs), len(years), n))
    chunks = [
        (s, min(s + chunk, n), slice_params(model, params, s, min(s + chunk, n)))
        for s in range(0, n, chunk)
    ]
    with progress_bar(n, progress) as bar:
        for k, arrays in local_map(model, chunks, list(dict.fromkeys(variables))):
            start, stop, _ = chunks[k]
            for i, var in enumerate(variables):
                y[i, :, start:stop] = arrays[var][:, columns].T
            bar.update(stop - start)
    return problem, design, factors, y


def _dataset(results: dict[str, np.ndarray], outputs, years, factors, attrs: dict) -> xr.Dataset:
    coords = {
        "output": list(outputs),
        "year": list(years),
        "factor": [f[0] for f in factors],
        "factor_constant": ("factor", [f[1] for f in factors]),
    }
    data = {
        k: xr.Variable(("output", "year", "factor"), v, {"units": "1"}) for k, v in results.items()
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def sobol_indices(
    scenario: Any = None,
    n: int = 1024,
    seed: int = 0,
    *,
    model: Model | None = None,
    outputs: Sequence[str] | None = None,
    years: Sequence[int] = DEFAULT_YEARS,
    uncertainty: Any = None,
    chunk: int = DEFAULT_CHUNK,
    progress: bool = False,
) -> xr.Dataset:
    """Sobol first-order (S1) and total (ST) indices, with 95 % confidence half-widths, per output
    and year (SALib ``sample.sobol`` / ``analyze.sobol``, Saltelli design without second order).

    Parameters
    ----------
    scenario : a Scenario, a mapping of constant values or ``None``.
    n : base samples (rounded up to a power of two, with a warning); ``n * (factors + 2)`` runs.
    seed : seeds SALib's design and its bootstrap through ``numpy.random.Generator``.
    outputs : indicators or scalar model variables (default: see :func:`default_outputs`).
    years : years at which indices are computed (the saved time nearest each).

    Returns
    -------
    xarray.Dataset
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` over (output, year, factor).
    """
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as design

    n = check_n(n)
    n2, notice = round_sobol_n(n)
    if notice:
        warnings.warn(notice, UserWarning, stacklevel=2)
    model = model or load_model()
    outputs, years = _check_outputs(model, outputs), _check_years(model, years)

    def draw(problem: dict) -> np.ndarray:
        d = problem["num_vars"]
        check_memory(n2 * (d + 2) * d * 8 * SAMPLE_COPIES, f"--n {n}: a Sobol design")
        rng = np.random.Generator(np.random.PCG64(seed))
        return design.sample(problem, n2, calc_second_order=False, scramble=True, seed=rng)

    problem, _, factors, y = _evaluate(
        model, scenario, uncertainty, draw, outputs, years, chunk, progress
    )

    def one(yij: np.ndarray, rng: np.random.Generator) -> dict:
        with np.errstate(divide="ignore", invalid="ignore"):  # thread-local: set per task
            return analyze.analyze(problem, yij, calc_second_order=False, seed=rng)

    keys = ("S1", "S1_conf", "ST", "ST_conf")
    res = _analyze_all(one, y, seed, keys, len(factors))
    attrs = _attrs(model, scenario, "sobol", n2, seed, y.shape[2])
    return _dataset(res, outputs, years, factors, attrs)


def morris_indices(
    scenario: Any = None,
    n: int = 100,
    seed: int = 0,
    *,
    model: Model | None = None,
    outputs: Sequence[str] | None = None,
    years: Sequence[int] = DEFAULT_YEARS,
    uncertainty: Any = None,
    num_levels: int = 4,
    chunk: int = DEFAULT_CHUNK,
    progress: bool = False,
) -> xr.Dataset:
    """Morris screening: ``mu_star`` (with 95 % confidence), ``mu`` and ``sigma`` per output and
    year (SALib ``sample.morris`` / ``analyze.morris``); ``n`` trajectories of
    ``factors + 1`` runs each. Effects are in the output's unit per unit of factor quantile.
    """
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as design

    n = check_n(n)
    if n < 2:
        raise ParameterError(
            f"--n {n}: Morris screening needs at least 2 trajectories (the spread of the "
            "elementary effects needs two)"
        )
    seed = check_seed(seed)
    model = model or load_model()
    outputs, years = _check_outputs(model, outputs), _check_years(model, years)

    def draw(problem: dict) -> np.ndarray:
        d = problem["num_vars"]
        check_memory(n * (d + 1) * d * 8 * SAMPLE_COPIES, f"--n {n}: a Morris design")
        rng = np.random.Generator(np.random.PCG64(seed))
        return design.sample(problem, n, num_levels=num_levels, seed=rng)

    problem, x, factors, y = _evaluate(
        model, scenario, uncertainty, draw, outputs, years, chunk, progress
    )

    def one(yij: np.ndarray, rng: np.random.Generator) -> dict:
        return analyze.analyze(problem, x, yij, num_levels=num_levels, seed=rng)

    keys = ("mu_star", "mu_star_conf", "mu", "sigma")
    res = _analyze_all(one, y, seed, keys, len(factors))
    attrs = _attrs(model, scenario, "morris", n, seed, y.shape[2])
    return _dataset(res, outputs, years, factors, attrs)


def _analyze_all(
    one: Callable[[np.ndarray, np.random.Generator], dict],
    y: np.ndarray,
    seed: int,
    keys: Sequence[str],
    n_factors: int,
) -> dict[str, np.ndarray]:
    """``one(y[i, j], rng)`` for every output ``i`` and year ``j``, on all cores.

    Each analysis gets its own generator seeded with ``seed`` (as one after the other would),
    so the indices do not depend on the order the threads finish in; SALib's bootstrap is
    numpy work that mostly runs without the GIL.
    """
    cells = [(i, j) for i in range(y.shape[0]) for j in range(y.shape[1])]

    def task(cell: tuple[int, int]) -> dict:
        return one(y[cell], np.random.Generator(np.random.PCG64(seed)))

    # SALib warns per analysis (hundreds of identical lines); say it once, plainly.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ThreadPoolExecutor(max(1, min(os.cpu_count() or 1, len(cells)))) as pool:
            results = list(pool.map(task, cells))
    if caught:
        first = " ".join(str(caught[0].message).split())[:160]
        logging.getLogger("urbsim").warning(
            f"SALib warned {len(caught)} time(s) while estimating the indices (first: {first}); "
            "indices with wide confidence intervals are not reliable"
        )
    res = {k: np.empty((y.shape[0], y.shape[1], n_factors)) for k in keys}
    for (i, j), si in zip(cells, results, strict=True):
        for k in keys:
            res[k][i, j] = np.asarray(si[k], dtype=float)
    return res


def _attrs(model: Model, scenario: Any, method: str, n: int, seed: int, runs: int) -> dict:
    name, raw, _ = split_scenario(scenario)
    return {
        **model.provenance(name, coerce_params(model.info, raw)),
        "method": method,
        "base_samples" if method == "sobol" else "trajectories": n,
        "runs": runs,
        "seed": seed,
    }


def top_drivers(ds: xr.Dataset, output: str, year: int, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` factors with the largest ST (Sobol) or mu* (Morris) for ``output`` at ``year``."""
    key = "ST" if "ST" in ds else "mu_star"
    s = ds[key].sel(output=output, year=year).to_series().dropna()
    return list(s.sort_values(ascending=False).head(k).items())


def format_drivers(ds: xr.Dataset, output: str, years: Sequence[int], k: int = 5) -> str:
    """Top drivers of ``output`` at each of ``years`` (those the analysis covers), as text."""
    key = "ST" if "ST" in ds else "mu*"
    lines = []
    for year in years:
        if year not in ds.year.values:
            continue
        lines.append(f"top drivers of {output} in {year} ({key}):")
        for name, value in top_drivers(ds, output, year, k):
            lines.append(f"  {value:8.4g}  {name}")
    return "\n".join(lines) if lines else f"(no year of {list(years)} in the analysis)"
