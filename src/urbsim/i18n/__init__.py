"""Every user-facing string of the app, the charts and the exports, in English and Chinese.

One TOML catalogue per language (``en.toml``, ``zh.toml``) holds labels, units, tooltips, chart
titles and axes, lever group names, target and indicator names. Code asks for a string by its
dotted key; a key missing from a catalogue is a bug, so :func:`text` raises ``KeyError`` rather
than showing the key to a user (the tests check that both catalogues have the same keys).

Example
-------
>>> text("zh", "app.title")
'内蒙古县城城镇化政策实验室'
>>> text("en", "scorecard.prob", p=80)
'80 %'
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "zh")
_HERE = Path(__file__).resolve().parent


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All strings of one language, by dotted key (``"charts.county_gdp.title"``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(LANGUAGES)}")
    with open(_HERE / f"{lang}.toml", "rb") as fh:
        return _flatten(tomllib.load(fh))


def text(lang: str, key: str, **fields: Any) -> str:
    """The string ``key`` in ``lang``, with ``{field}`` placeholders filled from ``fields``."""
    template = catalogue(lang)[key]
    return template.format(**fields) if fields else template


def has(lang: str, key: str) -> bool:
    """Whether the catalogue of ``lang`` has ``key``."""
    return key in catalogue(lang)


def slug(name: str) -> str:
    """Catalogue key for a model name: ``"Jobs & industry"`` -> ``"jobs_industry"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def text_or(lang: str, key: str, fallback: str) -> str:
    """The string ``key`` in ``lang``, or ``fallback`` (for names the model may add later,
    such as a new lever: the app then shows its Vensim name rather than failing)."""
    return text(lang, key) if has(lang, key) else fallback


def unit(lang: str, units: str) -> str:
    """A model or indicator unit as readers of ``lang`` write it (falls back to the raw unit)."""
    key = f"units.{units}"
    return text(lang, key) if has(lang, key) else units
