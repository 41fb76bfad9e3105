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


_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}


def chinese_number(numeral: str) -> int:
    """A Chinese numeral below 100 (``三十二`` -> 32), as the plan numbers its articles."""
    tens, ten, units = numeral.partition("十")
    if not ten:
        return _DIGITS[numeral]
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0)


def article(lang: str, label: str) -> str:
    """A plan article as readers of ``lang`` cite it: ``(三十二)`` stays in Chinese and is
    ``art. 32`` in English."""
    if lang == "zh":
        return label
    return "art. " + str(chinese_number(label.strip("()（）")))


@cache
def constants_catalogue() -> dict[str, dict[str, str]]:
    """``constants.toml``: Chinese documentation, names and readable units of the levers and
    uncertain assumptions, by catalogue slug of the Vensim name."""
    with open(_HERE / "constants.toml", "rb") as fh:
        return tomllib.load(fh)


def _constant(name: str) -> dict[str, str]:
    return constants_catalogue().get(slug(name), {})


def constant_name(lang: str, name: str) -> str:
    """A lever's or assumption's name in ``lang`` (the Vensim name when none is catalogued)."""
    if has(lang, f"levers.{slug(name)}"):
        return text(lang, f"levers.{slug(name)}")
    return _constant(name).get("name", name) if lang == "zh" else name


def constant_doc(lang: str, name: str, english: str) -> str:
    """The documentation of a constant in ``lang``: the model's own comment (``english``) in
    English; in Chinese the catalogued text, or the English one marked as such (visibly, so a
    constant the model adds later is never silently untranslated)."""
    if lang == "en":
        return english
    doc = _constant(name).get(lang)
    return doc if doc else f"{english} {text(lang, 'app.doc_note')}"


def constant_unit(lang: str, name: str, units: str) -> str:
    """The unit of a constant as a reader of ``lang`` writes it: the catalogued reading of a
    dimensionless lever ("debt / fiscal capacity"), else the model unit translated."""
    return _constant(name).get(f"unit_{lang}") or unit(lang, units)


def error_text(lang: str, exc: Exception) -> str:
    """The one-line message of ``exc`` in ``lang``: an error with a catalogue key
    (:class:`urbsim.errors.UrbsimError`) is worded from ``errors.<key>``, with the constant it
    names (field ``name``) by its name in ``lang`` and its unit as readers of ``lang`` write it;
    any other error keeps its English text."""
    key = getattr(exc, "key", None)
    if key is None:
        return str(exc)
    fields = dict(exc.fields)
    name = fields.get("name")
    if name is not None:
        local = constant_name(lang, name)
        if lang == "en":
            fields["label"] = repr(name)
        else:
            fields["label"] = f"“{name}”" if local == name else f"“{local}”（{name}）"
            if "units" in fields:
                fields["units"] = constant_unit(lang, name, fields["units"])
    if "detail" in fields:  # tomllib's English words
        fields["detail"] = text_or(lang, f"errors.toml.{slug(fields['detail'])}", fields["detail"])
    if "got_shape" in fields:
        fields["got"] = text(lang, "errors.got_shape", shape=fields["got_shape"])
    message = text(lang, f"errors.{key}", **fields)
    where = exc.where
    if not where:
        return message
    return f"{where}：{message}" if lang == "zh" else f"{where}: {message}"
