"""`urbsim mc` and `urbsim sensitivity`: happy paths and one-line errors with exit code 2."""

from __future__ import annotations

import argparse
import json
import re
import time

import pandas as pd
import pytest
import xarray as xr

from urbsim.ensemble.cli import add_commands, parse_years
from urbsim.errors import UrbsimError
from urbsim.i18n import text

from .conftest import TINY


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """What `urbsim` does: dispatch to the handler, UrbsimError -> one line on stderr, exit 2."""
    parser = argparse.ArgumentParser(prog="urbsim")
    add_commands(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except UrbsimError as exc:
        print(f"urbsim: {exc}", file=__import__("sys").stderr)
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


def test_mc_prints_targets_and_writes(tmp_path, capsys, model):
    out = tmp_path / "mc.nc"
    code, stdout, err = run(["mc", "--n", "32", "--seed", "1", "--out", str(out)], capsys)
    assert code == 0 and out.is_file()
    assert "T2" in stdout and "County-town share" in stdout and "P(met 2025)" in stdout
    assert "run" in err  # tqdm progress on stderr
    code, _, err = run(["mc", "--n", "32", "--seed", "1", "--out", str(out)], capsys)
    assert code == 2 and "already exists" in err and err.count("\n") == 1
    code, _, err = run(["mc", "--n", "16", "--seed", "2", "--out", str(out), "--force"], capsys)
    assert code == 0, err
    assert xr.open_dataset(out).attrs["runs"] == 16  # replaced
    assert not out.with_name(out.name + ".parts").exists()


def test_mc_in_chinese_formats_numbers_as_run_does(capsys, model):
    code, stdout, _ = run(["mc", "--n", "16", "--seed", "2", "--lang", "zh"], capsys)
    assert code == 0
    assert text("zh", "report.p_met", year=2025) in stdout
    assert "e+" not in stdout  # 12,432 as `urbsim run` writes it, not 1.243e+04
    assert re.search(r"\d{2},\d{3} / ", stdout)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mc", "--n", "0", "--seed", "1"], "--n must be a positive whole number"),
        (["mc", "--n", "4", "--seed", "1", "--out", "x.txt"], "unknown format '.txt'"),
        (["mc", "--n", "4", "--seed", "1", "--resume"], "--resume needs --out"),
        (["sensitivity", "--method", "sobol", "--n", "-3", "--seed", "1"], "positive whole"),
        (
            [
                "sensitivity",
                "--method",
                "morris",
                "--n",
                "4",
                "--seed",
                "1",
                "--years",
                "2030-2020",
            ],
            "give YEAR or FIRST-LAST",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, message, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_unreachable_scheduler_fails_fast(capsys, model):
    start = time.monotonic()
    code, _, err = run(
        ["mc", "--n", "4", "--seed", "1", "--scheduler", "tcp://127.0.0.1:9"], capsys
    )
    assert code == 2 and "no Dask scheduler answered" in err
    assert time.monotonic() - start < 30


def test_sensitivity_rounds_sobol_n_with_notice_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "s.csv"
    argv = [
        "sensitivity",
        "--model",
        str(TINY),
        "--method",
        "sobol",
        "--n",
        "10",
        "--seed",
        "2",
        "--outputs",
        "Only A",
        "--years",
        "2025",
        "--out",
        str(out),
    ]
    code, stdout, err = run(argv, capsys)
    assert code == 0
    assert "using --n 16 instead of 10" in err
    assert "top drivers of Only A in 2025" in stdout
    table = pd.read_csv(out)  # no options: BOM, one header row
    assert list(table.columns[:3]) == ["output", "year", "factor"] and "ST_conf" in table
    meta = json.loads((tmp_path / "s.meta.json").read_text(encoding="utf-8"))
    assert meta["method"] == "sobol" and meta["seed"] == 2
    code, _, err = run(argv, capsys)
    assert code == 2 and "--force" in err
    code, _, err = run([*argv, "--force"], capsys)
    assert code == 0, err


def test_parse_years():
    assert parse_years("2023-2025") == [2023, 2024, 2025]
    assert parse_years("2030") == [2030]
