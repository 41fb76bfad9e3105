"""The main view's tabs: charts, compare, sensitivity, model.

The charts tab draws the key charts (:data:`KEY_CHARTS`) and the others the visitor toggles on:
every chart drawn is redrawn in the browser on each slider move.

Each function draws one tab from run results handed in by :mod:`urbsim.app`; none of them runs
the model except through the cached functions of :mod:`urbsim.app.runs`. The parts with their
own widgets (the download row, the compare, sensitivity and model tabs) are fragments: using
those widgets reruns that part only, not the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st
import xarray as xr

from urbsim import export
from urbsim.app import diagram, runs
from urbsim.app.state import ALL_TYPES
from urbsim.app.widgets import choose_many, select
from urbsim.charts import CHARTS, ChartData, chart_data, time_chart, time_spec, tornado_chart
from urbsim.errors import UrbsimError
from urbsim.i18n import (
    constant_doc,
    constant_name,
    constants_catalogue,
    slug,
    text,
    text_or,
    unit,
)
from urbsim.indicators import INDICATORS, value_at
from urbsim.mdlinfo import ModelInfo
from urbsim.paths import model_dir
from urbsim.scenarios import Scenario
from urbsim.tables import xlsx_bytes

#: The charts the charts tab draws until the visitor picks others: the two plan targets.
KEY_CHARTS = ("county_town_share", "county_gdp")


@dataclass(frozen=True)
class View:
    """What every tab needs to know about the page.

    Attributes
    ----------
    lang : display language.
    county_type : ``None`` for the region, or a type of :data:`urbsim.charts.TYPES`.
    stamp : the export stamp of the current scenario.
    """

    lang: str
    county_type: str | None
    stamp: export.Stamp

    @classmethod
    def of(cls, lang: str, county_type: str, stamp: export.Stamp) -> View:
        """A view from the sidebar's type value (``"all"`` means the region)."""
        return cls(lang, None if county_type == ALL_TYPES else county_type, stamp)


@st.fragment
def _downloads(data_of: Callable[[str], ChartData], view: View) -> None:
    """One row for every chart's files, drawn or not: which chart, then PNG, SVG, CSV and
    Excel buttons (the files are made only when a button is clicked). One row instead of one
    per chart keeps a slider move's redraw small.

    Parameters
    ----------
    data_of : the data of a chart, by id (computed only when one of its files is asked for).
    """
    lang = view.lang
    titles = {c: text(lang, f"charts.{c}.title") for c in CHARTS}
    cols = st.columns([4, 1, 1, 1, 1], vertical_alignment="bottom")
    label = text(lang, "charts.downloads")
    picked = select(cols[0], "download_chart", lang, label, list(CHARTS), titles)
    chart = CHARTS[picked]

    def image() -> alt.LayerChart:
        return time_chart(chart, data_of(picked), lang, county_type=view.county_type)

    def png() -> bytes:
        return export.chart_png(image(), view.stamp, lang)

    def svg() -> str:
        return export.chart_svg(image(), view.stamp, lang)

    def csv() -> str:
        return export.table_csv(data_of(picked).to_csv_frame(lang))

    def xlsx() -> bytes:
        return xlsx_bytes(data_of(picked).to_csv_frame(lang), view.stamp.meta())

    base = f"urbsim-{chart.id}-{view.stamp.scenario.replace('+', '-')}"
    images = export.cjk_font_path() is not None or lang != "zh"
    formats = (
        ("png", png, "image/png"),
        ("svg", svg, "image/svg+xml"),
        ("csv", csv, "text/csv"),
        ("xlsx", xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )
    for col, (fmt, fn, mime) in zip(cols[1:], formats, strict=True):
        col.download_button(
            text(lang, f"charts.download_{fmt}"),
            fn,
            file_name=f"{base}.{fmt}",
            mime=mime,
            key=f"dl-{fmt}",
            on_click="ignore",
            disabled=fmt in ("png", "svg") and not images,
        )


def render_charts(cases: Mapping[str, xr.Dataset], ensemble: xr.Dataset | None, view: View) -> None:
    """The chart picker (the key charts on by default), the charts picked in a two-column
    grid, and the download row (every chart)."""
    lang = view.lang
    if lang == "zh" and export.cjk_font_path() is None:
        try:
            export.require_cjk_font(["中文"])
        except UrbsimError as exc:
            st.warning(text(lang, "export.cjk_missing", error=exc))

    def data_of(chart_id: str) -> ChartData:
        chart = CHARTS[chart_id]
        return chart_data(chart, cases, lang, ensemble=ensemble, county_type=view.county_type)

    titles = {c: text(lang, f"charts.{c}.title") for c in CHARTS}
    shown = choose_many(
        st, "charts_shown", lang, text(lang, "charts.shown"), list(CHARTS), titles, KEY_CHARTS
    )
    columns = st.columns(2)
    for i, chart_id in enumerate(shown):
        spec = time_spec(
            CHARTS[chart_id], data_of(chart_id), lang, county_type=view.county_type, arrow=True
        )
        with columns[i % 2], st.container(border=True):
            st.vega_lite_chart(spec, width="stretch")
    with st.container(border=True):
        _downloads(data_of, view)


def compare_table(a: xr.Dataset, b: xr.Dataset, lang: str) -> pd.DataFrame:
    """Every standard indicator in :data:`runs.COMPARE_YEARS` under A and B, and A - B (the
    current levers minus the baseline by default: a plan's effect reads as its sign)."""
    rows = []
    for name, ind in INDICATORS.items():
        if name not in a or name not in b:
            continue
        row = {
            text(lang, "compare.indicator"): text(lang, f"indicators.{name}"),
            text(lang, "compare.unit"): unit(lang, ind.units),
        }
        for year in runs.COMPARE_YEARS:
            va = float(value_at(a[name], year).values.squeeze())
            vb = float(value_at(b[name], year).values.squeeze())
            row[f"A {year}"] = va
            row[f"B {year}"] = vb
            row[f"{text(lang, 'compare.delta')} {year}"] = va - vb
        rows.append(row)
    return pd.DataFrame(rows)


@st.fragment
def render_compare(presets: Mapping[str, Scenario], current: xr.Dataset, view: View) -> None:
    """Two scenarios (presets or the current levers) side by side with their differences.

    Parameters
    ----------
    current : the run of the sliders' scenario.
    """
    lang = view.lang
    st.subheader(text(lang, "compare.header"))
    current_label = "__current__"
    options = [current_label, *presets]
    label = {
        current_label: text(lang, "compare.current"),
        **{n: s.title.get(lang, n) for n, s in presets.items()},
    }
    col_a, col_b = st.columns(2)
    pick_a = select(col_a, "compare_a", lang, text(lang, "compare.a"), options, label)
    default_b = runs.BASELINE if runs.BASELINE in options else options[0]
    pick_b = select(
        col_b, "compare_b", lang, text(lang, "compare.b"), options, label, default=default_b
    )

    def run_of(pick: str) -> xr.Dataset:
        return current if pick == current_label else runs.case_run(pick, "{}")

    a, b = run_of(pick_a), run_of(pick_b)
    if pick_a == pick_b:
        st.info(text(lang, "compare.same"))
    table = compare_table(a, b, lang)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={c: st.column_config.NumberColumn(format="%.2f") for c in table.columns[2:]},
    )
    cases = {f"A: {label[pick_a]}": a, f"B: {label[pick_b]}": b}
    # One chart at a time: every chart drawn is redrawn in the browser on each slider move.
    titles = {c: text(lang, f"charts.{c}.title") for c in CHARTS}
    pick = select(st, "compare_chart", lang, text(lang, "compare.chart"), list(CHARTS), titles)
    chart = CHARTS[pick]
    data = chart_data(chart, cases, lang, county_type=view.county_type)
    spec = time_spec(chart, data, lang, county_type=view.county_type, arrow=True)
    st.vega_lite_chart(spec, width="stretch")


def tornado_frame(
    raw: pd.DataFrame, info: ModelInfo, lang: str, year: int, top: int
) -> pd.DataFrame:
    """The ``top`` widest swings in ``year`` with translated names and kinds."""
    frame = raw[raw["year"] == year].copy()
    frame["swing"] = (frame["high"] - frame["low"]).abs()
    frame = frame.nlargest(top, "swing")

    frame["name"] = [constant_name(lang, n) for n in frame["name"]]
    frame["kind"] = [text(lang, f"sensitivity.{k}") for k in frame["kind"]]
    return frame[["name", "kind", "low", "high"]]


@st.fragment
def render_sensitivity(info: ModelInfo, current: tuple[str, str], lang: str) -> None:
    """Tornado charts of the county-town share in 2025 and 2030 (one batched run, cached)."""
    st.subheader(text(lang, "sensitivity.header"))
    st.caption(text(lang, "sensitivity.caption"))
    top = st.slider(text(lang, "sensitivity.top"), 5, 40, 15, key="tornado_top")
    raw = runs.tornado_runs(*current)
    for year in runs.SENSITIVITY_YEARS:
        chart = tornado_chart(
            tornado_frame(raw, info, lang, year, top), lang, year=year, unit_text=unit(lang, "pp")
        )
        st.altair_chart(chart, width="stretch")


def _doc(lang: str, name: str, english: str) -> str:
    """A variable's documentation: Chinese where the catalogue has it, else the model's."""
    if lang == "zh" and constants_catalogue().get(slug(name), {}).get("zh"):
        return constant_doc(lang, name, english)
    return english


def variables_table(info: ModelInfo, lang: str, query: str = "") -> pd.DataFrame:
    """Documentation of every variable, filtered by ``query`` (name, unit, source, doc)."""
    rows = []
    for name, v in info.variables.items():
        c = info.constants.get(name)
        rng = f"[{c.range[0]:g}, {c.range[1]:g}]" if c is not None and c.range else ""
        local = constant_name(lang, name) if lang == "zh" else name
        lever = c.lever if c is not None and c.lever else ""
        rows.append(
            {
                # the Vensim name stays: it is what --set, scenario files and URLs use
                text(lang, "model.name"): name if local == name else f"{local}（{name}）",
                text(lang, "model.sector"): text_or(lang, f"sectors.{slug(v.sector)}", v.sector),
                text(lang, "model.kind"): v.kind,
                text(lang, "model.unit"): unit(lang, v.units),
                text(lang, "model.dims"): ", ".join(v.dims),
                text(lang, "model.range"): rng,
                text(lang, "model.lever"): text(lang, f"groups.{slug(lever)}") if lever else "",
                text(lang, "model.uncertain"): bool(c is not None and c.uncertain),
                text(lang, "model.source"): (c.source or "") if c is not None else "",
                text(lang, "model.doc"): _doc(lang, name, v.doc),
            }
        )
    frame = pd.DataFrame(rows)
    if query:
        haystack = frame.astype(str).agg(" ".join, axis=1).str.lower()
        frame = frame[haystack.str.contains(query.lower(), regex=False)]
    return frame


@st.fragment
def render_model(info: ModelInfo, lang: str) -> None:
    """The stock-flow diagram (overview or one sector) and the searchable documentation."""
    st.subheader(text(lang, "model.header"))
    overview = "__overview__"
    scopes = [overview, *diagram.diagram_sectors(info)]
    scope = st.selectbox(
        text(lang, "model.diagram_scope"),
        scopes,
        key="diagram_scope",
        format_func=lambda s: (
            text(lang, "model.scope_overview")
            if s == overview
            else text_or(lang, f"sectors.{slug(s)}", s)
        ),
    )
    groups = {g: text(lang, f"groups.{slug(g)}") for g in info.levers()}
    sectors = {s: text_or(lang, f"sectors.{slug(s)}", s) for s in info.sectors}
    if scope == overview:
        dot = diagram.overview_dot(info, sectors, groups)
    else:
        dot = diagram.sector_dot(info, scope)
    st.graphviz_chart(dot, width="stretch")
    st.caption(text(lang, "model.diagram_caption"))
    st.subheader(text(lang, "model.docs"))
    query = st.text_input(text(lang, "model.search"), key="doc_search")
    st.caption(text(lang, "app.doc_note"))
    st.dataframe(variables_table(info, lang, query), hide_index=True, width="stretch")
    chart = model_dir() / "data" / "posterior_predictive.png"
    if chart.exists():
        st.subheader(text(lang, "model.history"))
        st.image(str(chart), width="stretch")
        st.caption(text(lang, "model.history_caption"))
