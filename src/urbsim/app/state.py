"""The app's state (scenario, parameter changes, language, type filter, seed) and its URL form.

A shared link must reproduce the exact run, so the page's query parameters carry everything that
decides it: ``scenario=<preset>``, ``lang``, ``type``, ``seed`` and one parameter per changed
value, keyed by the constant's snake_case name, with ``.element`` for one element of a
subscripted constant::

    ?scenario=plan&lang=zh&settlement_openness_policy=0.8&park_investment_policy.urb=30

Values are written in Python's shortest round-trip form, so they read back bit-identical. A
malformed or out-of-range value is dropped with a notice in the reader's language; nothing in a
URL can crash the app.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from urbsim.charts import TYPES
from urbsim.errors import ParameterError
from urbsim.i18n import LANGUAGES, slug, text
from urbsim.mdlinfo import ConstantInfo, ModelInfo
from urbsim.params import coerce_value, resolve_name
from urbsim.scenarios import parse_number

#: Seed of the live uncertainty ensemble unless the URL gives another.
DEFAULT_SEED = 2023
#: Value of the ``type`` filter meaning the whole region.
ALL_TYPES = "all"
_MAX_SEED = 2**32 - 1
_RESERVED = ("scenario", "lang", "type", "seed")
#: Query parameters that link sharing adds (WeChat, campaign tags): not model settings.
TRACKING = ("from", "isappinstalled", "nsukey", "scene", "clicktime", "enterid", "spm")

#: A parameter value as in a scenario file: a number, or ``{element: number}``.
Value = float | dict[str, float]


@dataclass
class AppState:
    """What decides the page.

    Attributes
    ----------
    scenario : preset name from ``scenarios/`` (``""``: the model's own defaults).
    overrides : Vensim name -> value that differs from the preset.
    lang : ``"en"`` or ``"zh"``.
    county_type : ``"all"`` or one of :data:`urbsim.charts.TYPES`.
    seed : seed of the uncertainty ensemble.
    """

    scenario: str = ""
    overrides: dict[str, Value] = field(default_factory=dict)
    lang: str = "en"
    county_type: str = ALL_TYPES
    seed: int = DEFAULT_SEED


def plain(message: str) -> str:
    """``message`` for Streamlit's markdown elements (``st.warning``, ``st.error``, ...), shown
    as the plain text it is: every ASCII punctuation mark escaped, so nothing a visitor wrote in
    a URL or a file (``[link](...)``, ``![img](...)``, ``:red[...]``, ``$x$``) becomes a link,
    an image or formatting; a word joiner (U+2060, invisible) inside ``://``, ``www.`` and
    ``@`` stops GitHub-style autolinks; newlines become spaces (one line)."""
    text = " ".join(str(message).split())
    for pattern, joined in (
        ("://", ":\u2060//"),
        (r"(?i)\b(www)\.", "\\1\u2060."),
        ("@", "@\u2060"),
    ):
        text = re.sub(pattern, joined, text)
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float (``30.0`` -> ``"30"``)."""
    out = repr(float(value))
    return out[:-2] if out.endswith(".0") else out


def to_query(state: AppState, default_scenario: str, default_lang: str = "en") -> dict[str, str]:
    """Query parameters for ``state``; settings equal to the defaults are left out."""
    query: dict[str, str] = {}
    if state.scenario != default_scenario:
        query["scenario"] = state.scenario
    if state.lang != default_lang:
        query["lang"] = state.lang
    if state.county_type != ALL_TYPES:
        query["type"] = state.county_type
    if state.seed != DEFAULT_SEED:
        query["seed"] = str(state.seed)
    for name, value in state.overrides.items():
        if isinstance(value, Mapping):
            for element, v in value.items():
                query[f"{slug(name)}.{element}"] = format_number(v)
        else:
            query[slug(name)] = format_number(value)
    return query


def _constants_by_slug(info: ModelInfo) -> dict[str, ConstantInfo]:
    """The constants a URL may set: those ``--set`` accepts (no structural definitions)."""
    out = {}
    for c in info.constants.values():
        try:
            resolve_name(info, c.name)
        except ParameterError:
            continue
        out[slug(c.name)] = c
    return out


def from_query(
    query: Mapping[str, str],
    info: ModelInfo,
    presets: list[str],
    default_scenario: str,
    default_lang: str = "en",
) -> tuple[AppState, list[str]]:
    """Read the state from query parameters (link-tracking ones such as ``from``,
    ``isappinstalled`` and ``utm_*``, which messengers append, are ignored silently).

    Returns
    -------
    (AppState, notices)
        ``notices`` are one-line messages (in the state's language) about ignored values.
    """
    lang = query.get("lang", default_lang)
    notes: list[tuple[str, dict[str, Any]]] = []
    if lang not in LANGUAGES:
        notes.append(
            ("url_bad_choice", {"param": "lang", "value": lang, "allowed": ", ".join(LANGUAGES)})
        )
        lang = "en"
    state = AppState(scenario=default_scenario, lang=lang)
    scenario = query.get("scenario", default_scenario)
    if scenario in presets or scenario == "":
        state.scenario = scenario
    else:
        notes.append(("url_bad_scenario", {"value": scenario, "allowed": ", ".join(presets)}))
    county_type = query.get("type", ALL_TYPES)
    if county_type in (ALL_TYPES, *TYPES):
        state.county_type = county_type
    else:
        notes.append(
            (
                "url_bad_choice",
                {"param": "type", "value": county_type, "allowed": ", ".join((ALL_TYPES, *TYPES))},
            )
        )
    if "seed" in query:
        raw = query["seed"]
        if re.fullmatch(r"[0-9]{1,10}", raw) and int(raw) <= _MAX_SEED:  # not "²" or "٣"
            state.seed = int(raw)
        else:
            notes.append(("url_bad_seed", {"value": raw}))
    constants = _constants_by_slug(info)
    for key, raw in query.items():
        if key in _RESERVED or key in TRACKING or key.startswith("utm_"):
            continue
        note = _read_parameter(key, raw, constants, info, state.overrides)
        if note:
            notes.append(note)
    return state, [text(lang, f"notices.{k}", **_cut(fields)) for k, fields in notes]


def _cut(fields: dict[str, Any], limit: int = 40) -> dict[str, Any]:
    """What a visitor wrote (``param``, ``value``), cut to ``limit`` characters for a notice."""
    out = dict(fields)
    for k in ("param", "value"):
        if k in out and len(out[k]) > limit:
            out[k] = out[k][: limit - 1] + "…"
    return out


def _read_parameter(
    key: str,
    raw: str,
    constants: dict[str, ConstantInfo],
    info: ModelInfo,
    out: dict[str, Value],
) -> tuple[str, dict[str, Any]] | None:
    """Store one ``name[.element]=value`` in ``out``, or return why it was ignored."""
    name, _, element = key.partition(".")
    c = constants.get(name)
    if c is None or len(c.dims) > 1 or bool(element) != bool(c.dims):
        return "url_unknown", {"param": key}
    if element:
        allowed = info.subscripts[c.dims[0]]
        if element not in allowed:
            return "url_bad_element", {"param": key, "allowed": ", ".join(allowed)}
    value = parse_number(raw)  # exactly as `urbsim run --set` reads a value
    if value is None:
        return "url_bad_number", {"param": key, "value": raw}
    try:
        coerce_value(info, c, {element: value} if element else value, n=1)
    except ParameterError:
        lo, hi = c.range or (-math.inf, math.inf)
        return "url_range", {"param": key, "value": raw, "lo": f"{lo:g}", "hi": f"{hi:g}"}
    if element:
        table = out.setdefault(c.name, {})
        assert isinstance(table, dict)
        table[element] = value
    else:
        out[c.name] = value
    return None


def preset_values(info: ModelInfo, parameters: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Every constant's value under a preset: the model default, replaced by the preset's."""
    from urbsim.params import coerce_params

    values = {name: c.default for name, c in info.constants.items()}
    values.update(coerce_params(info, parameters, n=1))
    return values


def diff_values(
    info: ModelInfo, current: Mapping[str, np.ndarray], preset: Mapping[str, np.ndarray]
) -> dict[str, Value]:
    """The values of ``current`` that differ from ``preset``, as scenario-file values.

    A subscripted constant lists only its changed elements, so a URL stays short and a scenario
    file says exactly what was moved.
    """
    out: dict[str, Value] = {}
    for name, value in current.items():
        base = preset[name]
        if np.array_equal(value, base):
            continue
        dims = info.constants[name].dims
        if not dims:
            out[name] = float(value)
        else:
            elements = info.subscripts[dims[0]]
            pairs = zip(elements, value, base, strict=True)
            out[name] = {e: float(v) for e, v, b in pairs if v != b}
    return out
