"""Bayesian calibration: a posterior over the calibrated constants and the uncertain constants that
move history most, given every observed series and an explicit observation-error model.

The sampler is ``emcee``'s affine-invariant ensemble MCMC (Goodman & Weare 2010). Why it: it is
maintained and small, it needs no proposal tuning for ~20 correlated parameters of very different
scales, and its vectorized mode hands all walkers to one call of urbsim's engine (64 walkers = one
64-run simulation), so a 200,000-run chain takes seconds. With a Gaussian observation model the
likelihood exists in closed form, so likelihood-free methods (SMC-ABC) would only add a distance and
a tolerance schedule.

Observation-error model (relative standard deviations, :data:`SIGMA`; they stand for measurement
error and the model's structural error together): census-year points 0.5 %; bulletin figures of
2021-2023 1 %; the census-adjusted sample-survey urbanization rates of 2011-2019 and the registered
urbanization rates 2 %; regional GDP 1.5 %; new-energy capacity 2 %; the single county-town figure
and the plan's idle-land figure 5 % (definitions uncertain). The census break is treated as in the
least-squares fit (:func:`urbsim.calibration.census_adjusted`). The prior is uniform over each
constant's documented range.

The result is a file beside the model (``model/data/posterior.nc``): the draws, their log
posterior, the prior ranges, diagnostics (acceptance, autocorrelation time, effective sample size,
prior-to-posterior shrinkage), the model's sha256 and the observed data's sha256. A file whose model
hash differs from the model's is refused (:class:`PosteriorError`), never silently used.

Example
-------
>>> import urbsim
>>> from urbsim.posterior import posterior
>>> post = posterior(urbsim.load_model(), seed=1, steps=200)  # doctest: +SKIP
>>> post.draws.shape  # (draw, input)  # doctest: +SKIP
(4000, 39)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from urbsim import __version__
from urbsim.calibration import (
    SIGMA,
    _fit_points,
    calibrated_constants,
    load_observed,
    point_sigma,
)
from urbsim.errors import UrbsimError
from urbsim.indicators import INDICATORS, TARGETS, value_at
from urbsim.mdlinfo import ModelInfo
from urbsim.model import Model
from urbsim.paths import default_model_path, model_dir, observed_path

#: Sobol total index on history from which an uncertain input joins the posterior.
INFLUENCE = 0.01
#: Outputs and years on which influence is measured (Sobol total index).
HISTORY_OUTPUTS = ("urbanization_rate", "rural_population", "total_population", "regional_gdp")
HISTORY_YEARS = (2015, 2020, 2023)


class PosteriorError(UrbsimError):
    """A posterior file that is missing, damaged or made for another model."""


def default_path() -> Path:
    """``model/data/posterior.nc``."""
    return model_dir() / "data" / "posterior.nc"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Posterior:
    """Posterior draws of a set of model inputs (scalar constants or elements of one).

    Attributes
    ----------
    names : the inputs, ``name`` or ``name[element]`` (Vensim spelling).
    draws : (draw, input) values.
    log_prob : log posterior of each draw.
    lo, hi : the uniform prior's bounds.
    attrs : provenance and diagnostics (model_sha256, seed, acceptance, ...).
    ess, shrinkage : per constant.
    """

    names: list[str]
    draws: np.ndarray
    log_prob: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    ess: np.ndarray
    shrinkage: np.ndarray
    attrs: dict

    @property
    def constants(self) -> list[str]:
        """The constants the inputs belong to, each once."""
        return list(dict.fromkeys(_split(n)[0] for n in self.names))

    def pick(self, info: ModelInfo, u: np.ndarray) -> dict[str, np.ndarray]:
        """Per-run arrays of the posterior's constants for the draws at quantile positions
        ``u`` in [0, 1) (one whole draw per run, so correlations are kept)."""
        index = np.minimum((np.asarray(u) * len(self.draws)).astype(int), len(self.draws) - 1)
        return _arrays(info, self.names, self.draws[index])

    def median(self, info: ModelInfo) -> dict[str, np.ndarray]:
        """The posterior median of each input (element by element), as one run's arrays."""
        return _arrays(info, self.names, np.median(self.draws, axis=0)[None, :])

    def to_dataset(self) -> xr.Dataset:
        ds = xr.Dataset(
            {
                "draws": (("draw", "constant"), self.draws),
                "log_prob": (("draw",), self.log_prob),
                "prior_min": (("constant",), self.lo),
                "prior_max": (("constant",), self.hi),
                "ess": (("constant",), self.ess),
                "shrinkage": (("constant",), self.shrinkage),
            },
            coords={"constant": self.names},
            attrs=self.attrs,
        )
        ds["shrinkage"].attrs["description"] = "1 - posterior variance / uniform prior variance"
        return ds

    def save(self, path: str | Path | None = None) -> Path:
        from urbsim.fileio import write_atomic

        path = Path(path or default_path())
        write_atomic(path, self.to_dataset().to_netcdf)
        return path


def load_posterior(model: Model, path: str | Path | None = None) -> Posterior:
    """Read a posterior file and check it was made for ``model``.

    Raises
    ------
    PosteriorError
        The file is missing or unreadable, or its model hash is not the model's.
    """
    path = Path(path or default_path())
    try:
        with xr.open_dataset(path) as f:
            ds = f.load()
    except (OSError, ValueError) as exc:
        raise PosteriorError(
            f"posterior file {path}: cannot be read ({exc.__class__.__name__}); "
            "run 'urbsim calibrate' to make one"
        ) from None
    if ds.attrs.get("model_sha256") != model.sha256:
        raise PosteriorError(
            f"posterior file {path} was made for model {str(ds.attrs.get('model_sha256'))[:12]}, "
            f"not for {model.path.name} ({model.sha256[:12]}); run 'urbsim calibrate' again "
            "or use --prior"
        )
    missing = [c for c in ds.constant.values if _split(str(c))[0] not in model.info.constants]
    if missing:
        raise PosteriorError(f"posterior file {path}: unknown constants {missing}")
    return Posterior(
        names=[str(c) for c in ds.constant.values],
        draws=ds.draws.values,
        log_prob=ds.log_prob.values,
        lo=ds.prior_min.values,
        hi=ds.prior_max.values,
        ess=ds.ess.values,
        shrinkage=ds.shrinkage.values,
        attrs=dict(ds.attrs),
    )


def posterior_status(model: Model, path: str | Path | None = None) -> str:
    """One line for ``urbsim check``: whether the posterior file matches the model."""
    path = Path(path or default_path())
    if not path.exists():
        return f"posterior: none at {path.name} (ensembles use the prior; run 'urbsim calibrate')"
    try:
        post = load_posterior(model, path)
    except PosteriorError as exc:
        return f"posterior: STALE: {exc}"
    return (
        f"posterior: {path.name} matches the model ({len(post.draws)} draws of "
        f"{len(post.names)} constants, seed {post.attrs.get('seed')})"
    )


#: What an ensemble's provenance says when no posterior is used.
PRIOR = "prior (each Uncertain constant uniform over its documented range)"


def ensemble_posterior(model: Model, choice: str | Path | Posterior | None = "auto"):
    """The posterior an ensemble draws from, and the line that says so.

    ``"auto"`` (the default of every ensemble): the project's posterior file for the project's
    model (refused with :class:`PosteriorError` if it is stale), the prior for other models or
    when no file exists yet; ``None`` or ``"prior"``: the prior; a path or a :class:`Posterior`:
    that posterior (checked against the model).

    Returns
    -------
    (Posterior or None, description)
    """
    if choice is None or choice == "prior":
        return None, PRIOR
    if isinstance(choice, Posterior):
        post = choice
    elif choice == "auto":
        if model.path.resolve() != default_model_path().resolve() or not default_path().exists():
            return None, PRIOR
        post = load_posterior(model)
    else:
        post = load_posterior(model, choice)
    return post, (
        f"posterior ({len(post.draws)} draws of {len(post.names)} calibrated and influential "
        f"constants, emcee seed {post.attrs.get('seed')}; other Uncertain constants uniform)"
    )


def central_run(
    model: Model, scenario, choice: str | Path | Posterior | None = "auto", outputs=None
) -> xr.Dataset:
    """One run at the central inputs of the ensemble that ``choice`` names (see
    :func:`ensemble_posterior`): every input the ensemble varies at its median
    (:func:`urbsim.ensemble.sampling.central`), the scenario's settings as they are. This is
    what ``urbsim run`` and the app's single run show, so that they sit inside the ensemble's
    bands; ``Model.run`` keeps the model's documented defaults. The ``inputs`` attr says which
    ensemble.

    Example
    -------
    >>> import urbsim
    >>> ds = central_run(urbsim.load_model(), urbsim.load_scenario("plan"))  # doctest: +SKIP
    """
    from urbsim.ensemble.sampling import central

    post, ensemble = ensemble_posterior(model, choice)
    params = central(model.info, scenario, posterior=post)
    name = getattr(scenario, "name", None)
    ds = model.run(params, n=1, outputs=outputs, scenario=name)
    ds.attrs["inputs"] = f"central (median of every varied input) of the ensemble: {ensemble}"
    return ds


#: The observed series and years the default ensemble's middle half must hold (issue 11).
HISTORY_CHECK = ("urban_population", "rural_population", "urbanization_rate")
HISTORY_CHECK_YEARS = (2021, 2023)


def middle_half(mc: xr.Dataset, run: xr.Dataset, observed: pd.DataFrame) -> pd.DataFrame:
    """Whether history and the single run lie inside the 25-75 % band of the ensemble ``mc``
    (a :func:`urbsim.ensemble.montecarlo.run_montecarlo` result): the observed
    :data:`HISTORY_CHECK` points of :data:`HISTORY_CHECK_YEARS`, then every scorecard target's
    value in 2025 from ``run`` (e.g. :func:`central_run`). The model README's table and
    ``tests/test_posterior.py`` both read it.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``kind`` (``history`` or ``target``), ``name`` (indicator or target
        id), ``year``, ``value``, ``lo`` and ``hi`` (the band), ``inside``.
    """
    first, last = HISTORY_CHECK_YEARS
    history = observed[observed.indicator.isin(HISTORY_CHECK) & observed.year.between(first, last)]
    points = [
        ("history", r.indicator, int(r.year), r.indicator, r.value) for r in history.itertuples()
    ]
    points += [
        (
            "target",
            tid,
            2025,
            t.indicator,
            float(value_at(run[t.indicator], 2025).values.ravel()[0]),
        )
        for tid, t in TARGETS.items()
    ]
    rows = []
    for kind, name, year, indicator, value in points:
        band = value_at(mc[indicator], year)
        lo, hi = float(band.sel(percentile=25)), float(band.sel(percentile=75))
        rows.append((kind, name, year, value, lo, hi, lo <= value <= hi))
    return pd.DataFrame(rows, columns=["kind", "name", "year", "value", "lo", "hi", "inside"])


#: live_posterior's reads, by (file version, model): the app asks on every slider move.
_LIVE: dict[tuple, Posterior | None] = {}


def live_posterior(model: Model) -> Posterior | None:
    """The posterior for the app's live band: ``ensemble_posterior(model, "auto")``, read once
    per file version, and ``None`` (the prior) where it is stale, since a page must not fail on
    it (``urbsim check`` reports a stale file)."""
    path = default_path()
    key = (path.stat().st_mtime_ns if path.exists() else None, model.sha256, str(model.path))
    if key not in _LIVE:
        try:
            _LIVE[key] = ensemble_posterior(model, "auto")[0]
        except PosteriorError:
            _LIVE[key] = None
    return _LIVE[key]


def influential_uncertain(
    model: Model, scenario, threshold: float = INFLUENCE, n: int = 256, seed: int = 0
) -> list[str]:
    """Uncertain inputs (``name`` or ``name[element]``) whose Sobol total index on history
    (:data:`HISTORY_OUTPUTS` in :data:`HISTORY_YEARS`) reaches ``threshold``, most influential
    first, from urbsim's Sobol analysis. Calibrated constants are left out (they are always in)."""
    import warnings

    from urbsim.ensemble.sensitivity import sobol_indices

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        si = sobol_indices(
            scenario,
            n=n,
            seed=seed,
            model=model,
            outputs=list(HISTORY_OUTPUTS),
            years=HISTORY_YEARS,
        )
    score = si.ST.max(dim=("output", "year")).to_series().sort_values(ascending=False)
    calibrated = set(calibrated_constants(model))
    return [
        str(f) for f, v in score.items() if v >= threshold and _split(str(f))[0] not in calibrated
    ]


def _split(label: str) -> tuple[str, str]:
    """``"name[element]"`` -> ``("name", "element")``; ``"name"`` -> ``("name", "")``."""
    name, _, element = label.partition("[")
    return name, element.rstrip("]")


def _columns(info: ModelInfo, labels: Sequence[str]) -> list[tuple[str, int]]:
    """(constant, flat element index) of each label."""
    from urbsim.ensemble.distributions import element_labels

    out = []
    for label in labels:
        name, element = _split(label)
        c = info.constants[name]
        out.append((name, element_labels(info, c).index(element)))
    return out


def _arrays(info: ModelInfo, labels: Sequence[str], values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-run arrays ``(n, *dims)`` of the constants behind ``labels`` from ``values``
    ``(n, labels)``; elements not among the labels keep their default."""
    n = values.shape[0]
    out: dict[str, np.ndarray] = {}
    for j, (name, index) in enumerate(_columns(info, labels)):
        if name not in out:
            c = info.constants[name]
            out[name] = np.array(np.broadcast_to(c.default, (n, *c.default.shape)), dtype=float)
        out[name].reshape(n, -1)[:, index] = values[:, j]
    return out


@contextlib.contextmanager
def exact_maths(model: Model):
    """Run the fast engine's C kernel with the C library's maths (bit for bit the scalar code)
    instead of the vector maths, whose last bits depend on the machine's vector width
    (4 or 8 runs per value). An MCMC chain is chaotic: one ulp changes it within a few hundred
    steps, so this keeps ``urbsim calibrate --seed 1`` reproducible on any x86-64 machine with
    a C compiler and glibc (the numpy fallback's exp/log differ, so a machine without a
    compiler gets a different, equally valid chain)."""
    runner = model._runner
    if not hasattr(runner, "native_vector_math"):
        yield
        return
    before = runner.native_vector_math
    runner.native_vector_math = False
    try:
        yield
    finally:
        runner.native_vector_math = before


def posterior(
    model: Model,
    scenario=None,
    *,
    seed: int = 1,
    walkers: int | None = None,
    steps: int = 4000,
    draws: int = 4000,
    extra: Sequence[str] | None = None,
    observed: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Posterior:
    """Sample the posterior of the calibrated constants and the most influential uncertain ones.

    Parameters
    ----------
    model : a fast-engine model.
    scenario : held fixed (default: the ``plan`` scenario, which equals the baseline before 2023).
    seed : seeds the walkers' start and the sampler.
    walkers, steps : emcee's ensemble size (default 4 x constants) and chain length; the first
        half is burn-in.
    draws : at most this many draws are kept (thinned evenly).
    extra : uncertain inputs (``name`` or ``name[element]``) to include (default:
        :func:`influential_uncertain`).
    observed : the observed-data file (default ``model/data/observed.csv``).
    progress : called with (step, steps).
    """
    import emcee

    from urbsim.scenarios import load_scenario

    scenario = scenario if scenario is not None else load_scenario("plan", model.info)
    base = dict(getattr(scenario, "parameters", scenario) or {})
    observed_file = Path(observed or observed_path())
    pts = _fit_points(load_observed(observed_file))
    extra = list(extra) if extra is not None else influential_uncertain(model, scenario, seed=seed)
    calibrated = calibrated_constants(model)
    names = [*calibrated, *(e for e in extra if _split(e)[0] not in {*base, *calibrated})]
    lo = np.array([model.info.constants[_split(c)[0]].range[0] for c in names], dtype=float)
    hi = np.array([model.info.constants[_split(c)[0]].range[1] for c in names], dtype=float)
    variables = [INDICATORS[i].variable for i in pts.indicator]
    t_index = np.searchsorted(model.time, pts.year.to_numpy(dtype=float))
    obs = pts.value.to_numpy(dtype=float)
    sigma = np.array([point_sigma(i, int(y)) for i, y in zip(pts.indicator, pts.year, strict=True)])
    outputs = sorted(set(variables))

    def log_prob(theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        inside = np.all((theta >= lo) & (theta <= hi), axis=1)
        out = np.full(len(theta), -np.inf)
        if not inside.any():
            return out
        x = theta[inside]
        params = {**base, **_arrays(model.info, names, x)}
        sim = model.simulate(params, n=len(x), outputs=outputs)
        model_values = np.stack(
            [sim[v][:, t] for v, t in zip(variables, t_index, strict=True)], axis=1
        )
        r = (model_values - obs) / (obs * sigma)
        ll = -0.5 * np.sum(r * r, axis=1)
        out[inside] = np.where(np.isfinite(ll), ll, -np.inf)
        return out

    ndim = len(names)
    walkers = walkers or 4 * ndim
    if walkers < 2 * ndim:
        raise PosteriorError(
            f"walkers: {walkers} is too few for {ndim} inputs; the ensemble sampler needs at "
            f"least twice as many walkers as inputs ({2 * ndim})"
        )
    rng = np.random.default_rng(seed)
    center = np.array(
        [model.info.constants[name].default.flat[i] for name, i in _columns(model.info, names)],
        dtype=float,
    )
    start = np.clip(center + rng.normal(0, 0.01, (walkers, ndim)) * (hi - lo), lo, hi)
    sampler = emcee.EnsembleSampler(walkers, ndim, log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    with exact_maths(model):
        for step, _ in enumerate(sampler.sample(start, iterations=steps), start=1):
            if progress:
                progress(step, steps)
    burn = steps // 2
    chain = sampler.get_chain(discard=burn)  # (steps - burn, walkers, ndim)
    lp = sampler.get_log_prob(discard=burn)
    tau = emcee.autocorr.integrated_time(chain, tol=0, quiet=True)
    flat, flat_lp = chain.reshape(-1, ndim), lp.reshape(-1)
    keep = np.linspace(0, len(flat) - 1, min(draws, len(flat))).round().astype(int)
    prior_var = (hi - lo) ** 2 / 12
    attrs = {
        "model_sha256": model.sha256,
        "model_file": model.path.name,
        "observed_sha256": _sha256(observed_file),
        "observed_file": observed_file.name,
        "seed": seed,
        "sampler": f"emcee {emcee.__version__} (affine-invariant ensemble, vectorized)",
        "walkers": walkers,
        "steps": steps,
        "burn_in": burn,
        "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)),
        "autocorr_time_max": float(np.max(tau)),
        "sigma": json.dumps(SIGMA),
        "fit_points": len(pts),
        "created": str(dt.date.today()),
        "urbsim_version": __version__,
    }
    return Posterior(
        names=names,
        draws=flat[keep],
        log_prob=flat_lp[keep],
        lo=lo,
        hi=hi,
        ess=len(flat) / tau,
        shrinkage=1 - flat.var(axis=0) / prior_var,
        attrs=attrs,
    )
