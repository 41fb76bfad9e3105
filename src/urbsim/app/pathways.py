"""The "What it takes / 实现路径" tab: the cheapest lever mix that meets a target.

The visitor picks a target, a year and a confidence; the search (:func:`urbsim.pathways.optimize`
from the current sliders, a budget of :data:`GENERATIONS` generations) runs with a progress bar
and a cancel button (a click reruns the page, which stops the search at its next progress
report). The answer shows the cost-probability front, the lever mix as a difference from the
current sliders, a button that puts it on the sliders, and the PRIM box of the futures in which
the mix meets the target, in one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from urbsim.app.sidebar import lever_value, levers, set_lever
from urbsim.app.state import plain
from urbsim.charts import box_chart, front_chart
from urbsim.errors import UrbsimError
from urbsim.i18n import constant_name, text
from urbsim.indicators import TARGETS
from urbsim.mdlinfo import ModelInfo
from urbsim.model import Model
from urbsim.pathways.runs import FIRST_YEAR, LAST_YEAR
from urbsim.scenarios import Scenario

#: Generations of the app's search (the CLI's default is 30): a first answer within ~30 s.
GENERATIONS = 8
#: Draws per candidate (common to all candidates) and of the independent check.
DRAWS, CHECK = 200, 1000
#: Runs given to PRIM for the sentence.
PRIM_RUNS = 1000
_RESULT = "pathway_result"


def slider_values(info: ModelInfo) -> dict[str, Any]:
    """The current sliders as scenario values (a number, or ``{element: number}``)."""
    out: dict[str, Any] = {}
    for c in levers(info):
        if c.dims:
            out[c.name] = {e: lever_value(c.name, e) for e in info.subscripts[c.dims[0]]}
        else:
            out[c.name] = lever_value(c.name)
    return out


def mix_table(
    info: ModelInfo, proposed: Mapping[str, Any], current: Mapping[str, Any], lang: str
) -> pd.DataFrame:
    """The levers (elements) where ``proposed`` differs from ``current``: lever, current,
    proposed, change."""
    rows = []
    for name, value in proposed.items():
        now = current[name]
        pairs = value.items() if isinstance(value, Mapping) else [(None, value)]
        for element, v in pairs:
            before = now[element] if element else now
            if not np.isclose(v, before, rtol=1e-4, atol=1e-9):
                label = constant_name(lang, name)
                if element:
                    label = text(
                        lang,
                        "sidebar.element",
                        lever=label,
                        element=text(lang, f"elements.{element}"),
                    )
                rows.append([label, before, v, v - before])
    columns = [text(lang, f"pathways.{k}") for k in ("lever", "current", "proposed", "change")]
    return pd.DataFrame(rows, columns=columns)


def _apply(info: ModelInfo, proposed: Mapping[str, Any]) -> None:
    """Button callback: put the mix on the sliders (before they are drawn again)."""
    for c in levers(info):
        value = proposed[c.name]
        if isinstance(value, Mapping):
            for element, v in value.items():
                set_lever(c.name, element, v)
        else:
            set_lever(c.name, None, value)
    st.session_state["pathway_applied"] = True


def _search(model: Model, scenario: Scenario, target: str, year: int, conf: float, lang: str):
    """Run the search with a progress bar and a cancel button; the report and PRIM result."""
    from urbsim.pathways import optimize
    from urbsim.pathways.cli import answer_scenario
    from urbsim.pathways.discover import discover

    bar = st.progress(0.0, text=text(lang, "pathways.progress", pct=0))
    cancel = st.empty()  # shown while the search runs; a click reruns the page, stopping it
    cancel.button(text(lang, "pathways.cancel"), key="pathway_cancel")

    def progress(fraction: float, _message: str) -> None:
        pct = round(100 * min(1.0, fraction))
        bar.progress(pct / 100, text=text(lang, "pathways.progress", pct=pct))

    report = optimize(
        model,
        scenario,
        target,
        year,
        conf,
        n=DRAWS,
        seed=int(st.session_state.get("seed", 1)),
        maxiter=GENERATIONS,
        validation=CHECK,
        progress=progress,
    )
    found = discover(model, answer_scenario(scenario, report), target, year, n=PRIM_RUNS, seed=2)
    bar.empty()
    cancel.empty()
    return report, found


def render(model: Model, scenario: Scenario, lang: str) -> None:
    """Draw the tab for the current scenario (the preset with the sliders' changes)."""
    from urbsim.pathways.cli import headline
    from urbsim.pathways.discover import sentence

    info = model.info
    st.subheader(text(lang, "pathways.header"))
    st.caption(text(lang, "pathways.caption", n=DRAWS, check=CHECK))
    if st.session_state.pop("pathway_cancel", False):
        st.info(text(lang, "pathways.cancelled"))
    cols = st.columns(3)
    ids = [t for t in TARGETS if t.startswith("T2")] + [
        t for t in TARGETS if not t.startswith("T2")
    ]
    target = cols[0].selectbox(
        text(lang, "pathways.target"),
        ids,
        format_func=lambda t: f"{t}: {text(lang, f'targets.{t}')}",
        key="pathway_target",
    )
    year = cols[1].number_input(
        text(lang, "pathways.year"), FIRST_YEAR, LAST_YEAR, 2030, key="pathway_year"
    )
    conf = cols[2].slider(
        text(lang, "pathways.confidence"), 0.5, 0.95, 0.8, 0.05, key="pathway_confidence"
    )
    if st.button(text(lang, "pathways.run"), type="primary", key="pathway_run"):
        try:
            st.session_state[_RESULT] = _search(model, scenario, target, int(year), conf, lang)
        except UrbsimError as exc:
            st.error(plain(str(exc)))
            return
    if _RESULT not in st.session_state:
        return
    report, found = st.session_state[_RESULT]
    line = headline(report, lang)
    (st.success if report.feasible else st.warning)(plain(line))
    st.markdown(plain(sentence(found, lang)))
    if found.boxes:
        title = text(
            lang,
            "pathways.box_title",
            target=found.targets[0],
            met=text(lang, "pathways.met"),
            year=found.year,
        )
        st.altair_chart(box_chart(found.boxes[0], lang, title=title), width="stretch")
    st.altair_chart(front_chart(report.front, lang, confidence=report.confidence), width="stretch")
    st.markdown(f"**{text(lang, 'pathways.mix')}**")
    st.dataframe(mix_table(info, report.levers, slider_values(info), lang), hide_index=True)
    st.button(
        text(lang, "pathways.apply"),
        key="pathway_apply",
        on_click=_apply,
        args=(info, report.levers),
    )
    if st.session_state.pop("pathway_applied", False):
        st.info(text(lang, "pathways.applied"))
