"""Samplers: reproducible, seed-sensitive, stratified, merged over fixed parameters."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import qmc

from urbsim.ensemble.sampling import SAMPLERS, latin_hypercube, round_sobol_n, sample, uniforms
from urbsim.errors import ParameterError


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_is_bit_identical_and_other_seeds_differ(info, sampler):
    a = sample(info, None, 64, seed=3, sampler=sampler)
    b = sample(info, None, 64, seed=3, sampler=sampler)
    c = sample(info, None, 64, seed=4, sampler=sampler)
    assert a.keys() == b.keys()
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert not np.array_equal(a["park crowd in ratio"], c["park crowd in ratio"])


def test_global_rng_is_untouched(info):
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    sample(info, None, 16, seed=1, sampler="random")
    assert np.array_equal(np.random.get_state()[1], before)


def test_lhs_puts_one_draw_in_each_stratum():
    n = 50
    u = uniforms(n, 7, seed=11, sampler="lhs")
    for j in range(u.shape[1]):
        assert sorted(np.floor(u[:, j] * n).astype(int)) == list(range(n))


def test_round_sobol_n():
    assert round_sobol_n(256) == (256, None)
    m, notice = round_sobol_n(1000)
    assert m == 1024 and "1024" in notice and "1000" in notice


def test_shapes_and_merge_with_fixed_parameters(info):
    p = sample(info, {"plan switch": 0, "park crowd in ratio": 2.5}, 10, seed=1)
    assert p["plan switch"].shape == ()
    assert p["park crowd in ratio"].shape == (), "a fixed value is not sampled over"
    assert p["normal rural to town rate"].shape == (10, 3)
    assert p["productivity growth"].shape == (10,)
    lo, hi = info.constants["productivity growth"].range
    assert p["productivity growth"].min() >= lo and p["productivity growth"].max() <= hi


def test_uncertainty_table_overrides_one_element_and_keeps_the_rest_uncertain(info):
    table = {"normal rural to town rate": {"urb": {"dist": "choice", "values": [0.02]}}}
    p = sample(info, None, 20, seed=2, uncertainty=table)
    arr = p["normal rural to town rate"]
    assert np.all(arr[:, 0] == 0.02)
    assert np.unique(arr[:, 1]).size == 20, "agr keeps its default (uniform) distribution"


def test_scenario_object_with_uncertainty(info):
    class Scenario:
        name = "s"
        parameters = {"plan switch": 1}
        uncertainty = {"park crowd in ratio": {"dist": "uniform", "min": 2, "max": 3}}

    p = sample(info, Scenario(), 30, seed=5)
    x = p["park crowd in ratio"]
    assert x.min() >= 2 and x.max() <= 3


def test_bad_n_and_sampler(info):
    with pytest.raises(ParameterError, match="positive whole number"):
        sample(info, None, 0, seed=1)
    with pytest.raises(ParameterError, match="unknown sampler 'halton'"):
        sample(info, None, 5, seed=1, sampler="halton")


def test_sample_for_the_app_is_fast(info):
    sample(info, {"plan switch": 1}, 200, seed=7)
    start = time.perf_counter()
    for _ in range(20):
        sample(info, {"plan switch": 1}, 200, seed=7)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.05, f"{per_call * 1000:.1f} ms per call"


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 70), st.integers(0, 2**64 - 1))
def test_latin_hypercube_equals_scipy_bit_for_bit(n, d, seed):
    def rng():
        return np.random.Generator(np.random.PCG64(seed))

    expected = qmc.LatinHypercube(d, rng=rng()).random(n)
    assert latin_hypercube(n, d, rng()).tobytes() == expected.tobytes()


def test_in_place_design_gives_the_same_draws(info):
    from urbsim.ensemble.sampling import apply_design, factor_list, resolve_uncertainty

    dists = resolve_uncertainty(info, {}, None, None)
    design = uniforms(300, len(factor_list(dists)), 5, "lhs")
    copied = apply_design(info, {}, dists, design.copy())
    in_place = apply_design(info, {}, dists, design, in_place=True)
    assert copied.keys() == in_place.keys()
    for name, arr in copied.items():
        assert np.asarray(in_place[name]).tobytes() == arr.tobytes(), name
    assert sample(info, None, 300, 5).keys() == copied.keys()
