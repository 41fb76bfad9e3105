"""URL query parameters <-> app state: exact round trips and notices for bad values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from urbsim.app.state import (
    AppState,
    diff_values,
    format_number,
    from_query,
    preset_values,
    to_query,
)
from urbsim.i18n import text
from urbsim.mdlinfo import model_info

INFO = model_info()
PRESETS = ["baseline", "plan"]


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_back_bit_identical(x):
    assert float(format_number(x)) == x


@settings(max_examples=60, deadline=None)
@given(
    openness=st.floats(0.4, 1.0),
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
