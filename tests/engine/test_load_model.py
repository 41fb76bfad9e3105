"""``urbsim.load_model`` over the engine: PySD takes over what the engine refuses (with a
notice), results name the path that ran, and odd constructs never crash the compiler."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import numpy as np
import pytest
from _compare import pysd_run
from _paths import require_compiler

import urbsim
from urbsim.engine import compile_model
from urbsim.engine.compile import Program
from urbsim.errors import UnsupportedFeature
from urbsim.model import EngineFallback

PROBES = Path(__file__).parent / "probes"

# GET TIME VALUE of the computer's clock: PySD runs it, the engine does not (a one-line notice,
# then PySD)
CLOCK = """{UTF-8}
Type : urb, agr, eco ~~|
vals[Type] = 3, 1, 2 ~~|
Year = GET TIME VALUE(2, 0, 1) ~~|
Total = SUM(vals[Type!]) * Time ~~|
FINAL TIME = 2 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 1 ~~|
TIME STEP = 1 ~~|
"""


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copy(PROBES / name, dst)
    return dst


def test_pysd_engine_runs_saveper_defined_as_time_step(tmp_path):
    mdl = _copy("merged_subranges.mdl", tmp_path)  # SAVEPER = TIME STEP
    pysd_ds = urbsim.load_model(mdl, engine="pysd").run()
    fast_ds = urbsim.load_model(mdl).run()
    np.testing.assert_array_equal(pysd_ds["time"], fast_ds["time"])
    assert pysd_ds.attrs["engine"] == "pysd"
    for name in ("Level", "Rate", "Near Sum"):
        np.testing.assert_allclose(fast_ds[name], pysd_ds[name], rtol=1e-9, atol=1e-12)


def test_unsupported_construct_falls_back_to_pysd_with_a_notice(tmp_path):
    mdl = tmp_path / "clock.mdl"
    mdl.write_text(CLOCK, encoding="utf-8")
    model = urbsim.load_model(mdl)
    before = datetime.date.today().year
    with pytest.warns(EngineFallback) as record:
        ds = model.run()
    (notice,) = [str(w.message) for w in record if w.category is EngineFallback]
    assert "\n" not in notice and "'Year'" in notice and "GET TIME VALUE" in notice
    assert "line 4" in notice and model.fallback_reason in notice
    assert set(ds["Year"].values.ravel()) <= {before, datetime.date.today().year}
    assert ds.attrs["engine"] == model.engine_path == "pysd"
    ref = pysd_run(mdl, tmp_path / "pysd")
    np.testing.assert_allclose(ds["Total"].values[0], ref["Total"].to_numpy(), rtol=1e-12)


def test_a_model_pysd_cannot_run_either_reports_the_engine_reason(tmp_path):
    mdl = tmp_path / "undefined.mdl"
    text = CLOCK.replace("GET TIME VALUE(2, 0, 1)", "2026")
    mdl.write_text(text.replace("SUM(vals[Type!]) * Time", "nowhere"), encoding="utf-8")
    with pytest.raises(urbsim.ModelError, match="'Total'.*'nowhere', which the model does not"):
        urbsim.load_model(mdl).run()


def test_a_data_variable_without_an_equation_is_one_clear_error(tmp_path):
    mdl = tmp_path / "nodata.mdl"
    mdl.write_text(
        "{UTF-8}\ndemand :INTERPOLATE: ~ ~ values from a data file |\n"
        "Stock = INTEG(demand, 0) ~~|\nFINAL TIME = 2 ~~|\nINITIAL TIME = 0 ~~|\n"
        "SAVEPER = 1 ~~|\nTIME STEP = 1 ~~|\n",
        encoding="utf-8",
    )
    with pytest.raises(UnsupportedFeature, match="'demand' \\(line 2\\).*data files"):
        urbsim.load_model(mdl).run()  # PySD cannot run it either without those files


@pytest.mark.parametrize(
    ("native", "scalar_max_n", "n", "label"),
    [(False, 8, 1, "scalar"), (False, 0, 3, "numpy"), (True, 8, 2, "native")],
)
def test_results_name_the_path_that_ran(tmp_path, native, scalar_max_n, n, label):
    if native:
        require_compiler()
    model = urbsim.load_model(_copy("subscripts.mdl", tmp_path))
    runner = model._runner
    runner.native, runner.scalar_max_n = native, scalar_max_n
    ds = model.run(n=n, outputs=["Pop"])
    assert ds.attrs["engine"] == model.engine_path == runner.last_path
    assert ds.attrs["engine"].startswith(label)
    if native:  # which maths the C kernel was built with, as native_status reports it
        vector = "vector maths" in runner.native_status
        assert ds.attrs["engine"] == ("native-vector" if vector else "native-exact")


def test_internal_errors_become_unsupported_feature_naming_variable_and_line(tmp_path, monkeypatch):
    def broken(self, node):
        raise ValueError("could not broadcast (6,) into (3,2)")

    monkeypatch.setattr(Program, "_compile_aux", broken)
    with pytest.raises(UnsupportedFeature) as info:
        compile_model(_copy("subscripts.mdl", tmp_path))
    msg = str(info.value)
    assert "variable 'Pop' (line 5)" in msg and "ValueError: could not broadcast" in msg
