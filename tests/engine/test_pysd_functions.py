"""Every function and construct PySD 3.14.3 translates from Vensim has a probe: a model in
tests/engine/probes/ or in a test's text that the engine runs against PySD, or that PySD runs
through ``urbsim.load_model``'s fallback. The lists are read from PySD itself, so a PySD upgrade
that adds a function fails here until it has a probe."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pysd.builders.python.python_functions import functionspace
from pysd.translators.vensim.vensim_structures import structures

HERE = Path(__file__).parent

# names PySD builds only from XMILE files (the Vensim spellings are PULSE, PULSE TRAIN, RAMP,
# VMAX and VMIN)
XMILE_ONLY = {"Xpulse", "Xpulse_train", "Xramp", "vmax_xmile", "vmin_xmile"}
# the Vensim grammar's own structures: the probe that exercises each
GRAMMAR = {
    "reference": "subscripts.mdl",
    "subscripts_ref": "subscripts.mdl",
    "arithmetic": "precedence.mdl",
    "logic": "if_then_else.mdl",
    "call": "functions.mdl",
    "lookup": "lookups.mdl",
}
# a data variable without an equation takes its values from data files given to PySD at run
# time (``data_files``), which neither urbsim.load_model nor the engine takes: the engine
# refuses it by name (test_load_model.py), and PySD cannot run it without those files
NO_EQUATION = {"data"}


def _model_texts() -> dict[str, str]:
    """Every probe model, and every Vensim model written out in a test module."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in (HERE / "probes").glob("*.mdl")}
    for module in HERE.glob("test_*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value.startswith("{UTF-8}"):
                texts[f"{module.name}:{node.lineno}"] = value
    return texts


TEXTS = _model_texts()
NAMES = sorted((set(functionspace) | set(structures)) - XMILE_ONLY - set(GRAMMAR) - NO_EQUATION)


def _call(name: str) -> re.Pattern:
    """A call of ``name`` as Vensim spells it (``random_0_1`` -> ``RANDOM 0 1(``)."""
    words = [re.escape(w) for w in name.split("_")]
    return re.compile(r"(?<![\w])" + r"[ _]+".join(words) + r"\s*\(", re.IGNORECASE)


@pytest.mark.parametrize("name", NAMES)
def test_every_pysd_function_has_a_probe(name):
    pattern = _call(name)
    found = [where for where, text in TEXTS.items() if pattern.search(text)]
    assert found, f"no probe model calls {name.upper().replace('_', ' ')}"


def test_the_lists_are_pysds():
    assert len(NAMES) > 50  # read from PySD, not hard-coded here
    assert set(functionspace) >= XMILE_ONLY
    assert set(structures) >= set(GRAMMAR) | NO_EQUATION
    for probe in GRAMMAR.values():
        assert probe in TEXTS


def test_macros_and_subscript_mapping_have_probes():
    assert ":MACRO:" in TEXTS["macros.mdl"]
    assert re.search(r"->", TEXTS["subscript_mapping.mdl"])
