"""A model file never runs code: every entry point refuses text that PySD's parser would eval."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import urbsim
from urbsim import cli, mdlguard
from urbsim.engine import compile_model
from urbsim.mdlguard import ModelRefused, UnsafeModel, literal, read_model_text
from urbsim.paths import default_model_path

TINY = Path(__file__).parent / "ensemble" / "tiny.mdl"
PROBES = Path(__file__).parent / "engine" / "probes"


def _payload(marker: Path) -> str:
    return f"__import__('pathlib').Path(r'{marker}').touch()"


FORMS = {
    "lookup": "look([(0,0)-({code},10)],(0,0),(1,1)) ~ ~ |\nUses = look(Time) ~ ~ |",
    "with lookup": "Uses = WITH LOOKUP(Time, ([(0,0)-({code},5)],(0,0),(5,5))) ~ ~ |",
    "open range": "look([(0,0)-({code},10),(0,0),(1,1)) ~ ~ |",
}


@pytest.fixture(params=sorted(FORMS))
def evil(request, tmp_path) -> tuple[Path, Path]:
    """A small model whose lookup range would create ``marker`` if PySD evaluated it."""
    marker = tmp_path / "marker"
    path = tmp_path / "evil.mdl"
    extra = FORMS[request.param].format(code=_payload(marker))
    path.write_text(TINY.read_text(encoding="utf-8") + extra + "\n", encoding="utf-8")
    return path, marker


def test_python_entry_points_refuse_the_model_and_run_nothing(evil):
    path, marker = evil
    for load in (
        lambda: urbsim.load_model(path),
        lambda: urbsim.load_model(path, engine="pysd").run(),
        lambda: compile_model(path),
    ):
        with pytest.raises(UnsafeModel, match="not numbers only"):
            load()
    assert not marker.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["mc", "--n", "4", "--seed", "1"],
        ["sensitivity", "--method", "morris", "--n", "2", "--seed", "1"],
    ],
)
def test_cli_commands_refuse_the_model_with_one_line(evil, argv, capsys):
    path, marker = evil
    code = cli.main([*argv, "--model", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "lookup range" in err[0] and str(path.name) in err[0]
    assert not marker.exists()


def test_pysd_parser_itself_no_longer_evals_model_text(tmp_path):
    """The second line of defence: even past the text check, PySD's eval only takes literals."""
    import pysd  # urbsim.mdlguard.install() ran when urbsim imported PySD

    marker = tmp_path / "marker"
    path = tmp_path / "evil.mdl"
    path.write_text(
        TINY.read_text(encoding="utf-8")
        + f"look([(0,0)-({_payload(marker)},10)],(0,0),(1,1)) ~ ~ |\n",
        encoding="utf-8",
    )
    with pytest.raises(Exception) as raised:
        pysd.read_vensim(str(path))
    assert mdlguard.unsafe_cause(raised.value) is not None
    assert not marker.exists()


@given(st.text(alphabet="0123456789.,()[]-+eE'_ abcdijmnoprstx", max_size=40))
@settings(max_examples=300, deadline=None)
def test_literal_returns_plain_values_or_refuses(text):
    try:
        value = literal(text)
    except UnsafeModel:
        return
    assert value == ast.literal_eval(text.strip())
    flat = [value]
    while flat:
        v = flat.pop()
        if isinstance(v, (tuple, list)):
            flat.extend(v)
        else:
            assert isinstance(v, (int, float, str))


def test_shipped_models_pass_the_text_check():
    for path in [default_model_path(), TINY, *sorted(PROBES.glob("*.mdl"))]:
        assert read_model_text(path)


def test_non_utf8_model_is_refused_with_its_line(tmp_path):
    path = tmp_path / "latin.mdl"
    path.write_bytes(TINY.read_bytes() + "z = 1 ~ ~ caf\xe9 |\n".encode("latin-1"))
    with pytest.raises(ModelRefused, match=r"latin.mdl:14: model file is not UTF-8"):
        urbsim.load_model(path)


def test_lookup_with_too_many_points_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.mdl"
    points = ",".join(f"({i},{i})" for i in range(mdlguard.MAX_LOOKUP_POINTS + 1))
    path.write_text(TINY.read_text() + f"look([(0,0)-(1,1)],{points}) ~ ~ |\n")
    with pytest.raises(ModelRefused, match="huge.mdl:14: an equation with 10,003"):
        urbsim.load_model(path)


def test_oversized_or_special_model_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(mdlguard, "MAX_MODEL_BYTES", TINY.stat().st_size - 1)
    with pytest.raises(ModelRefused, match="at most"):
        read_model_text(TINY)
    fifo = tmp_path / "fifo.mdl"
    os.mkfifo(fifo)
    with pytest.raises(ModelRefused, match="not a regular file"):
        read_model_text(fifo)  # returns at once: a FIFO is never opened


@pytest.mark.parametrize("model", ["/dev/zero", "missing.mdl"])
def test_check_refuses_a_missing_or_special_model_with_exit_2(model, capsys, tmp_path):
    assert cli.main(["check", "--model", str(tmp_path / model if "/" not in model else model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a regular file" in err[0]
