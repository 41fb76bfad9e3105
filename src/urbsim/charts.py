"""Every Altair chart of urbsim: the app, the ``urbsim chart`` command and the exports use these.

The path of a datum is one way: a run's ``xarray.Dataset`` -> :func:`chart_data` (a tidy table
for one chart, optionally for one county-town type) -> :func:`time_chart` (a Vega-Lite spec).
Titles, axes, legends and reference labels come from the catalogues of :mod:`urbsim.i18n`.

Each time chart shows the plan window 2023-2025 shaded, its reference lines (targets, risk
grades), one line per case (the current scenario, the baseline, or two compared scenarios) and,
when an ensemble is given, the 5-95 % band of the first case.

Example
-------
>>> import urbsim
>>> ds = urbsim.load_model().run(outputs=CHART_OUTPUTS)
>>> chart = time_chart(CHARTS["county_gdp"], chart_data(CHARTS["county_gdp"], {"plan": ds}, "en"),
...                    "en")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import xarray as xr

from urbsim.errors import OutputError
from urbsim.i18n import slug, text, text_or, unit
from urbsim.indicators import INDICATORS
from urbsim.tables import annual

#: The plan's window, in model years (policy start to the target year).
PLAN_WINDOW: tuple[float, float] = (2023.0, 2025.0)
#: Quantiles of the uncertainty band.
BAND: tuple[float, float] = (0.05, 0.95)
#: County-town types (the model's ``Type`` subscript).
TYPES: tuple[str, ...] = ("urb", "agr", "eco")
#: Fonts tried in order; the CJK family covers Latin text too, so both languages share it.
FONT = "Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif"

PerType = Callable[[xr.Dataset, str], xr.DataArray]


@dataclass(frozen=True)
class Reference:
    """A horizontal reference line: a target or a risk grade.

    Attributes
    ----------
    value : position on the y axis, in the chart's unit.
    label : catalogue key of its label (``refs.*``).
    per_type : whether it also applies to one county-town type (a regional total's target
        does not; a ratio's threshold does).
    """

    value: float
    label: str
    per_type: bool = True


@dataclass(frozen=True)
class Series:
    """One line of a chart.

    Attributes
    ----------
    key : catalogue key of its name (``series.*``).
    variable : Vensim variable (or standard indicator) holding the regional value.
    element : subscript element of ``variable`` (for example ``"school"``), or ``None``.
    by_type : the value for one county-town type, or ``None`` when the model has no meaningful
        per-type counterpart (the chart then shows the regional value with a note).
    """

    key: str
    variable: str
    element: tuple[str, str] | None = None
    by_type: PerType | None = None


@dataclass(frozen=True)
class ChartDef:
    """A time chart: its catalogue key (``charts.<id>.*``), lines, unit and reference lines."""

    id: str
    series: tuple[Series, ...]
    unit: str
    refs: tuple[Reference, ...] = ()
    band: bool = True

    @property
    def variables(self) -> list[str]:
        """Model variables the chart needs recorded (regional and per-type)."""
        out = [s.variable for s in self.series]
        out += [v for s in self.series if s.by_type for v in _PER_TYPE_INPUTS.get(s.key, ())]
        return list(dict.fromkeys(out))


def _share_of_urban(ds: xr.Dataset, t: str) -> xr.DataArray:
    # The share of the region's urban population living in county towns of type t; the three
    # types add up to the regional county-town share.
    return ds["Town Residents"].sel(Type=t) / ds["Urban Population"] * 100.0


def _childcare(ds: xr.Dataset, t: str) -> xr.DataArray:
    cap = ds["Service Capacity"].sel(Type=t, Svc="childcare")
    return cap / ds["Served Population"].sel(Type=t, Svc="childcare") * 1000.0


def _typed(variable: str, **sel: str) -> PerType:
    return lambda ds, t: ds[variable].sel(Type=t, **sel)


_PER_TYPE_INPUTS: dict[str, tuple[str, ...]] = {
    "county_town_share": ("Town Residents", "Urban Population"),
    "county_gdp": ("County GDP",),
    "transfers_received": ("Transfers Received",),
    "debt_ratio": ("Debt Ratio",),
    **{
        f"adequacy_{s}": ("Service Adequacy",)
        for s in ("school", "hospital", "eldercare", "childcare")
    },
    "childcare_places_per_1000": ("Service Capacity", "Served Population"),
}

SERVICES: tuple[str, ...] = ("school", "hospital", "eldercare", "childcare")

CHARTS: dict[str, ChartDef] = {
    c.id: c
    for c in (
        ChartDef(
            "county_town_share",
            (
                Series("county_town_share", "County Town Share", by_type=_share_of_urban),
                Series("county_town_share_incl_cities", "County Town Share incl Cities"),
            ),
            "%",
            (Reference(30.0, "refs.target_30", per_type=False),),
        ),
        ChartDef(
            "county_gdp",
            (Series("county_gdp", "County Domain GDP", by_type=_typed("County GDP")),),
            "亿元",
            (Reference(12000.0, "refs.target_12000", per_type=False),),
        ),
        ChartDef(
            "citizenized_migrants",
            (Series("citizenized_migrants", "Citizenized Migrants"),),
            "万人",
        ),
        ChartDef(
            "land_quota",
            (
                Series("land_quota_earned", "Land Quota Earned"),
                Series("land_quota_used", "Land Quota Used"),
            ),
            "万亩",
        ),
        ChartDef(
            "transfers_received",
            (
                Series(
                    "transfers_received",
                    "Total Transfers Received",
                    by_type=_typed("Transfers Received"),
                ),
            ),
            "亿元",
        ),
        ChartDef(
            "debt_ratio",
            (Series("debt_ratio", "Regional Debt Ratio", by_type=_typed("Debt Ratio")),),
            "ratio",
            (
                Reference(1.2, "refs.risk_yellow"),
                Reference(2.0, "refs.risk_orange"),
                Reference(3.0, "refs.risk_red"),
            ),
        ),
        ChartDef(
            "service_adequacy",
            tuple(
                Series(
                    f"adequacy_{s}",
                    "Service Adequacy Region",
                    element=("Svc", s),
                    by_type=_typed("Service Adequacy", Svc=s),
                )
                for s in SERVICES
            ),
            "capacity/demand",
            (Reference(1.0, "refs.standard"),),
            band=False,  # four overlapping bands hide each other: lines only
        ),
        ChartDef(
            "childcare_places_per_1000",
            (
                Series(
                    "childcare_places_per_1000",
                    "Childcare Places per Thousand",
                    by_type=_childcare,
                ),
            ),
            "places/1000",
            (Reference(4.5, "refs.target_4_5"),),
        ),
    )
}


def chart_def(name: str) -> ChartDef:
    """The chart ``name`` of :data:`CHARTS`, or a one-line chart of any standard indicator.

    Raises
    ------
    OutputError
        If ``name`` is neither.
    """
    if name in CHARTS:
        return CHARTS[name]
    if name in INDICATORS:
        ind = INDICATORS[name]
        return ChartDef(name, (Series(name, ind.variable),), ind.units)
    raise OutputError(
        f"unknown chart {name!r}; allowed: a chart ({', '.join(CHARTS)}) or a standard "
        f"indicator ({', '.join(i for i in INDICATORS if i not in CHARTS)})"
    )


#: Every model variable the time charts need: record only these (``Model.run(outputs=...)``).
CHART_OUTPUTS: list[str] = list(dict.fromkeys(v for c in CHARTS.values() for v in c.variables))


def series_values(s: Series, ds: xr.Dataset, county_type: str | None) -> tuple[xr.DataArray, bool]:
    """Values of one series, ``(run, time)``; the flag says a regional value stands in for a type.

    Parameters
    ----------
    county_type : ``None`` for the region, or one of :data:`TYPES`.
    """
    typed = s.by_type is not None and all(v in ds for v in _PER_TYPE_INPUTS.get(s.key, ()))
    if county_type is not None and typed:
        return s.by_type(ds, county_type), False
    da = ds[s.variable]
    if s.element:
        da = da.sel({s.element[0]: s.element[1]})
    return da, county_type is not None


@dataclass(frozen=True)
class ChartData:
    """The tidy tables one chart draws.

    Attributes
    ----------
    lines : columns ``year``, ``series``, ``case``, ``value`` (median over runs when a case
        is an ensemble, else its single run).
    band : columns ``year``, ``series``, ``lo``, ``hi`` (5 and 95 % quantiles), or ``None``.
    regional_note : names of the series that show the regional value although a type was
        chosen (the model has no per-type value for them); empty otherwise.
    observed : columns ``year``, ``series``, ``value``: official figures of
        ``model/data/observed.csv`` for the chart's series (regional charts only), or ``None``.
    """

    lines: pd.DataFrame
    band: pd.DataFrame | None
    regional_note: tuple[str, ...]
    observed: pd.DataFrame | None = None

    def to_csv_frame(self, lang: str = "en") -> pd.DataFrame:
        """One wide table for CSV export at whole years: a column per series x case, plus the
        band's 5 and 95 % columns, headed in ``lang``."""
        wide = self.lines.pivot_table(index="year", columns=["series", "case"], values="value")
        wide.columns = [f"{s} | {c}" for s, c in wide.columns]
        if self.band is not None:
            band = self.band.pivot_table(index="year", columns="series", values=["lo", "hi"])
            band.columns = [text(lang, f"charts.csv_{q}", series=s) for q, s in band.columns]
            wide = wide.join(band)
        frame = annual(wide.reset_index(), "year")
        return frame.rename(columns={"year": text(lang, "charts.axis_year")})


def chart_data(
    chart: ChartDef,
    cases: Mapping[str, xr.Dataset],
    lang: str,
    *,
    ensemble: xr.Dataset | None = None,
    county_type: str | None = None,
) -> ChartData:
    """Build the tables of ``chart`` from one Dataset per case.

    Parameters
    ----------
    cases : label -> Dataset (the label is shown in the legend, so translate it); a case of
        several runs is drawn as its median.
    ensemble : Dataset of many runs of the first case; gives the 5-95 % band.
    county_type : ``None`` for regional values, or one of :data:`TYPES`.
    """
    # Columns are gathered as numpy arrays and framed once: this runs on every slider move.
    lines: dict[str, list] = {"year": [], "series": [], "case": [], "value": []}
    note: dict[str, None] = {}
    for case, ds in cases.items():
        years = ds["time"].values
        for s in chart.series:
            da, regional = series_values(s, ds, county_type)
            if regional:
                note[series_label(lang, s.key)] = None
            lines["year"].append(years)
            lines["series"].append(np.full(years.shape, series_label(lang, s.key), object))
            lines["case"].append(np.full(years.shape, case, object))
            lines["value"].append(_center(da))
    band = None
    if ensemble is not None and chart.band:
        cols: dict[str, list] = {"year": [], "series": [], "lo": [], "hi": []}
        years = ensemble["time"].values
        for s in chart.series:
            da, _ = series_values(s, ensemble, county_type)
            lo, hi = _spread(da)
            cols["year"].append(years)
            cols["series"].append(np.full(years.shape, series_label(lang, s.key), object))
            cols["lo"].append(lo)
            cols["hi"].append(hi)
        band = _frame(cols)
    observed = observed_points(chart, lang) if county_type is None else None
    return ChartData(_frame(lines), band, tuple(note), observed)


@lru_cache(maxsize=1)
def _observed_table() -> pd.DataFrame:
    from urbsim.paths import observed_path

    path = observed_path()
    if not path.is_file():
        return pd.DataFrame(columns=["indicator", "year", "value"])
    return pd.read_csv(path)[["indicator", "year", "value"]]


def observed_series(key: str) -> pd.DataFrame:
    """Official figures for a series (columns ``year``, ``value``) from
    ``model/data/observed.csv``: the indicator itself, or the county-town share from the
    county-town and urban populations of the same year."""
    table = _observed_table()
    if key == "county_town_share" and key not in set(table.indicator):
        wide = table.pivot_table(index="year", columns="indicator", values="value")
        if {"county_town_population", "urban_population"} <= set(wide.columns):
            share = wide["county_town_population"] / wide["urban_population"] * 100.0
            return share.dropna().rename("value").reset_index()
    return table.loc[table.indicator == key, ["year", "value"]].reset_index(drop=True)


@lru_cache(maxsize=128)
def observed_points(chart: ChartDef, lang: str) -> pd.DataFrame | None:
    """The observed points of ``chart``'s series (``year``, ``series``, ``value``), or ``None``
    (read once per chart and language: a shared table, not to be modified)."""
    frames = [
        observed_series(s.key).assign(series=series_label(lang, s.key))
        for s in chart.series
        if s.element is None
    ]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def series_label(lang: str, key: str) -> str:
    """Legend name of a series: its ``series.*`` entry, else the indicator's name."""
    return text_or(lang, f"series.{key}", text_or(lang, f"indicators.{key}", key))


def _center(da: xr.DataArray) -> np.ndarray:
    """The line drawn for a case: its run, the median of its runs, or a Monte Carlo median."""
    if "percentile" in da.dims:
        return da.sel(percentile=50).values
    return np.median(da.values, axis=0) if "run" in da.dims else da.values


def _spread(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`BAND` quantiles over runs (or a Monte Carlo result's saved percentiles)."""
    if "percentile" in da.dims:
        return tuple(da.sel(percentile=round(q * 100)).values for q in BAND)
    return tuple(np.quantile(da.values, BAND, axis=0))


def with_vensim_names(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with each standard indicator also under its Vensim name, so that chart series
    find it in a Monte Carlo result: ``<indicator>_runs`` (run, time) when the runs were saved,
    else the percentile bands ``<indicator>`` (percentile, time)."""
    extra = {}
    for name, ind in INDICATORS.items():
        if ind.variable in ds:
            continue
        source = next((v for v in (f"{name}_runs", name) if v in ds), None)
        if source is not None:
            extra[ind.variable] = ds[source]
    return ds.assign(extra) if extra else ds


def _frame(columns: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()})


def _records(frame: pd.DataFrame) -> list[dict]:
    # Plain Python values, built column-wise (DataFrame.to_dict is slow on object columns).
    names = list(frame.columns)
    columns = [frame[c].tolist() for c in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _year_x(field: str, span: tuple[float, float], title: str | None = None) -> alt.X:
    # Every layer carries the same fixed domain, otherwise Vega-Lite unions it with zero.
    return alt.X(
        f"{field}:Q",
        title=title,
        axis=alt.Axis(format="d", tickMinStep=1),
        scale=alt.Scale(domain=list(span), nice=False, zero=False),
    )


def time_chart(
    chart: ChartDef,
    data: ChartData,
    lang: str,
    *,
    county_type: str | None = None,
    width: int | str = "container",
    height: int = 260,
) -> alt.LayerChart:
    """The Vega-Lite chart of one :class:`ChartDef` (not yet configured; see :func:`finish`).

    Layers read named datasets (``lines``, ``band``, ``window``, ``refs``). The layers depend only
    on the chart, the language, the type and the legend entries, so they are built once and
    cached; each call only attaches new data (Altair costs ~0.2 s per chart to build).
    """
    skeleton = _skeleton(*_layout_key(chart, data, lang, county_type, width, height))
    out = skeleton.copy(deep=False)
    out["datasets"] = _datasets(chart, data, lang, county_type)
    return out


def time_spec(
    chart: ChartDef,
    data: ChartData,
    lang: str,
    *,
    county_type: str | None = None,
    width: int | str = "container",
    height: int = 260,
    arrow: bool = False,
) -> dict:
    """The configured Vega-Lite spec of :func:`time_chart` as a dict, built without Altair's
    per-call validation (for the app, which redraws every chart on every slider move).

    ``arrow`` gives the datasets as Arrow tables instead of records: what
    ``st.vega_lite_chart`` sends, without a Python loop over rows.
    """
    skeleton = _skeleton_dict(*_layout_key(chart, data, lang, county_type, width, height))
    return {**skeleton, "datasets": _datasets(chart, data, lang, county_type, arrow)}


def _layout_key(
    chart: ChartDef, data: ChartData, lang: str, county_type: str | None, width, height
) -> tuple:
    """What a chart's cached layers depend on (everything but the data values)."""
    return (
        chart.id,
        lang,
        county_type,
        data.band is not None,
        data.regional_note,
        data.observed is not None,
        _order(data.lines["series"]),
        width,
        height,
        _span(data.lines["year"]),
    )


def _span(years: pd.Series) -> tuple[float, float]:
    """The x-axis range: the saved times, from the first to the last."""
    values = years.to_numpy(dtype=float)
    return (float(np.floor(values.min())), float(np.ceil(values.max())))


def _order(column: pd.Series) -> tuple[str, ...]:
    return tuple(dict.fromkeys(column))


def _refs(chart: ChartDef, county_type: str | None) -> list[Reference]:
    return [r for r in chart.refs if county_type is None or r.per_type]


def _datasets(
    chart: ChartDef, data: ChartData, lang: str, county_type: str | None, arrow: bool = False
) -> dict[str, Any]:
    """The named datasets the layers read: records (JSON-ready), or Arrow tables with
    ``arrow``."""
    out = {
        "lines": data.lines.assign(case_rank=pd.factorize(data.lines["case"])[0]),
        "window": pd.DataFrame(
            {
                "x0": [PLAN_WINDOW[0]],
                "x1": [PLAN_WINDOW[1]],
                "label": text(lang, "charts.plan_window"),
            }
        ),
    }
    if data.band is not None:
        out["band"] = data.band
    if data.observed is not None:
        out["observed"] = data.observed
    refs = _refs(chart, county_type)
    if refs:
        out["refs"] = pd.DataFrame(
            {"value": [r.value for r in refs], "label": [text(lang, r.label) for r in refs]}
        )
    convert = _arrow if arrow else _records
    return {name: convert(frame) for name, frame in out.items()}


def _arrow(frame: pd.DataFrame) -> Any:
    """``frame`` as an Arrow table, built from its columns (pandas' own conversion costs a few
    times more, on every slider move)."""
    import pyarrow as pa

    return pa.table({c: frame[c].to_numpy() for c in frame.columns})


#: Vega's layout of the legends at the bottom of a chart: each under the previous one.
LEGENDS_STACKED = {"bottom": {"anchor": "start", "direction": "vertical"}}


@lru_cache(maxsize=512)
def _skeleton_dict(*key) -> dict:
    spec = finish(_skeleton(*key)).to_dict()
    # Fit the width only: the height is the plot's, so titles and legends add to it instead of
    # squeezing the plot (Streamlit's default for layered charts fits both).
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    # Legends one under another: side by side, the scenario legend ran past a half-width
    # chart's edge and was cut ("Current (The plan as w"). Vega's legend layout; Altair's
    # LegendConfig does not offer it.
    spec["config"]["legend"]["layout"] = LEGENDS_STACKED
    return spec


@lru_cache(maxsize=512)
def _skeleton(
    chart_id: str,
    lang: str,
    county_type: str | None,
    has_band: bool,
    regional_note: tuple[str, ...],
    has_observed: bool,
    series_order: tuple[str, ...],
    width: int | str,
    height: int,
    span: tuple[float, float] = (2020.0, 2035.0),
) -> alt.LayerChart:
    chart = chart_def(chart_id)
    year_title = text(lang, "charts.axis_year")
    value_title = unit(lang, chart.unit)
    series_title = text(lang, "charts.legend_series")
    case_title = text(lang, "charts.legend_case")
    x = _year_x("year", span, year_title)
    color = alt.Color(
        "series:N", title=series_title, sort=list(series_order), scale=alt.Scale(scheme="tableau10")
    )

    tips = [
        alt.Tooltip("year:Q", title=year_title, format=".2f"),
        alt.Tooltip("series:N", title=series_title),
    ]
    window = alt.Chart(alt.NamedData("window"))
    layers: list[alt.Chart] = [
        window.mark_rect(color="#f2c14e", opacity=0.18).encode(x=_year_x("x0", span), x2="x1:Q"),
        window.mark_text(
            align="left", baseline="top", dx=3, dy=3, color="#8a6d1c", fontSize=10
        ).encode(x=_year_x("x0", span), y=alt.value(0), text="label:N"),
    ]
    if has_band:
        layers.append(
            alt.Chart(alt.NamedData("band"))
            .mark_area(opacity=0.22)
            .encode(
                x=x,
                y="lo:Q",
                y2="hi:Q",
                color=color,
                tooltip=[
                    *tips,
                    alt.Tooltip("lo:Q", title=text(lang, "charts.band_lo"), format=",.3~r"),
                    alt.Tooltip("hi:Q", title=text(lang, "charts.band_hi"), format=",.3~r"),
                ],
            )
        )
    layers.append(
        alt.Chart(alt.NamedData("lines"))
        .mark_line(strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=value_title, scale=alt.Scale(zero=False)),
            color=color,
            # cases in the order given (their labels change with the levers, the layout not)
            strokeDash=alt.StrokeDash(
                "case:N", title=case_title, sort=alt.EncodingSortField("case_rank", op="min")
            ),
            tooltip=[
                *tips,
                alt.Tooltip("case:N", title=case_title),
                alt.Tooltip("value:Q", title=value_title, format=",.4~r"),
            ],
        )
    )
    if has_observed:
        layers.append(
            alt.Chart(alt.NamedData("observed"))
            .mark_point(filled=True, size=55, opacity=1, stroke="white", strokeWidth=1)
            .encode(
                x=x,
                y="value:Q",
                color=color,
                tooltip=[
                    *tips,
                    alt.Tooltip("value:Q", title=text(lang, "charts.observed"), format=",.4~r"),
                ],
            )
        )
    if _refs(chart, county_type):
        rules = alt.Chart(alt.NamedData("refs"))
        layers += [
            rules.mark_rule(color="#b22222", strokeDash=[6, 3], strokeWidth=1.2).encode(
                y="value:Q"
            ),
            rules.mark_text(
                align="right", baseline="bottom", dy=-2, color="#b22222", fontSize=10
            ).encode(y="value:Q", x=alt.value("width"), text="label:N"),
        ]
    subtitle = []
    if county_type is not None:
        subtitle.append(text(lang, "charts.type_subtitle", type=text(lang, f"types.{county_type}")))
    if regional_note:
        subtitle.append(
            text(lang, "charts.regional_note", series=text(lang, "charts.and").join(regional_note))
        )
    if has_band:
        subtitle.append(text(lang, "charts.band_note"))
    if has_observed:
        subtitle.append(text(lang, "charts.observed_note"))
    title = alt.TitleParams(
        text_or(lang, f"charts.{chart.id}.title", series_label(lang, chart.id)),
        anchor="start",
        **({"subtitle": subtitle} if subtitle else {}),
    )
    return alt.layer(*layers).properties(title=title, width=width, height=height)


def tornado_chart(frame: pd.DataFrame, lang: str, *, year: int, unit_text: str) -> alt.Chart:
    """A tornado chart of one-at-a-time effects.

    Parameters
    ----------
    frame : columns ``name`` (translated), ``low``, ``high`` (change of the output when the
        parameter sits at the low or high end of its range, in ``unit_text``), ``kind``
        (translated: lever or assumption); the widest swings are drawn on top.
    year : the year the effect is measured in (for the title).
    """
    order = (
        frame.assign(swing=(frame["high"] - frame["low"]).abs())
        .sort_values("swing", ascending=False)["name"]
        .tolist()
    )
    long = frame.melt(
        id_vars=["name", "kind"], value_vars=["low", "high"], var_name="end", value_name="delta"
    )
    long["end"] = long["end"].map(
        {"low": text(lang, "sensitivity.low"), "high": text(lang, "sensitivity.high")}
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            # every bar keeps its name (Vega-Lite drops labels it thinks overlap)
            y=alt.Y(
                "name:N",
                sort=order,
                title=None,
                axis=alt.Axis(labelLimit=320, labelOverlap=False, labelFontSize=11),
            ),
            x=alt.X("delta:Q", title=unit_text),
            color=alt.Color(
                "end:N",
                title=text(lang, "sensitivity.legend_end"),
                scale=alt.Scale(range=["#4c78a8", "#e45756"]),
            ),
            opacity=alt.Opacity(
                "kind:N",
                title=text(lang, "sensitivity.legend_kind"),
                scale=alt.Scale(range=[1.0, 0.55]),
            ),
            tooltip=[
                alt.Tooltip("name:N", title=text(lang, "sensitivity.legend_factor")),
                alt.Tooltip("kind:N", title=text(lang, "sensitivity.legend_kind")),
                alt.Tooltip("end:N", title=text(lang, "sensitivity.legend_end")),
                alt.Tooltip("delta:Q", title=unit_text, format="+.2f"),
            ],
        )
        .properties(
            title=text(lang, "sensitivity.title", year=year), width="container", height=alt.Step(22)
        )
    )


def front_chart(front: Sequence[Mapping], lang: str, *, confidence: float) -> alt.Chart:
    """The cost-probability Pareto front of a goal search (:mod:`urbsim.pathways.optimize`).

    Parameters
    ----------
    front : points with ``cost`` (亿元) and ``p_met`` (0-1), by cost.
    confidence : the required probability, drawn as a rule.
    """
    frame = pd.DataFrame({"cost": [f["cost"] for f in front], "p": [f["p_met"] for f in front]})
    x = alt.X("cost:Q", title=text(lang, "pathways.front_x"), scale=alt.Scale(zero=False))
    y = alt.Y("p:Q", title=text(lang, "pathways.front_y"), axis=alt.Axis(format="%"))
    points = (
        alt.Chart(frame)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=x,
            y=y,
            tooltip=[alt.Tooltip("cost:Q", format=",.0f"), alt.Tooltip("p:Q", format=".0%")],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"p": [confidence]}))
        .mark_rule(strokeDash=[4, 4], color="#e45756")
        .encode(y="p:Q")
    )
    return (points + rule).properties(
        title=text(lang, "pathways.front"), width="container", height=260
    )


def box_chart(box: Any, lang: str, *, title: str) -> alt.Chart:
    """The first PRIM box (:mod:`urbsim.pathways.discover`): for each restricted assumption,
    its full range (grey) and the box's range (blue), on a common 0-1 scale of the full range.
    """
    from urbsim.pathways.discover import label

    rows = []
    for r in box.restrictions:
        width = (r.full_max - r.full_min) or 1.0
        rows.append(
            {
                "name": label(lang, r.name),
                "lo": (r.min - r.full_min) / width,
                "hi": (r.max - r.full_min) / width,
                "range": f"{r.min:.3g} – {r.max:.3g}",
                "p": r.p_value,
            }
        )
    frame = pd.DataFrame(rows)
    y = alt.Y("name:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    full = (
        alt.Chart(frame)
        .mark_bar(color="#d9d9d9", height=14)
        .encode(
            y=y,
            x=alt.X("zero:Q", title=text(lang, "pathways.box_x"), scale=alt.Scale(domain=[0, 1])),
            x2="one:Q",
        )
        .transform_calculate(zero="0", one="1")
    )
    inside = (
        alt.Chart(frame)
        .mark_bar(color="#4c78a8", height=14)
        .encode(
            y=y,
            x="lo:Q",
            x2="hi:Q",
            tooltip=[
                alt.Tooltip("name:N", title=text(lang, "pathways.box_box")),
                alt.Tooltip("range:N", title=text(lang, "pathways.box_range")),
                alt.Tooltip("p:Q", title="p", format=".1e"),
            ],
        )
    )
    return (full + inside).properties(title=title, width="container", height=alt.Step(24))


def finish(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Apply the house style (font, no view border) to a top-level chart."""
    return (
        chart.configure(font=FONT)
        .configure_view(strokeWidth=0)
        .configure_legend(orient="bottom", direction="vertical", labelLimit=0, titleLimit=0)
    )


def footer(lines: list[str], width: int) -> alt.Chart:
    """A small grey text block listing ``lines`` (the export stamp)."""
    frame = pd.DataFrame({"i": range(len(lines)), "line": lines})
    return (
        alt.Chart(frame)
        .mark_text(align="left", baseline="top", fontSize=9, color="#666666")
        .encode(y=alt.Y("i:O", axis=None), x=alt.value(0), text="line:N")
        .properties(width=width, height=12 * len(lines))
    )


def calibration_chart(
    ds: xr.Dataset,
    observed: pd.DataFrame,
    indicators: list[str],
    lang: str,
    years=(2020, 2025),
    band: xr.Dataset | None = None,
) -> alt.FacetChart:
    """The calibrated model (a line per indicator) against the official series (points), with
    the posterior predictive band of an ensemble when ``band`` is given.

    Parameters
    ----------
    ds : a run of the calibrated model (run 0 is drawn).
    observed : ``model/data/observed.csv`` (columns indicator, year, value).
    indicators : standard indicators to draw, one panel each.
    years : the span shown, in years.
    band : a Monte Carlo result (``percentile`` 5/25/75/95 over ``time``): the 5-95 % and
        25-75 % bands are drawn under the line.
    """
    lo, hi = years
    names = {
        i: f"{text(lang, f'indicators.{i}')} ({unit(lang, ds[i].attrs.get('units', ''))})"
        for i in indicators
    }
    lines = []
    for i in indicators:
        da = ds[i].isel(run=0).sel(time=slice(lo, hi))
        lines.append(pd.DataFrame({"panel": names[i], "year": da.time.values, "value": da.values}))
    points = observed[observed.indicator.isin(indicators) & observed.year.between(lo, hi)]
    points = points.assign(panel=points.indicator.map(names))
    model_label, observed_label = (
        text(lang, "calibration.model"),
        text(lang, "calibration.observed"),
    )
    frames = [
        pd.concat(lines).assign(kind=model_label),
        points[["panel", "year", "value"]].assign(kind=observed_label),
    ]
    for i in indicators if band is not None else ():
        b = band[i].sel(time=slice(lo, hi))
        quantiles = {f"p{q}": b.sel(percentile=q).values for q in (5, 25, 75, 95)}
        frames.append(
            pd.DataFrame({"panel": names[i], "year": b.time.values, **quantiles, "kind": "band"})
        )
    data = pd.concat(frames)
    kind = alt.Color(
        "kind:N",
        title=None,
        scale=alt.Scale(domain=[model_label, observed_label], range=["#4c78a8", "#e45756"]),
    )
    x = alt.X("year:Q", title=text(lang, "calibration.year"), axis=alt.Axis(format="d"))
    y = alt.Y("value:Q", title=None, scale=alt.Scale(zero=False))
    base = alt.Chart(data).encode(x=x, y=y, color=kind).properties(width=220, height=150)
    line = base.mark_line().transform_filter(alt.datum.kind == model_label)
    dots = (
        base.mark_point(filled=True, size=60)
        .encode(tooltip=["year:Q", "value:Q"])
        .transform_filter(alt.datum.kind == observed_label)
    )
    layers = [line, dots]
    if band is not None:
        areas = base.transform_filter(alt.datum.kind == "band")
        outer = areas.mark_area(opacity=0.15).encode(
            y="p5:Q", y2="p95:Q", color=alt.value("#4c78a8")
        )
        inner = areas.mark_area(opacity=0.3).encode(
            y="p25:Q", y2="p75:Q", color=alt.value("#4c78a8")
        )
        layers = [outer, inner, *layers]
    return (
        alt.layer(*layers)
        .facet(facet=alt.Facet("panel:N", title=None), columns=3)
        .resolve_scale(y="independent")
        .properties(title=text(lang, "calibration.title"))
    )


#: A multi-run Dataset of at most this many runs is drawn as one line per run (a sweep);
#: more runs are an ensemble, drawn as the median with the 5-95 % band.
MAX_LINES = 8


def run_labels(ds: xr.Dataset, lang: str) -> list[str]:
    """A legend name per run: the inputs that differ between runs (``name = value``), or the
    run number when none does."""
    varying = []
    for name, da in ds.data_vars.items():
        if da.attrs.get("role") != "input" or da.dims[:1] != ("run",):
            continue
        flat = da.values.reshape(da.sizes["run"], -1)
        if not np.all(flat == flat[:1]):
            varying.append(name)
    labels = []
    for i in range(ds.sizes["run"]):
        parts = [
            f"{text_or(lang, f'levers.{slug(n)}', n)} = {_short(ds[n].values[i])}" for n in varying
        ]
        labels.append("; ".join(parts) or text(lang, "charts.run_label", run=int(ds.run.values[i])))
    return labels


def _short(value: np.ndarray) -> str:
    flat = np.ravel(value)
    return ", ".join(f"{v:g}" for v in flat)


def plot(
    ds: xr.Dataset,
    chart: str = "county_town_share",
    *,
    lang: str = "en",
    county_type: str | None = None,
    baseline: xr.Dataset | None = None,
) -> alt.VConcatChart:
    """One chart of a result, stamped like the exports; the one call a notebook needs.

    Parameters
    ----------
    ds : a run (``Model.run``), a multi-run Dataset (up to :data:`MAX_LINES` runs drawn as
        one line each, labelled by the inputs that differ; more as the median with the 5-95 %
        band), or a Monte Carlo result (``run_montecarlo``: its median and 5-95 % band).
    chart : a chart of :data:`CHARTS` or any standard indicator (``"county_gdp"`` ...).
    lang : ``"en"`` or ``"zh"``.
    county_type : one of :data:`TYPES` for that type's values (regional series say so).
    baseline : another result drawn as a dashed comparison line.

    Returns
    -------
    altair.VConcatChart
        The chart above its provenance stamp; ``.save("x.png")`` or display it.

    Example
    -------
    >>> ds = urbsim.load_model().run(urbsim.load_scenario("plan"))   # doctest: +SKIP
    >>> urbsim.plot(ds, "county_town_share", lang="zh")              # doctest: +SKIP
    """
    from urbsim import export

    data, drawn = result_chart(ds, chart, lang=lang, county_type=county_type, baseline=baseline)
    spec = export.stamped_spec(drawn, export.Stamp.from_attrs(ds.attrs), lang)
    return alt.VConcatChart.from_dict(spec)


def result_chart(
    ds: xr.Dataset,
    chart: str,
    *,
    lang: str,
    county_type: str | None = None,
    baseline: xr.Dataset | None = None,
) -> tuple[ChartData, alt.LayerChart]:
    """The tables and the (unstamped) chart :func:`plot` draws for a result."""
    if county_type is not None and county_type not in TYPES:
        raise OutputError(f"unknown county type {county_type!r}; allowed: {', '.join(TYPES)}")
    cdef = chart_def(chart)
    ds = with_vensim_names(ds)
    name = str(ds.attrs.get("scenario", "")) or "—"
    runs = ds.sizes.get("run", 1)
    ensemble = ds if "percentile" in ds.dims or runs > MAX_LINES else None
    if ensemble is None and runs > 1:
        cases = {label: ds.isel(run=[i]) for i, label in enumerate(run_labels(ds, lang))}
    else:
        cases = {text(lang, "charts.case_current", name=name): ds}
    if baseline is not None:
        cases[text(lang, "charts.case_baseline")] = with_vensim_names(baseline)
    missing = [s.variable for s in cdef.series if s.variable not in ds]
    if missing:
        raise OutputError(
            f"the result has no {', '.join(repr(m) for m in missing)} for chart {chart!r} "
            "(run it with those outputs, or save all variables)"
        )
    data = chart_data(cdef, cases, lang, ensemble=ensemble, county_type=county_type)
    return data, time_chart(cdef, data, lang, county_type=county_type)
