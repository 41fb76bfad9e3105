"""The target scorecard: each plan target the model represents, in its target year.

For every target of :data:`urbsim.indicators.TARGETS` it shows the value under the current
scenario, the goal, whether the value meets it, and the share of the live uncertainty ensemble
that meets it. Targets are regional, so the type filter does not change the scorecard.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from urbsim.i18n import text, unit
from urbsim.indicators import INDICATORS, TARGETS, UNREPRESENTED


def _goal(lang: str, target_id: str) -> str:
    t = TARGETS[target_id]
    value = f"{t.value:,g}"
    if t.comparison == ">=":
        return text(lang, "scorecard.at_least", value=value)
    return text(lang, "scorecard.about", value=value, tol=f"{t.tolerance:g}")


def table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The scorecard as displayed: translated headers, values with units, met and P(met).

    Parameters
    ----------
    frame : output of :func:`urbsim.app.runs.scorecard_frame` (``id``, ``value``, ``met``,
        ``prob`` as a share 0-1 or ``None``).
    """
    rows = []
    for r in frame.itertuples():
        t = TARGETS[r.id]
        units = unit(lang, INDICATORS[t.indicator].units)
        prob = (
            text(lang, "scorecard.na")
            if r.prob is None or pd.isna(r.prob)
            else text(lang, "scorecard.prob_value", p=100 * r.prob)
        )
        rows.append(
            {
                text(lang, "scorecard.target"): f"{t.id} {text(lang, f'targets.{t.id}')}",
                text(lang, "scorecard.article"): t.article,
                text(lang, "scorecard.value"): f"{r.value:,.2f} {units}",
                text(lang, "scorecard.goal"): f"{_goal(lang, t.id)} {units}",
                text(lang, "scorecard.met"): text(
                    lang, "scorecard.yes" if r.met else "scorecard.no"
                ),
                text(lang, "scorecard.prob"): prob,
            }
        )
    return pd.DataFrame(rows)


def render(frame: pd.DataFrame, lang: str) -> None:
    """Draw the scorecard and keep its numbers in ``st.session_state["scorecard"]``."""
    st.subheader(text(lang, "scorecard.header"))
    st.session_state["scorecard"] = dict(zip(frame["id"], frame["value"], strict=True))
    # A static table: every value is page text (readable by screen readers, browsers and tests).
    st.table(table(frame, lang).set_index(text(lang, "scorecard.target")))
    st.caption(
        text(lang, "app.regional_scorecard")
        + " "
        + text(lang, "scorecard.unrepresented", ids=", ".join(UNREPRESENTED))
    )
