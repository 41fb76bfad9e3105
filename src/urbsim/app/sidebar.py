"""The sidebar: language, scenario preset, county-town type, policy levers, scenario files.

Only one lever group's sliders are drawn at a time (a slider costs the page a redraw on every
move). Streamlit forgets the value of a widget that is not drawn, so every lever's value lives
outside the widgets, in one dict under ``st.session_state[LEVERS]`` keyed by :func:`lever_key`:
presets, reset, uploads, URLs and the what-it-takes tab write it (:func:`set_lever`), a slider
copies its move into it, and each drawn slider is set from it before it is drawn. Subscripted
levers get one slider per element, so a URL or TOML file reproduces every element exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import streamlit as st

from urbsim.app.compute import scenario_for
from urbsim.app.state import (
    ALL_TYPES,
    DEFAULT_SEED,
    AppState,
    diff_values,
    from_query,
    plain,
    preset_values,
)
from urbsim.app.widgets import select
from urbsim.charts import TYPES
from urbsim.errors import UrbsimError
from urbsim.i18n import LANGUAGES, constant_doc, constant_name, constant_unit, slug, text
from urbsim.mdlinfo import ConstantInfo, ModelInfo
from urbsim.scenarios import Scenario, parse_scenario

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
_FIXED = "fixed_overrides"  # session key: changed constants that are not levers (from URL/file)
#: Session key of every lever's value (a dict by :func:`lever_key`), drawn or not.
LEVERS = "lever_values"
#: Session key of the lever group whose sliders are drawn (a group name of ``info.levers()``).
GROUP = "lever_group"


def lever_key(name: str, element: str | None = None) -> str:
    """Session-state key of the slider of lever ``name`` (and one of its elements)."""
    return f"lever|{name}" + (f"|{element}" if element else "")


def levers(info: ModelInfo) -> list[ConstantInfo]:
    """Every policy lever, in group order."""
    return [c for group in info.levers().values() for c in group]


def lever_value(name: str, element: str | None = None) -> float:
    """The current value of lever ``name`` (one element of it), drawn or not."""
    return st.session_state[LEVERS][lever_key(name, element)]


def set_lever(name: str, element: str | None, value: float) -> None:
    """Set a lever (one element of it); a drawn slider shows it from the next run on (call it
    from a callback, before the sliders are drawn)."""
    st.session_state.setdefault(LEVERS, {})[lever_key(name, element)] = float(value)


def _write_levers(info: ModelInfo, values: Mapping[str, np.ndarray]) -> None:
    for c in levers(info):
        v = values[c.name]
        if c.dims:
            for element, x in zip(info.subscripts[c.dims[0]], v, strict=True):
                set_lever(c.name, element, x)
        else:
            set_lever(c.name, None, v)


def _read_levers(info: ModelInfo) -> dict[str, np.ndarray]:
    out = {}
    for c in levers(info):
        if c.dims:
            out[c.name] = np.array([lever_value(c.name, e) for e in info.subscripts[c.dims[0]]])
        else:
            out[c.name] = np.array(lever_value(c.name))
    return out


def _keep_lever(key: str) -> None:
    """Slider callback: store the moved value outside the widget."""
    st.session_state[LEVERS][key] = float(st.session_state[key])


def _preset_parameters(presets: Mapping[str, Scenario], name: str) -> dict:
    return dict(presets[name].parameters) if name else {}


def apply_state(info: ModelInfo, presets: Mapping[str, Scenario], state: AppState) -> None:
    """Set every widget from ``state``: the preset's values, then its overrides."""
    # Overrides of one element of a table apply on top of the preset's table, not the model's.
    scenario = scenario_for(presets, state.scenario, state.overrides)
    _write_levers(info, preset_values(info, scenario.parameters))
    lever_names = {c.name for c in levers(info)}
    st.session_state[_FIXED] = {k: v for k, v in state.overrides.items() if k not in lever_names}
    st.session_state["lang"] = state.lang
    st.session_state["preset"] = state.scenario
    st.session_state["county_type"] = state.county_type
    st.session_state["seed"] = state.seed


def init_from_url(info: ModelInfo, presets: Mapping[str, Scenario], default: str) -> None:
    """On a session's first run, take the state from the page's query parameters."""
    if "preset" in st.session_state:
        return
    lang = browser_language()
    st.session_state["default_lang"] = lang
    state, notices = from_query(st.query_params.to_dict(), info, list(presets), default, lang)
    apply_state(info, presets, state)
    st.session_state["notices"] = notices


def browser_language() -> str:
    """The page's language when the URL names none: English for an English-language browser,
    else Chinese (the plan's readers)."""
    locale = getattr(st.context, "locale", None) or ""
    return "en" if locale.lower().startswith("en") else "zh"


def _reset(info: ModelInfo, presets: Mapping[str, Scenario]) -> None:
    """Callback: levers back to the preset now selected."""
    preset = st.session_state["preset"]
    values = preset_values(info, _preset_parameters(presets, preset))
    _write_levers(info, values)
    st.session_state[_FIXED] = {}
    st.session_state.pop("uploaded_name", None)


def parse_upload(data: bytes, filename: str, info: ModelInfo) -> Scenario:
    """Validate an uploaded scenario file exactly as ``urbsim run --scenario FILE`` would.

    Raises
    ------
    ScenarioError
        One line naming the uploaded file (its name printable and cut to 60 characters), the
        line and what is allowed; files over :data:`urbsim.scenarios.MAX_SCENARIO_BYTES` are
        refused unread.
    """
    name = "".join(ch if ch.isprintable() else "?" for ch in Path(filename).name)
    name = " ".join(name.split()) or "upload.toml"
    if len(name) > 60:
        name = name[:40] + "…" + name[-19:]
    return parse_scenario(data, name, info)


def _on_upload(info: ModelInfo, presets: Mapping[str, Scenario]) -> None:
    """Callback: load the uploaded file into the sliders, or keep the error for the page."""
    uploaded = st.session_state.get("upload")
    if uploaded is None:
        return
    try:
        scenario = parse_upload(uploaded.getvalue(), uploaded.name, info)
    except UrbsimError as exc:  # kept whole: the page words it in the language it shows
        st.session_state["upload_error"] = exc
        st.session_state.pop("uploaded_name", None)  # the note of an earlier file is stale
        return
    st.session_state.pop("upload_error", None)
    # The file's values become changes from the model defaults, so the URL carries all of them.
    lang = st.session_state.get("lang", "en")
    state = AppState(
        scenario="",
        overrides=dict(scenario.parameters),
        lang=lang,
        county_type=st.session_state.get("county_type", ALL_TYPES),
        seed=st.session_state.get("seed", DEFAULT_SEED),
    )
    apply_state(info, presets, state)
    st.session_state["uploaded_name"] = scenario.name


def _number(x: float) -> str:
    return f"{x:g}"


def _lever_slider(info: ModelInfo, c: ConstantInfo, lang: str, preset: np.ndarray) -> None:
    label = constant_name(lang, c.name)
    unit_text = constant_unit(lang, c.name, c.units)
    lo, hi = c.range or (float(np.min(preset)), float(np.max(preset)))
    step = c.step or (hi - lo) / 100
    elements = info.subscripts[c.dims[0]] if c.dims else (None,)
    for i, element in enumerate(elements):
        default = preset[i] if element else preset
        name = (
            text(lang, "sidebar.element", lever=label, element=text(lang, f"elements.{element}"))
            if element
            else label
        )
        key = lever_key(c.name, element)
        st.session_state[key] = st.session_state[LEVERS][key]
        st.slider(
            text(lang, "sidebar.slider_label", name=name, unit=unit_text),
            min_value=float(lo),
            max_value=float(hi),
            step=float(step),
            key=key,
            on_change=_keep_lever,
            args=(key,),
            help=text(
                lang,
                "sidebar.lever_help",
                doc=constant_doc(lang, c.name, c.doc),
                lo=_number(lo),
                hi=_number(hi),
                unit=unit_text,
                default=_number(float(default)),
            ),
        )


def render(info: ModelInfo, presets: Mapping[str, Scenario], default: str) -> AppState:
    """Draw the sidebar and return the state it now shows."""
    init_from_url(info, presets, default)
    sb = st.sidebar
    sb.radio(
        text(st.session_state["lang"], "sidebar.language"),
        LANGUAGES,
        key="lang",
        format_func=LANGUAGE_NAMES.__getitem__,
        horizontal=True,
    )
    lang = st.session_state["lang"]
    options = [*presets, ""]
    preset_title = {n: s.title.get(lang, n) for n, s in presets.items()}
    preset_title[""] = text(lang, "sidebar.model_defaults")
    select(
        sb,
        "preset",
        lang,
        text(lang, "sidebar.scenario"),
        options,
        preset_title,
        help=text(lang, "sidebar.scenario_help"),
        on_change=_reset,
        args=(info, presets),
    )
    preset = st.session_state["preset"]
    if preset:
        sb.caption(presets[preset].description.get(lang, ""))
    if st.session_state.get("uploaded_name"):
        name = st.session_state["uploaded_name"]
        sb.info(plain(text(lang, "sidebar.uploaded", name=name)))
    select(
        sb,
        "county_type",
        lang,
        text(lang, "sidebar.type_filter"),
        [ALL_TYPES, *TYPES],
        {t: text(lang, f"types.{t}") for t in (ALL_TYPES, *TYPES)},
        help=text(lang, "sidebar.type_help"),
    )

    sb.subheader(text(lang, "sidebar.levers"))
    sb.button(text(lang, "sidebar.reset"), on_click=_reset, args=(info, presets), key="reset")
    base = preset_values(info, _preset_parameters(presets, preset))
    groups = {g: members for g, members in info.levers().items() if members}
    group = select(
        sb,
        GROUP,
        lang,
        text(lang, "sidebar.lever_group"),
        list(groups),
        {g: text(lang, f"groups.{slug(g)}") for g in groups},
        kind="radio",
        horizontal=True,
        label_visibility="collapsed",
    )
    with sb.container(border=True):
        for c in groups[group]:
            _lever_slider(info, c, lang, base[c.name])

    current = _read_levers(info)
    changed = diff_values(info, current, {k: base[k] for k in current})
    fixed = st.session_state.get(_FIXED, {})
    if changed:
        sb.caption(text(lang, "sidebar.changed", count=len(changed)))
    if fixed:
        sb.caption(text(lang, "sidebar.other_params", names=", ".join(fixed)))
    state = AppState(
        scenario=preset,
        overrides={**fixed, **changed},
        lang=lang,
        county_type=st.session_state["county_type"],
        seed=st.session_state["seed"],
    )
    return state


def render_files(
    info: ModelInfo, presets: Mapping[str, Scenario], scenario: Scenario, lang: str
) -> None:
    """Scenario download (TOML for ``urbsim run --scenario FILE``), upload and the share note."""
    sb = st.sidebar
    sb.divider()
    sb.download_button(
        text(lang, "sidebar.download_toml"),
        scenario.to_toml(),
        file_name=f"{scenario.name.replace('+', '-')}.toml",
        mime="application/toml",
        on_click="ignore",
        key="download_toml",
    )
    sb.file_uploader(
        text(lang, "sidebar.upload"),
        type=["toml"],
        key="upload",
        help=text(lang, "sidebar.upload_help"),
        on_change=_on_upload,
        args=(info, presets),
    )
    sb.caption(text(lang, "sidebar.share"))
