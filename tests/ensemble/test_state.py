"""Monte Carlo state: streamed chunks, verified resume, nothing left behind by bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from urbsim.ensemble import montecarlo
from urbsim.ensemble.montecarlo import run_montecarlo
from urbsim.errors import ClusterError, OutputError, ParameterError

ARGS = dict(n=60, seed=4, chunk=20)


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        assert a[name].values.tobytes() == b[name].values.tobytes(), name


@pytest.fixture(scope="module")
def reference(model) -> xr.Dataset:
    """The project model (the tiny one computes no standard indicator), uninterrupted."""
    return run_montecarlo(model=model, **ARGS)


def test_spooled_chunks_give_the_same_bytes_as_memory(reference, model, monkeypatch):
    monkeypatch.setattr(montecarlo, "IN_MEMORY_BYTES", 0)  # every run goes through disk
    monkeypatch.setattr(montecarlo, "BLOCK_BYTES", 1)  # percentiles one saved time at a time
    _same(run_montecarlo(model=model, **ARGS), reference)


def test_disk_need_is_checked_before_starting(model, tmp_path, monkeypatch):
    monkeypatch.setattr(montecarlo.shutil, "disk_usage", lambda p: type("U", (), {"free": 10}))
    out = tmp_path / "mc.nc"
    with pytest.raises(OutputError, match=r"needs about .* of disk in mc.nc.parts; .* 10 bytes"):
        run_montecarlo(model=model, out=out, **ARGS)
    assert list(tmp_path.iterdir()) == []


def test_disk_need_grows_with_n_and_save_runs():
    base = montecarlo.disk_needed(1000, 12_800, False, 60)
    assert montecarlo.disk_needed(2000, 12_800, False, 60) > 1.9 * base - (2 << 20)
    assert montecarlo.disk_needed(1000, 12_800, True, 60) >= base + 1000 * 12_800


def test_huge_n_is_refused_before_any_allocation(model, tmp_path):
    with pytest.raises(ParameterError, match="of memory"):
        run_montecarlo(model=model, n=10**12, seed=1, out=tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


def _interrupted(model, out: Path) -> Path:
    """The state a kill leaves: a manifest and every chunk (the final write never happened)."""
    parts = out.with_name(out.name + ".parts")
    store_finish = montecarlo.EnsembleStore.finish
    try:
        montecarlo.EnsembleStore.finish = lambda self, ds: None
        run_montecarlo(model=model, out=out, **ARGS)
    finally:
        montecarlo.EnsembleStore.finish = store_finish
    assert (parts / "manifest.json").is_file()
    return parts


def test_manifest_records_checksums_and_the_engine(model, tmp_path):
    parts = _interrupted(model, tmp_path / "mc.nc")
    manifest = json.loads((parts / "manifest.json").read_text())
    assert {"engine", "backend", "native", "vector_math"} <= set(manifest)
    assert sorted(manifest["chunks"]) == ["0", "1", "2"]
    for meta in manifest["chunks"].values():
        assert len(meta["sha256"]) == 64 and meta["path"] == model.engine_path


@pytest.mark.parametrize("damage", ["replaced", "truncated", "stray"])
def test_a_damaged_chunk_runs_again_on_resume(damage, reference, model, tmp_path):
    out = tmp_path / "mc.nc"
    parts = _interrupted(model, out)
    chunk = parts / "chunk-000001.npy"
    if damage == "replaced":  # same shape, other values: would move P(met)
        np.save(chunk, np.load(chunk) * 0)
    elif damage == "truncated":
        chunk.write_bytes(chunk.read_bytes()[:100])
    else:  # written, but killed before the manifest listed it
        manifest = json.loads((parts / "manifest.json").read_text())
        del manifest["chunks"]["1"]
        (parts / "manifest.json").write_text(json.dumps(manifest))
    resumed = run_montecarlo(model=model, out=out, resume=True, **ARGS)
    _same(resumed, reference)
    assert not parts.exists()


def test_resume_under_another_engine_path_is_refused(model, tmp_path):
    out = tmp_path / "mc.nc"
    parts = _interrupted(model, out)
    manifest = json.loads((parts / "manifest.json").read_text())
    manifest["chunks"]["0"]["path"] = "numpy-elsewhere"
    del manifest["chunks"]["1"]
    (parts / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputError, match="engine path 'numpy-elsewhere'"):
        run_montecarlo(model=model, out=out, resume=True, **ARGS)
    assert (parts / "manifest.json").is_file()  # the state is kept for the right machine


def test_resume_under_another_vector_math_mode_is_refused(model, tmp_path):
    out = tmp_path / "mc.nc"
    parts = _interrupted(model, out)
    manifest = json.loads((parts / "manifest.json").read_text())
    manifest["vector_math"] = not manifest["vector_math"]
    (parts / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputError, match="differs in vector_math"):
        run_montecarlo(model=model, out=out, resume=True, **ARGS)


@pytest.mark.parametrize("content", ["{not json", "[]", ""])
def test_a_corrupt_manifest_is_one_line(content, model, tmp_path):
    out = tmp_path / "mc.nc"
    parts = _interrupted(model, out)
    (parts / "manifest.json").write_text(content)
    with pytest.raises(OutputError, match="manifest.json is damaged; delete"):
        run_montecarlo(model=model, out=out, resume=True, **ARGS)


def test_parts_without_manifest_are_cleared(reference, model, tmp_path):
    """A kill during the final cleanup leaves OUT and a manifest-less OUT.parts."""
    out = tmp_path / "mc.nc"
    run_montecarlo(model=model, out=out, **ARGS)
    parts = out.with_name("mc.nc.parts")
    parts.mkdir()
    (parts / "chunk-000000.npy").write_bytes(b"left over")
    with pytest.raises(OutputError, match="is already complete"):
        run_montecarlo(model=model, out=out, resume=True, **ARGS)
    assert not parts.exists()
    parts.mkdir()  # empty OUT.parts and no OUT: a plain run starts cleanly
    fresh = tmp_path / "fresh.nc"
    fresh.with_name("fresh.nc.parts").mkdir()
    with pytest.raises(OutputError, match="nothing to resume"):
        run_montecarlo(model=model, out=fresh, resume=True, **ARGS)
    _same(run_montecarlo(model=model, out=fresh, **ARGS), reference)


@pytest.mark.parametrize(
    "bad, error",
    [
        (dict(workers=-1), ClusterError),
        (dict(scheduler="tcp://127.0.0.1:1"), ClusterError),
        (dict(seed=-1), ParameterError),
        (dict(uncertainty={"productivity growth": {"dist": "normal", "mean": 0.05}}), Exception),
    ],
)
def test_bad_input_leaves_no_state_and_a_rerun_works(bad, error, model, tmp_path):
    out = tmp_path / "mc.nc"
    with pytest.raises(error):
        run_montecarlo(model=model, out=out, **{**ARGS, **bad})
    assert list(tmp_path.iterdir()) == []
    run_montecarlo(model=model, out=out, **ARGS)
    assert out.is_file() and not out.with_name("mc.nc.parts").exists()


def test_a_full_disk_before_any_chunk_leaves_no_state(model, tmp_path, monkeypatch):
    def full(self, k, arrays, path=""):
        raise OutputError("chunk-000000.npy: cannot be written: No space left on device")

    monkeypatch.setattr(montecarlo.EnsembleStore, "save_chunk", full)
    with pytest.raises(OutputError, match="No space"):
        run_montecarlo(model=model, out=tmp_path / "mc.nc", **ARGS)
    assert list(tmp_path.iterdir()) == []
