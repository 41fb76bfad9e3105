"""The model's stock-flow structure as Graphviz DOT text, from the `.mdl`'s dependency graph.

Dependencies are the variable references in each equation's abstract syntax tree (PySD's
``AbstractModel``). Two views keep the picture readable:

- the overview: sectors (listing their stocks) and lever groups (notes); an arrow from A to B
  means an equation of B uses a variable of A;
- one sector: its stocks (boxes), flows and auxiliaries (ellipses) and levers (notes) with their
  direct dependencies, plus the variables of other sectors it reads (grey).

Sectors are coloured. The DOT text is drawn by ``st.graphviz_chart`` (no graphviz binary needed).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

from urbsim.mdlinfo import ModelInfo
from urbsim.pysd_compat import abstract_model

_PALETTE = (
    "#e8f1fa",
    "#fdebd3",
    "#e3f4e1",
    "#f7e1ee",
    "#efe7f8",
    "#fff6cc",
    "#e0f4f4",
    "#f4e4dc",
    "#eaeaea",
    "#dfe8d0",
    "#f9dfdf",
    "#dde3f4",
    "#f0f0d8",
)
_SKIP_SECTORS = ("Conventions", "Control", "Accounting")


def _references(node, found: set[str]) -> None:
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(node, ae.ReferenceStructure):
        found.add(node.reference)
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            _references(getattr(node, f.name), found)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _references(item, found)


@cache
def dependencies(path: Path) -> dict[str, frozenset[str]]:
    """Vensim name -> names its equation references (from PySD's abstract model)."""
    am = abstract_model(path)
    elements = am.sections[0].elements
    by_py = {_py(e.name): e.name for e in elements}
    out: dict[str, frozenset[str]] = {}
    for e in elements:
        found: set[str] = set()
        for comp in e.components:
            _references(comp.ast, found)
        out[e.name] = frozenset(by_py[r] for r in found if r in by_py and by_py[r] != e.name)
    return out


def _py(name: str) -> str:
    return "_".join(name.replace("_", " ").split()).lower()


def _colors(info: ModelInfo) -> dict[str, str]:
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(info.sectors)}


def _quote(s: str) -> str:
    return '"' + s.replace('"', r"\"") + '"'


def _node(
    info: ModelInfo,
    name: str,
    colors: dict[str, str],
    label: str | None = None,
    outside: bool = False,
) -> str:
    v = info.variables[name]
    c = info.constants.get(name)
    shape = "box" if v.kind == "stateful" else "note" if c is not None and c.lever else "ellipse"
    fill = "#ffffff" if outside else colors.get(v.sector, "#ffffff")
    style = "filled,dashed" if outside else "filled"
    font = "#777777" if outside else "#222222"
    return (
        f"{_quote(name)} [label={_quote(label or name)} shape={shape} style={_quote(style)} "
        f"fillcolor={_quote(fill)} fontcolor={_quote(font)}];"
    )


def overview_dot(info: ModelInfo, labels: dict[str, str], group_labels: dict[str, str]) -> str:
    """Sectors (listing their stocks) and lever groups; an arrow from A to B means some
    equation of B uses a variable of A (plain constants aside).

    Parameters
    ----------
    labels : sector -> its name in the reader's language.
    group_labels : lever group (``"People"`` ...) -> its label in the reader's language.
    """
    deps = dependencies(info.path)
    colors = _colors(info)
    sectors = diagram_sectors(info)
    lines = [
        "digraph overview {",
        # Top to bottom: the drawing is scaled to the page width, and a wide left-to-right
        # layout shrank its 11-pt text to about 5 px.
        "rankdir=TB; nodesep=0.2; ranksep=0.5; node [fontname=Helvetica fontsize=14];",
        'edge [color="#8899aa" arrowsize=0.7];',
    ]
    for sector in sectors:
        stocks = [
            n for n, v in info.variables.items() if v.sector == sector and v.kind == "stateful"
        ]
        label = "\\n".join([labels.get(sector, sector), *(f"• {n}" for n in stocks)])
        lines.append(
            f'{_quote(sector)} [label={_quote(label)} shape=box style="rounded,filled" '
            f"fillcolor={_quote(colors[sector])}];"
        )
    for group, label in group_labels.items():
        lines.append(
            f"{_quote('lever: ' + group)} [label={_quote(label)} shape=note "
            'style=filled fillcolor="#fff3b0"];'
        )
    edges: set[tuple[str, str]] = set()
    for name, v in info.variables.items():
        if v.sector not in sectors or name in info.constants:
            continue
        for d in deps.get(name, ()):
            c = info.constants.get(d)
            if c is not None and c.lever:
                edges.add(("lever: " + c.lever, v.sector))
            elif c is None and info.variables[d].kind != "lookup":
                source = info.variables[d].sector
                if source != v.sector and source in sectors:
                    edges.add((source, v.sector))
    lines += [f"{_quote(a)} -> {_quote(b)};" for a, b in sorted(edges)]
    lines.append("}")
    return "\n".join(lines)


def sector_dot(info: ModelInfo, sector: str) -> str:
    """One sector's stocks, flows, auxiliaries and levers, with what they read from elsewhere.

    Plain constants other than levers are left out to keep the diagram readable; the
    documentation table lists them.
    """
    deps = dependencies(info.path)
    colors = _colors(info)

    def shown(name: str) -> bool:
        c = info.constants.get(name)
        v = info.variables[name]
        return v.kind != "lookup" and (c is None or c.lever is not None)

    inside = [n for n, v in info.variables.items() if v.sector == sector and shown(n)]
    outside = sorted({d for n in inside for d in deps.get(n, ()) if d not in inside and shown(d)})
    lines = [
        f"digraph {_quote(sector)} {{",
        "rankdir=LR; node [fontname=Helvetica fontsize=10];",
        'edge [color="#8899aa" arrowsize=0.6];',
    ]
    lines += [_node(info, n, colors) for n in inside]
    lines += [_node(info, n, colors, outside=True) for n in outside]
    members = set(inside) | set(outside)
    for n in inside:
        lines += [f"{_quote(d)} -> {_quote(n)};" for d in sorted(deps.get(n, ())) if d in members]
    lines.append("}")
    return "\n".join(lines)


def diagram_sectors(info: ModelInfo) -> list[str]:
    """Sectors that have a diagram (the conventions, accounting and control sections do not)."""
    return [s for s in info.sectors if s not in _SKIP_SECTORS]
