"""Shared by the tests that hold the engine's three execution paths equal to each other.

``numpy`` is the vectorised array code, ``scalar`` the plain-Python one-run code and ``native``
the same element-level IR printed as C (see ``src/urbsim/engine/README.md``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from urbsim.engine import compile_model, native

ROOT = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).parent / "probes"
# probes of constructs only the array code runs (vectors.py, allocation.py): the scalar and C
# translators refuse them, so they run on the numpy (and JAX) path alone
ARRAY_ONLY = frozenset({"vectors.mdl", "allocate_by_priority.mdl", "allocate_available.mdl"})
SUPPORTED = sorted(
    p.name
    for p in PROBES.glob("*.mdl")
    if not p.name.startswith("unsupported") and p.name not in ARRAY_ONLY
)
URBSIM = ROOT / "model" / "urbsim.mdl"
MODELS = [PROBES / name for name in SUPPORTED] + ([URBSIM] if URBSIM.exists() else [])
CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
# Measured: probes are bit-equal; model/urbsim.mdl differs by <= ~5e-16 relative (math.exp /
# math.log vs numpy's SIMD exp/log, one ulp). Feedback loops could amplify that; 1e-12 is the bar.
RTOL = 1e-12
# where a variable is exactly zero on one path (x^2 - x^2), an ulp of the terms is left on
# another: the "1e-12 absolute near zero"
NEAR_ZERO = 1e-12

_cache: dict = {}


def model(path: Path):
    if path not in _cache:
        _cache[path] = compile_model(path)
    return _cache[path]


def require_compiler():
    """Skip outside CI when no C compiler exists; under ``CI=true`` (which installs gcc) fail."""
    if native.compiler() is None:
        reason = "no C compiler (install gcc) for the native engine path"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the native tests must run)")
        pytest.skip(reason)


def run(cm, path: str, **kw):
    """``cm.simulate(**kw)`` forced onto one execution path; no RuntimeWarning may escape.

    ``native`` is the C path as users get it (vector maths where glibc has them),
    ``native-exact`` the C path with the C library's maths (the scalar code bit for bit).
    """
    old = cm.scalar_max_n, cm.native, cm.native_vector_math
    cm.scalar_max_n = 1_000 if path == "scalar" else 0
    cm.native = path.startswith("native")
    cm.native_vector_math = path == "native"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = cm.simulate(**kw)
    finally:
        cm.scalar_max_n, cm.native, cm.native_vector_math = old
    if path.startswith("native"):
        assert cm.native_status.startswith("compiled"), cm.native_status
    return out


def assert_same(ref: dict, got: dict, rtol: float = RTOL):
    assert list(ref) == list(got)
    for k, a in ref.items():
        b = got[k]
        assert b.shape == a.shape and b.dtype == np.float64, k
        scale = np.nanmax(np.abs(a)) if np.isfinite(a).any() else 1.0
        atol = max(rtol * scale, NEAR_ZERO) if rtol else 0.0
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=k)


def per_run_params(cm, n=3, lookups=True):
    """Every non-control constant and (optionally) every lookup's y values, different per run
    and per element (factors in [0.9, 1.1])."""
    rng = np.random.default_rng(7)
    params = {}
    for name, v in cm.constants.items():
        if name in CONTROL:
            continue
        params[name] = v * rng.uniform(0.9, 1.1, size=(n, *v.shape))
    if lookups:
        for name, meta in cm.variables.items():
            if meta.kind != "lookup":
                continue
            nd = cm._node(name, "lookup")
            y = nd.y[..., 0, :]  # (*dims, npts), the shared default
            params[name] = y * rng.uniform(0.9, 1.1, size=(n, *y.shape))
    return params


def assert_taken_division_by_zero_as_numpy(tmp_path: Path, path: str):
    """A division by exactly zero in a taken branch gives numpy's inf on ``path`` too (the
    scalar code reruns that run with numpy; C gives inf itself), and only in that run."""
    mdl = tmp_path / "divzero.mdl"
    mdl.write_text(
        "{UTF-8}\n"
        "p = 2 ~~|\n"
        "Blowup = 1 / (Time - p) ~~|\n"
        "Level = INTEG(Blowup, 0) ~~|\n"
        "FINAL TIME = 4 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 1 ~~|\nTIME STEP = 1 ~~|\n",
        encoding="utf-8",
    )
    cm = compile_model(mdl)
    params = {"p": [2.0, 2.5]}  # run 0 divides by zero at t = 2, run 1 never does
    with np.errstate(all="ignore"):
        ref = run(cm, "numpy", params=params, n=2)
        got = run(cm, path, params=params, n=2)
    assert np.isinf(got["Blowup"][0, 2]) and np.isfinite(got["Blowup"][1]).all()
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])
