"""Bounded fuzzing of what users type or upload: exit 0 or 2, one line, no traceback, no state.

Query strings of the app are fuzzed in ``tests/app/test_state.py``.
"""

from __future__ import annotations

import math

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from urbsim import cli
from urbsim.app.sidebar import parse_upload
from urbsim.errors import ScenarioError
from urbsim.mdlinfo import model_info

INFO = model_info()
NAMES = sorted(INFO.constants)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _shared_model(fast_model, monkeypatch):
    monkeypatch.setattr(cli, "load_cached_model", lambda engine: fast_model)


def _check(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("urbsim: error: "), err


NUMBERS = st.one_of(
    st.floats(allow_nan=False),
    st.integers(-(10**30), 10**30),
    st.integers(10**300, 10**400),
)
VALUES = st.recursive(
    st.one_of(NUMBERS, st.booleans(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
SCENARIOS = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(max_size=20), NUMBERS),
        "title": st.one_of(
            st.fixed_dictionaries({"en": st.text(max_size=10), "zh": st.text(max_size=10)}),
            VALUES,
        ),
        "description": st.fixed_dictionaries(
            {"en": st.text(min_size=1, max_size=10), "zh": st.text(min_size=1, max_size=10)}
        ),
        "parameters": st.dictionaries(
            st.one_of(st.sampled_from(NAMES), st.text(max_size=20)), VALUES, max_size=4
        ),
        "uncertainty": st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=2),
    }
)


def _toml(data: dict) -> str | None:
    clean = {k: v for k, v in data.items() if isinstance(v, dict) or k == "name"}
    try:
        return tomli_w.dumps(clean)
    except (TypeError, ValueError):  # a structure TOML cannot hold (e.g. a list of tables)
        return None


@FUZZ
@given(data=SCENARIOS)
def test_scenario_files(data, tmp_path_factory, capsys):
    text = _toml(data)
    if text is None:
        return
    folder = tmp_path_factory.mktemp("s")
    path = folder / "s.toml"
    path.write_text(text, encoding="utf-8")
    code = cli.main(["run", "--scenario", str(path)])
    _check(code, capsys.readouterr().err)
    assert [p.name for p in folder.iterdir()] == ["s.toml"]


@FUZZ
@given(
    name=st.one_of(st.sampled_from(NAMES), st.text(max_size=30)),
    value=st.one_of(st.text(max_size=30), NUMBERS.map(repr), st.just("1e400")),
    element=st.one_of(st.none(), st.text(max_size=8)),
)
def test_set_values(name, value, element, capsys):
    item = f"{name}[{element}]={value}" if element is not None else f"{name}={value}"
    code = cli.main(["run", "--set", item])
    _check(code, capsys.readouterr().err)


@FUZZ
@given(st.binary(max_size=400), st.text(max_size=300))
def test_upload_bytes(data, filename):
    try:
        parse_upload(data, filename, INFO)
    except ScenarioError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 1000


@FUZZ
@given(SCENARIOS, st.text(min_size=1, max_size=300))
def test_upload_scenarios(data, filename):
    text = _toml(data)
    if text is None:
        return
    try:
        scenario = parse_upload(text.encode(), filename, INFO)
    except ScenarioError as exc:
        assert "\n" not in str(exc)
        return
    for value in scenario.parameters.values():  # what loads, runs: finite numbers only
        flat = value.values() if isinstance(value, dict) else [value]
        assert all(math.isfinite(v) for v in flat)
