"""The target scorecard: each plan target the model represents, in its target year.

For every target of :data:`urbsim.indicators.TARGETS` it shows the value under the current
scenario, the goal, whether the value meets it, and the share of the live uncertainty ensemble
that meets it. Targets are regional, so the type filter does not change the scorecard.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from urbsim.app.compute import scorecard_table
from urbsim.i18n import text
from urbsim.indicators import UNREPRESENTED

_TABLE_STYLE = (
    "<style>[data-testid='stTable']{overflow-x:auto}"
    "[data-testid='stTable'] th *{white-space:nowrap !important;"
    "word-break:keep-all !important}</style>"
)


def render(
    frame: pd.DataFrame, lang: str, *, posterior: bool = False, runs: int = 0, seed: int = 0
) -> None:
    """Draw the scorecard and keep its numbers in ``st.session_state["scorecard"]``."""
    st.subheader(text(lang, "scorecard.header"))
    # Static style, no visitor text: headers stay on one line and a narrow screen (a 390-px
    # phone) scrolls the table sideways instead of breaking 是否达标 one character per line.
    st.markdown(_TABLE_STYLE, unsafe_allow_html=True)
    st.session_state["scorecard"] = dict(zip(frame["id"], frame["value"], strict=True))
    # A static table: every value is page text (readable by screen readers, browsers and tests).
    st.table(scorecard_table(frame, lang).set_index(text(lang, "scorecard.target")))
    source = "scorecard.ensemble_posterior" if posterior else "scorecard.ensemble_prior"
    st.caption(
        text(lang, source, runs=runs, seed=seed)
        + " "
        + text(lang, "app.regional_scorecard")
        + " "
        + text(lang, "scorecard.unrepresented", ids=", ".join(UNREPRESENTED))
    )
