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


DIRECT = """{UTF-8}
Name : GET DIRECT SUBSCRIPT('names.csv', ',', 'A2', 'A4', 'n') ~ ~ n1, n2, n3 |
weight[Name] = 1.0, 2.0, 4.0 ~~|
k = GET DIRECT CONSTANTS('k.csv', ',', 'B2') ~~|
tab = GET DIRECT LOOKUPS('rows.csv', ',', '1', 'B2') ~~|
series := GET DIRECT DATA('rows.csv', ',', '1', 'B2') ~ ~ interpolated, held after t = 3 |
y = tab(Time) * k + series + weight[n2] ~~|
by name[Name] = weight[Name] * y ~~|
FINAL TIME = 4 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 0.5 ~~|
TIME STEP = 0.5 ~~|
"""


def test_get_direct_and_subscript_from_csv_equal_pysd_on_every_path(tmp_path):
    (tmp_path / "k.csv").write_text("a,b\n1,2.5\n", encoding="utf-8")
    (tmp_path / "rows.csv").write_text("t,0,2,3\nd,1,5,4\n", encoding="utf-8")
    (tmp_path / "names.csv").write_text("x\n1\n2\n3\n", encoding="utf-8")
    mdl = tmp_path / "direct.mdl"
    mdl.write_text(DIRECT, encoding="utf-8")
    df = pysd_run(mdl, tmp_path)
    cm = compile_model(mdl)
    assert cm.constants["k"] == 2.5 and cm.subscripts["Name"] == ["n1", "n2", "n3"]
    for path in ("numpy", "scalar", "native") if native.compiler() else ("numpy", "scalar"):
        assert compare(cm, run(cm, path), df) > 0, path


ROWS = """{UTF-8}
Dim : a, b, c ~~|
Sub : b, c ~~|
hold[Dim] :HOLD BACKWARD: := GET XLS DATA('m.xlsx', 'M', '1', 'B2') ~~|
fwd :LOOK FORWARD: := GET XLS DATA('m.xlsx', 'M', '1', 'B3') ~~|
raw[Dim] :RAW: := GET XLS DATA('m.xlsx', 'M', '1', 'B2') ~ ~ missing between the file's times |
lin[Dim] := GET XLS DATA('m.xlsx', 'M', '1', 'B2') ~~|
tabs[Dim] = GET XLS LOOKUPS('m.xlsx', 'M', '1', 'B2') ~ ~ one row per element |
part[a] = GET XLS LOOKUPS('m.xlsx', 'M', '1', 'B4') ~~|
part[Sub] = GET XLS LOOKUPS('m.xlsx', 'M', '1', 'B2') ~~|
y[Dim] = hold[Dim] + fwd * 10 + lin[Dim] * 100 + tabs[Dim](Time / 2) + part[Dim](Time) ~~|
Level[Dim] = INTEG(y[Dim], 0.0) ~~|
FINAL TIME = 4 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 0.25 ~~|
TIME STEP = 0.25 ~~|
"""


def _equal_pysd(tmp: Path, rows, name: str, text: str):
    """Write sheet M of m.xlsx with ``rows`` and the model ``text``; assert the engine equals
    PySD on every path; returns the compiled model."""
    openpyxl = pytest.importorskip("openpyxl", reason="writing the test's spreadsheet")
    book = openpyxl.Workbook()
    book.active.title = "M"
    for row in rows:
        book.active.append(row)
    book.save(tmp / "m.xlsx")
    mdl = tmp / name
    mdl.write_text(text, encoding="utf-8")
    df = pysd_run(mdl, tmp)
    cm = compile_model(mdl)
    for path in ("numpy", "scalar", "native") if native.compiler() else ("numpy", "scalar"):
        assert compare(cm, run(cm, path), df) > 0, path
    return cm


def test_subscripted_held_and_raw_data_and_lookup_rows_equal_pysd(tmp_path):
    # times 1.3 and 2.2 fall between time steps: held, looked forward or interpolated there
    rows = (["t", 0, 1.3, 2.2, 3], ["a", 1, 5, 4, 2], ["b", 2, 0, 7, 1], ["c", 3, 3, 3, 6])
    cm = _equal_pysd(tmp_path, rows, "rows.mdl", ROWS)
    out = run(cm, "numpy", outputs=["hold", "raw"])
    assert (out["hold"][0][cm.time == 2.0] == [5, 0, 3]).all()  # held from t = 1.3
    raw = out["raw"][0]
    assert (raw[cm.time == 0.0] == [1, 2, 3]).all() and np.isnan(raw[cm.time == 2.0]).all()


MACRO_DATA = """{UTF-8}
:MACRO: FED(input)
FED = input + series * 2 ~~|
series :HOLD BACKWARD: := GET XLS DATA('m.xlsx', 'M', '1', 'B2') ~ ~ read once per call |
:END OF MACRO:
Dim : a, b ~~|
x = FED(Time) ~~|
y[Dim] = FED(Time * 2) ~~|
FINAL TIME = 4 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 0.5 ~~|
TIME STEP = 0.5 ~~|
"""


def test_data_inside_a_macro_equals_pysd_on_every_path(tmp_path):
    _equal_pysd(tmp_path, (["t", 0, 1.3, 3], ["a", 1, 5, 4]), "macro_data.mdl", MACRO_DATA)
