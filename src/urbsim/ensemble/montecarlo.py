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
import shutil
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from urbsim.ensemble.distributed import (
    Chunk,
    check_workers,
    dask_client,
    dask_map,
    local_map,
    slice_params,
)
from urbsim.ensemble.sampling import (
    check_memory,
    check_n,
    check_seed,
    format_bytes,
    round_sobol_n,
    sample,
)
from urbsim.ensemble.store import EnsembleStore, check_output
from urbsim.errors import OutputError, ParameterError
from urbsim.indicators import INDICATORS, TARGETS
from urbsim.model import Model, load_model
from urbsim.params import split_scenario
from urbsim.posterior import ensemble_posterior

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
    parts = {k: [v] if isinstance(v, np.ndarray) else v for k, v in values.items()}
    n = _run_count(next(iter(parts.values())))
    coords: dict[str, Any] = {"percentile": list(PERCENTILES), "time": time}
    data: dict[str, Any] = {}
    targets = [t for t in TARGETS.values() if t.indicator in values]
    checks = {
        name: [
            (int(np.argmin(np.abs(time - y))), t.threshold)
            for t in targets
            if t.indicator == name
            for y in TARGET_YEARS
        ]
        for name in parts
    }
    bands, counts = _all_bands(parts, n, len(time), checks)
    for name, b in bands.items():
        data[name] = xr.Variable(("percentile", "time"), b, {"units": INDICATORS[name].units})
    if targets:
        seen = {name: iter(c) for name, c in counts.items()}
        met = np.array([[next(seen[t.indicator]) for _ in TARGET_YEARS] for t in targets])
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


class ChunkSeries(Sequence):
    """One output's ``(run, time)`` chunks, read from an :class:`EnsembleStore` one at a time,
    or a few saved times of all of them (:meth:`block`), so summarizing holds at most one
    block of times of one indicator in memory."""

    def __init__(
        self, store: EnsembleStore, chunks: Sequence[int], name: str, runs: int, times: int
    ):
        self._store, self._chunks, self._name = store, list(chunks), name
        self.runs, self.times = runs, times

    def __len__(self) -> int:
        return len(self._chunks)

    def __getitem__(self, i):  # type: ignore[override]
        return self._store.read_output(self._chunks[i], self._name)

    def block(self, i: int, t0: int, t1: int) -> np.ndarray:
        """Saved times ``t0:t1`` of chunk ``i``, ``(time, run)``."""
        return self._store.read_block(self._chunks[i], self._name, t0, t1)


def _run_count(parts: Sequence[np.ndarray]) -> int:
    return parts.runs if isinstance(parts, ChunkSeries) else sum(p.shape[0] for p in parts)


def _block(parts: Sequence[np.ndarray], i: int, t0: int, t1: int) -> np.ndarray:
    return parts.block(i, t0, t1) if isinstance(parts, ChunkSeries) else parts[i][:, t0:t1].T


def _block_rows(n: int, t: int) -> int:
    """Saved times per percentile block: a ``(rows, n)`` float64 buffer of at most
    :data:`BLOCK_BYTES` (at least one row)."""
    return max(1, min(t, BLOCK_BYTES // max(1, n * 8)))


def percentile_bands(
    parts: Sequence[np.ndarray],
    buf: np.ndarray | None = None,
    checks: Sequence[tuple[int, float]] = (),
) -> tuple[np.ndarray, list[int]]:
    """``np.percentile(concatenate(parts), PERCENTILES, axis=0)`` for ``(run, time)`` chunks,
    and for each ``(time index, threshold)`` of ``checks`` the runs at or above it there.

    The runs are copied time-major into ``buf`` (``(time, runs)``, reused between calls so
    its pages are touched once) and partitioned in place: contiguous rows partition several
    times faster than strided columns, and the numbers are identical.
    """
    n = _run_count(parts)
    t = parts.times if isinstance(parts, ChunkSeries) else parts[0].shape[1]
    rows = _block_rows(n, t)
    buf = np.empty((rows, n)) if buf is None else buf
    bands = np.empty((len(PERCENTILES), t))
    counts = [0] * len(checks)
    for t0 in range(0, t, rows):  # a few saved times at once: memory does not grow with t
        t1 = min(t, t0 + rows)
        tm = buf[: t1 - t0, :n]
        start = 0
        for i in range(len(parts)):
            b = _block(parts, i, t0, t1)
            tm[:, start : start + b.shape[1]] = b
            start += b.shape[1]
        for c, (j, threshold) in enumerate(checks):
            if t0 <= j < t1:
                counts[c] = int(np.count_nonzero(tm[j - t0] >= threshold))
        bands[:, t0:t1] = np.percentile(tm, PERCENTILES, axis=1, overwrite_input=True)
    return bands, counts


#: Size of one percentile buffer, in bytes (one per thread): with 10^6 runs, 4 saved times.
BLOCK_BYTES = 32 * 1024 * 1024


def _all_bands(
    parts: Mapping[str, Sequence[np.ndarray]], n: int, t: int, checks: Mapping[str, list]
) -> tuple[dict[str, np.ndarray], dict[str, list[int]]]:
    """:func:`percentile_bands` of every indicator, on all cores (numpy partitions without
    the GIL), one reusable buffer of :data:`BLOCK_BYTES` per thread."""
    names = list(parts)
    workers = max(1, min(os.cpu_count() or 1, len(names)))

    def group(ids: list[str]) -> dict[str, tuple[np.ndarray, list[int]]]:
        buf = np.empty((_block_rows(n, t), n))
        return {k: percentile_bands(parts[k], buf, checks.get(k, ())) for k in ids}

    out: dict[str, tuple[np.ndarray, list[int]]] = {}
    with ThreadPoolExecutor(workers) as pool:
        for d in pool.map(group, [names[i::workers] for i in range(workers)]):
            out.update(d)
    return {k: out[k][0] for k in names}, {k: out[k][1] for k in names}


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
    overwrite: bool = False,
    posterior: Any = "auto",
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
    overwrite : replace an existing ``out`` instead of refusing (``--force``).
    posterior : ``"auto"`` (the project's posterior for the project's model, else the prior),
        ``None`` / ``"prior"``, a path or a :class:`urbsim.posterior.Posterior`; see
        :func:`urbsim.posterior.ensemble_posterior`. The result's ``ensemble`` attr says which.
    """
    n = check_n(n)
    chunk = check_n(chunk, "chunk")
    seed = check_seed(seed)
    if workers is not None:
        check_workers(workers)  # before any state exists
    out = Path(out) if out is not None else None
    if out is not None:
        check_output(out)
    if sampler == "sobol":
        n2, notice = round_sobol_n(n)
        if notice:
            warnings.warn(notice, UserWarning, stacklevel=2)
        n = n2
    model = model or load_model()
    name, _, _ = split_scenario(scenario)
    indicators = model_indicators(model)
    if not indicators:
        raise ParameterError(
            f"{model.path.name}: the model computes none of the standard indicators "
            f"({', '.join(INDICATORS)}); Monte Carlo summarizes those"
        )
    outputs = list(indicators.values())
    per_run = len(outputs) * len(model.time) * 8
    spool = out is not None or n * per_run > IN_MEMORY_BYTES
    check_memory(2 * n * 8, f"--n {n}: the percentiles")  # at least one saved time
    if save_runs:
        check_memory(2 * n * per_run, f"--n {n} with --save-runs")
    post, ensemble = ensemble_posterior(model, posterior)
    params = sample(model.info, scenario, n, seed, sampler, uncertainty, post)
    varied = {k: v for k, v in params.items() if v.ndim > len(model.info.constants[k].dims)}
    disk = _check_disk(n, per_run, out, save_runs, varied) if spool else None
    attrs = {
        **model.provenance(name, params),
        "runs": n,
        "seed": seed,
        "sampler": sampler,
        "ensemble": ensemble,
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
        "outputs": outputs,
        **engine_config(model),
    }
    store = EnsembleStore(out, manifest, resume, spool=spool, overwrite=overwrite)
    if progress and disk:
        print(disk, file=sys.stderr)
    try:
        bounds = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
        todo = [k for k in range(len(bounds)) if k not in set(store.completed())]
        park = store.parts is not None and not save_runs
        chunks: list[Chunk] = [
            (*bounds[k], store.keep_params(k, slice_params(model, params, *bounds[k]), park))
            for k in todo
        ]
        kept = varied if save_runs else None
        del params, varied  # with parked inputs, the sampled design is freed here
        ds = _run(
            model, store, chunks, todo, bounds, kept, indicators, attrs, workers, scheduler,
            progress,
        )  # fmt: skip
    except BaseException:
        store.discard()  # a run that kept no chunk leaves nothing behind
        raise
    finally:
        store.close()
    return ds


#: Below this many bytes of outputs, an ensemble without ``out`` keeps its chunks in memory.
IN_MEMORY_BYTES = 256 * 1024 * 1024


def engine_config(model: Model) -> dict[str, Any]:
    """What decides the engine's bits, for the resume manifest: engine, backend, whether the
    native code is on and its vector-maths mode."""
    runner = model._runner  # noqa: SLF001 - compiles the model (needed for the run anyway)
    return {
        "engine": model.engine,
        "backend": model.backend,
        "native": bool(getattr(runner, "native", False)),
        "vector_math": getattr(runner, "native_vector_math", None),
    }


def disk_needed(n: int, per_run: int, save_runs: bool, inputs: int) -> int:
    """Bytes of disk a Monte Carlo of ``n`` runs needs: the chunks (``per_run`` bytes of
    outputs each) and the ``inputs`` sampled values per run (float64; parked on disk, or with
    ``save_runs`` kept in the output file with a copy of every run's outputs)."""
    chunks = int(n * per_run * 1.02) + (1 << 20)  # npy headers, manifest
    return chunks + n * 8 * inputs + (n * per_run if save_runs else 0)


def _check_disk(n: int, per_run: int, out: Path | None, save_runs: bool, varied: Mapping) -> str:
    """The notice of the disk a run will use, or an :class:`OutputError` when it cannot fit."""
    inputs = sum(int(np.prod(v.shape[1:], dtype=np.int64)) for v in varied.values())
    needed = disk_needed(n, per_run, save_runs, inputs)
    folder = out.parent if out is not None else Path(tempfile.gettempdir())
    free = shutil.disk_usage(folder).free
    where = f"{out.name}.parts" if out is not None else f"a temporary folder in {folder}"
    if needed > free:
        raise OutputError(
            f"--n {n}: needs about {format_bytes(needed)} of disk in {where}; {folder} has "
            f"{format_bytes(free)} free"
        )
    return (
        f"Monte Carlo: {n:,} runs, about {format_bytes(needed)} of disk in {where} while "
        f"running ({format_bytes(free)} free)"
    )


def _run(
    model: Model,
    store: EnsembleStore,
    chunks: Sequence[Chunk],
    todo: Sequence[int],
    bounds: Sequence[tuple[int, int]],
    inputs: Mapping[str, np.ndarray] | None,
    indicators: Mapping[str, str],
    attrs: Mapping[str, Any],
    workers: int | None,
    scheduler: str | None,
    progress: bool,
) -> xr.Dataset:
    """Run the ``todo`` chunks into ``store`` and summarize; ``inputs`` (the sampled inputs)
    are kept in the result when given (``--save-runs``)."""
    n = bounds[-1][1]
    completed = set(range(len(bounds))) - set(todo)
    local = workers is None and scheduler is None

    def snapshot(final: bool) -> xr.Dataset:
        done = store.finished()
        runs_done = sum(bounds[k][1] - bounds[k][0] for k in done)
        t = len(model.time)
        values = {
            ind: ChunkSeries(store, done, var, runs_done, t) for ind, var in indicators.items()
        }
        kept = inputs if final else None
        status = {"status": "complete" if final else "partial", "runs_done": runs_done}
        return summarize(values, model.time, {**attrs, **status}, kept, model.info)

    with progress_bar(n, progress) as bar:
        bar.update(sum(bounds[k][1] - bounds[k][0] for k in completed))
        for k, arrays in _execute(model, chunks, list(indicators.values()), workers, scheduler):
            index = todo[k]
            store.save_chunk(index, arrays, path=model.engine_path if local else "")
            bar.update(bounds[index][1] - bounds[index][0])
            if len(store.finished()) < len(bounds) and store.due():
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
