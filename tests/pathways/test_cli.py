"""``urbsim optimize`` and ``urbsim discover``: outputs, refusals, bad input."""

from __future__ import annotations

import json
import tomllib

import pytest

import urbsim
from urbsim.cli import main


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_optimize_writes_a_scenario_and_a_report(tmp_path, capsys, fast_model, held):
    best, report = tmp_path / "best.toml", tmp_path / "report.json"
    argv = ["optimize", "--target", "T2b", "--year", "2030", "--confidence", "0.6", "--seed", "3"]
    argv += ["--maxiter", "1", "--out", str(best), "--report", str(report)]
    argv += [a for name in held for a in ("--fix", name)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "T2b in 2030" in out
    scenario = urbsim.load_scenario(best)  # a valid scenario
    plan = urbsim.load_scenario("plan")
    assert scenario.title["en"] != scenario.title["zh"] and "T2b" in scenario.title["zh"]
    levers = {c.name for g in fast_model.info.levers().values() for c in g}
    differ = {k for k, v in scenario.parameters.items() if plan.parameters.get(k) != v}
    assert differ <= levers and set(held).isdisjoint(differ)  # only free levers changed
    data = json.loads(report.read_text(encoding="utf-8"))
    for key in ("target", "year", "confidence", "p_met", "p_met_low", "p_met_high", "cost"):
        assert key in data
    assert data["cost_unit"] == "亿元" and data["ensemble"]["size"] == 200
    assert data["model_sha256"] == fast_model.sha256
    assert tomllib.loads(best.read_text(encoding="utf-8"))["name"] == "plan-what-it-takes"
    before = best.read_bytes()
    code, _, err = run(argv, capsys)  # refuses to overwrite
    assert code == 2 and "--force" in err and best.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["optimize", "--target", "T99"], "unknown target id"),
        (["optimize", "--year", "2040"], "2023-2035"),
        (["optimize", "--confidence", "1.5"], "strictly between 0 and 1"),
        (["optimize", "--fix", "birth rate drift"], "not a lever"),
        (["optimize", "--n", "10"], "at least 200"),
        (["optimize", "--out", "x.csv"], "allowed: FILE.toml"),
        (["discover", "--n", "50"], "at least 200"),
        (["discover", "--target", "T2", "--year", "2000"], "2023-2035"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, argv, words, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert code == 2 and words in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_discover_writes_boxes(tmp_path, capsys, fast_model):
    out = tmp_path / "boxes.json"
    code, stdout, err = run(
        ["discover", "--year", "2035", "--n", "400", "--seed", "1", "--out", str(out)], capsys
    )
    assert code == 0, err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"base_rate", "boxes"} and 0 < data["base_rate"] < 1
    assert "T2" in stdout and "2035" in stdout
