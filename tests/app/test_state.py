"""URL query parameters <-> app state: exact round trips and notices for bad values."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from urbsim.app.state import (
    _RESERVED,
    AppState,
    diff_values,
    format_number,
    from_query,
    plain,
    preset_values,
    to_query,
)
from urbsim.i18n import slug, text
from urbsim.mdlinfo import model_info
from urbsim.params import coerce_params

INFO = model_info()
PRESETS = ["baseline", "plan"]
_SLUGS = {slug(c) for c in INFO.constants} | set(_RESERVED)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_back_bit_identical(x):
    assert float(format_number(x)) == x


@settings(max_examples=60, deadline=None)
@given(
    openness=st.floats(*INFO.constants["settlement openness policy"].range),
    park=st.floats(0.0, 60.0),
    lang=st.sampled_from(["en", "zh"]),
    county_type=st.sampled_from(["all", "urb", "agr", "eco"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_state_round_trips_through_the_url(openness, park, lang, county_type, seed):
    state = AppState(
        scenario="baseline",
        overrides={"settlement openness policy": openness, "park investment policy": {"urb": park}},
        lang=lang,
        county_type=county_type,
        seed=seed,
    )
    back, notices = from_query(to_query(state, "plan"), INFO, PRESETS, "plan")
    assert notices == []
    assert back == state


def test_bad_values_are_dropped_with_one_notice_each():
    query = {
        "settlement_openness_policy": "abc",
        "park_investment_policy.urb": "999",
        "park_investment_policy.mars": "1",
        "no_such_lever": "1",
        "permit_coverage_policy": "nan",
        "scenario": "utopia",
        "type": "city",
        "seed": "-3",
        "lang": "fr",
        "reward_per_settler": "2500",
    }
    state, notices = from_query(query, INFO, PRESETS, "plan")
    assert len(notices) == len(query) - 1
    assert state.overrides == {"reward per settler": 2500.0}
    assert (state.scenario, state.lang, state.county_type) == ("plan", "en", "all")
    assert (
        text(
            "en",
            "notices.url_range",
            param="park_investment_policy.urb",
            value="999",
            lo="0",
            hi="60",
        )
        in notices
    )


def test_notices_speak_the_requested_language():
    _, notices = from_query({"lang": "zh", "no_such_lever": "1"}, INFO, PRESETS, "plan")
    assert notices == [text("zh", "notices.url_unknown", param="no_such_lever")]


def test_diff_lists_only_changed_elements():
    base = preset_values(INFO, {})
    current = dict(base)
    current["park investment policy"] = base["park investment policy"] + np.array([0, 5, 0])
    assert diff_values(INFO, current, base) == {
        "park investment policy": {"agr": float(base["park investment policy"][1] + 5)}
    }


def test_seed_accepts_ascii_digits_only():
    for raw in ("²", "٣", "1" * 30, "4294967296", " 7", "+7"):
        state, notices = from_query({"seed": raw}, INFO, PRESETS, "plan")
        assert state.seed == AppState().seed and len(notices) == 1, raw


def test_structural_constants_cannot_be_set_from_a_url():
    structural = [c.name for c in INFO.constants.values() if c.structural]
    assert structural  # FINAL TIME, TIME STEP, unit conversions
    query = {slug(name): format_number(INFO.constants[name].default.flat[0]) for name in structural}
    state, notices = from_query(query, INFO, PRESETS, "plan")
    assert state.overrides == {}
    assert notices == [text("en", "notices.url_unknown", param=k) for k in query]


def test_plain_escapes_every_markdown_mark():
    shown = plain("[CLICK](https://x.org) ![i](https://x.org/i.png) :red[a] $x$ <b>\nline")
    assert "\n" not in shown
    assert not re.search(r"(?<!\\)[\[\]()!:$<>]", shown)
    assert re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "") == (
        "[CLICK](https://x.org) ![i](https://x.org/i.png) :red[a] $x$ <b> line"
    )


_QUERY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(sorted(_SLUGS)), _QUERY_TEXT),
        st.one_of(_QUERY_TEXT, st.floats().map(repr)),
        max_size=6,
    )
)
def test_any_query_string_gives_a_valid_state_and_one_line_notices(query):
    state, notices = from_query(query, INFO, PRESETS, "plan")
    coerce_params(INFO, state.overrides, n=1)  # every applied value passes the CLI's checks
    assert 0 <= state.seed <= 2**32 - 1 and state.lang in ("en", "zh")
    for notice in notices:
        assert "\n" not in notice and len(notice) < 400
