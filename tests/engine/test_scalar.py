"""The scalar backend (one run in plain-Python floats) must equal the numpy backend."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _paths import (
    MODELS,
    PROBES,
    assert_same,
    assert_taken_division_by_zero_as_numpy,
    model,
    per_run_params,
    run,
)

from urbsim.engine import compile_model, lower


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_scalar_equals_numpy_at_defaults(path):
    cm = model(path)
    assert cm.scalar_source() is not None, "model fell back to numpy"
    assert_same(run(cm, "numpy"), run(cm, "scalar"))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_scalar_equals_numpy_with_per_run_parameters(path):
    cm = model(path)
    params = per_run_params(cm)
    ref = run(cm, "numpy", params=params, n=3)
    got = run(cm, "scalar", params=params, n=3)
    assert_same(ref, got)
    if any(not np.array_equal(v[0], v[1]) for v in params.values()):  # reached the code
        assert any(not np.array_equal(v[0], v[1]) for v in got.values())


def test_shared_parameters_and_subscripted_lookup_values():
    cm = model(PROBES / "lookups.mdl")
    params = {"tab": [[1.0, 2.5, 2.7, 3.0], [2.0, 2.0, 1.5, 0.5]], "f effect": [0, 1, 4, 2, 0]}
    assert_same(run(cm, "numpy", params=params), run(cm, "scalar", params=params))
    cm = model(PROBES / "subscripts.mdl")
    params = {"growth rate": [0.03, 0.0, -0.02], "mix": np.eye(3)}
    assert_same(run(cm, "numpy", params=params, n=2), run(cm, "scalar", params=params, n=2))


def test_untaken_branch_gives_no_warning_and_no_nan():
    cm = model(PROBES / "if_then_else.mdl")
    out = run(cm, "scalar", outputs=["Safe", "Never"])
    assert np.isfinite(out["Safe"]).all() and np.isfinite(out["Never"]).all()
    t4 = int(np.argmin(np.abs(cm.time - 4.0)))
    assert cm.time[t4] == 4.0 and out["Safe"][0, t4] == 0.0
    assert (out["Never"] == 5.0).all()
    src = cm.scalar_source(["Safe", "Never"])
    assert " if " in src and "_where" not in src


def test_taken_division_by_zero_falls_back_to_numpy_for_that_run(tmp_path):
    assert_taken_division_by_zero_as_numpy(tmp_path, "scalar")


def test_dispatch_threshold_cache_and_fallback(monkeypatch):
    cm = compile_model(PROBES / "subscripts.mdl")
    cm.native = False  # the dispatch between numpy and scalar code, without a C compiler
    assert cm.scalar_max_n >= 1
    cm._scalar_cache.clear()
    cm.simulate(n=cm.scalar_max_n + 1)
    assert not cm._scalar_cache, "large n must use the numpy code"
    out = cm.simulate(n=cm.scalar_max_n)
    assert len(cm._scalar_cache) == 1
    fn = next(iter(cm._scalar_cache.values()))
    cm.simulate(n=1)
    assert next(iter(cm._scalar_cache.values())) is fn, "scalar code is cached per outputs"
    # something the scalar generator cannot express: the model keeps the numpy backend
    monkeypatch.setattr(lower, "MAX_ELEMENTS", 1)
    cm2 = compile_model(PROBES / "subscripts.mdl")
    cm2.native = False
    assert cm2.scalar_source() is None
    out2 = cm2.simulate(n=cm.scalar_max_n)
    assert_same(cm.simulate(n=cm.scalar_max_n, outputs=list(out)), out2)


def test_outputs_subset_and_order(tmp_path):
    shutil.copy(PROBES / "smooth.mdl", tmp_path / "smooth.mdl")
    cm = compile_model(tmp_path / "smooth.mdl")
    names = list(cm.variables)
    outs = [n for n in names if cm.variables[n].kind in ("auxiliary", "stateful")][::-1][:3]
    outs = outs + [n for n in names if cm.variables[n].kind == "constant"][:1]
    assert_same(run(cm, "numpy", outputs=outs, n=2), run(cm, "scalar", outputs=outs, n=2))
