"""``urbsim chart``: a scenario with --set and --n, or a saved result with --from."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import urbsim
from urbsim import cli
from urbsim.ensemble.montecarlo import run_montecarlo


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["chart", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_chart_csv_with_set_and_n_has_a_sidecar(capsys, tmp_path):
    out = tmp_path / "gdp.csv"
    code, stdout, err = _run(
        capsys,
        "county_gdp",
        "--n",
        "12",
        "--set",
        "reward per settler=4000",
        "--lang",
        "zh",
        "--out",
        str(out),
    )
    assert code == 0, err
    table = pd.read_csv(out)
    assert table.columns[0] == "年份" and any("95%" in c for c in table.columns)
    meta = json.loads((tmp_path / "gdp.meta.json").read_text(encoding="utf-8"))
    assert meta["parameters_changed"] == {"reward per settler": 4000.0}
    assert meta["scenario"] == "plan+custom"
    assert stdout.split() == [str(out), str(tmp_path / "gdp.meta.json")]


def test_chart_from_a_saved_run_and_a_saved_ensemble(capsys, tmp_path, model):
    run_file = tmp_path / "plan.nc"
    model.run(urbsim.load_scenario("plan")).to_netcdf(run_file)
    code, _, err = _run(
        capsys, "county_town_share", "--from", str(run_file), "--out", str(tmp_path / "a.png")
    )
    assert code == 0, err and (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    mc_file = tmp_path / "mc.nc"
    run_montecarlo(urbsim.load_scenario("plan"), n=16, seed=5, model=model, out=mc_file)
    xlsx = tmp_path / "mc.xlsx"
    code, _, err = _run(capsys, "debt_ratio", "--from", str(mc_file), "--out", str(xlsx))
    assert code == 0, err
    sheets = pd.read_excel(xlsx, sheet_name=None, engine="openpyxl")
    prov = dict(zip(sheets["provenance"].key, sheets["provenance"].value, strict=True))
    assert prov["seed"] == 5
    assert any("95 %" in c for c in sheets["data"].columns)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--from", "nope.nc", "--out", "x.png"], "--from nope.nc: no such file"),
        (["--out", "x.pdf"], "unknown format .pdf"),
        (["--n", "0", "--out", "x.png"], "n"),
    ],
)
def test_chart_bad_input_is_one_line(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "county_gdp", *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


def test_chart_from_a_file_that_is_not_a_result(capsys, tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("hello")
    code, _, err = _run(capsys, "county_gdp", "--from", str(bad), "--out", str(tmp_path / "x.png"))
    assert code == 2 and "not a NetCDF or Zarr result" in err


def test_chart_refuses_to_overwrite_without_force(capsys, tmp_path, model):
    out = tmp_path / "x.csv"
    out.write_text("keep")
    run_file = tmp_path / "plan.nc"
    model.run(urbsim.load_scenario("plan"), outputs=["county_gdp"]).to_netcdf(run_file)
    code, _, err = _run(capsys, "county_gdp", "--from", str(run_file), "--out", str(out))
    assert code == 2 and "--force" in err and out.read_text() == "keep"
    code, _, err = _run(capsys, "county_gdp", "--from", str(run_file), "--out", str(out), "--force")
    assert code == 0, err and pd.read_csv(out).shape[0] == 16
