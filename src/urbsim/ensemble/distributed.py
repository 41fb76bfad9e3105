"""Where chunks of runs execute: in this process, or as Dask tasks on a cluster.

Every chunk is one task. A Dask worker loads the model itself, once per process
(:func:`cached_model`), so only the chunk's parameter arrays travel to it and only the chunk's
output arrays travel back. Parameters are sampled once on the client, so a run's result does not
depend on the chunk size or on how many workers there are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np

from urbsim.errors import ClusterError
from urbsim.model import Model, load_model

#: Seconds to wait for a ``--scheduler`` before giving up.
CONNECT_TIMEOUT_S = 5

Chunk = tuple[int, int, dict[str, np.ndarray]]


@cache
def cached_model(path: str, engine: str, backend: str) -> Model:
    """The model at ``path``, loaded (and compiled) once per process."""
    return load_model(path, engine=engine, backend=backend)


def run_chunk(
    model: Model, params: Mapping[str, np.ndarray], n: int, outputs: Sequence[str]
) -> dict[str, np.ndarray]:
    """Run ``n`` runs and return each output as a ``(run, time)`` float64 array."""
    arrays = model.simulate(dict(params), n=n, outputs=list(outputs))
    return {name: np.asarray(arrays[name], dtype=np.float64) for name in outputs}


def _remote_chunk(
    path: str, engine: str, backend: str, params: dict[str, np.ndarray], n: int, outputs: list
) -> dict[str, np.ndarray]:
    return run_chunk(cached_model(path, engine, backend), params, n, outputs)


def slice_params(
    model: Model, params: Mapping[str, np.ndarray], start: int, stop: int
) -> dict[str, np.ndarray]:
    """The parameters of runs ``start:stop`` (per-run arrays sliced, shared values kept)."""
    consts = model.info.constants
    return {k: (v[start:stop] if v.ndim > len(consts[k].dims) else v) for k, v in params.items()}


def local_map(
    model: Model, chunks: Sequence[Chunk], outputs: Sequence[str]
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Run chunks one after another in this process; yields ``(chunk index, arrays)``."""
    for k, (start, stop, params) in enumerate(chunks):
        yield k, run_chunk(model, params, stop - start, outputs)


def dask_map(
    client: Any, model: Model, chunks: Sequence[Chunk], outputs: Sequence[str]
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Submit every chunk as a task; yields ``(chunk index, arrays)`` in chunk order."""
    futures = [
        client.submit(
            _remote_chunk,
            str(model.path.resolve()),
            model.engine,
            model.backend,
            dict(params),  # a chunk's inputs travel to the worker (parked ones are read)
            stop - start,
            list(outputs),
            pure=False,
        )
        for start, stop, params in chunks
    ]
    try:
        for k, future in enumerate(futures):
            yield k, future.result()
    finally:
        client.cancel(futures)


def check_workers(workers: Any) -> int:
    """``--workers`` as a positive int, or a :class:`ClusterError`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ClusterError(f"--workers must be a positive whole number; got {workers!r}")
    return workers


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client``: a new LocalCluster of ``workers`` processes (one thread
    each), or a connection to the scheduler at ``scheduler`` (``tcp://HOST:PORT``).

    Raises
    ------
    ClusterError
        If the scheduler does not answer within :data:`CONNECT_TIMEOUT_S` seconds.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"--scheduler {scheduler}: no Dask scheduler answered within "
                f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}); start one with "
                "`dask scheduler` or use --workers K for a local cluster"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    check_workers(workers)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
