"""Draw per-run parameter sets: Latin hypercube, scrambled Sobol or plain Monte Carlo.

Randomness flows only through ``numpy.random.Generator(PCG64(seed))`` (handed to
``scipy.stats.qmc`` as ``rng``), never the global RNG, so the same seed gives bit-identical
draws. All uniforms are drawn at once for the whole ensemble, so a run's parameters do not depend
on how the runs are later split into chunks or spread over workers.

Example
-------
>>> from urbsim.mdlinfo import model_info
>>> draws = sample(model_info(), {"plan switch": 1}, n=200, seed=7)
>>> draws["park crowd in ratio"].shape
(200,)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import qmc

from urbsim.ensemble.distributions import (
    Distribution,
    Marginal,
    default_uncertainty,
    parse_uncertainty,
)
from urbsim.errors import ParameterError
from urbsim.mdlinfo import ModelInfo
from urbsim.params import coerce_params, resolve_name, short_repr, split_scenario

SAMPLERS = ("lhs", "sobol", "random")


def resolve_uncertainty(
    info: ModelInfo, fixed: Mapping[str, Any], uncertainty: Any = None, source: Any = None
) -> dict[str, Distribution]:
    """The distributions an ensemble varies.

    Parameters
    ----------
    info : model metadata.
    fixed : the scenario's validated parameters (Vensim names); constants set here are held at
        their value unless ``uncertainty`` names them.
    uncertainty : ``None`` or a raw ``[uncertainty]`` table, overlaid element by element on the
        model's defaults; or a non-empty mapping of :class:`Distribution`, used as the complete
        set (nothing else varies).
    source : the Scenario; its ``.path`` (when set) names file and line in error messages.
    """
    if (
        isinstance(uncertainty, Mapping)
        and uncertainty
        and all(isinstance(d, Distribution) for d in uncertainty.values())
    ):
        return dict(uncertainty)
    path = getattr(source, "path", None)
    text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else None
    parsed = parse_uncertainty(info, uncertainty or {}, str(path or ""), text=text)
    out = {k: d for k, d in default_uncertainty(info).items() if k not in fixed}
    for name, dist in parsed.items():
        base = out.get(name)
        if base is None:
            out[name] = dist
            continue
        pairs = zip(dist.marginals, base.marginals, strict=True)
        merged = tuple(m if m is not None else b for m, b in pairs)
        out[name] = Distribution(name, dist.dims, dist.elements, merged)
    return out


def uniforms(n: int, d: int, seed: int, sampler: str = "lhs") -> np.ndarray:
    """An ``(n, d)`` design of uniforms in ``[0, 1)``.

    ``sobol`` uses the first ``n`` points of a scrambled Sobol sequence; its balance properties
    hold when ``n`` is a power of two (see :func:`round_sobol_n`).
    """
    if sampler not in SAMPLERS:
        raise ParameterError(f"unknown sampler {sampler!r}; allowed: {', '.join(SAMPLERS)}")
    rng = np.random.Generator(np.random.PCG64(seed))
    if d == 0:
        return np.empty((n, 0))
    if sampler == "random":
        return rng.random((n, d))
    if sampler == "lhs":
        return latin_hypercube(n, d, rng)
    with warnings.catch_warnings():
        # scipy warns when n is not a power of two; callers that care use round_sobol_n first.
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d, scramble=True, rng=rng).random(n)


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``scipy.stats.qmc.LatinHypercube(d, rng=rng).random(n)``, bit for bit (same draws in
    the same order), in one ``(n, d)`` array instead of scipy's four: a 10^6-run design of 64
    factors then needs 0.5 GB, not 2 GB."""
    rng = qmc.LatinHypercube(d, rng=rng).rng  # the generator scipy spawns from ``rng``
    samples = rng.uniform(size=(n, d))
    perm = np.empty(n, dtype=np.int64)
    for i in range(d):
        perm[:] = np.arange(1, n + 1)
        rng.shuffle(perm)
        samples[:, i] = (perm - samples[:, i]) / n
    return samples


def round_sobol_n(n: int) -> tuple[int, str | None]:
    """``n`` rounded up to a power of two for Sobol designs, with a notice when it changed."""
    m = 1 << max(0, (n - 1).bit_length())
    if m == n:
        return n, None
    return m, f"notice: Sobol designs need a power of two; using --n {m} instead of {n}"


def check_n(n: Any, flag: str = "n") -> int:
    """``n`` as a positive int, or a :class:`ParameterError` naming ``flag``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"--{flag} must be a positive whole number of runs; got {n!r}")
    return int(n)


MAX_SEED = 2**64 - 1


def check_seed(seed: Any) -> int:
    """``seed`` as an int in ``0 .. 2**64-1``, or a :class:`ParameterError`."""
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or not (0 <= seed <= MAX_SEED)
    ):
        raise ParameterError(
            f"--seed must be a whole number from 0 to {MAX_SEED}; got {short_repr(seed)}"
        )
    return int(seed)


def factor_list(dists: Mapping[str, Distribution]) -> list[tuple[str, str, int, Marginal]]:
    """Every varied scalar as ``(label, constant, flat element index, marginal)``, sorted."""
    return [
        (label, name, index, marginal)
        for name in sorted(dists)
        for label, index, marginal in dists[name].factors()
    ]


def apply_design(
    info: ModelInfo,
    fixed: Mapping[str, np.ndarray],
    dists: Mapping[str, Distribution],
    design: np.ndarray,
    in_place: bool = False,
) -> dict[str, np.ndarray]:
    """Map a ``(n, d)`` design of uniforms through the marginals onto parameter arrays.

    ``fixed`` holds validated arrays (Vensim names, shaped ``dims`` or ``(n, *dims)``); elements
    a distribution holds fixed take their value from there, or the model default. With
    ``in_place``, the design's columns are overwritten with the draws and a scalar constant's
    array is a view of its column, so no second ``(n, d)`` array is made (large ensembles).
    """
    n = design.shape[0]
    out = dict(fixed)
    columns: dict[str, list[tuple[int, Marginal, int]]] = {}
    for j, (_, name, index, marginal) in enumerate(factor_list(dists)):
        columns.setdefault(name, []).append((index, marginal, j))
    for name, cols in columns.items():
        c = info.constants[name]
        if in_place and not c.dims and len(cols) == 1:
            j = cols[0][2]
            design[:, j] = cols[0][1].ppf(design[:, j])
            out[name] = design[:, j]
            continue
        base = np.asarray(fixed.get(name, c.default), dtype=float)
        arr = np.array(np.broadcast_to(base, (n, *c.default.shape)), dtype=float)
        flat = arr.reshape(n, -1)
        for index, marginal, j in cols:
            flat[:, index] = marginal.ppf(design[:, j])
        out[name] = flat.reshape(arr.shape)
    return out


def sample(
    info: ModelInfo,
    scenario_or_params: Any,
    n: int,
    seed: int,
    sampler: str = "lhs",
    uncertainty: Any = None,
    posterior: Any = None,
) -> dict[str, np.ndarray]:
    """Per-run parameter arrays for an ensemble of ``n`` runs, ready for ``Model.run(p, n=n)``.

    Parameters
    ----------
    info : model metadata.
    scenario_or_params : a Scenario (``.name``, ``.parameters``, optional ``.uncertainty``), a
        mapping of constant values, or ``None`` for the model defaults.
    n : number of runs.
    seed : seed of the ``numpy.random.Generator``; the same seed gives bit-identical draws.
    sampler : ``"lhs"`` (Latin hypercube), ``"sobol"`` (scrambled Sobol) or ``"random"``.
    uncertainty : overrides the scenario's ``[uncertainty]``; see :func:`resolve_uncertainty`.
    posterior : a :class:`urbsim.posterior.Posterior` or ``None`` (the prior). Its constants are
        taken from its draws, one whole draw per run (so their correlations are kept), through one
        more column of the design; constants the scenario sets or names in ``[uncertainty]`` keep
        the scenario's value or distribution.

    Returns
    -------
    dict
        Vensim name -> array: ``(n, *dims)`` for varied constants, ``dims`` for fixed ones.
    """
    n = check_n(n)
    seed = check_seed(seed)
    fixed, dists, joint = _inputs(info, scenario_or_params, n, uncertainty, posterior)
    factors = factor_list(dists)
    width = len(factors) + bool(joint)
    copies = SAMPLE_COPIES if sampler == "sobol" else 2  # LHS and random: one design array
    check_memory(n * width * 8 * copies, f"--n {n}: sampling {width} inputs")
    design = uniforms(n, width, seed, sampler)
    if joint:
        drawn = posterior.pick(info, design[:, -1])
        design = design[:, :-1]
    params = apply_design(info, fixed, dists, design, in_place=True)
    if joint:
        params.update({c: drawn[c] for c in joint})
    for name, arr in params.items():
        if not np.all(np.isfinite(arr)):
            raise ParameterError(
                f"[uncertainty] {name!r}: its distribution gives non-finite values (e.g. "
                f"{arr[~np.isfinite(arr)].flat[0]}); check its numbers"
            )
    return params


def _inputs(info: ModelInfo, scenario_or_params: Any, n: int, uncertainty: Any, posterior: Any):
    """What an ensemble varies: ``(fixed arrays, distributions, constants the posterior draws)``."""
    _, raw, table = split_scenario(scenario_or_params)
    fixed = coerce_params(info, raw, n=n)
    chosen = table if uncertainty is None else uncertainty
    dists = resolve_uncertainty(info, fixed, chosen, scenario_or_params)
    joint = []
    if posterior is not None:
        # names already checked by resolve_uncertainty
        named = {resolve_name(info, k).name for k in chosen} if isinstance(chosen, Mapping) else ()
        joint = [c for c in posterior.constants if c not in fixed and c not in named]
        dists = {k: v for k, v in dists.items() if k not in joint}
    return fixed, dists, joint


def central(
    info: ModelInfo, scenario_or_params: Any, uncertainty: Any = None, posterior: Any = None
) -> dict[str, np.ndarray]:
    """The ensemble's central parameter set: every input :func:`sample` would vary at the median
    of its distribution (the posterior's median, element by element, for the posterior's
    constants; the inverse CDF at 0.5 for the others: the middle of a uniform range), and
    everything the scenario sets as it sets it. ``urbsim run`` uses it, so that the single run
    and the ensemble tell one story.

    Returns
    -------
    dict
        Vensim name -> array shaped like the constant (``dims``).

    Example
    -------
    >>> import urbsim
    >>> model = urbsim.load_model()
    >>> p = central(model.info, urbsim.load_scenario("plan"))  # doctest: +SKIP
    >>> ds = model.run(p, n=1)  # doctest: +SKIP
    """
    fixed, dists, joint = _inputs(info, scenario_or_params, 1, uncertainty, posterior)
    params = apply_design(info, fixed, dists, np.full((1, len(factor_list(dists))), 0.5))
    if joint:
        medians = posterior.median(info)
        params.update({c: medians[c] for c in joint})
    # one run: drop the run axis, so provenance lists the values themselves
    return {k: v[0] if v.ndim > len(info.constants[k].dims) else v for k, v in params.items()}


#: Copies of an ``(n, factors)`` design alive while scipy draws it (Sobol, SALib designs).
SAMPLE_COPIES = 3


def check_memory(needed: int, what: str) -> None:
    """Refuse (:class:`ParameterError`) a step needing more than half this machine's memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no estimate
        return
    if needed > total // 2:
        raise ParameterError(
            f"{what} needs about {format_bytes(needed)} of memory; this machine has "
            f"{format_bytes(total)} (at most half is used)"
        )


def format_bytes(size: float) -> str:
    """``1.5 GB``-style size (powers of 1000)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(size) < 1000 or unit == "PB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"
