"""The generated source contains no text from the model file: only generated identifiers,
whitelisted helper names, numbers and fixed operators."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from urbsim.engine import compile_model

PROBES = Path(__file__).parent / "probes"
ALLOWED = {
    "xp", "_bc", "_state", "_interp", "_where", "_sum", "_prod", "_vmin", "_vmax", "_assemble",
    "_pipe_read", "_pipe_write", "_pipe_init", "_record", "_SMALL", "_NAN", "_INF", "_dorder",
    "_dfo", "_STEP", "_step", "_sim", "_outs", "bool", "range", "len", "float", "t", "k", "n",
    "j", "DT", "C", "L", "O", "T", "REC", "S", "S2", "P", "F",
}  # fmt: skip
GENERATED = re.compile(r"^(v|x)\d+$|^s\d+(_\d+n?|_(in|tm|dt|ko|kf|ar|st|stn|p|pn|o\d+))$")
ATTRS = re.compile(r"^[a-z_]+$")


def _check(src: str):
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in ALLOWED or GENERATED.match(node.id), node.id
        elif isinstance(node, ast.Constant):
            v = node.value
            assert v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)), v
        elif isinstance(node, ast.Attribute):
            assert ATTRS.match(node.attr), node.attr
        elif isinstance(node, ast.arg):
            assert node.arg in ALLOWED, node.arg


@pytest.mark.parametrize(
    "name", sorted(p.name for p in PROBES.glob("*.mdl") if "unsup" not in p.name)
)
def test_generated_source_has_only_whitelisted_names(name, tmp_path):
    shutil.copy(PROBES / name, tmp_path / name)
    cm = compile_model(tmp_path / name)
    src = cm.source()
    _check(src)
    model_names = [v for v in cm.variables if len(v) > 3]
    for v in model_names:
        assert v not in src


SCALAR_ALLOWED = {
    "_abs", "_exp", "_log", "_sqrt", "_trunc", "_pow", "_lk", "_lkf", "_dorder1", "_dfo1",
    "_NAN", "_INF", "_sim1", "_rows", "_app", "_last", "range", "len", "t", "k", "DT", "P", "T",
    "REC",
}  # fmt: skip
SCALAR_GENERATED = re.compile(
    r"^((v|x)\d+|s\d+(_\d+n?|_(in|tm|dt|ko|kf|ar|st|stn|p|pn|o\d+)))(_\d+)*$|^_w\d+$"
)


def _check_scalar(src: str):
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in SCALAR_ALLOWED or SCALAR_GENERATED.match(node.id), node.id
        elif isinstance(node, ast.Constant):
            v = node.value
            assert isinstance(v, (int, float)) and not isinstance(v, bool), v
        elif isinstance(node, ast.Attribute):
            assert node.attr == "append", node.attr
        elif isinstance(node, ast.arg):
            assert node.arg in SCALAR_ALLOWED, node.arg
        elif isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name), ast.dump(node)
            assert node.func.id in SCALAR_ALLOWED or node.func.id == "_app", node.func.id


@pytest.mark.parametrize(
    "name", sorted(p.name for p in PROBES.glob("*.mdl") if "unsup" not in p.name)
)
def test_scalar_source_has_only_whitelisted_names(name, tmp_path):
    shutil.copy(PROBES / name, tmp_path / name)
    cm = compile_model(tmp_path / name)
    src = cm.scalar_source()
    assert src is not None
    _check_scalar(src)
    for v in [v for v in cm.variables if len(v) > 3]:
        assert v not in src


def test_scalar_source_of_the_project_model():
    mdl = Path(__file__).resolve().parents[2] / "model" / "urbsim.mdl"
    if not mdl.exists():
        pytest.skip("model/urbsim.mdl not present")
    cm = compile_model(mdl)
    src = cm.scalar_source()
    assert src is not None
    _check_scalar(src)
