"""Each probe model (one construct each) must equal PySD at every saved time."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _compare import compare, pysd_run
from _paths import ARRAY_ONLY, run

from urbsim.engine import compile_model, native
from urbsim.errors import ParameterError, UnsupportedFeature

PROBES = Path(__file__).parent / "probes"
SUPPORTED = sorted(p.name for p in PROBES.glob("*.mdl") if not p.name.startswith("unsupported"))


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copy(PROBES / name, dst)
    return dst


def _simulate(cm, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may escape the engine
        return cm.simulate(**kw)


@pytest.mark.parametrize("name", SUPPORTED)
def test_probe_equals_pysd(name, tmp_path):
    mdl = _copy(name, tmp_path)
    cm = compile_model(mdl)
    df = pysd_run(mdl, tmp_path / "pysd")
    assert (cm.scalar_source() is None) == (name in ARRAY_ONLY)
    # every execution path this machine has (CI installs a C compiler; test_native insists)
    paths = ("numpy", "scalar", "native") if native.compiler() else ("numpy", "scalar")
    for path in paths[:1] if name in ARRAY_ONLY else paths:
        out = run(cm, path)
        assert out, "no outputs"
        for v in out.values():
            assert v.dtype == np.float64 and v.shape[:2] == (1, len(cm.time))
        assert compare(cm, out, df) > 0, path


def test_untaken_branch_gives_no_warning_and_no_nan(tmp_path):
    cm = compile_model(_copy("if_then_else.mdl", tmp_path))
    out = _simulate(cm, outputs=["Safe", "Never"])
    assert np.isfinite(out["Safe"]).all() and np.isfinite(out["Never"]).all()
    t4 = int(np.argmin(np.abs(cm.time - 4.0)))
    assert cm.time[t4] == 4.0 and out["Safe"][0, t4] == 0.0
    assert (out["Never"] == 5.0).all()


@pytest.mark.parametrize(
    ("name", "variable", "function"),
    [
        ("unsupported_random.mdl", "Noise", "RANDOM POISSON"),
        ("unsupported_time_value.mdl", "Year", "GET TIME VALUE"),
    ],
)
def test_unsupported_feature_names_variable_function_and_line(tmp_path, name, variable, function):
    with pytest.raises(UnsupportedFeature) as info:
        compile_model(_copy(name, tmp_path))
    msg = str(info.value)
    assert f"'{variable}'" in msg and function in msg and "line " in msg


def test_metadata(tmp_path):
    cm = compile_model(_copy("subscripts.mdl", tmp_path))
    assert cm.subscripts["Type"] == ["urb", "agr", "eco"]
    assert cm.variables["Pop"].dims == ("Type",) and cm.variables["Pop"].kind == "stateful"
    assert cm.variables["Pop"].units == "wperson"
    assert cm.variables["mix"].kind == "constant" and cm.variables["mix"].dims == ("Type", "Ind")
    assert cm.variables["Jobs"].kind == "auxiliary"
    np.testing.assert_array_equal(cm.constants["growth rate"], [0.02, -0.01, 0.005])
    assert cm.constants["mix"].shape == (3, 3) and cm.constants["INITIAL TIME"].shape == ()
    np.testing.assert_allclose(cm.time, np.arange(0, 10.5, 0.5))
    assert cm.backend == "numpy"


def test_outputs_only_requested_and_constants_broadcast(tmp_path):
    cm = compile_model(_copy("subscripts.mdl", tmp_path))
    out = cm.simulate(n=4, outputs=["GDP", "mix"])
    assert list(out) == ["GDP", "mix"]
    assert out["GDP"].shape == (4, len(cm.time), 3)
    assert out["mix"].shape == (4, len(cm.time), 3, 3)
    np.testing.assert_array_equal(out["mix"][2, 5], cm.constants["mix"])


def test_per_run_parameters_equal_separate_pysd_runs(tmp_path):
    mdl = _copy("subscripts.mdl", tmp_path)
    cm = compile_model(mdl)
    rates = np.array([[0.02, -0.01, 0.005], [0.03, 0.0, -0.02], [0.01, 0.01, 0.01]])
    inits = np.array([100.0, 200.0, 300.0])  # pop init per run, same for all Types
    # a (3,) value would mean "per Type, same for all runs" (dims take precedence over n)
    out = _simulate(cm, params={"growth rate": rates, "pop init": inits[:, None] + 0 * rates}, n=3)
    for r in range(3):
        params = {
            "growth rate": xr.DataArray(rates[r], {"Type": cm.subscripts["Type"]}, ["Type"]),
            "pop init": xr.DataArray(
                np.full(3, inits[r]), {"Type": cm.subscripts["Type"]}, ["Type"]
            ),
        }
        df = pysd_run(mdl, tmp_path / "pysd", params)
        compare(cm, out, df, run=r)


def test_per_run_delay_times_and_lookup_tables(tmp_path):
    mdl = _copy("delay.mdl", tmp_path)
    cm = compile_model(mdl)
    delays = [0.5, 1.0, 2.7]  # the first lowers DELAY3's order (PySD rule), per run
    out = _simulate(cm, params={"delay time": delays, "short delay": delays}, n=3)
    for r, d in enumerate(delays):
        df = pysd_run(mdl, tmp_path / "pysd", {"delay time": d, "short delay": d})
        compare(cm, out, df, run=r)

    mdl = _copy("lookups.mdl", tmp_path)
    cm = compile_model(mdl)
    x = [0.0, 0.5, 1.0, 1.5, 2.0]
    ys = np.array([[2.0, 1.5, 1.0, 0.6, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 4.0, 2.0, 0.0]])
    out = _simulate(cm, params={"f effect": ys}, n=3)
    for r in range(3):
        df = pysd_run(mdl, tmp_path / "pysd", {"f effect": pd.Series(ys[r], index=x)})
        compare(cm, out, df, run=r)


def test_delay_fixed_per_run_delay(tmp_path):
    mdl = _copy("delay_fixed.mdl", tmp_path)
    cm = compile_model(mdl)
    delays = [0.25, 1.3, 2.6]
    out = _simulate(cm, params={"fixed delay": delays}, n=3)
    for r, d in enumerate(delays):
        compare(cm, out, pysd_run(mdl, tmp_path / "pysd", {"fixed delay": d}), run=r)


def test_parameter_errors(tmp_path):
    cm = compile_model(_copy("subscripts.mdl", tmp_path))
    with pytest.raises(ParameterError, match="no such var|not a variable"):
        cm.simulate({"no such var": 1.0})
    with pytest.raises(ParameterError, match=r"growth rate.*allowed shapes"):
        cm.simulate({"growth rate": [1.0, 2.0]}, n=3)
    with pytest.raises(ParameterError, match="not a constant"):
        cm.simulate({"Jobs": 1.0})
    with pytest.raises(ParameterError, match="control variable"):
        cm.simulate({"TIME STEP": 1.0})
    with pytest.raises(ParameterError):
        cm.simulate(n=0)
    with pytest.raises(ParameterError, match="not a variable"):
        cm.simulate(outputs=["nope"])


def test_jax_backend_matches_numpy(tmp_path):
    pytest.importorskip("jax")
    names = ("delay_fixed.mdl", "lookups.mdl", "precedence.mdl", "delay_n_dynamic.mdl")
    names += ("macros.mdl", "active_initial.mdl", "subscript_mapping.mdl")
    for name in (*names, *sorted(ARRAY_ONLY)):
        mdl = _copy(name, tmp_path)
        ref = compile_model(mdl).simulate(n=2)
        got = compile_model(mdl, backend="jax").simulate(n=2)
        for k, v in ref.items():
            np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-300, err_msg=k)


def test_macro_called_in_a_subscripted_equation_keeps_a_stock_per_element(tmp_path):
    mdl = tmp_path / "macro_array.mdl"
    text = (PROBES / "macros.mdl").read_text(encoding="utf-8")
    call = "Per Type[Type] = EXPRESSION MACRO(weights[Type] * In, 0.5) ~~|\n"
    mdl.write_text(text.replace("FINAL TIME", call + "FINAL TIME"), encoding="utf-8")
    cm = compile_model(mdl)
    out = run(cm, "numpy", outputs=["Per Type"])["Per Type"][0]
    # PySD's frame holds the macro's array in one column (a scalar at INITIAL TIME)
    column = pysd_run(mdl, tmp_path / "pysd")["Per Type"]
    ref = np.stack([np.broadcast_to(np.asarray(v, dtype=float), 3) for v in column])
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    assert not np.allclose(out[-1, 0], out[-1, 1])  # each element ran its own stock
    for path in ("scalar", "native") if native.compiler() else ("scalar",):
        np.testing.assert_allclose(run(cm, path, outputs=["Per Type"])["Per Type"][0], out)
