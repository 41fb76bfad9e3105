"""The Streamlit policy lab: page assembly (``streamlit_app.py`` only calls :func:`main`).

The page: the sidebar (language, preset, type filter, levers, scenario files), the target
scorecard, and five tabs (charts, compare, sensitivity, what it takes, model), of which only
the open one is drawn. Every string comes from :mod:`urbsim.i18n`; every chart from
:mod:`urbsim.charts`; every run from :mod:`urbsim.app.runs`. After each run the page writes
its state back into the URL, so the address bar always holds a link that reproduces the exact
run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the page imports its modules lazily (the CLI imports this package)
    from urbsim.model import Model
    from urbsim.scenarios import Scenario

#: The page's tabs, in order; only the open one is drawn (see :func:`urbsim.app.widgets.tabs`).
SECTIONS = ("charts", "compare", "sensitivity", "pathways", "model")


def main() -> None:
    """Draw the whole page once (Streamlit calls this on every interaction).

    No traceback reaches a visitor: an unexpected failure is logged on the server and shown
    as one translated line (Streamlit's own error details are off, see ``streamlit_app.py``).
    """
    import logging

    import streamlit as st

    from urbsim.i18n import text

    try:
        _page()
    except Exception:
        logging.getLogger("urbsim.app").exception("the page failed")
        st.error(text(st.session_state.get("lang", "en"), "app.unexpected"))


def _page() -> None:
    # Imported here so that ``urbsim.app.compute`` (CLI, bench) does not pull in Streamlit.
    import datetime as dt

    import streamlit as st

    from urbsim import export
    from urbsim.app import briefing, runs, scorecard, sidebar, tabs, widgets
    from urbsim.app.state import plain, to_query
    from urbsim.errors import UrbsimError
    from urbsim.i18n import error_text, text
    from urbsim.posterior import live_posterior

    model = runs.get_model()
    info = model.info
    presets = runs.get_presets()
    default = runs.default_preset(presets)

    state = sidebar.render(info, presets, default)
    lang = state.lang
    st.query_params.from_dict(to_query(state, default, st.session_state["default_lang"]))
    scenario = runs.scenario_for(presets, state.scenario, state.overrides)
    sidebar.render_files(info, presets, scenario, lang)

    st.title(text(lang, "app.title"))
    st.caption(text(lang, "app.subtitle"))
    for notice in st.session_state.pop("notices", []):  # once: the URL is rewritten clean
        st.warning(plain(notice), icon=":material/link_off:")
    if st.session_state.get("upload_error"):
        error = error_text(lang, st.session_state["upload_error"])
        st.error(plain(text(lang, "notices.upload_error", error=error)))

    key = runs.overrides_key(state.overrides)
    try:
        single, ensemble = runs.live_runs(state.scenario, key, state.seed)
        baseline = runs.case_run(runs.BASELINE, "{}") if runs.BASELINE in presets else None
    except UrbsimError as exc:
        st.error(plain(text(lang, "app.run_error", error=error_text(lang, exc))))
        return
    st.session_state["results"] = single

    score = runs.scorecard_frame(single, ensemble)
    compared = baseline if state.scenario != runs.BASELINE else None
    st.markdown(f"**{plain(runs.headline(score, compared, lang))}**")
    drawn = {"runs": ensemble.sizes["run"], "seed": state.seed}
    scorecard.render(score, lang, posterior=live_posterior(model) is not None, **drawn)
    briefing.render(model, scenario, state.overrides, state.seed, lang)
    stamp = export.Stamp(
        scenario=scenario.name,
        changed=state.overrides,
        model_sha256=model.sha256,
        seed=state.seed,
        date=dt.date.today().isoformat(),
    )
    view = tabs.View.of(lang, state.county_type, stamp)
    cases = {
        text(lang, "charts.case_current", name=scenario.title.get(lang, scenario.name)): single
    }
    if baseline is not None and state.scenario != runs.BASELINE:
        cases[text(lang, "charts.case_baseline")] = baseline

    labels = {t: text(lang, f"tabs.{t}") for t in ("charts", "compare", "sensitivity", "model")}
    labels["pathways"] = text(lang, "pathways.tab")
    section, containers = widgets.tabs("section", lang, list(SECTIONS), labels)
    draw = {
        "charts": lambda: tabs.render_charts(cases, ensemble, view),
        "compare": lambda: tabs.render_compare(presets, single, view),
        "sensitivity": lambda: tabs.render_sensitivity(info, (state.scenario, key), lang),
        "pathways": lambda: _pathways(model, scenario, lang),
        "model": lambda: tabs.render_model(info, lang),
    }
    with containers[SECTIONS.index(section)]:
        draw[section]()


def _pathways(model: Model, scenario: Scenario, lang: str) -> None:
    """The "what it takes" tab; its search (SciPy's optimizer) is imported only when opened."""
    from urbsim.app import pathways

    pathways.render(model, scenario, lang)
