"""Which statements a simulation needs, in which order: :func:`plan` over the compiled
:class:`compile.Program` for a set of outputs, shared by the numpy/JAX emitter
(:mod:`npemit`) and the element-level lowering (:mod:`lower`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from urbsim.errors import ModelError

from . import arrays
from . import statefuls as sf
from .expressions import TIME

if TYPE_CHECKING:
    from .compile import Program


def _topo(nodes_by_id, ids, deps_of, what, program):
    order, state = [], {}

    def visit(i, stack):
        s = state.get(i)
        if s == 2:
            return
        if s == 1:
            names = [program.nodes[j].name.split("#")[0] for j in (*stack, i)]
            start = names.index(names[-1])
            raise ModelError(
                f"model file {program.path_name}: {what} loop (a cycle without a stock): "
                + " -> ".join(names[start:])
            )
        state[i] = 1
        for d in sorted(deps_of(i)):
            if d != TIME and d in ids:
                visit(d, (*stack, i))
        state[i] = 2
        order.append(i)

    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        for i in sorted(ids):
            visit(i, ())
    finally:
        sys.setrecursionlimit(old)
    return order


@dataclass
class Plan:
    """The statements of one simulation (array IR, :mod:`arrays`), in order, before they are
    assembled into a function.

    ``init`` runs at INITIAL TIME (after the constants/lookups are bound), ``aux`` at every
    step, then (except after the last step) ``upd`` computes the new states and ``commits``
    stores them. Shared by the numpy/JAX emitter below and the element-level lowering
    (``lower.py``).
    """

    const_ids: list
    lookup_ids: list
    init: list
    aux: list
    upd: list
    commits: list


def plan(program: Program, out_ids: list[int]) -> Plan:
    """Which nodes the outputs ``out_ids`` need, and the statements computing them."""
    nodes = program.nodes
    needed: set = set()
    todo = list(out_ids)
    while todo:
        i = todo.pop()
        if i == TIME or i in needed:
            continue
        needed.add(i)
        n = nodes[i]
        todo.extend(n.step_deps | n.init_deps | n.upd_deps | n.deps | n.init_only_deps)
    const_ids = [i for i in sorted(needed) if nodes[i].kind in ("const", "control")]
    lookup_ids = [i for i in sorted(needed) if nodes[i].kind == "lookup"]
    init_lines = []
    init_ids = {i for i in needed if nodes[i].kind in ("aux", "stateful")}
    for i in _topo(nodes, init_ids, lambda i: nodes[i].init_deps, "initialisation", program):
        nd = nodes[i]
        if nd.st is not None:
            init_lines.extend(sf.emit_init(nd.st))
        else:
            init_lines.append(arrays.Assign(nd.py, nd.init_code or nd.code))
    dyn_ids = {i for i in needed if nodes[i].dynamic}
    step_order = _topo(nodes, dyn_ids, lambda i: nodes[i].step_deps, "algebraic", program)
    aux_lines = []
    for i in step_order:
        nd = nodes[i]
        if nd.st is not None:
            aux_lines.extend(sf.emit_output(nd.st))
        else:
            aux_lines.append(arrays.Assign(nd.py, nd.code))
    upd_lines, commits = [], []
    for i in sorted(dyn_ids):
        nd = nodes[i]
        if nd.st is not None:
            upd, com = sf.emit_update(nd.st)
            upd_lines.extend(upd)
            commits.extend(com)
    return Plan(const_ids, lookup_ids, init_lines, aux_lines, upd_lines, commits)
