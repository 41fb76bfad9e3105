"""The tables the command line prints, in English or Chinese, aligned by display width.

``urbsim run`` prints :func:`target_table` (one run) and ``urbsim mc`` prints
:func:`mc_table` (an ensemble); both name indicators and units from :mod:`urbsim.i18n`, format
numbers with :func:`format_number` and align columns by terminal display width (a Chinese
character takes two columns, see :func:`display_width`).

Example
-------
>>> format_number(13067.8), format_number(24.853), format_number(1.0834)
('13,068', '24.9', '1.08')
>>> display_width("县城 share")
10
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import xarray as xr
from wcwidth import wcswidth

from urbsim.i18n import text, unit
from urbsim.indicators import INDICATORS, TARGETS, UNREPRESENTED, value_at

#: Years of the run table after the target year.
REPORT_YEARS = (2025, 2030, 2035)


def format_number(x: float) -> str:
    """A value as both tables print it: thousands separators from 1,000, one decimal from 10,
    three significant digits below; ``n/a`` when not finite."""
    if not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def format_share(p: float) -> str:
    """A probability as a percentage with one decimal (``"42.0%"``)."""
    return f"{100 * p:.1f}%"


def display_width(s: str) -> int:
    """Columns ``s`` takes in a terminal (East Asian wide characters count two)."""
    width = wcswidth(s)
    return width if width >= 0 else len(s)


def align(rows: Sequence[Sequence[str]], right_from: int) -> list[str]:
    """Rows of cells as lines, columns padded to a common display width; columns from index
    ``right_from`` on are right-aligned (numbers)."""
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for i, (cell, w) in enumerate(zip(row, widths, strict=True)):
            fill = " " * (w - display_width(cell))
            cells.append(fill + cell if i >= right_from else cell + fill)
        lines.append("  ".join(cells).rstrip())
    return lines


def goal_text(lang: str, target_id: str) -> str:
    """A target's goal as written in tables: ``≥ 12,000`` or ``≈ 30 (± 0.5)``."""
    t = TARGETS[target_id]
    value = f"{t.value:,g}"
    if t.comparison == ">=":
        return text(lang, "scorecard.at_least", value=value)
    return text(lang, "scorecard.about", value=value, tol=f"{t.tolerance:g}")


def _label(lang: str, indicator: str) -> tuple[str, str]:
    return text(lang, f"indicators.{indicator}"), unit(lang, INDICATORS[indicator].units)


def target_order(target_id: str) -> tuple[int, str]:
    """Sort key of a target id in the plan's order: T2 < T2b < T10."""
    digits = re.match(r"T(\d+)", target_id)
    return (int(digits.group(1)) if digits else 10**6, target_id)


def _targets() -> list[str]:
    return sorted(TARGETS, key=target_order)


def _unrepresented(lang: str) -> str:
    ids = ", ".join(sorted(UNREPRESENTED, key=target_order))
    return text(lang, "report.unrepresented", count=len(UNREPRESENTED), ids=ids)


def target_table(ds: xr.Dataset, lang: str = "en") -> str:
    """The plan's represented targets for one run: 2025 value, target, met?, 2030 and 2035."""
    rows = [
        [
            text(lang, "report.id"),
            text(lang, "report.indicator"),
            text(lang, "report.unit"),
            str(REPORT_YEARS[0]),
            text(lang, "report.target"),
            text(lang, "report.met"),
            *map(str, REPORT_YEARS[1:]),
        ]
    ]
    for tid in _targets():
        target = TARGETS[tid]
        da = ds[target.indicator]
        values = {y: float(value_at(da, y).mean()) for y in REPORT_YEARS}
        met = bool(np.all(target.is_met(value_at(da, target.year).values)))
        rows.append(
            [
                tid,
                *_label(lang, target.indicator),
                format_number(values[REPORT_YEARS[0]]),
                goal_text(lang, tid),
                text(lang, "report.yes" if met else "report.no"),
                *(format_number(values[y]) for y in REPORT_YEARS[1:]),
            ]
        )
    notes = [text(lang, "report.t2_definitions"), _unrepresented(lang)]
    return "\n".join([*align(rows, right_from=3), *notes])


def mc_table(ds: xr.Dataset, lang: str = "en") -> str:
    """The per-target table of a Monte Carlo result: P(met) in each target year with its 95 %
    interval, and the 5th / 50th / 95th percentiles of the indicator in 2025."""
    if "p_met" not in ds:
        return text(lang, "report.no_targets")
    head = text(
        lang,
        "report.mc_head",
        runs=ds.attrs.get("runs"),
        sampler=ds.attrs.get("sampler"),
        seed=ds.attrs.get("seed"),
        scenario=ds.attrs.get("scenario"),
    )
    ensemble = str(ds.attrs.get("ensemble", ""))
    if ensemble:
        kind = "posterior" if ensemble.startswith("posterior") else "prior"
        head += text(lang, f"report.ensemble_{kind}")
    years = [int(y) for y in ds.year.values]
    rows = [
        [
            text(lang, "report.id"),
            text(lang, "report.indicator"),
            text(lang, "report.unit"),
            text(lang, "report.target"),
            *(text(lang, "report.p_met", year=y) for y in years),
            text(lang, "report.percentiles", year=REPORT_YEARS[0]),
        ]
    ]
    for tid in ds.target.values:
        ind = str(ds.target_indicator.sel(target=tid).values)
        cells = []
        for year in years:
            sel = {"target": tid, "year": year}
            p, lo, hi = (float(ds[v].sel(sel)) for v in ("p_met", "p_met_low", "p_met_high"))
            cells.append(f"{format_share(p)} [{format_share(lo)}–{format_share(hi)}]")
        q = value_at(ds[ind], REPORT_YEARS[0])
        pct = " / ".join(format_number(float(q.sel(percentile=p))) for p in (5, 50, 95))
        rows.append([str(tid), *_label(lang, ind), goal_text(lang, str(tid)), *cells, pct])
    return "\n".join([head, *align(rows, right_from=4)])
