"""Atomic writes: a target is whole or absent, never half-written."""

from __future__ import annotations

import pytest

from urbsim.errors import OutputError
from urbsim.fileio import write_atomic


def test_text_and_bytes_leave_only_the_target(tmp_path):
    target = tmp_path / "chart.csv"
    write_atomic(target, "a,b\n1,2\n")
    write_atomic(tmp_path / "chart.png", b"\x89PNG")
    assert target.read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.csv", "chart.png"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "run.nc"
    target.write_text("old")

    def boom(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="run.nc: cannot be written: No space left"):
        write_atomic(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


def test_folders_are_swapped_whole(tmp_path):
    target = tmp_path / "out.zarr"
    target.mkdir()
    (target / "old").write_text("x")

    def make(tmp):
        tmp.mkdir()
        (tmp / "new").write_text("y")

    write_atomic(target, make)
    assert [p.name for p in target.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.zarr"]


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(OutputError, match="cannot be written"):
        write_atomic(tmp_path / "missing" / "x.csv", "x")
