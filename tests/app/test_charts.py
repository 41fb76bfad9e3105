"""Chart builders: reference lines, the plan window, bilingual titles, per-type values, band."""

from __future__ import annotations

import numpy as np
import pytest

from urbsim.charts import (
    CHARTS,
    LEGENDS_STACKED,
    PLAN_WINDOW,
    TYPES,
    chart_data,
    finish,
    series_values,
    time_chart,
    time_spec,
    tornado_chart,
)
from urbsim.i18n import text


def _layers(spec: dict) -> list[dict]:
    return spec["layer"]


def _marks(spec: dict) -> list[str]:
    return [layer["mark"]["type"] for layer in _layers(spec)]


def _spec(chart_id, plan_run, baseline_run, lang="en", ensemble=None, county_type=None):
    chart = CHARTS[chart_id]
    data = chart_data(
        chart,
        {"plan": plan_run, "baseline": baseline_run},
        lang,
        ensemble=ensemble,
        county_type=county_type,
    )
    return time_chart(chart, data, lang, county_type=county_type).to_dict()


@pytest.mark.parametrize("chart_id", list(CHARTS))
def test_reference_lines_carry_the_target_values(chart_id, plan_run, baseline_run):
    spec = _spec(chart_id, plan_run, baseline_run)
    expected = [r.value for r in CHARTS[chart_id].refs]
    if not expected:
        assert "refs" not in spec["datasets"] and "rule" not in _marks(spec)
        return
    assert "rule" in _marks(spec)
    assert [row["value"] for row in spec["datasets"]["refs"]] == expected


def test_the_plan_targets_are_drawn():
    refs = {c: [r.value for r in CHARTS[c].refs] for c in CHARTS}
    assert refs["county_town_share"] == [30.0]
    assert refs["county_gdp"] == [12000.0]
    assert refs["debt_ratio"] == [1.2, 2.0, 3.0]
    assert refs["service_adequacy"] == [1.0]
    assert refs["childcare_places_per_1000"] == [4.5]


@pytest.mark.parametrize("chart_id", list(CHARTS))
def test_plan_window_is_shaded(chart_id, plan_run, baseline_run):
    spec = _spec(chart_id, plan_run, baseline_run)
    rect = next(layer for layer in _layers(spec) if layer["mark"]["type"] == "rect")
    assert rect["data"] == {"name": "window"}
    window = spec["datasets"]["window"][0]
    assert (window["x0"], window["x1"]) == PLAN_WINDOW == (2023.0, 2025.0)
    assert rect["encoding"]["x"]["field"] == "x0" and rect["encoding"]["x2"]["field"] == "x1"


@pytest.mark.parametrize("chart_id", list(CHARTS))
def test_titles_and_axes_are_bilingual(chart_id, plan_run, baseline_run):
    en = _spec(chart_id, plan_run, baseline_run, "en")
    zh = _spec(chart_id, plan_run, baseline_run, "zh")
    assert en["title"]["text"] == text("en", f"charts.{chart_id}.title")
    assert zh["title"]["text"] == text("zh", f"charts.{chart_id}.title")
    assert en["title"]["text"] != zh["title"]["text"]
    line_en = next(layer for layer in _layers(en) if layer["mark"]["type"] == "line")
    line_zh = next(layer for layer in _layers(zh) if layer["mark"]["type"] == "line")
    assert line_en["encoding"]["x"]["title"] == text("en", "charts.axis_year")
    assert line_zh["encoding"]["x"]["title"] == text("zh", "charts.axis_year")
    assert {r["series"] for r in zh["datasets"]["lines"]} == {
        text("zh", f"series.{s.key}") for s in CHARTS[chart_id].series
    }


def test_both_cases_are_drawn(plan_run, baseline_run):
    spec = _spec("county_gdp", plan_run, baseline_run)
    assert {r["case"] for r in spec["datasets"]["lines"]} == {"plan", "baseline"}
    assert len(spec["datasets"]["lines"]) == 2 * plan_run.sizes["time"]


def test_band_is_the_ensemble_5_to_95_percent(plan_run, baseline_run, small_ensemble):
    spec = _spec("county_town_share", plan_run, baseline_run, ensemble=small_ensemble)
    assert "area" in _marks(spec)
    band = spec["datasets"]["band"]
    values = small_ensemble["County Town Share"].values
    lo, hi = np.quantile(values, [0.05, 0.95], axis=0)
    first = [r for r in band if r["series"] == text("en", "series.county_town_share")]
    assert np.allclose([r["lo"] for r in first], lo)
    assert np.allclose([r["hi"] for r in first], hi)
    assert all(r["lo"] <= r["hi"] for r in band)
    assert lo[-1] < hi[-1]  # the varied constant really spreads the runs


def test_types_add_up_to_the_region(plan_run):
    series = CHARTS["county_town_share"].series[0]
    region, _ = series_values(series, plan_run, None)
    parts = sum(series_values(series, plan_run, t)[0] for t in TYPES)
    assert np.allclose(parts.values, region.values)


def test_type_view_drops_regional_targets_and_notes_regional_lines(plan_run, baseline_run):
    share = _spec("county_town_share", plan_run, baseline_run, county_type="agr")
    assert "refs" not in share["datasets"]  # 30 % is a regional target
    note = text(
        "en", "charts.regional_note", series=text("en", "series.county_town_share_incl_cities")
    )
    assert note in share["title"]["subtitle"]  # the regional series is named
    debt = _spec("debt_ratio", plan_run, baseline_run, county_type="agr")
    assert [r["value"] for r in debt["datasets"]["refs"]] == [1.2, 2.0, 3.0]
    expected = plan_run["Debt Ratio"].sel(Type="agr").values.ravel()
    drawn = [r["value"] for r in debt["datasets"]["lines"] if r["case"] == "plan"]
    assert np.allclose(drawn, expected)


def test_fast_spec_equals_the_altair_spec(plan_run, baseline_run, small_ensemble):
    chart = CHARTS["service_adequacy"]
    data = chart_data(chart, {"plan": plan_run}, "zh", ensemble=small_ensemble)
    fast = time_spec(chart, data, "zh")
    assert fast.pop("autosize") == {"type": "fit-x", "contains": "padding"}
    # the app stacks the legends (side by side they ran past a half-width chart's edge)
    assert fast["config"]["legend"].pop("layout") == LEGENDS_STACKED
    assert fast == finish(time_chart(chart, data, "zh")).to_dict()


def test_tornado_sorts_by_swing_and_is_bilingual():
    import pandas as pd

    frame = pd.DataFrame(
        {"name": ["a", "b"], "kind": ["lever", "lever"], "low": [-0.1, -2.0], "high": [0.1, 1.0]}
    )
    en = tornado_chart(frame, "en", year=2025, unit_text="pp").to_dict()
    zh = tornado_chart(frame, "zh", year=2025, unit_text="pp").to_dict()
    assert en["encoding"]["y"]["sort"] == ["b", "a"]
    assert en["title"] == text("en", "sensitivity.title", year=2025) != zh["title"]


def test_observed_history_is_drawn_on_regional_charts_only(plan_run):
    import pandas as pd

    from urbsim.charts import series_label
    from urbsim.paths import observed_path

    table = pd.read_csv(observed_path()).pivot_table(
        index="year", columns="indicator", values="value"
    )
    both = table[["county_town_population", "urban_population"]].dropna()
    chart = CHARTS["county_town_share"]
    data = chart_data(chart, {"plan": plan_run}, "zh")
    points = data.observed[data.observed.series == series_label("zh", "county_town_share")]
    assert points.year.tolist() == both.index.tolist()
    expected = both.county_town_population / both.urban_population * 100
    assert points.value.tolist() == pytest.approx(expected.tolist())
    spec = time_chart(chart, data, "zh").to_dict()
    assert "point" in _marks(spec) and spec["datasets"]
    assert chart_data(chart, {"plan": plan_run}, "zh", county_type="urb").observed is None
    assert chart_data(CHARTS["debt_ratio"], {"plan": plan_run}, "en").observed is None


def test_the_year_axis_spans_the_saved_times(plan_run):
    chart = CHARTS["county_gdp"]
    spec = time_chart(chart, chart_data(chart, {"plan": plan_run}, "en"), "en").to_dict()
    times = plan_run["time"].values
    domains = {
        tuple(layer["encoding"]["x"]["scale"]["domain"])
        for layer in _layers(spec)
        if "x" in layer["encoding"] and "scale" in layer["encoding"]["x"]
    }
    assert domains == {(float(times[0]), float(times[-1]))}


def test_service_adequacy_is_drawn_as_lines_without_stacked_bands(plan_run, small_ensemble):
    chart = CHARTS["service_adequacy"]
    data = chart_data(chart, {"plan": plan_run}, "en", ensemble=small_ensemble)
    assert data.band is None and data.lines["series"].nunique() == len(chart.series)
    assert (
        chart_data(CHARTS["county_gdp"], {"p": plan_run}, "en", ensemble=small_ensemble).band
        is not None
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_tornado_labels_every_bar_when_rendered(lang):
    """Vega-Lite hides axis labels it thinks overlap (``opacity="0"`` in the SVG); rendered,
    every one of the app's 15 bars shows its name (the real lever and assumption names, in both
    languages)."""
    import html
    import json
    import re

    import pandas as pd
    import vl_convert as vlc

    from urbsim.app.compute import sensitivity_factors
    from urbsim.i18n import constant_name
    from urbsim.mdlinfo import model_info

    factors = sensitivity_factors(model_info())[:15]
    assert len(factors) == 15
    names = [constant_name(lang, c.name) for c, _ in factors]
    frame = pd.DataFrame(
        {
            "name": names,
            "low": [-(k + 1) * 0.01 for k in range(15)],
            "high": [(k + 1) * 0.02 for k in range(15)],
            "kind": [text(lang, f"sensitivity.{kind}") for _, kind in factors],
        }
    )
    chart = tornado_chart(frame, lang, year=2025, unit_text="pp").properties(width=500)
    svg = vlc.vegalite_to_svg(json.dumps(chart.to_dict()))
    shown = {
        m.group(2)
        for m in re.finditer(r"<text([^>]*)>([^<]*)</text>", svg)
        if 'opacity="0"' not in m.group(1)
    }
    assert [n for n in names if html.escape(n, quote=False) not in shown] == []


def test_arrow_datasets_hold_the_records(plan_run, baseline_run, small_ensemble):
    """What the app sends (Arrow tables) is what the exports draw (records), row for row."""
    chart = CHARTS["county_town_share"]
    data = chart_data(
        chart, {"plan": plan_run, "base": baseline_run}, "zh", ensemble=small_ensemble
    )
    records = time_spec(chart, data, "zh")["datasets"]
    tables = time_spec(chart, data, "zh", arrow=True)["datasets"]
    assert set(tables) == set(records) >= {"lines", "band", "window", "refs"}
    assert all(tables[k].to_pylist() == records[k] for k in records)
