"""Chunked, resumable writing of ensemble results to NetCDF (``.nc``) or Zarr (``.zarr``).

Protocol (the same for both formats):

- Next to the output ``OUT`` sits a state folder ``OUT.parts/`` holding ``manifest.json`` (what
  the ensemble is: runs, seed, sampler, chunk size, outputs, model hash and a hash of every
  sampled parameter) and one ``chunk-NNNNNN.npy`` per finished chunk (exact float64 outputs,
  laid out ``(output, time, run)`` so that one time slice of one output is contiguous).
- After a chunk is saved, ``OUT`` itself is rewritten atomically (written to a temporary
  sibling, then renamed over it) with the summary of the runs finished so far and
  ``status = "partial"``. Rewrites are throttled to one per ``min_interval`` seconds because
  the percentiles are recomputed over all finished runs; whatever ``OUT`` holds is always a
  complete, readable file.
- When every chunk is done, the final ``OUT`` (``status = "complete"``) is written the same way
  and ``OUT.parts/`` is removed.
- The manifest also records the engine configuration (engine, backend, native code on or
  off, vector maths) and, per finished chunk, its sha256, size and the engine path that
  computed it (``native-vector``, ``numpy`` ...).
- ``--resume`` checks that the manifest matches the ensemble asked for, keeps the finished
  chunks whose checksum matches (a truncated, replaced or unlisted chunk file runs again) and
  runs only the rest; a chunk computed on another engine path than the kept chunks of the
  same size stops the resume (the bytes would differ). Because outputs are kept exactly and
  the summary is computed from all runs at the end, a resumed ensemble gives the same bytes
  of data as an uninterrupted one.

Without ``--resume``, an existing ``OUT`` or ``OUT.parts/`` is an error and is left untouched,
except an ``OUT.parts/`` without a manifest (a kill during the final cleanup, or before the
first chunk), which is removed. A run that fails before keeping any chunk (a bad ``--workers``,
an unreachable ``--scheduler``, a full disk) removes the state it created. With ``--force``
(the overwrite rule of every urbsim command) an existing ``OUT`` is replaced atomically and a
stale ``OUT.parts/`` dropped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from urbsim.errors import OutputError
from urbsim.fileio import check_folder, write_atomic
from urbsim.tables import provenance, write_table

FORMATS = (".nc", ".zarr")


def output_format(path: Path) -> str:
    """``".nc"`` or ``".zarr"`` from the path's suffix, or an :class:`OutputError`."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(
            f"--out {path}: unknown format {suffix or '(no suffix)'!r}; allowed: "
            "FILE.nc (NetCDF) or DIR.zarr (Zarr)"
        )
    check_folder(path)
    return suffix


def write_dataset(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to ``path`` (.nc, .zarr or .csv) so readers never see a half-written file."""
    suffix = path.suffix.lower()
    if suffix == ".zarr":
        # Zarr format 2: consolidated metadata and text coordinates (subscript and target names)
        # are part of its specification, so every Zarr reader can open the store.
        write_atomic(path, lambda tmp: ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2))
    elif suffix == ".csv":
        write_table(ds.to_dataframe().reset_index(), path, provenance(ds.attrs))
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
    """Per-chunk state and atomic output for one ensemble.

    Parameters
    ----------
    out : the output path (``.nc`` or ``.zarr``), or ``None`` for no output file.
    manifest : JSON-ready description of the ensemble; a resumed run must match it exactly.
    resume : continue a run whose state folder exists.
    overwrite : replace an existing ``out`` and drop a stale state folder (``--force``).
    min_interval : seconds between partial rewrites of ``out`` (at least; a rewrite that took
        ``s`` seconds waits ``5 s`` before the next, so large ensembles are not slowed down).
    spool : keep chunks on disk (in ``OUT.parts``, or a temporary folder without ``out``)
        rather than in memory; with ``out`` they are always on disk.
    """

    def __init__(
        self,
        out: Path | None,
        manifest: Mapping[str, Any],
        resume: bool = False,
        min_interval: float = 2.0,
        spool: bool = False,
        overwrite: bool = False,
    ):
        self.out = out
        self.manifest = {**manifest, "chunks": {}}
        self.min_interval = min_interval
        self._last_write = -np.inf
        self._memory: dict[int, dict[str, np.ndarray]] = {}
        self.created = False  # whether this run created the state folder (removed on error)
        self._temporary = False
        self.parts: Path | None = None
        if out is not None:
            check_output(out)
            self.parts = out.with_name(out.name + ".parts")
            if overwrite and not resume and self.parts.exists():
                shutil.rmtree(self.parts)
            self._open(resume, overwrite)
        elif spool:
            self.parts = Path(tempfile.mkdtemp(prefix="urbsim-mc-"))
            self._temporary = self.created = True

    # -- state folder ---------------------------------------------------------------------

    def _open(self, resume: bool, overwrite: bool = False) -> None:
        assert self.out is not None and self.parts is not None
        state = self.parts / "manifest.json"
        if self.parts.exists() and not state.is_file():
            # a kill during the final cleanup, or before the first manifest: nothing to keep
            shutil.rmtree(self.parts, ignore_errors=True)
        if not resume:
            for p in (self.out, self.parts):
                if p.exists() and not overwrite:
                    raise OutputError(
                        f"--out {self.out}: {p} already exists; pass --resume to continue an "
                        "interrupted run, --force to replace it, or choose another path "
                        "(nothing was changed)"
                    )
        elif not state.is_file():
            status = read_status(self.out) if self.out.exists() else None
            if status == "complete":
                raise OutputError(f"--out {self.out}: is already complete; nothing to resume")
            raise OutputError(
                f"--out {self.out}: has no resumable state ({self.parts} is missing); nothing "
                "to resume; run again without --resume"
            )
        else:
            saved = self._read_manifest(state)
            mine = {k: v for k, v in self.manifest.items() if k != "chunks"}
            theirs = {k: v for k, v in saved.items() if k != "chunks"}
            if theirs != mine:
                diff = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
                raise OutputError(
                    f"--resume {self.out}: the interrupted run differs in {', '.join(diff)}; "
                    "resume with the same scenario, --n, --seed, --sampler and engine "
                    "(nothing changed)"
                )
            self.manifest["chunks"] = saved.get("chunks") or {}
            return
        self.parts.mkdir()
        self.created = True
        self._write_manifest()

    def _read_manifest(self, state: Path) -> dict[str, Any]:
        try:
            saved = json.loads(state.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or not isinstance(saved.get("chunks", {}), dict):
                raise ValueError("not a manifest")
        except (OSError, ValueError):
            raise OutputError(
                f"--resume {self.out}: {state} is damaged; delete {self.parts} to start over "
                "(nothing was changed)"
            ) from None
        return saved

    def _write_manifest(self) -> None:
        assert self.parts is not None
        write_atomic(
            self.parts / "manifest.json", json.dumps(self.manifest, indent=1, sort_keys=True)
        )

    def discard(self) -> None:
        """Remove the state folder if this run created it (called when the run fails before
        any chunk was kept, so a plain rerun starts cleanly)."""
        if self.parts is not None and self.created and (self._temporary or not self.chunks()):
            shutil.rmtree(self.parts, ignore_errors=True)

    # -- chunks ---------------------------------------------------------------------------

    def finished(self) -> list[int]:
        """Indices of the chunks kept so far (in memory or on disk), sorted."""
        return sorted(self._memory) if self.parts is None else sorted(self.chunks())

    def chunks(self) -> dict[int, dict[str, Any]]:
        """``{chunk index: {"sha256", "path"}}`` of the chunks kept so far."""
        return {int(k): v for k, v in self.manifest["chunks"].items()}

    def _file(self, k: int) -> Path:
        assert self.parts is not None
        return self.parts / f"chunk-{k:06d}.npy"

    def completed(self) -> list[int]:
        """Chunks finished by an earlier, interrupted run whose bytes match the manifest.

        A chunk file missing from the manifest (written just before a kill), or whose
        checksum differs (truncated, replaced), is deleted and will run again, with a notice.
        """
        if self.parts is None or self._temporary:
            return []
        kept = self.chunks()
        good = []
        for f in sorted(self.parts.glob("chunk-*")):
            k = int(f.stem.split("-")[1]) if f.stem[6:].isdigit() else -1
            if k in kept and f == self._file(k) and _sha256(f) == kept[k].get("sha256"):
                good.append(k)
                continue
            if k in kept:
                print(f"notice: {f} does not match its checksum; running it again", file=sys.stderr)
            f.unlink(missing_ok=True)
        lost = set(kept) - set(good)
        if lost:
            self.manifest["chunks"] = {str(k): kept[k] for k in good}
            self._write_manifest()
        return good

    def read_output(self, k: int, name: str) -> np.ndarray:
        """One output of chunk ``k``, ``(run, time)`` (only that array is read from the file)."""
        if k in self._memory:
            return self._memory[k][name]
        return np.array(self.read_block(k, name, 0, None).T)

    def read_block(self, k: int, name: str, t0: int, t1: int | None) -> np.ndarray:
        """Saved times ``t0:t1`` of one output of chunk ``k``, time-major ``(time, run)``: on
        disk a contiguous slice of the chunk file, read through a memory map."""
        if k in self._memory:
            return self._memory[k][name][:, t0:t1].T
        arr = np.load(self._file(k), mmap_mode="r")
        return np.array(arr[self.manifest["outputs"].index(name), t0:t1])

    def save_chunk(self, k: int, arrays: Mapping[str, np.ndarray], path: str = "") -> None:
        """Keep chunk ``k``'s outputs (atomically: a chunk file is whole or absent), and
        record its checksum and the engine ``path`` that computed it in the manifest.

        Raises
        ------
        OutputError
            If an earlier chunk of the same size was computed on another engine path (a resume
            under another engine would not be bit-identical).
        """
        if self.parts is None:
            self._memory[k] = dict(arrays)
            return
        size = len(next(iter(arrays.values())))
        for j, meta in self.chunks().items():
            if meta.get("runs") == size and path and meta.get("path") not in (None, path):
                raise OutputError(
                    f"--resume {self.out}: chunk {j} ran on engine path {meta['path']!r}, this "
                    f"run on {path!r}; results would not be bit-identical. Resume where the "
                    f"interrupted run ran, or delete {self.parts} to start over"
                )

        stacked = np.stack([arrays[name].T for name in self.manifest["outputs"]])

        def save(tmp: Path) -> None:  # (output, time, run): time slices are contiguous
            with tmp.open("wb") as fh:
                np.save(fh, stacked)

        f = self._file(k)
        write_atomic(f, save)
        self.manifest["chunks"][str(k)] = {"sha256": _sha256(f), "path": path, "runs": size}
        if not self._temporary:
            self._write_manifest()

    def keep_params(
        self, k: int, params: dict[str, np.ndarray], park: bool
    ) -> Mapping[str, np.ndarray]:
        """Chunk ``k``'s inputs, or with ``park`` a :class:`ParkedParams` of them written to
        the state folder, so the whole sampled design need not stay in memory."""
        if not park or self.parts is None:
            return params
        path = self.parts / f"params-{k:06d}.npz"

        def save(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.savez(fh, **{f"p{i}": v for i, v in enumerate(params.values())})

        write_atomic(path, save)
        return ParkedParams(path, list(params))

    # -- output ---------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether a partial rewrite of the output is due (throttled, see ``min_interval``)."""
        return self.out is not None and time.monotonic() >= self._last_write

    def write(self, ds: xr.Dataset) -> None:
        """Atomically (re)write the output with ``ds``."""
        if self.out is None:
            return
        started = time.monotonic()
        write_dataset(ds, self.out)
        took = time.monotonic() - started
        self._last_write = time.monotonic() + max(self.min_interval, 5 * took)

    def finish(self, ds: xr.Dataset) -> None:
        """Write the complete result and drop the per-chunk state."""
        self.write(ds)
        if self.parts is not None:
            shutil.rmtree(self.parts, ignore_errors=True)

    def close(self) -> None:
        """Drop a temporary spool folder (the state of an ``out`` is kept until finished)."""
        if self.parts is not None and self._temporary:
            shutil.rmtree(self.parts, ignore_errors=True)


class ParkedParams(Mapping):
    """A chunk's inputs on disk, read back when used (``dict(parked)`` loads them once)."""

    def __init__(self, path: Path, names: list[str]):
        self._path, self._names = path, names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, name: str) -> np.ndarray:
        with np.load(self._path) as z:
            return z[f"p{self._names.index(name)}"]


def check_output(out: Path) -> None:
    """Fail early if ``out`` has a wrong suffix or its folder is missing or not writable."""
    output_format(out)
    try:  # trying is the only test that also holds for root, ACLs and read-only mounts
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise OutputError(
            f"--out {out}: folder {out.parent} is not writable ({exc.strerror})"
        ) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
