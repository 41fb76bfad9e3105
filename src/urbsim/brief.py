"""A briefing document in one call: Word (python-docx) or PDF (fpdf2, CJK font embedded).

:func:`build_brief` runs a scenario and its uncertainty ensemble and gathers what a briefing
needs: title and description, the target scorecard (2025 value, target, met, P(met) with its
95 % Wilson interval and the ensemble it came from), the key charts as PNG images (county-town
share with its band, county GDP, citizenization, land quota, transfers), the levers that differ
from the plan, and the provenance stamp. :func:`write_brief` writes it as ``.docx`` or ``.pdf``;
``urbsim brief`` and the app's download button both use it.

Example
-------
>>> brief = build_brief(urbsim.load_scenario("plan"), "zh")   # doctest: +SKIP
>>> write_brief(brief, Path("brief.docx"))                    # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from urbsim import export
from urbsim.app.compute import (
    BASELINE,
    ENSEMBLE_SIZE,
    headline,
    scorecard_frame,
    scorecard_table,
    simulate_case,
    simulate_live,
)
from urbsim.charts import CHARTS, chart_data, time_chart
from urbsim.errors import OutputError
from urbsim.fileio import check_folder, write_atomic
from urbsim.i18n import constant_name, constant_unit, text
from urbsim.model import Model
from urbsim.scenarios import Scenario, load_scenario

#: Charts of a brief, in order.
BRIEF_CHARTS: tuple[str, ...] = (
    "county_town_share",
    "county_gdp",
    "citizenized_migrants",
    "land_quota",
    "transfers_received",
)
#: Scenario whose lever values the brief compares against.
REFERENCE = "plan"
#: Formats :func:`write_brief` writes.
BRIEF_SUFFIXES = (".docx", ".pdf")


@dataclass(frozen=True)
class Brief:
    """Everything a briefing document shows, already in its language.

    Attributes
    ----------
    lang : ``"en"`` or ``"zh"``.
    title, description : the scenario's, in ``lang``.
    headline : the sentence that answers the plan's 30 % question (as on the app's first screen).
    scorecard : header row then one row of text cells per target.
    ensemble_note : which ensemble the probabilities come from (runs, sampler, seed).
    charts : ``(caption, PNG bytes)`` per chart, each stamped.
    levers : ``(lever, this scenario, the plan, unit)`` for each lever that differs from the plan.
    stamp : the provenance lines.
    """

    lang: str
    title: str
    description: str
    headline: str
    scorecard: list[list[str]]
    ensemble_note: str
    charts: list[tuple[str, bytes]] = field(default_factory=list)
    levers: list[tuple[str, str, str, str]] = field(default_factory=list)
    stamp: list[str] = field(default_factory=list)


def _fmt(value: Any) -> str:
    flat = np.ravel(np.asarray(value, dtype=float))
    return ", ".join(f"{v:,.4g}" for v in flat)


def lever_differences(
    model: Model, scenario: Scenario, lang: str
) -> list[tuple[str, str, str, str]]:
    """Levers whose value in ``scenario`` differs from the plan's: ``(name, value, plan, unit)``."""
    _, mine, _ = model.prepare(scenario, 1)
    _, plan, _ = model.prepare(load_scenario(REFERENCE), 1)
    rows = []
    for group in model.info.levers().values():
        for c in group:
            a, b = mine.get(c.name, c.default), plan.get(c.name, c.default)
            if not np.allclose(a, b):
                unit_text = constant_unit(lang, c.name, c.units)
                rows.append((constant_name(lang, c.name), _fmt(a), _fmt(b), unit_text))
    return rows


def build_brief(
    scenario: Scenario,
    lang: str,
    *,
    model: Model | None = None,
    seed: int | None = None,
    n: int = ENSEMBLE_SIZE,
    changed: Mapping[str, Any] | None = None,
) -> Brief:
    """Run ``scenario`` (and its ``n``-run ensemble drawn with ``seed``) and gather a brief.

    Parameters
    ----------
    changed : parameters that differ from the scenario's preset (for the stamp).
    """
    import urbsim
    from urbsim.app.state import DEFAULT_SEED
    from urbsim.ensemble.sampling import check_n

    model = model or urbsim.load_model()
    seed = DEFAULT_SEED if seed is None else seed
    single, ensemble = simulate_live(model, scenario, seed, n=check_n(n))
    score = scorecard_frame(single, ensemble)
    table = scorecard_table(score, lang, interval=True)
    cases = {
        text(lang, "charts.case_current", name=scenario.title.get(lang, scenario.name)): single
    }
    baseline = None
    if scenario.name != BASELINE:
        baseline = simulate_case(model, load_scenario(BASELINE))
        cases[text(lang, "charts.case_baseline")] = baseline
    stamp = export.Stamp(
        scenario=scenario.name,
        changed=dict(changed or {}),
        model_sha256=model.sha256,
        seed=seed,
        date=dt.date.today().isoformat(),
    )
    charts = []
    for chart_id in BRIEF_CHARTS:
        chart = CHARTS[chart_id]
        data = chart_data(chart, cases, lang, ensemble=ensemble)
        png = export.chart_png(time_chart(chart, data, lang), stamp, lang, scale=1.5)
        charts.append((text(lang, f"charts.{chart_id}.title"), png))
    return Brief(
        lang=lang,
        title=scenario.title.get(lang, scenario.name),
        description=scenario.description.get(lang, ""),
        headline=headline(score, baseline, lang),
        scorecard=[list(table.columns), *table.astype(str).values.tolist()],
        ensemble_note=text(lang, "brief.ensemble", runs=n, seed=seed),
        charts=charts,
        levers=lever_differences(model, scenario, lang),
        stamp=stamp.lines(lang, width=90),
    )


def docx_bytes(brief: Brief) -> bytes:
    """The brief as a Word document."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Noto Sans CJK SC"
    style.font.size = Pt(10)
    # East-Asian text takes the eastAsia font of the run properties, not the Latin one.
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    lang = brief.lang
    doc.add_heading(brief.title, level=0)
    if brief.description:
        doc.add_paragraph(brief.description)
    doc.add_paragraph().add_run(brief.headline).bold = True
    doc.add_heading(text(lang, "brief.scorecard"), level=1)
    rows = brief.scorecard
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            table.cell(i, j).text = cell
            if i == 0:
                for run in table.cell(i, j).paragraphs[0].runs:
                    run.bold = True
    doc.add_paragraph(brief.ensemble_note)
    doc.add_heading(text(lang, "brief.charts"), level=1)
    for i, (caption, png) in enumerate(brief.charts, 1):
        doc.add_picture(io.BytesIO(png), width=Cm(16))
        doc.add_paragraph(text(lang, "brief.figure", number=i, caption=caption))
    doc.add_heading(text(lang, "brief.levers"), level=1)
    if brief.levers:
        head = [text(lang, f"brief.{k}") for k in ("lever", "value", "plan", "unit")]
        lt = doc.add_table(rows=len(brief.levers) + 1, cols=4)
        lt.style = "Table Grid"
        for i, row in enumerate([head, *brief.levers]):
            for j, cell in enumerate(row):
                lt.cell(i, j).text = cell
    else:
        doc.add_paragraph(text(lang, "brief.no_levers"))
    doc.add_heading(text(lang, "brief.provenance"), level=1)
    for line in brief.stamp:
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@cache
def _cjk_face() -> tuple[str, int]:
    """The regular Simplified Chinese font face: its file and its index in a collection."""
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{file}\n%{index}", "sans-serif:lang=zh-cn:style=Regular"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            found = []
        if len(found) == 2 and _covers_chinese(found[0]):
            return found[0], int(found[1] or 0)
    path = export.cjk_font_path()
    if path is None:
        raise OutputError(
            "cannot write a PDF brief: no CJK font is installed (install Debian's "
            "fonts-noto-cjk, or put a Noto Sans CJK / WenQuanYi font in ~/.fonts)"
        )
    return path, 0


def _covers_chinese(path: str) -> bool:
    """Whether the font file fontconfig chose is one :func:`export.cjk_font_path` accepts."""
    return bool(export.CJK_FONT_NAMES.search(Path(path).name))


def pdf_bytes(brief: Brief) -> bytes:
    """The brief as a PDF with the CJK font embedded (subset), A4 portrait."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    path, index = _cjk_face()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("cjk", "", path, collection_font_number=index)
    pdf.add_page()
    lang = brief.lang
    width = pdf.epw

    def heading(words: str, size: float) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(width, size * 0.55, words, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    def body(words: str, size: float = 9.5) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(width, size * 0.5, words, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    heading(brief.title, 18)
    if brief.description:
        body(brief.description)
    body(brief.headline, 11)
    heading(text(lang, "brief.scorecard"), 13)
    pdf.set_font("cjk", size=8)
    bold = FontFace(emphasis=None, fill_color=(230, 236, 245))
    with pdf.table(col_widths=(44, 20, 22, 16, 26), headings_style=bold, line_height=4.2) as t:
        for row in brief.scorecard:
            cells = t.row()
            for j, cell in enumerate(row):
                if j != 1:  # the plan's article number is in the Word table only
                    cells.cell(cell.replace("✗", "×"))  # Noto Sans CJK has no U+2717
    pdf.ln(1)
    body(brief.ensemble_note, 8.5)
    for _, png in brief.charts:  # each image carries its own title
        if pdf.get_y() > pdf.h - 110:
            pdf.add_page()
        pdf.image(io.BytesIO(png), w=width)
        pdf.ln(2)
    pdf.add_page()
    heading(text(lang, "brief.levers"), 13)
    if brief.levers:
        pdf.set_font("cjk", size=8.5)
        head = [text(lang, f"brief.{k}") for k in ("lever", "value", "plan", "unit")]
        with pdf.table(col_widths=(50, 20, 20, 30), headings_style=bold, line_height=4.5) as t:
            for row in [head, *brief.levers]:
                cells = t.row()
                for cell in row:
                    cells.cell(cell)
    else:
        body(text(lang, "brief.no_levers"))
    pdf.ln(2)
    heading(text(lang, "brief.provenance"), 13)
    for line in brief.stamp:
        body(line, 8)
    return bytes(pdf.output())


def brief_bytes(brief: Brief, suffix: str) -> bytes:
    """The brief as ``.docx`` or ``.pdf`` bytes."""
    return docx_bytes(brief) if suffix == ".docx" else pdf_bytes(brief)


def check_brief_path(out: Path) -> str:
    """The format of ``out`` (``.docx`` or ``.pdf``), or a one-line :class:`OutputError`."""
    suffix = out.suffix.lower()
    if suffix not in BRIEF_SUFFIXES:
        raise OutputError(
            f"--out {out}: unknown format {suffix or '(none)'}; allowed: "
            f"{', '.join(BRIEF_SUFFIXES)}"
        )
    check_folder(out)
    return suffix


def write_brief(brief: Brief, out: Path) -> None:
    """Write ``brief`` to ``out`` (.docx or .pdf) atomically."""
    write_atomic(out, brief_bytes(brief, check_brief_path(out)))


def add_commands(subparsers: Any) -> None:
    """Add ``brief`` to an ``argparse`` subparsers object (see :mod:`urbsim.cli`)."""
    from urbsim.app.cli import add_scenario_options

    p = subparsers.add_parser(
        "brief",
        help="write a briefing document (Word or PDF) for a scenario",
        description="Run a scenario and its uncertainty ensemble and write a briefing: title "
        "and description, the target scorecard with P(met), the key charts, the levers that "
        "differ from the plan and the provenance stamp.",
    )
    p.add_argument("--out", type=Path, required=True, help="FILE.docx (Word) or FILE.pdf")
    add_scenario_options(p)
    p.set_defaults(func=run_brief)


def run_brief(args: Any) -> int:
    """Handler of ``urbsim brief``."""
    import urbsim
    from urbsim.app.cli import scenario_from_args
    from urbsim.fileio import check_new

    check_brief_path(args.out)
    check_new(args.out, args.force)
    model = urbsim.load_model()
    scenario, overrides, n, seed = scenario_from_args(args, model)
    brief = build_brief(scenario, args.lang, model=model, seed=seed, n=n, changed=overrides)
    write_brief(brief, args.out)
    print(args.out)
    return 0
