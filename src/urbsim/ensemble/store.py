"""Chunked, resumable writing of ensemble results to NetCDF (``.nc``) or Zarr (``.zarr``).

Protocol (the same for both formats):

- Next to the output ``OUT`` sits a state folder ``OUT.parts/`` holding ``manifest.json`` (what
  the ensemble is: runs, seed, sampler, chunk size, model hash and a hash of every sampled
  parameter) and one ``chunk-NNNNNN.npz`` per finished chunk (exact float64 outputs).
- After a chunk is saved, ``OUT`` itself is rewritten atomically (written to a temporary
  sibling, then renamed over it) with the summary of the runs finished so far and
  ``status = "partial"``. Rewrites are throttled to one per ``min_interval`` seconds because
  the percentiles are recomputed over all finished runs; whatever ``OUT`` holds is always a
  complete, readable file.
- When every chunk is done, the final ``OUT`` (``status = "complete"``) is written the same way
  and ``OUT.parts/`` is removed.
- ``--resume`` checks that the manifest matches the ensemble asked for, loads the finished
  chunks and runs only the rest. Because outputs are kept exactly and the summary is computed
  from all runs at the end, a resumed ensemble gives the same bytes of data as an
  uninterrupted one.

Without ``--resume``, an existing ``OUT`` or ``OUT.parts/`` is an error and is left untouched.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from urbsim.errors import OutputError
from urbsim.fileio import write_atomic

FORMATS = (".nc", ".zarr")


def output_format(path: Path) -> str:
    """``".nc"`` or ``".zarr"`` from the path's suffix, or an :class:`OutputError`."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(
            f"--out {path}: unknown format {suffix or '(no suffix)'!r}; allowed: "
            "FILE.nc (NetCDF) or DIR.zarr (Zarr)"
        )
    if not path.parent.is_dir():
        raise OutputError(f"--out {path}: folder {path.parent} does not exist")
    return suffix


def write_dataset(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to ``path`` (.nc, .zarr or .csv) so readers never see a half-written file."""
    suffix = path.suffix.lower()
    if suffix == ".zarr":
        # Zarr format 2: consolidated metadata and text coordinates (subscript and target names)
        # are part of its specification, so every Zarr reader can open the store.
        write_atomic(path, lambda tmp: ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2))
    elif suffix == ".csv":
        write_atomic(path, lambda tmp: ds.to_dataframe().to_csv(tmp))
    else:
        write_atomic(path, ds.to_netcdf)


def read_status(path: Path) -> str | None:
    """The ``status`` attr of an existing ensemble output, or ``None`` if unreadable."""
    try:
        opener = xr.open_zarr if path.suffix.lower() == ".zarr" else xr.open_dataset
        with opener(path) as ds:
            return ds.attrs.get("status")
    except Exception:  # any unreadable file is reported by the caller the same way
        return None


class EnsembleStore:
    """Per-chunk state and atomic output for one ensemble (or in memory when ``out`` is None).

    Parameters
    ----------
    out : the output path (``.nc`` or ``.zarr``), or ``None`` to keep results in memory only.
    manifest : JSON-ready description of the ensemble; a resumed run must match it exactly.
    resume : continue a run whose state folder exists.
    min_interval : seconds between partial rewrites of ``out``.
    """

    def __init__(
        self,
        out: Path | None,
        manifest: Mapping[str, Any],
        resume: bool = False,
        min_interval: float = 2.0,
    ):
        self.out = out
        self.manifest = dict(manifest)
        self.min_interval = min_interval
        self._last_write = -np.inf
        self.parts = out.with_name(out.name + ".parts") if out is not None else None
        if out is not None:
            output_format(out)
            self._open(resume)

    def _open(self, resume: bool) -> None:
        assert self.out is not None and self.parts is not None
        state = self.parts / "manifest.json"
        if not resume:
            for p in (self.out, self.parts):
                if p.exists():
                    raise OutputError(
                        f"--out {self.out}: {p} already exists; pass --resume to continue an "
                        "interrupted run, or choose another path (nothing was changed)"
                    )
        elif not state.is_file() and self.out.exists():
            status = read_status(self.out)
            what = "is already complete" if status == "complete" else "has no resumable state"
            raise OutputError(
                f"--out {self.out}: {what} ({self.parts} is missing); nothing to resume "
                "(nothing was changed)"
            )
        elif state.is_file():
            saved = json.loads(state.read_text(encoding="utf-8"))
            if saved != self.manifest:
                diff = sorted(
                    k
                    for k in set(saved) | set(self.manifest)
                    if saved.get(k) != self.manifest.get(k)
                )
                raise OutputError(
                    f"--resume {self.out}: the interrupted run differs in {', '.join(diff)}; "
                    "resume with the same scenario, --n, --seed and --sampler (nothing changed)"
                )
            return
        self.parts.mkdir()
        write_atomic(state, json.dumps(self.manifest, indent=1, sort_keys=True))

    def completed(self) -> dict[int, dict[str, np.ndarray]]:
        """Chunks finished by an earlier, interrupted run: ``{chunk index: arrays}``."""
        if self.parts is None:
            return {}
        done = {}
        for f in sorted(self.parts.glob("chunk-*.npz")):
            with np.load(f) as z:
                done[int(f.stem.split("-")[1])] = {k: z[k] for k in z.files}
        return done

    def save_chunk(self, k: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Keep chunk ``k``'s outputs (atomically: a chunk file is whole or absent)."""
        if self.parts is None:
            return

        def save(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.savez(fh, **arrays)

        write_atomic(self.parts / f"chunk-{k:06d}.npz", save)

    def due(self) -> bool:
        """Whether a partial rewrite of the output is due (throttled by ``min_interval``)."""
        return self.out is not None and time.monotonic() - self._last_write >= self.min_interval

    def write(self, ds: xr.Dataset) -> None:
        """Atomically (re)write the output with ``ds``."""
        if self.out is None:
            return
        write_dataset(ds, self.out)
        self._last_write = time.monotonic()

    def finish(self, ds: xr.Dataset) -> None:
        """Write the complete result and drop the per-chunk state."""
        self.write(ds)
        if self.parts is not None:
            shutil.rmtree(self.parts, ignore_errors=True)
