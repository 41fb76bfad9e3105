"""Monte Carlo ensembles: percentile bands over time and the probability of meeting each target.

Example
-------
>>> from urbsim.ensemble import run_montecarlo
>>> ds = run_montecarlo(n=256, seed=1)                      # doctest: +SKIP
>>> float(ds.p_met.sel(target="T2", year=2025))             # doctest: +SKIP
0.42

The result (and the file ``--out`` writes) holds, for every standard indicator the model has:

- ``<indicator>`` (percentile, time): the 5/25/50/75/95th percentiles over runs, in the
  indicator's unit;
- ``<indicator>_runs`` (run, time): every run, only with ``save_runs=True`` (and then the
  sampled inputs under their Vensim names, (run, *subscripts));

and for every target of :data:`urbsim.indicators.TARGETS`:

- ``p_met`` (target, year): share of runs meeting the target in 2025 and 2030;
- ``p_met_low`` / ``p_met_high``: its 95 % Wilson score interval;
- coordinates ``target_indicator`` and ``target_threshold``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from urbsim.ensemble.distributed import Chunk, dask_client, dask_map, local_map, slice_params
from urbsim.ensemble.sampling import check_n, round_sobol_n, sample
from urbsim.ensemble.store import EnsembleStore
from urbsim.errors import ParameterError
from urbsim.indicators import INDICATORS, TARGETS
from urbsim.model import Model, load_model
from urbsim.params import split_scenario

PERCENTILES = (5, 25, 50, 75, 95)
TARGET_YEARS = (2025, 2030)
#: Two-sided 95 % normal quantile, for the Wilson interval.
Z95 = 1.959963984540054
DEFAULT_CHUNK = 2048


def wilson(k: np.ndarray | int, n: int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` for ``k`` successes out of ``n`` trials."""
    k = np.asarray(k, dtype=float)
    p = k / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


def model_indicators(model: Model) -> dict[str, str]:
    """Standard indicators this model computes: ``{snake_case name: Vensim variable}``."""
    known = model.info.variables
    return {k: ind.variable for k, ind in INDICATORS.items() if ind.variable in known}


def summarize(
    values: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    time: np.ndarray,
    attrs: Mapping[str, Any],
    inputs: Mapping[str, np.ndarray] | None = None,
    info: Any = None,
) -> xr.Dataset:
    """Percentile bands and target probabilities from per-run indicator values.

    Parameters
    ----------
    values : snake_case indicator -> ``(run, time)`` array, or a list of such arrays (chunks of
        runs, in run order; they are not concatenated unless ``inputs`` asks for every run).
    time : saved times (years).
    attrs : attributes for the Dataset (provenance, seed ...).
    inputs : when given, the per-run outputs and these sampled inputs (Vensim name ->
        ``(run, *dims)``) are kept too; ``info`` (ModelInfo) then supplies their dims and units.
    """
    parts = {k: [v] if isinstance(v, np.ndarray) else list(v) for k, v in values.items()}
    n = sum(p.shape[0] for p in next(iter(parts.values())))
    coords: dict[str, Any] = {"percentile": list(PERCENTILES), "time": time}
    data: dict[str, Any] = {}
    for name, bands in _all_bands(parts, n, len(time)).items():
        data[name] = xr.Variable(("percentile", "time"), bands, {"units": INDICATORS[name].units})
    targets = [t for t in TARGETS.values() if t.indicator in values]
    if targets:
        met = np.array(
            [
                [_met_count(parts[t.indicator], time, t.threshold, y) for y in TARGET_YEARS]
                for t in targets
            ]
        )
        low, high = wilson(met, n)
        dims = ("target", "year")
        data["p_met"] = xr.Variable(dims, met / n, {"units": "1", "runs": n})
        data["p_met_low"] = xr.Variable(dims, low, {"units": "1", "method": "Wilson 95%"})
        data["p_met_high"] = xr.Variable(dims, high, {"units": "1", "method": "Wilson 95%"})
        coords.update(
            target=[t.id for t in targets],
            year=list(TARGET_YEARS),
            target_indicator=("target", [t.indicator for t in targets]),
            target_threshold=("target", [t.threshold for t in targets]),
        )
    if inputs is not None:
        coords["run"] = np.arange(n)
        for name, chunks in parts.items():
            data[f"{name}_runs"] = xr.Variable(
                ("run", "time"), np.concatenate(chunks), {"units": INDICATORS[name].units}
            )
        for name, arr in inputs.items():
            c = info.constants[name]
            for d in c.dims:
                coords.setdefault(d, list(info.subscripts[d]))
            data[name] = xr.Variable(("run", *c.dims), arr, {"units": c.units})
    ds = xr.Dataset(data, coords=coords, attrs=dict(attrs))
    ds["time"].attrs["units"] = "year"
    return ds


def percentile_bands(parts: Sequence[np.ndarray], buf: np.ndarray | None = None) -> np.ndarray:
    """``np.percentile(concatenate(parts), PERCENTILES, axis=0)`` for ``(run, time)`` chunks.

    The runs are copied time-major into ``buf`` (``(time, runs)``, reused between calls so
    its pages are touched once) and partitioned in place: contiguous rows partition several
    times faster than strided columns, and the numbers are identical.
    """
    n, t = sum(p.shape[0] for p in parts), parts[0].shape[1]
    tm = np.empty((t, n)) if buf is None else buf[:t, :n]
    start = 0
    for p in parts:
        tm[:, start : start + p.shape[0]] = p.T
        start += p.shape[0]
    return np.percentile(tm, PERCENTILES, axis=1, overwrite_input=True)


def _all_bands(parts: Mapping[str, list], n: int, t: int) -> dict[str, np.ndarray]:
    """:func:`percentile_bands` of every indicator, on all cores (numpy partitions without
    the GIL), one reusable buffer per thread."""
    names = list(parts)
    workers = max(1, min(os.cpu_count() or 1, len(names)))

    def group(ids: list[str]) -> dict[str, np.ndarray]:
        buf = np.empty((t, n))
        return {k: percentile_bands(parts[k], buf) for k in ids}

    out: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(workers) as pool:
        for d in pool.map(group, [names[i::workers] for i in range(workers)]):
            out.update(d)
    return {k: out[k] for k in names}


def _met_count(parts: Sequence[np.ndarray], time: np.ndarray, threshold: float, year: int) -> int:
    """Runs meeting ``threshold`` at the saved time nearest ``year``."""
    j = int(np.argmin(np.abs(time - year)))
    return sum(int(np.count_nonzero(p[:, j] >= threshold)) for p in parts)


def _fingerprint(params: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(params):
        h.update(name.encode())
        h.update(np.ascontiguousarray(params[name], dtype=np.float64).tobytes())
    return h.hexdigest()


def run_montecarlo(
    scenario: Any = None,
    n: int = 1000,
    seed: int = 0,
    sampler: str = "lhs",
    *,
    model: Model | None = None,
    uncertainty: Any = None,
    out: str | Path | None = None,
    save_runs: bool = False,
    chunk: int = DEFAULT_CHUNK,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> xr.Dataset:
    """Run a Monte Carlo ensemble and summarize it (see the module docstring for the result).

    Parameters
    ----------
    scenario : a Scenario, a mapping of constant values, or ``None`` (model defaults).
    n : number of runs; for ``sampler="sobol"`` rounded up to a power of two (with a warning).
    seed : seed of the sampler's ``numpy.random.Generator``.
    sampler : ``"lhs"``, ``"sobol"`` or ``"random"``.
    model : the model (default ``urbsim.load_model()``).
    uncertainty : overrides the scenario's ``[uncertainty]`` table (see :func:`sample`).
    out : ``FILE.nc`` or ``DIR.zarr`` to write, chunk by chunk (see :mod:`.store`).
    save_runs : also keep every run's indicators and sampled inputs.
    chunk : runs per chunk (one task on Dask); the results do not depend on it.
    workers : run chunks on a new Dask LocalCluster of this many processes.
    scheduler : run chunks on the Dask cluster at ``tcp://HOST:PORT``.
    resume : continue an interrupted run that wrote to ``out``.
    progress : show a tqdm progress bar (runs/s) on stderr.
    """
    n = check_n(n)
    chunk = check_n(chunk, "chunk")
    if sampler == "sobol":
        n2, notice = round_sobol_n(n)
        if notice:
            warnings.warn(notice, UserWarning, stacklevel=2)
        n = n2
    model = model or load_model()
    name, _, _ = split_scenario(scenario)
    params = sample(model.info, scenario, n, seed, sampler, uncertainty)
    varied = {k: v for k, v in params.items() if v.ndim > len(model.info.constants[k].dims)}
    indicators = model_indicators(model)
    if not indicators:
        raise ParameterError(
            f"{model.path.name}: the model computes none of the standard indicators "
            f"({', '.join(INDICATORS)}); Monte Carlo summarizes those"
        )
    attrs = {
        **model.provenance(name, params),
        "runs": n,
        "seed": seed,
        "sampler": sampler,
        "varied_constants": json.dumps(sorted(varied), ensure_ascii=False),
    }
    manifest = {
        "runs": n,
        "seed": seed,
        "sampler": sampler,
        "chunk": chunk,
        "save_runs": save_runs,
        "model_sha256": model.sha256,
        "parameters_sha256": _fingerprint(params),
    }
    store = EnsembleStore(Path(out) if out is not None else None, manifest, resume)
    bounds = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    results = store.completed()
    todo = [k for k in range(len(bounds)) if k not in results]
    chunks: list[Chunk] = [(*bounds[k], slice_params(model, params, *bounds[k])) for k in todo]
    outputs = list(indicators.values())

    def snapshot(final: bool) -> xr.Dataset:
        done = sorted(results)
        values = {ind: [results[k][var] for k in done] for ind, var in indicators.items()}
        kept = varied if save_runs and final else None
        runs_done = sum(bounds[k][1] - bounds[k][0] for k in done)
        status = {"status": "complete" if final else "partial", "runs_done": runs_done}
        return summarize(values, model.time, {**attrs, **status}, kept, model.info)

    with progress_bar(n, progress) as bar:
        bar.update(sum(bounds[k][1] - bounds[k][0] for k in results))
        for k, arrays in _execute(model, chunks, outputs, workers, scheduler):
            index = todo[k]
            results[index] = arrays
            store.save_chunk(index, arrays)
            bar.update(bounds[index][1] - bounds[index][0])
            if len(results) < len(bounds) and store.due():
                store.write(snapshot(final=False))
    ds = snapshot(final=True)
    store.finish(ds)
    return ds


def _execute(
    model: Model,
    chunks: Sequence[Chunk],
    outputs: Sequence[str],
    workers: int | None,
    scheduler: str | None,
):
    if workers is None and scheduler is None:
        yield from local_map(model, chunks, outputs)
        return
    if not chunks:
        return
    with dask_client(workers, scheduler) as client:
        yield from dask_map(client, model, chunks, outputs)


def progress_bar(total: int, enabled: bool):
    """A tqdm bar on stderr counting runs (shows runs/s); a silent no-op when not enabled."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="run",
        unit_scale=True,
        disable=not enabled,
        file=sys.stderr,
        desc="runs",
        dynamic_ncols=True,
    )
