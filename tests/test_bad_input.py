"""Issue 14's list of bad input: each is one line and exit 2 (or, where marked, accepted)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

import urbsim
from urbsim import cli, fileio
from urbsim.ensemble import store
from urbsim.errors import OutputError, ParameterError

TINY = Path(__file__).parent / "ensemble" / "tiny.mdl"
TOML_HEAD = 'name = "x"\n[title]\nen = "a"\nzh = "b"\n[description]\nen = "a"\nzh = "b"\n'


@pytest.fixture(autouse=True)
def _shared_model(fast_model, monkeypatch):
    monkeypatch.setattr(cli, "load_cached_model", lambda engine: fast_model)


def one_line_error(capsys, *argv: str) -> str:
    code = cli.main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("urbsim: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["mc", "--n", "10", "--seed", "-1"], "--seed must be a whole number from 0"),
        (["mc", "--n", "1000000000000", "--seed", "1"], "of memory"),
        (["sensitivity", "--method", "sobol", "--n", str(2**40), "--seed", "1"], "of memory"),
        (["sensitivity", "--method", "morris", "--n", "1", "--seed", "1"], "at least 2"),
        (
            ["sensitivity", "--method", "sobol", "--n", "8", "--seed", "1", "--years", "2023-9999"],
            "allowed years are ",
        ),
        (["run", "--out", ""], "--out"),
    ],
)
def test_bad_flags_are_one_line(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, *argv)
    assert fragment in line and len(line) < 300
    assert list(tmp_path.iterdir()) == []


def test_mc_out_in_a_read_only_folder_is_one_line(capsys, tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(store.tempfile, "TemporaryFile", read_only)
    line = one_line_error(capsys, "mc", "--n", "4", "--seed", "1", "--out", str(tmp_path / "x.nc"))
    assert "is not writable (Read-only file system)" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        ('[parameters]\n"reward per settler" = ' + "9" * 400, "too large for a float"),
        ('[parameters]\n"reward per settler" = ' + "9" * 5000, "more than 4,300 digits"),
        ("[parameters]\nx = " + "[" * 3000 + "]" * 3000, "nested too deeply"),
        ("[parameters]\nx = " + "{a=" * 3000 + "1" + "}" * 3000, "nested too deeply"),
    ],
)
def test_hostile_scenario_files_are_one_line(body, fragment, capsys, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(TOML_HEAD + body + "\n")
    assert fragment in one_line_error(capsys, "run", "--scenario", str(path))


def test_scenario_with_a_bom_is_accepted(capsys, tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (TOML_HEAD + '[parameters]\n"plan switch" = 1\n').encode())
    assert urbsim.load_scenario(path).name == "x"


@pytest.mark.parametrize("special", ["/dev/urandom", "/dev/zero", "fifo", "folder"])
def test_special_files_are_refused_unread(special, capsys, tmp_path):
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "s.toml"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path / "d.toml"
        path.mkdir()
    assert "not a regular file" in one_line_error(capsys, "run", "--scenario", str(path))


def test_large_scenario_files_are_refused(capsys, tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(TOML_HEAD + "# " + "x" * (1 << 20) + "\n")
    assert "at most 1,048,576" in one_line_error(capsys, "run", "--scenario", str(path))


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"reward per settler": 10**400}, "too large for a float"),
        ({"reward per settler": [[1, 2], [3]]}, "must be"),
        ({"park investment policy": {"urb": 10**400}}, "too large for a float"),
        ({"park investment policy": {"urb": True}}, "must be numbers"),
    ],
)
def test_python_bad_values_are_parameter_errors(fast_model, params, fragment):
    with pytest.raises(ParameterError, match=fragment):
        fast_model.run(params, outputs=["county_town_share"])


def test_python_numpy_scalars_and_a_single_output_name_are_accepted(fast_model):
    table = {"urb": np.int64(20), "agr": np.float32(15.0)}
    ds = fast_model.run({"park investment policy": table}, outputs="county_town_share")
    assert list(ds.data_vars) == ["county_town_share"] or "county_town_share" in ds
    same = fast_model.run(
        {"park investment policy": {"urb": 20, "agr": 15.0}}, outputs=["county_town_share"]
    )
    np.testing.assert_array_equal(ds.county_town_share.values, same.county_town_share.values)


@pytest.mark.parametrize("terms", [210, 1000])
def test_a_long_sum_runs_exactly(terms, tmp_path):
    """Left-to-right addition as PySD does it, without Python's 200-level parser limit."""
    path = tmp_path / "sum.mdl"
    body = " + ".join(f"a * {i}" for i in range(terms))
    path.write_text(TINY.read_text() + f"Many = {body} ~ dmnl ~ |\n")
    a = np.array([0.5, 1.0, 2.0])
    out = urbsim.load_model(path).simulate({"a": a}, outputs=["Many"])["Many"]
    np.testing.assert_array_equal(out[:, -1], a * (terms * (terms - 1) // 2))


def test_overwriting_keeps_the_mode_and_symlinks_are_written_through(tmp_path):
    target = tmp_path / "result.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fileio.write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_temp_files_of_a_killed_writer_are_removed(tmp_path):
    target = tmp_path / "run.nc"
    dead = tmp_path / f".run.nc.{2**22 + 12345}.abcd1234.tmp"  # no such process
    alive = tmp_path / f".run.nc.{os.getpid()}.beef0000.tmp"
    dead.write_text("half")
    alive.write_text("in progress")
    fileio.write_atomic(target, "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "run.nc"]


def test_a_netcdf_error_is_one_line(tmp_path):
    def hdf_error(tmp):
        raise RuntimeError("NetCDF: HDF error")

    with pytest.raises(OutputError, match="run.nc: cannot be written: NetCDF: HDF error"):
        fileio.write_atomic(tmp_path / "run.nc", hdf_error)
    assert list(tmp_path.iterdir()) == []
