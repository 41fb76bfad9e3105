"""Monte Carlo: summary math, chunk independence, resume after SIGKILL, Dask equality."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from urbsim.ensemble.montecarlo import PERCENTILES, run_montecarlo, summarize, wilson
from urbsim.errors import OutputError


def test_wilson_interval_hand_checked():
    # 8 successes in 10: p = 0.8, z = 1.96 -> (0.4902, 0.9433) (Wilson 1927; Newcombe 1998).
    low, high = wilson(8, 10)
    assert round(float(low), 4) == 0.4902 and round(float(high), 4) == 0.9433
    low, high = wilson(0, 20)
    assert float(low) == 0.0 and 0.16 < float(high) < 0.17


def test_summary_probabilities_and_bands(model):
    time_ = model.time
    n = 10
    share = np.full((n, time_.size), 20.0)
    i2025 = int(np.argmin(np.abs(time_ - 2025)))
    i2030 = int(np.argmin(np.abs(time_ - 2030)))
    share[:7, i2025] = 29.5  # T2 counts as met at 29.5 (30 within 0.5)
    share[:3, i2030] = 31.0
    share[7:, i2025] = 29.49
    ds = summarize({"county_town_share": share}, time_, {})
    p = ds.p_met.sel(target="T2")
    assert float(p.sel(year=2025)) == 0.7 and float(p.sel(year=2030)) == 0.3
    low, high = wilson(7, 10)
    assert float(ds.p_met_low.sel(target="T2", year=2025)) == float(low)
    assert float(ds.p_met_high.sel(target="T2", year=2025)) == float(high)
    expected = np.percentile(share, PERCENTILES, axis=0)
    assert np.array_equal(ds.county_town_share.values, expected)
    assert ds.county_town_share.attrs["units"] == "%"
    assert list(ds.target.values) == ["T2"]


def test_results_do_not_depend_on_chunk_size(model):
    a = run_montecarlo(n=96, seed=5, model=model, chunk=96)
    b = run_montecarlo(n=96, seed=5, model=model, chunk=25)
    xr.testing.assert_identical(a, b)
    assert a.attrs["runs"] == 96 and a.attrs["status"] == "complete"
    assert float(a.p_met.min()) >= 0.0 and float(a.p_met.max()) <= 1.0


def test_sobol_n_is_rounded_up_with_a_warning(model):
    with pytest.warns(UserWarning, match="using --n 64 instead of 50"):
        ds = run_montecarlo(n=50, seed=1, sampler="sobol", model=model)
    assert ds.attrs["runs"] == 64


def _assert_same_bits(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(a, b)
    for name in a.variables:
        if a[name].dtype.kind == "f":
            assert a[name].values.tobytes() == b[name].values.tobytes(), name


def _open(path: Path) -> xr.Dataset:
    return (xr.open_zarr(path) if path.suffix == ".zarr" else xr.open_dataset(path)).load()


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_resume_after_sigkill_equals_uninterrupted(model, tmp_path, suffix):
    killed = tmp_path / f"killed{suffix}"
    args = dict(n=1200, seed=9, chunk=100, save_runs=True)
    script = textwrap.dedent(
        f"""
        from urbsim.ensemble.montecarlo import run_montecarlo
        run_montecarlo(out={str(killed)!r}, **{args!r})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    first = killed.with_name(killed.name + ".parts") / "chunk-000000.npy"
    deadline = time.monotonic() + 60
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    parts = sorted(first.parent.glob("chunk-*.npy"))
    assert 1 <= len(parts) < 12, "the run must be interrupted midway"
    with pytest.raises(OutputError, match="pass --resume"):
        run_montecarlo(out=killed, model=model, **args)
    with pytest.raises(OutputError, match="differs in parameters_sha256, seed"):
        run_montecarlo(out=killed, model=model, resume=True, **{**args, "seed": 10})

    resumed = run_montecarlo(out=killed, model=model, resume=True, **args)
    whole = tmp_path / f"whole{suffix}"
    run_montecarlo(out=whole, model=model, **args)
    assert not first.parent.exists()
    _assert_same_bits(_open(killed), _open(whole))
    _assert_same_bits(_open(killed), resumed)
    assert resumed.attrs["status"] == "complete" and resumed.county_town_share_runs.shape[0] == 1200


def test_existing_output_is_left_untouched(model, tmp_path):
    out = tmp_path / "x.nc"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists; pass --resume"):
        run_montecarlo(n=8, seed=1, model=model, out=out)
    assert out.read_bytes() == b"precious"
    with pytest.raises(OutputError, match="nothing to resume"):
        run_montecarlo(n=8, seed=1, model=model, out=out, resume=True)
    assert out.read_bytes() == b"precious"


def test_dask_local_cluster_equals_single_process(model):
    local = run_montecarlo(n=120, seed=21, model=model, chunk=120)
    dask = run_montecarlo(n=120, seed=21, model=model, chunk=40, workers=2)
    _assert_same_bits(local, dask)
