"""Plain result files (:mod:`urbsim.tables`): CSV and xlsx that open without options."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from urbsim.tables import annual, csv_text, meta_path, round_significant, write_table

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@given(st.lists(finite, min_size=1, max_size=20))
def test_rounding_keeps_six_significant_digits(values):
    arr = np.array(values)
    out = round_significant(arr)
    assert np.allclose(out, arr, rtol=5.1e-6, atol=0)
    assert np.array_equal(round_significant(out), out)  # idempotent


def test_rounding_keeps_nan_and_zero():
    out = round_significant(np.array([np.nan, 0.0, np.inf, 1 / 3]))
    assert np.isnan(out[0]) and out[1] == 0 and np.isinf(out[2]) and out[3] == 0.333333


labels = st.text(st.characters(categories=["L", "N"], include_characters=',"；'), min_size=1)


@given(st.lists(labels, min_size=1, max_size=5), finite)
def test_csv_round_trips_through_pandas_without_options(tmp_path_factory, labels, value):
    frame = pd.DataFrame({"label": labels, "value": value})
    path = tmp_path_factory.mktemp("t") / "t.csv"
    path.write_bytes(csv_text(frame).encode("utf-8"))
    back = pd.read_csv(path, keep_default_na=False, dtype={"label": str})
    assert list(back.columns) == ["label", "value"]  # the BOM is not part of the first name
    assert back.label.tolist() == labels
    assert np.allclose(back.value, round_significant(np.full(len(labels), value)))


def test_annual_keeps_whole_years_as_integers():
    frame = pd.DataFrame({"time": np.arange(2020, 2022.01, 0.25), "v": range(9)})
    out = annual(frame)
    assert out.time.tolist() == [2020, 2021, 2022] and out.v.tolist() == [0, 4, 8]


def test_write_table_csv_sidecar_and_xlsx(tmp_path):
    frame = pd.DataFrame({"年份": [2025], "县城人口占比": [24.91234567]})
    meta = {"scenario": "plan", "levers": {"a": 1}}
    written = write_table(frame, tmp_path / "r.csv", meta)
    assert written == [tmp_path / "r.csv", meta_path(tmp_path / "r.csv")]
    assert json.loads((tmp_path / "r.meta.json").read_text(encoding="utf-8")) == meta
    assert pd.read_csv(tmp_path / "r.csv").columns.tolist() == ["年份", "县城人口占比"]
    assert (tmp_path / "r.csv").read_text(encoding="gbk", errors="replace")  # not GBK-clean
    assert (tmp_path / "r.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    write_table(frame, tmp_path / "r.xlsx", meta)
    sheets = pd.read_excel(tmp_path / "r.xlsx", sheet_name=None, engine="openpyxl")
    assert sheets["data"]["县城人口占比"].iloc[0] == 24.9123
    assert sheets["provenance"].set_index("key").loc["levers", "value"] == '{"a": 1}'
