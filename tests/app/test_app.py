"""The Streamlit page, driven headless by AppTest: start, levers, language, URL, uploads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from urbsim.app.sidebar import LEVERS, lever_key, parse_upload
from urbsim.app.state import plain
from urbsim.errors import ScenarioError
from urbsim.i18n import text
from urbsim.mdlinfo import model_info

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
TIMEOUT = 120

# One lever per group and an indicator its equations drive (checked to change, not hard-coded).
GROUP_PROBES = {
    "People": ("settlement openness policy", None, "county_town_share"),
    "Land": ("revitalization policy", None, "idle_land_revitalized"),
    "Money": ("reward per settler", None, "transfers_received"),
    "Jobs & industry": ("new energy program", "urb", "new_energy_capacity"),
    "Housing": ("renovation policy", None, "old_community_renovation_share"),
    "Public services": ("service target policy", None, "childcare_places_per_1000"),
}


def _start(query: dict[str, str] | None = None, section: str | None = None) -> AppTest:
    """The page in English unless ``query`` names a language (it opens in Chinese), on the tab
    ``section`` (default: the first)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in {"lang": "en", **(query or {})}.items():
        at.query_params[k] = v
    if section is not None:
        at.session_state["section"] = section
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _group(at: AppTest, group: str, lang: str = "en") -> AppTest:
    """Show the sliders of lever group ``group`` (one group is drawn at a time)."""
    at.radio(key=f"lever_group@{lang}").set_value(group).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _value_2025(at: AppTest, indicator: str) -> float:
    return float(at.session_state["results"][indicator].sel(time=2025.0).values.squeeze())


@pytest.fixture(scope="module")
def app() -> AppTest:
    return _start()


def test_app_starts_with_scorecard_and_charts(app):
    assert app.title[0].value == text("en", "app.title")
    assert set(app.session_state["scorecard"]) >= {"T1", "T2", "T14"}
    table = app.table[0].value
    assert len(table) == len(app.session_state["scorecard"])
    assert not app.warning  # a clean URL gives no notice


@pytest.mark.parametrize("group", list(GROUP_PROBES))
def test_a_lever_in_each_group_moves_its_output(app, group):
    info = model_info()
    name, element, indicator = GROUP_PROBES[group]
    assert info.constants[name].lever == group
    _group(app, group)
    slider = app.slider(key=lever_key(name, element))
    before = _value_2025(app, indicator)
    lo, hi = info.constants[name].range
    slider.set_value(lo if slider.value > lo else hi).run()
    assert not app.exception, [e.message for e in app.exception]
    after = _value_2025(app, indicator)
    assert after != pytest.approx(before, rel=1e-9), f"{name} did not move {indicator}"
    # The link now carries the change.
    assert any(k.startswith(name.replace(" ", "_")) for k in app.query_params)


def test_switching_language_changes_labels():
    at = _start()
    assert at.tabs[0].label == text("en", "tabs.charts")
    at.radio(key="lang").set_value("zh").run()
    assert at.title[0].value == text("zh", "app.title")
    assert at.tabs[0].label == text("zh", "tabs.charts") != text("en", "tabs.charts")
    assert text("zh", "scorecard.value") in at.table[0].value.columns
    assert "lang" not in at.query_params  # Chinese is the default language of a link
    at.radio(key="lang").set_value("en").run()
    assert at.query_params["lang"] == "en"


def test_bad_url_values_show_notices_and_good_ones_apply():
    at = _start(
        {
            "settlement_openness_policy": "lots",
            "park_investment_policy.urb": "999",
            "made_up_lever": "1",
            "scenario": "utopia",
            "reward_per_settler": "4500",
        }
    )
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 4
    assert (
        plain(
            text("en", "notices.url_bad_number", param="settlement_openness_policy", value="lots")
        )
        in warnings
    )
    assert _group(at, "Money").slider(key=lever_key("reward per settler")).value == 4500.0


def test_a_shared_url_reproduces_the_exact_run():
    first = _group(_start(), "Jobs & industry")
    first.slider(key=lever_key("park investment policy", "agr")).set_value(40.0).run()
    first.selectbox(key="county_type@en").set_value("eco").run()
    query = dict(first.query_params)
    second = _start(query)
    assert second.session_state["scorecard"] == first.session_state["scorecard"]
    assert second.selectbox(key="county_type@en").value == "eco"
    assert second.session_state[LEVERS][lever_key("park investment policy", "agr")] == 40.0
    _group(second, "Jobs & industry")
    assert second.slider(key=lever_key("park investment policy", "agr")).value == 40.0


TITLE = (
    'name = "mine"\n[title]\nen = "Mine"\nzh = "我的"\n[description]\nen = "Test"\nzh = "测试"\n'
).encode()


def test_bad_upload_message_names_the_file():
    bad = TITLE + b'[parameters]\n"settlement openness policy" = 7\n'
    with pytest.raises(ScenarioError) as err:
        parse_upload(bad, "mine.toml", model_info())
    message = str(err.value)
    lo, hi = model_info().constants["settlement openness policy"].range
    assert (
        message.startswith("mine.toml:") and "\n" not in message and f"[{lo:g}, {hi:g}]" in message
    )
    with pytest.raises(ScenarioError, match="mine.toml"):
        parse_upload(b"\xff\xfe not text", "mine.toml", model_info())


def test_good_upload_round_trips_through_the_download():
    info = model_info()
    scenario = parse_upload(
        TITLE + b'[parameters]\n"reward per settler" = 4500\n'
        b'"park investment policy" = { eco = 12 }\n',
        "mine.toml",
        info,
    )
    again = parse_upload(scenario.to_toml().encode(), "again.toml", info)
    assert again.parameters == scenario.parameters


UPLOAD_ERRORS = {
    "out_of_range": b'[parameters]\n"reward per settler" = 99999\n',
    "unknown_variable_close": b'[parameters]\n"reward per setler" = 4500\n',
    "toml_syntax": b'[parameters]\n"reward per settler" = \n',
    "not_subscripted": b'[parameters]\n"reward per settler" = { urb = 1 }\n',
}
#: English words of a sentence (names of constants, which stay in Vensim spelling, aside).
_ENGLISH = re.compile(r"\b(is|the|must|not|error|outside|unknown|allowed|give|got)\b", re.I)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("kind", list(UPLOAD_ERRORS))
def test_upload_errors_are_whole_sentences_in_the_page_language(lang, kind):
    """The core's error, worded in the page's language (it was a Chinese prefix before the
    English sentence), and the same sentence as ``urbsim run`` gives in English."""
    from urbsim.i18n import error_text

    with pytest.raises(ScenarioError) as raised:
        parse_upload(UPLOAD_ERRORS[kind], "bad.toml", model_info())
    assert raised.value.key == kind
    at = _start({"lang": lang})
    at.file_uploader(key="upload").set_value(("bad.toml", UPLOAD_ERRORS[kind], "text/plain")).run()
    assert not at.exception, [e.message for e in at.exception]
    shown = [e.value for e in at.error]
    message = error_text(lang, raised.value)
    assert shown == [plain(text(lang, "notices.upload_error", error=message))]
    assert message.startswith("bad.toml:2")
    if lang == "en":
        assert message == str(raised.value)
    else:
        assert re.search(r"[\u4e00-\u9fff]", message) and not _ENGLISH.search(message), message
    # the page's language switch rewords the same error
    other = "en" if lang == "zh" else "zh"
    at.radio(key="lang").set_value(other).run()
    expected = text(other, "notices.upload_error", error=error_text(other, raised.value))
    assert [e.value for e in at.error] == [plain(expected)]


def test_only_the_open_tab_is_drawn_and_it_survives_a_language_switch():
    from urbsim.app import SECTIONS
    from urbsim.app.tabs import KEY_CHARTS

    at = _start()
    assert len(at.tabs) == len(SECTIONS)
    assert len(at.get("vega_lite_chart")) == len(KEY_CHARTS)  # the charts tab, nothing else
    assert not at.get("graphviz_chart")
    at.session_state["section"] = "model"
    at.run()
    assert at.get("graphviz_chart") and not at.get("vega_lite_chart")
    at.radio(key="lang").set_value("zh").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["section"] == "model" and at.get("graphviz_chart")
    assert at.tabs[-1].label == text("zh", "tabs.model")


def test_every_diagram_and_the_documentation_search_render():
    app = _start(section="model")
    scope = app.selectbox(key="diagram_scope")
    for option in scope.options:
        scope.set_value(option).run()
        assert not app.exception, [e.message for e in app.exception]
        assert "digraph" in app.get("graphviz_chart")[0].proto.spec
    app.text_input(key="doc_search").set_value("debt ratio ceiling").run()
    table = app.dataframe[-1].value
    assert "debt ratio ceiling" in set(table.iloc[:, 0])
    assert len(table) < len(model_info().variables)


def test_hostile_url_values_are_notices_in_plain_text():
    at = _start(
        {
            "seed": "²",
            "final_time": "2030",
            "time_step": "0.125",
            "m2_to_km2": "1",
            "scenario": "[CLICK](https://example.org) ![i](https://example.org/i.png)",
        }
    )
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 5
    for w in warnings:  # markdown source with every mark escaped: no link, no image
        assert not re.search(r"(?<!\\)[\[\]()!:]", w), w
    assert at.session_state["seed"] == 2023


@pytest.mark.parametrize(
    "data, name, fragment",
    [
        (
            TITLE + b'[parameters]\n"reward per settler" = ' + b"9" * 400 + b"\n",
            "big.toml",
            "too large",
        ),
        (TITLE + b"[parameters]\nx = " + b"[" * 3000 + b"]" * 3000 + b"\n", "deep.toml", "nested"),
        (TITLE + b'[parameters]\n"reward per settler" = 4500\n', "n" * 300 + ".toml", None),
        (b" " * (2 * 1024 * 1024), "huge.toml", "at most 1,048,576"),
    ],
)
def test_hostile_uploads_are_one_line_errors_or_load(data, name, fragment):
    if fragment is None:  # a 300-character name: loaded, shown shortened
        assert parse_upload(data, name, model_info()).parameters == {"reward per settler": 4500}
        return
    with pytest.raises(ScenarioError) as err:
        parse_upload(data, name, model_info())
    message = str(err.value)
    assert fragment in message and "\n" not in message and len(message) < 300


def test_an_unexpected_failure_shows_one_translated_line(monkeypatch):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = "zh"
    at.query_params["lang"] = "zh"
    import urbsim.app.runs as runs

    def broken(*args, **kwargs):
        raise KeyError("/srv/secret/path")

    monkeypatch.setattr(runs, "scorecard_frame", broken)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [text("zh", "app.unexpected")]


def test_brief_buttons_are_offered_for_the_current_sliders(app):
    labels = [b.proto.label for b in app.get("download_button")]
    assert text("en", "brief.download") in labels and text("en", "brief.download_pdf") in labels


def test_first_screen_is_chinese_on_the_plan_with_a_headline():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.title[0].value == text("zh", "app.title")
    assert at.session_state["preset"] == "plan"
    assert dict(at.query_params) == {}  # the defaults make a clean link
    sentence = at.markdown[0].value
    value = at.session_state["scorecard"]["T2"]
    assert f"2025年县城人口占比{value:.1f}%" in sentence.replace("\\", "")
    assert text("zh", "headline.definition") in sentence and "较基准" in sentence


def test_headline_states_the_difference_as_plan_minus_baseline(plan_run, baseline_run):
    from urbsim.app.compute import headline, scorecard_frame

    frame = scorecard_frame(plan_run, None)
    delta = float(plan_run.county_town_share.sel(time=2025.0).squeeze()) - float(
        baseline_run.county_town_share.sel(time=2025.0).squeeze()
    )
    sentence = headline(frame, baseline_run, "en")
    word = text("en", "headline.up" if delta >= 0 else "headline.down")
    assert f"{abs(delta):.1f} percentage points {word}" in sentence
    assert "percentage points" not in headline(frame, None, "en")


def test_tracking_parameters_are_ignored_and_notices_show_once():
    at = _start({"from": "singlemessage", "isappinstalled": "0", "utm_source": "x", "nope": "1"})
    assert len(at.warning) == 1  # only the unknown setting, not the messenger's tags
    assert "from" not in at.query_params and "utm_source" not in at.query_params
    at.run()
    assert not at.warning  # a notice is shown once


def test_compare_table_reads_a_minus_b(plan_run, baseline_run):
    from urbsim.app.tabs import compare_table

    table = compare_table(plan_run, baseline_run, "en")
    delta = table[f"{text('en', 'compare.delta')} 2025"]
    assert (delta == table["A 2025"] - table["B 2025"]).all()


def test_a_lever_set_in_one_group_survives_switching_groups_and_languages():
    """Only one group's sliders are drawn; a value set in another group is kept (and stays in
    the link and the run) through group and language switches, and reset restores it."""
    at = _start()
    key = lever_key("reward per settler")
    assert not any(s.key == key for s in at.slider)  # the Money group is not drawn yet
    default = at.session_state[LEVERS][key]
    _group(at, "Money").slider(key=key).set_value(4500.0).run()
    moved = at.session_state["results"]
    _group(at, "People")
    assert not any(s.key == key for s in at.slider)
    at.radio(key="lang").set_value("zh").run()
    _group(at, "Land", "zh")
    at.radio(key="lang").set_value("en").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["reward_per_settler"] == "4500"
    assert at.session_state["results"].identical(moved)  # the same run, not recomputed anew
    assert _group(at, "Money").slider(key=key).value == 4500.0
    at.button(key="reset").click().run()
    assert at.slider(key=key).value == default
    assert "reward_per_settler" not in at.query_params


def test_charts_toggled_on_are_drawn_and_kept_across_languages():
    """The key charts are drawn first; a chart toggled on is drawn and stays on in the other
    language (kept by id, not by its title)."""
    from urbsim.app.tabs import KEY_CHARTS
    from urbsim.charts import CHARTS

    def titles(at: AppTest) -> list[str]:  # sorted: the grid lists column by column
        specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
        return sorted(t["text"] if isinstance(t, dict) else t for t in (s["title"] for s in specs))

    at = _start()
    assert titles(at) == sorted(text("en", f"charts.{c}.title") for c in KEY_CHARTS)
    extra = next(c for c in CHARTS if c not in KEY_CHARTS)
    at.button_group(key="charts_shown@en").set_value([*KEY_CHARTS, extra]).run()
    assert text("en", f"charts.{extra}.title") in titles(at)
    at.radio(key="lang").set_value("zh").run()
    assert not at.exception, [e.message for e in at.exception]
    assert titles(at) == sorted(text("zh", f"charts.{c}.title") for c in (*KEY_CHARTS, extra))
