"""The "What it takes / 实现路径" tab, driven headless by AppTest (a short search)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from urbsim.app import pathways
from urbsim.app.sidebar import LEVERS, lever_key
from urbsim.i18n import text

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


@pytest.fixture(scope="module")
def searched():
    """The page after one short search for T2b in 2030 at 60 %."""
    patch = pytest.MonkeyPatch()
    patch.setattr(pathways, "GENERATIONS", 1)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["lang"] = "en"
    at.session_state["section"] = "pathways"  # only the open tab is drawn
    at.run()
    at.selectbox(key="pathway_target").set_value("T2b")
    at.slider(key="pathway_confidence").set_value(0.6)
    at.button(key="pathway_run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    yield at
    patch.undo()


def test_the_search_answers_with_front_mix_and_sentence(searched):
    report, found = searched.session_state["pathway_result"]
    shown = [m.value for m in (*searched.success, *searched.warning)]
    assert any("T2b in 2030" in s for s in shown)
    assert any("futures" in m.value for m in searched.markdown)  # the PRIM sentence
    assert report.front and found.targets == ("T2b",)
    assert searched.button(key="pathway_apply")


def test_apply_puts_the_mix_on_the_sliders(searched):
    report, _ = searched.session_state["pathway_result"]
    searched.button(key="pathway_apply").click().run()
    assert not searched.exception
    for name, value in report.levers.items():
        if isinstance(value, dict):
            for element, v in value.items():
                assert searched.session_state[LEVERS][lever_key(name, element)] == pytest.approx(v)
        else:
            assert searched.session_state[LEVERS][lever_key(name)] == pytest.approx(value)
    # the mix now equals the sliders: nothing left to change
    heads = [text("en", f"pathways.{k}") for k in ("lever", "current", "proposed", "change")]
    mix = [d.value for d in searched.dataframe if list(d.value.columns) == heads]
    assert len(mix) == 1 and mix[0].empty
    assert any(i.value == text("en", "pathways.applied") for i in searched.info)


def test_chinese_tab_speaks_chinese(searched):
    searched.sidebar.radio(key="lang").set_value("zh").run()
    assert not searched.exception
    shown = [m.value for m in (*searched.success, *searched.warning)]
    assert any("年T2b" in s and "：" in s for s in shown)
    assert any(t.label == "实现路径" for t in searched.tabs)
