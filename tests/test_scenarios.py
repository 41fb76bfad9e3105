"""Scenario files: the built-in ones validate and round-trip; broken ones fail with file:line."""

from __future__ import annotations

import numpy as np
import pytest

from urbsim.errors import ParameterError, ScenarioError
from urbsim.indicators import INDICATORS
from urbsim.params import coerce_params
from urbsim.scenarios import (
    Scenario,
    key_lines,
    list_scenarios,
    load_scenario,
    parse_set,
    read_scenario,
    scenario_files,
)

REQUIRED = ("baseline", "plan", "plan-fiscal-tight", "accelerated")


def test_required_scenarios_exist():
    names = {p.stem for p in scenario_files()}
    assert set(REQUIRED) <= names


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_every_scenario_validates(path, info):
    scenario = read_scenario(path, info)
    assert scenario.name == path.stem
    for table in (scenario.title, scenario.description):
        assert set(table) == {"en", "zh"}
        assert all(text.strip() for text in table.values())
    # the description cites the plan's article numbers
    assert "art." in scenario.description["en"] and "第" in scenario.description["zh"]
    arrays = scenario.arrays(info)
    for name, arr in arrays.items():
        lo, hi = info.constants[name].range
        assert np.all((arr >= lo) & (arr <= hi)), name


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_to_toml_round_trips(path, tmp_path, info):
    scenario = read_scenario(path, info)
    copy = tmp_path / path.name
    copy.write_text(scenario.to_toml(), encoding="utf-8")
    again = read_scenario(copy, info)
    assert again == Scenario(**{**scenario.__dict__, "path": copy})


def test_to_toml_round_trips_uncertainty_and_odd_text(tmp_path, info):
    scenario = Scenario(
        name="odd",
        title={"en": 'Quotes " and \\ backslash', "zh": "引号“”"},
        description={"en": "line one\nline two", "zh": "多行\n文本"},
        parameters={"reward per settler": 2500.5, "park investment policy": {"agr": 12}},
        uncertainty={"park crowd in ratio": {"dist": "triangular", "min": 2, "mode": 3, "max": 5}},
    )
    path = tmp_path / "odd.toml"
    path.write_text(scenario.to_toml(), encoding="utf-8")
    assert read_scenario(path, info) == Scenario(**{**scenario.__dict__, "path": path})


def test_baseline_holds_every_lever_at_its_pre_plan_value(info, fast_model):
    """Baseline equals switching the plan off, bit for bit, for every indicator."""
    baseline = fast_model.run(load_scenario("baseline", info))
    switched_off = fast_model.run({"plan switch": 0})
    for name in INDICATORS:
        np.testing.assert_array_equal(baseline[name].values, switched_off[name].values, name)


def test_plan_lists_every_lever_at_its_plan_value(info):
    """The plan's values are the model's defaults; plan.toml documents each lever explicitly."""
    arrays = load_scenario("plan", info).arrays(info)
    for levers in info.levers().values():
        for c in levers:
            assert c.name in arrays, f"plan.toml does not list the lever {c.name!r}"
            np.testing.assert_array_equal(arrays[c.name], c.default, err_msg=c.name)


def test_stronger_and_tighter_scenarios_move_the_right_way(info):
    plan = load_scenario("plan", info).arrays(info)
    tight = load_scenario("plan-fiscal-tight", info).arrays(info)
    fast = load_scenario("accelerated", info).arrays(info)
    for name in ("debt ratio ceiling", "reward per settler", "special bond quota"):
        assert np.all(tight[name] <= plan[name]) and np.any(tight[name] < plan[name]), name
    for name in ("reward per settler", "special bond quota", "park investment policy"):
        assert np.all(fast[name] >= plan[name]) and np.any(fast[name] > plan[name]), name


def test_list_scenarios_is_sorted_and_complete(info):
    names = [s.name for s in list_scenarios(info)]
    assert names == sorted(names) and set(REQUIRED) <= set(names)


def test_with_overrides_merges_tables_and_matches_spelling(info):
    plan = load_scenario("plan", info)
    custom = plan.with_overrides(
        {"Reward_Per_Settler": 5000, "park investment policy": {"urb": 30}}
    )
    assert custom.name == "plan+custom" and custom.path is None
    assert custom.parameters["reward per settler"] == 5000
    assert "Reward_Per_Settler" not in custom.parameters
    assert custom.parameters["park investment policy"] == {"urb": 30, "agr": 15, "eco": 8}
    assert plan.parameters["reward per settler"] == 3000  # the original is unchanged
    np.testing.assert_array_equal(custom.arrays(info)["park investment policy"], [30, 15, 8])
    assert plan.with_overrides({}) is plan


# Each broken file in tests/data: the line of the culprit and words the message must contain.
BAD_FILES = {
    "bad-syntax": (13, ["TOML syntax error", "column 29"]),
    "bad-unknown-variable": (13, ["unknown variable 'reward per setler'", "reward per settler"]),
    "bad-range": (13, ["'reward per settler' = 20000", "[0, 10000]", "yuan/person/year"]),
    "bad-type": (13, ["'reward per settler' must be a number", "'a lot'"]),
    "bad-shape": (13, ["'reward per settler' is not subscripted"]),
    "bad-element": (13, ["no element 'city'", "urb, agr, eco"]),
    "bad-top-key": (2, ["unknown key 'author'", "name, title, description"]),
    "bad-missing-zh": (3, ["[title]", "'zh'"]),
}


@pytest.mark.parametrize("stem", sorted(BAD_FILES))
def test_bad_file_names_file_line_and_what_is_allowed(stem, data_dir, info):
    line, fragments = BAD_FILES[stem]
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data_dir / f"{stem}.toml", info)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{data_dir / stem}.toml:{line}: ") or message.startswith(
        f"tests/data/{stem}.toml:{line}: "
    )
    for fragment in fragments:
        assert fragment in message


def test_duplicate_spellings_of_one_constant_are_rejected(tmp_path, info):
    text = load_scenario("baseline", info).to_toml() + '"plan_switch" = 1\n'
    path = tmp_path / "dup.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=r"dup.toml:\d+: 'plan_switch' sets 'plan switch'"):
        read_scenario(path, info)


def test_unknown_scenario_name_lists_the_available_ones():
    with pytest.raises(ScenarioError, match="unknown scenario 'nosuch'; available: .*plan"):
        load_scenario("nosuch")


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.toml")


def test_key_lines_finds_keys_and_table_headers():
    text = 'name = "x"\n[parameters]\n"a b" = 1\nc = { urb = 1 }\n[parameters."d e"]\nurb = 2\n'
    lines = key_lines(text)
    assert lines[("name",)] == 1
    assert lines[("parameters", "a b")] == 3
    assert lines[("parameters", "c")] == 4
    assert lines[("parameters", "d e")] == 5
    assert lines[("parameters", "d e", "urb")] == 6


def test_parse_set_numbers_and_elements():
    parsed = parse_set(
        [
            "reward per settler=5000",
            "park investment policy[urb]=30",
            "park investment policy [agr] = 1e1",
        ]
    )
    assert parsed == {
        "reward per settler": 5000.0,
        "park investment policy": {"urb": 30.0, "agr": 10.0},
    }


@pytest.mark.parametrize(
    "item", ["reward per settler", "reward per settler=lots", "=5", "x[urb=3", "x=nan", "x=inf"]
)
def test_parse_set_rejects_malformed_items(item):
    with pytest.raises(ParameterError, match=r"--set .*expected VAR=VALUE"):
        parse_set([item])


def test_parse_set_rejects_mixing_scalar_and_elements():
    with pytest.raises(ParameterError, match="already set to one number"):
        parse_set(["x=1", "x[urb]=2"])


def test_set_values_are_checked_against_the_model(info):
    with pytest.raises(ParameterError, match="--set: 'park investment policy' has no element"):
        coerce_params(info, parse_set(["park investment policy[city]=3"]), where="--set")


def test_a_parameters_only_file_is_a_scenario(tmp_path, info):
    path = tmp_path / "my-test.toml"
    path.write_text('[parameters]\n"reward per settler" = 4000\n', encoding="utf-8")
    scenario = load_scenario(path, info)
    assert scenario.name == "my-test"
    assert scenario.title == {"en": "my-test", "zh": "my-test"}
    assert scenario.description == {"en": "", "zh": ""}
    assert scenario.parameters == {"reward per settler": 4000}


def test_a_parameters_only_file_with_an_unknown_name_is_one_line(tmp_path, info):
    path = tmp_path / "typo.toml"
    path.write_text('[parameters]\n"reward per setler" = 4000\n', encoding="utf-8")
    with pytest.raises(ParameterError) as caught:
        load_scenario(path, info)
    message = str(caught.value)
    assert "\n" not in message and "typo.toml:2:" in message
    assert "unknown variable 'reward per setler'" in message and "reward per settler" in message


def test_built_in_scenario_without_chinese_texts_is_a_check_problem(tmp_path, monkeypatch):
    from urbsim import cli, scenarios

    (tmp_path / "short.toml").write_text('[parameters]\n"plan switch" = 1\n', encoding="utf-8")
    monkeypatch.setattr(scenarios, "scenario_dir", lambda: tmp_path)
    count, problems = cli.scenario_problems(cli.default_model_path())
    assert count == 1 and len(problems) == 1
    assert "needs [title] and [description] in English and Chinese" in problems[0]


def test_built_in_english_texts_carry_no_chinese_words(info):
    """An English reader of a built-in scenario meets no Chinese (articles are cited as numbers,
    quotations of the plan translated)."""
    import re

    for scenario in list_scenarios(info):
        english = scenario.title["en"] + scenario.description["en"]
        assert not re.search(r"[\u4e00-\u9fff]", english), scenario.name
