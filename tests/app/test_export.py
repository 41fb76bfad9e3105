"""Exports: PNG/SVG/CSV carry the stamp; Chinese without a CJK font is refused, not boxed."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from urbsim import export
from urbsim.charts import CHARTS, chart_data, time_chart
from urbsim.errors import OutputError

STAMP = export.Stamp(
    scenario="plan+custom",
    changed={"reward per settler": 4500.0, "park investment policy": {"urb": 30.0}},
    model_sha256="ab" * 32,
    seed=2023,
    date="2025-06-30",
)


def _gdp(run, lang):
    chart = CHARTS["county_gdp"]
    data = chart_data(chart, {"plan": run}, lang)
    return time_chart(chart, data, lang), data


def test_png_is_an_image_with_the_stamp_in_its_spec(plan_run):
    chart, _ = _gdp(plan_run, "en")
    png = export.chart_png(chart, STAMP, "en")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    spec = export.stamped_spec(chart, STAMP, "en")
    footer = spec["datasets"][spec["vconcat"][1]["data"]["name"]]
    assert any("abababababab" in row["line"] and "2023" in row["line"] for row in footer)
    assert any("reward per settler = 4500" in row["line"] for row in footer)


def test_svg_shows_chinese_title_and_stamp(plan_run):
    if export.cjk_font_path() is None:
        pytest.skip("no CJK font installed (install fonts-noto-cjk)")
    chart, _ = _gdp(plan_run, "zh")
    svg = export.chart_svg(chart, STAMP, "zh")
    assert svg.lstrip().startswith("<svg")
    assert "县域生产总值" in svg and "2025-06-30" in svg


def test_chinese_export_without_cjk_font_is_refused(plan_run, monkeypatch):
    monkeypatch.setattr(export, "cjk_font_path", lambda: None)
    with pytest.raises(OutputError, match="fonts-noto-cjk"):
        export.chart_png(_gdp(plan_run, "zh")[0], STAMP, "zh")
    # A chart without Chinese text needs no CJK font (the English GDP chart has 亿元 in its axis).
    debt = CHARTS["debt_ratio"]
    english = time_chart(debt, chart_data(debt, {"plan": plan_run}, "en"), "en")
    assert export.chart_png(english, STAMP, "en")[:4] == b"\x89PNG"


def test_csv_reads_back_without_options_at_whole_years(plan_run):
    _, data = _gdp(plan_run, "zh")
    csv = export.table_csv(data.to_csv_frame("zh"))
    assert csv.startswith("\ufeff年份,") and "#" not in csv
    back = pd.read_csv(io.BytesIO(csv.encode("utf-8")))
    first, last = (int(plan_run.time[0]), int(plan_run.time[-1]))
    assert back["年份"].tolist() == list(range(first, last + 1))


def test_stamp_meta_and_attrs_round_trip(plan_run):
    stamp = export.Stamp.from_attrs(plan_run.attrs)
    assert stamp.scenario == "plan" and stamp.model_sha256 == plan_run.attrs["model_sha256"]
    meta = STAMP.meta()
    assert meta["parameters_changed"]["reward per settler"] == 4500.0 and meta["seed"] == 2023
