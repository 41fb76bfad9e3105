"""Data variables read by GET XLS/DIRECT DATA, as PySD computes them: a lookup of Time.

While the model is parsed, each data variable's equation becomes a call of hidden lookups with
Time; once the time grid is known, :func:`fill` reads the file with PySD's own loader
(``external.data_table``) and fills them. Interpolated data keep the file's times as x points;
HOLD BACKWARD, LOOK FORWARD and RAW data are PySD's values at every time step, kept where they
change (exact at every step). RAW data are missing (NaN) except at the file's times, which a
lookup cannot interpolate through: they become ``IF THEN ELSE(mask(Time) > 0.5, values(Time),
NaN)``, with the values lookup 0 where the data are missing and the mask 1 where they are not.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from pysd.translators.structures import abstract_expressions as ae

from . import external
from .expressions import norm


def _hidden(program, name: str, dims, line):
    node = program.new_node(name, "lookup", dims, line, public=False)
    node.xpy = f"x{node.id}"
    program.by_norm[norm(name)] = node
    return node


def _at_time(node):
    return ae.CallStructure(
        ae.ReferenceStructure(norm(node.name)), (ae.ReferenceStructure("time"),)
    )


def as_lookup(program, el, line) -> tuple:
    """Rewrite the data variable ``el`` as a call of its hidden lookup(s) of Time; returns
    them (values, and for RAW data the presence mask, else None) with the components."""
    comps = list(el.components)
    if not all(isinstance(c.ast, ae.GetDataStructure) for c in comps):
        raise program.err(el.name, line, "a data variable without GET XLS/DIRECT DATA (its "
                          "values would come from data files at run time, which urbsim does not "
                          "read)")  # fmt: skip
    kinds = {external.keyword(c) for c in comps}
    if len(kinds) != 1:
        raise program.err(el.name, line, f"data variable read as {' and '.join(sorted(kinds))}")
    dims = program._element_dims(el, line)
    values = _hidden(program, f"{el.name}#data", dims, line)
    ast = _at_time(values)
    mask = None
    if kinds == {"raw"}:
        mask = _hidden(program, f"{el.name}#present", dims, line)
        present = ae.LogicStructure([">"], (_at_time(mask), 0.5))
        ast = ae.CallStructure(ae.ReferenceStructure("if_then_else"), (present, ast, np.nan))
    program.data_vars.append((values, mask, comps))
    el.components = [dataclasses.replace(comps[0], subscripts=(list(dims), []), ast=ast)]
    return values, mask, comps


def fill(program) -> None:
    """Read every data variable's file (PySD's loader) into its hidden lookups."""
    for values, mask, comps in program.data_vars:
        fill_one(program, values, mask, comps)


def fill_one(program, values, mask, comps) -> None:
    """Read one data variable's file into its hidden lookup(s) (the time grid is known)."""
    dims = {d: list(program.ranges[d]) for d in values.dims}
    blocks = []
    for c in comps:
        ix, _ = program._placement(c, values.dims)
        blocks.append({d: [dims[d][i] for i in p] for d, p in zip(dims, ix, strict=True)})
    times = program.time_grid()[0]
    x, y = program._read_external(
        values, comps[0].ast.file, external.data_table, comps, blocks, dims, times
    )
    shape = (*program.sizes(values.dims), 1, len(x))
    values.x, values.y = x, np.nan_to_num(y, nan=0.0).reshape(shape)
    if mask is not None:
        mask.x, mask.y = x, (~np.isnan(y)).astype(np.float64).reshape(shape)
