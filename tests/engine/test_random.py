"""RANDOM UNIFORM / 0 1 / NORMAL / EXPONENTIAL: per-run streams, reproducible by seed,
independent of how the runs are grouped, and distributed as PySD's draws (not the same
numbers: see rng.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import urbsim
from urbsim.engine import compile_model
from urbsim.errors import ParameterError

MODEL = """{UTF-8}
Dim : a, b ~~|
u = RANDOM UNIFORM(2, 5, 0) ~~|
z = RANDOM 0 1() ~~|
lo[Dim] = -1, 0.5 ~~|
nrm[Dim] = RANDOM NORMAL(lo[Dim], 3, 1, 0.5, 7) ~~|
ex = RANDOM EXPONENTIAL(0, 4, 0.5, 1.5, 3) ~~|
Level = INTEG(u + z + ex, 0) ~~|
FINAL TIME = 100 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 1 ~~|
TIME STEP = 1 ~~|
"""


@pytest.fixture
def mdl(tmp_path) -> Path:
    path = tmp_path / "random.mdl"
    path.write_text(MODEL, encoding="utf-8")
    return path


def test_draws_are_distributed_as_pysds(mdl, tmp_path):
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pysd.read_vensim(str(mdl))
        np.random.seed(20261129)  # PySD draws from numpy's global generator
        frames = [model.run() for _ in range(3)]
    cm = compile_model(mdl)
    out = cm.simulate(n=40)
    assert cm.last_path == "numpy"  # the scalar and C translators do not take RANDOM
    pairs = {
        "u": ("u", stats.uniform(2, 3)),
        "z": ("z", stats.uniform(0, 1)),
        "nrm[a]": (("nrm", 0), stats.truncnorm(-4, 4, loc=1, scale=0.5)),
        "nrm[b]": (("nrm", 1), stats.truncnorm(-1, 4, loc=1, scale=0.5)),
        "ex": ("ex", stats.truncexpon((4 - 0.5) / 1.5, loc=0.5, scale=1.5)),
    }
    for column, (key, dist) in pairs.items():
        ours = (out[key] if isinstance(key, str) else out[key[0]][..., key[1]]).reshape(-1)
        theirs = np.concatenate([f[column].to_numpy() for f in frames])
        assert stats.ks_2samp(ours, theirs).pvalue > 1e-3, column
        assert stats.kstest(ours, dist.cdf).pvalue > 1e-3, column
        assert ours.min() >= dist.support()[0] and ours.max() <= dist.support()[1]


def test_streams_are_per_run_reproducible_and_independent_of_grouping(mdl):
    cm = compile_model(mdl)
    six = cm.simulate(n=6)
    again = cm.simulate(n=6)
    late = cm.simulate(n=3, first_run=3)  # runs 3-5 alone draw what they drew among six
    for k in six:
        np.testing.assert_array_equal(six[k], again[k])
        np.testing.assert_array_equal(six[k][3:], late[k])
    u = six["u"]  # (runs, times)
    assert len(np.unique(u)) == u.size  # no run, step or element repeats another's draw
    assert not np.array_equal(six["nrm"][..., 0], six["nrm"][..., 1])
    cm.random_seed = 12
    other = cm.simulate(n=6)
    assert not np.array_equal(other["u"], six["u"])
    cm.random_seed = -1
    with pytest.raises(ParameterError, match="random_seed"):
        cm.simulate(n=1)


def test_model_run_keeps_each_runs_stream_whatever_the_chunks(mdl):
    model = urbsim.load_model(mdl)
    whole = model.run(n=7, outputs=["u", "nrm"])
    chunked = model.run(n=7, outputs=["u", "nrm"], chunk=3)
    assert whole.attrs["engine"] == "numpy"
    np.testing.assert_array_equal(whole["u"].values, chunked["u"].values)
    np.testing.assert_array_equal(whole["nrm"].values, chunked["nrm"].values)


def test_jax_draws_the_same_streams(mdl):
    pytest.importorskip("jax", reason="the optional JAX backend is not installed")
    ref = compile_model(mdl).simulate(n=4)
    got = compile_model(mdl, backend="jax").simulate(n=4)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-12)
