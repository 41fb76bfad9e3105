"""The generated source contains no text from the model file: only generated identifiers,
whitelisted helper names, numbers and fixed operators."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from _paths import ARRAY_ONLY

from urbsim.engine import allocation, compile_model, vectors

PROBES = Path(__file__).parent / "probes"
ALLOWED = {
    "xp", "_bc", "_state", "_interp", "_where", "_sum", "_prod", "_vmin", "_vmax", "_assemble",
    "_pipe_read", "_pipe_write", "_pipe_init", "_record", "_SMALL", "_NAN", "_INF", "_dorder",
    "_dfo", "_runif", "_rnorm", "_STEP", "_step", "_sim", "_outs", "bool", "range", "len",
    "float", "t", "k", "n", "j", "DT", "C", "L", "O", "T", "REC", "S", "S2", "P", "F",
    "_rexp", *vectors.NAMES, *allocation.NAMES,
}  # fmt: skip
GENERATED = re.compile(r"^(v|x)\d+$|^s\d+(_\d+n?|_(in|tm|dt|ko|kf|ar|st|stn|p|pn|o\d+|t\d+n?|tf))$")
ATTRS = re.compile(r"^[a-z_]+$")
SCALAR_ALLOWED = {
    "_abs", "_exp", "_log", "_sqrt", "_trunc", "_pow", "_lk", "_lkf", "_dorder1", "_dfo1",
    "_sin", "_cos", "_tan", "_arcsin", "_arccos", "_arctan", "_sinh", "_cosh", "_tanh",
    "_NAN", "_INF", "_sim1", "_rows", "_app", "_last", "range", "len", "t", "k", "DT", "P", "T",
    "REC",
}  # fmt: skip
SCALAR_GENERATED = re.compile(
    r"^((v|x)\d+|s\d+(_\d+n?|_(in|tm|dt|ko|kf|ar|st|stn|p|pn|o\d+|t\d+n?|tf)))(_\d+)*$|^_w\d+$"
)
# per kind of source: allowed names, generated names, allowed attributes, whether every call
# must be a plain allowed name, whether None may appear
RULES = {
    "numpy": (ALLOWED, GENERATED, ATTRS.match, False, True),
    "scalar": (SCALAR_ALLOWED, SCALAR_GENERATED, lambda a: a == "append", True, False),
}
MODELS = sorted(p.name for p in PROBES.glob("*.mdl") if "unsup" not in p.name)


def _check(src: str, kind: str):
    allowed, generated, attr_ok, plain_calls, none_ok = RULES[kind]
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Name):
            assert node.id in allowed or generated.match(node.id), node.id
        elif isinstance(node, ast.Constant):
            v = node.value
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            assert ok or (none_ok and v is None), v
        elif isinstance(node, ast.Attribute):
            assert attr_ok(node.attr), node.attr
        elif isinstance(node, ast.arg):
            assert node.arg in allowed, node.arg
        elif isinstance(node, ast.Call) and plain_calls:
            assert isinstance(node.func, ast.Name), ast.dump(node)
            assert node.func.id in allowed or node.func.id == "_app", node.func.id


def _source(cm, kind: str) -> str:
    src = cm.source() if kind == "numpy" else cm.scalar_source()
    assert src is not None
    return src


@pytest.mark.parametrize(
    ("name", "kind"),
    [(m, k) for m in MODELS for k in RULES if not (k == "scalar" and m in ARRAY_ONLY)],
)
def test_generated_source_has_only_whitelisted_names(name, kind, tmp_path):
    shutil.copy(PROBES / name, tmp_path / name)
    cm = compile_model(tmp_path / name)
    src = _source(cm, kind)
    _check(src, kind)
    for v in [v for v in cm.variables if len(v) > 3]:
        assert v not in src


def test_scalar_source_of_the_project_model():
    mdl = Path(__file__).resolve().parents[2] / "model" / "urbsim.mdl"
    if not mdl.exists():
        pytest.skip("model/urbsim.mdl not present")
    _check(_source(compile_model(mdl), "scalar"), "scalar")


def test_no_engine_module_parses_generated_code():
    """Each backend prints an IR (arrays.py, ir.py); none reads code back: the engine's
    modules call neither ``ast.parse`` nor ``ast.literal_eval``."""
    engine = Path(__file__).resolve().parents[2] / "src" / "urbsim" / "engine"
    for path in sorted(engine.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in {
                    ("ast", "parse"),
                    ("ast", "literal_eval"),
                }, f"{path.name}:{node.lineno}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {a.name for a in node.names} | {getattr(node, "module", None)}
                assert "ast" not in names, f"{path.name}:{node.lineno} imports ast"
