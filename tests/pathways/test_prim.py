"""PRIM on synthetic data with a known box, and the plain-language sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urbsim.pathways.discover import Discovery, prim_boxes, sentence


def _data(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.random((n, 5)), columns=["a", "b", "c", "d", "e"])


@settings(max_examples=4, deadline=None)
@given(
    lo_a=st.floats(0.3, 0.6),
    hi_b=st.floats(0.3, 0.6),
    seed=st.integers(0, 2**16),
)
def test_prim_recovers_a_known_box(lo_a, hi_b, seed):
    x = _data(seed)
    y = ((x.a >= lo_a) & (x.b <= hi_b)).to_numpy()
    box = prim_boxes(x, y, max_boxes=1)[0]
    got = {r.name: r for r in box.restrictions}
    assert set(got) == {"a", "b"}  # the noise columns c, d, e are not restricted
    assert got["a"].min == pytest.approx(lo_a, abs=0.06)
    assert got["b"].max == pytest.approx(hi_b, abs=0.06)
    assert got["a"].max == pytest.approx(1.0, abs=0.01)
    assert box.density >= 0.8 and box.coverage >= 0.7
    assert all(r.p_value < 0.05 for r in box.restrictions)
    inside = (x.a >= got["a"].min) & (x.a <= got["a"].max) & (x.b >= got["b"].min)
    inside &= x.b <= got["b"].max
    assert box.density == pytest.approx(y[inside].mean())  # recomputed from the data


def test_no_box_when_nothing_is_met_or_everything_is():
    x = _data(1, 500)
    assert prim_boxes(x, np.zeros(len(x), bool)) == []
    assert prim_boxes(x, np.ones(len(x), bool)) == []


def test_the_json_format_is_the_issues():
    x = _data(2)
    y = (x.c > 0.7).to_numpy()
    result = Discovery(("T2",), 2035, True, float(y.mean()), tuple(prim_boxes(x, y)), {})
    out = result.to_json()
    assert set(out) == {"base_rate", "boxes"}
    assert set(out["boxes"][0]) == {"coverage", "density", "restrictions"}
    assert set(out["boxes"][0]["restrictions"][0]) == {"name", "min", "max", "p_value"}
    assert out["boxes"][0]["restrictions"][0]["name"] == "c"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_sentence_names_the_box(lang):
    x = _data(3).rename(columns={"a": "birth rate drift", "b": "normal rural to town rate[agr]"})
    y = (x["birth rate drift"] > 0.5).to_numpy() & (x["normal rural to town rate[agr]"] < 0.5)
    result = Discovery(("T2",), 2035, True, float(y.mean()), tuple(prim_boxes(x, y)), {})
    text = sentence(result, lang)
    assert "T2" in text and "2035" in text
    assert str(round(result.boxes[0].density * 100)) in text
    if lang == "zh":
        assert "出生率年变化" in text  # the Chinese name of the assumption
        assert "达标" in text and "。" in text
    else:
        assert "birth rate drift is between 0.5" in text
    empty = Discovery(("T2",), 2035, False, 0.4, (), {})
    assert "40" in sentence(empty, lang)
