"""Chart and data exports: PNG and SVG through vl-convert, CSV through pandas, each stamped.

Every exported chart carries a footer stamp (the scenario, the levers changed, the short model
hash, the seed and the date) so a figure pasted into a report can be traced back to its run; a
CSV table carries the same record in a sidecar ``NAME.meta.json`` (:mod:`urbsim.tables`).

Chinese text needs a CJK font on the machine that renders it; without one vl-convert draws
boxes (□). :func:`require_cjk_font` checks first and raises :class:`~urbsim.errors.OutputError`
with the remedy instead of writing such a file.

Example
-------
>>> stamp = Stamp(scenario="plan", changed={}, model_sha256="d6b935f6...", seed=2023,
...               date="2025-01-01")
>>> png = chart_png(chart, stamp, "en")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from urbsim import __version__
from urbsim.charts import finish, footer
from urbsim.errors import OutputError
from urbsim.i18n import constant_name, text
from urbsim.tables import csv_text

#: Width of exported charts, in CSS pixels (the app draws charts at container width instead).
EXPORT_WIDTH = 640
_CJK_RE = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    str(Path.home() / ".fonts"),
    str(Path.home() / ".local/share/fonts"),
)
CJK_FONT_NAMES = re.compile(
    r"(notosanscjk|notoserifcjk|sourcehan|wqy|wenquanyi|droidsansfallback"
    r"|simhei|simsun|msyh|pingfang)",
    re.I,
)


@dataclass(frozen=True)
class Stamp:
    """Where an exported figure or table came from.

    Attributes
    ----------
    scenario : scenario name (or title).
    changed : parameters that differ from the scenario's preset, ``{name: value}``.
    model_sha256 : sha256 of the `.mdl` (shown shortened to 12 characters).
    seed : seed of the uncertainty ensemble, or ``None`` if no ensemble was drawn.
    date : ISO date of the export.
    varied : number of inputs that differ between the runs drawn (an ensemble), or 0.
    """

    scenario: str
    changed: dict[str, Any] = field(default_factory=dict)
    model_sha256: str = ""
    seed: int | None = None
    date: str = ""
    varied: int = 0

    def lines(self, lang: str, width: int = 110) -> list[str]:
        """The stamp as short lines of text (levers wrapped to ``width`` characters)."""
        changed = "; ".join(
            f"{constant_name(lang, k)} = {_fmt(v)}" for k, v in self.changed.items()
        )
        head = text(
            lang,
            "export.stamp",
            scenario=self.scenario,
            model=self.model_sha256[:12],
            seed="—" if self.seed is None else self.seed,
            date=self.date,
        )
        body = text(lang, "export.stamp_levers", levers=changed or text(lang, "export.none"))
        if self.varied:
            body += "; " + text(lang, "export.stamp_varied", count=self.varied)
        return [head, *_wrap(body, width)]

    @classmethod
    def from_attrs(cls, attrs: Any) -> Stamp:
        """The stamp of a result, from its provenance attrs (dated today)."""
        changed = attrs.get("parameters_changed", "{}")
        changed = json.loads(changed) if isinstance(changed, str) else dict(changed)
        # A per-run input is recorded as {"runs": n, "min": ..., "max": ...}: count, not list.
        per_run = [k for k, v in changed.items() if isinstance(v, dict) and "runs" in v]
        seed = attrs.get("seed")
        return cls(
            scenario=str(attrs.get("scenario", "")),
            changed={k: v for k, v in changed.items() if k not in per_run},
            varied=len(per_run),
            model_sha256=str(attrs.get("model_sha256", "")),
            seed=None if seed is None else int(seed),
            date=dt.date.today().isoformat(),
        )

    def meta(self) -> dict[str, Any]:
        """The stamp as a provenance record (a CSV's ``NAME.meta.json``, an xlsx sheet)."""
        return {
            "scenario": self.scenario,
            "parameters_changed": dict(self.changed),
            "model_sha256": self.model_sha256,
            "seed": self.seed,
            "date": self.date,
            "urbsim_version": __version__,
        }


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v:g}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _wrap(line: str, width: int) -> list[str]:
    out: list[str] = []
    while len(line) > width:
        cut = line.rfind("; ", 0, width)
        cut = cut + 1 if cut > 0 else width
        out.append(line[:cut].rstrip())
        line = "  " + line[cut:].lstrip()
    return [*out, line]


@cache
def cjk_font_path() -> str | None:
    """A CJK font file on this machine, or ``None`` (asks fontconfig, then scans font dirs)."""
    if shutil.which("fc-list"):
        try:
            found = subprocess.run(
                ["fc-list", ":lang=zh", "file"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            found = ""
        for line in found.splitlines():
            if line.strip():
                return line.split(":")[0].strip()
    for root in _FONT_DIRS:
        for dirpath, _, files in os.walk(root):
            for name in files:
                if CJK_FONT_NAMES.search(name):
                    return os.path.join(dirpath, name)
    return None


def needs_cjk(strings: list[str]) -> bool:
    """Whether any of ``strings`` contains Chinese characters."""
    return any(_CJK_RE.search(s) for s in strings)


def require_cjk_font(strings: list[str]) -> None:
    """Raise :class:`OutputError` if ``strings`` hold Chinese text and no CJK font is installed."""
    if needs_cjk(strings) and cjk_font_path() is None:
        raise OutputError(
            "cannot render Chinese text: no CJK font is installed (install Debian's "
            "fonts-noto-cjk, or put a Noto Sans CJK / WenQuanYi font in ~/.fonts) — the export "
            "would show boxes instead of characters"
        )


def _spec_strings(spec: Any) -> list[str]:
    if isinstance(spec, dict):
        return [s for v in spec.values() for s in _spec_strings(v)]
    if isinstance(spec, list):
        return [s for v in spec for s in _spec_strings(v)]
    return [spec] if isinstance(spec, str) else []


def stamped_spec(chart: alt.TopLevelMixin, stamp: Stamp, lang: str) -> dict:
    """The Vega-Lite spec of ``chart`` at export width with the stamp as a footer.

    Composed at the dict level: the chart's named datasets must move to the top of the
    vertical concatenation, which Altair does not do for a chart that already carries them.
    """
    # Composite charts (facets) size their own panels; single views take the export width.
    sized = chart if isinstance(chart, alt.FacetChart) else chart.properties(width=EXPORT_WIDTH)
    inner = sized.to_dict()
    foot = finish(footer(stamp.lines(lang), EXPORT_WIDTH)).to_dict()
    spec = {
        "$schema": foot.pop("$schema"),
        "config": foot.pop("config"),
        "datasets": {**inner.pop("datasets", {}), **foot.pop("datasets", {})},
        "spacing": 12,
        "vconcat": [{k: v for k, v in inner.items() if k not in ("$schema", "config")}, foot],
    }
    require_cjk_font(_spec_strings(spec))
    return spec


def chart_png(chart: alt.TopLevelMixin, stamp: Stamp, lang: str, scale: float = 2.0) -> bytes:
    """PNG bytes of ``chart`` with its footer stamp."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(stamped_spec(chart, stamp, lang), scale=scale)


def chart_svg(chart: alt.TopLevelMixin, stamp: Stamp, lang: str) -> str:
    """SVG text of ``chart`` with its footer stamp."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(stamped_spec(chart, stamp, lang))


def table_csv(frame: pd.DataFrame) -> str:
    """CSV text of a chart's table as every urbsim CSV is written (see :mod:`urbsim.tables`):
    ``pandas.read_csv`` and Excel read it without options; the stamp goes to a sidecar."""
    return csv_text(frame)
