"""GET XLS CONSTANTS / LOOKUPS / DATA are read at compile time through PySD's own loaders, so the
engine's numbers are PySD's on every path, and the values are ordinary parameters after."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _compare import compare, pysd_run
from _paths import run

from urbsim.engine import compile_model, native
from urbsim.errors import ModelError

MODEL = """{UTF-8}
Dim : a, b, c ~~|
k = GET XLS CONSTANTS('ext.xlsx', 'S', 'B2') ~~|
kv[Dim] = GET XLS CONSTANTS('ext.xlsx', 'S', 'A2') ~~|
tab = GET XLS LOOKUPS('ext.xlsx', 'S', '4', 'B5') ~~|
series := GET XLS DATA('ext.xlsx', 'S', '7', 'B8') ~ ~ a data variable, held after t = 3 |
y = tab(Time) * k + SUM(kv[Dim!]) + series ~~|
Level = INTEG(y, 0.0) ~~|
FINAL TIME = 4 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 0.5 ~~|
TIME STEP = 0.5 ~~|
"""


def _write(tmp: Path) -> Path:
    openpyxl = pytest.importorskip("openpyxl", reason="writing the test's spreadsheet")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "S"
    rows = (["a", "b", "c"], [1.5, 2.5, 3.5], [], ["x", 0, 1, 2, 4], ["y", 1, 3, 2, 5], [])
    for row in (*rows, ["t", 0, 2, 3], ["d", 1, 5, 4]):
        sheet.append(row)
    book.save(tmp / "ext.xlsx")
    mdl = tmp / "ext.mdl"
    mdl.write_text(MODEL, encoding="utf-8")
    return mdl


def test_spreadsheet_values_equal_pysds_on_every_path(tmp_path):
    mdl = _write(tmp_path)
    df = pysd_run(mdl, tmp_path)  # same folder: PySD reads the file next to the model
    cm = compile_model(mdl)
    np.testing.assert_array_equal(cm.constants["kv"], [1.5, 2.5, 3.5])
    for path in ("numpy", "scalar", "native") if native.compiler() else ("numpy", "scalar"):
        assert compare(cm, run(cm, path), df) > 0, path
    # by run time they are parameters like any other
    out = cm.simulate({"k": [1.0, 2.0]}, n=2, outputs=["y"])
    assert not np.array_equal(out["y"][0], out["y"][1])


def test_a_missing_spreadsheet_names_the_variable_and_the_file(tmp_path):
    mdl = _write(tmp_path)
    (tmp_path / "ext.xlsx").unlink()
    reason = r"variable '(k|series)' \(line \d\).*PySD cannot read 'ext.xlsx'"
    with pytest.raises(ModelError, match=reason):
        compile_model(mdl)
