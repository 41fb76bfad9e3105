"""A compiled expression's value: its array-level IR with the axes it spans, and how
expressions over different axes are aligned (run axis last, see ``compile.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arrays import AExpr, Index, Lit, call

TIME = -1  # pseudo node id for Time


@dataclass
class E:
    """A compiled expression: array IR, its axes before the run axis, and dependencies."""

    code: AExpr
    dims: tuple = ()
    ra: bool = False  # has a leading run axis (else a plain scalar)
    deps: set = field(default_factory=set)


def align(e: E, target: tuple) -> AExpr:
    """``e`` with its axes permuted/expanded to ``target`` (run axis kept last)."""
    if not e.ra:
        return e.code
    if e.dims == target:
        return e.code
    src = list(e.dims)
    present = [d for d in target if d in src]
    perm = [src.index(d) for d in present]
    code = e.code
    if perm != sorted(perm):
        code = call("xp.transpose", code, Lit((*perm, len(src))))
    if len(present) < len(target):
        idx = [":" if d in src else None for d in target]
        while idx and idx[0] is None:  # numpy prepends missing leading axes
            idx.pop(0)
        if None in idx:
            code = Index(code, (*idx, ":"))
    return code


def union_dims(es) -> tuple:
    out: list = []
    for e in es:
        for d in e.dims:
            if d not in out:
                out.append(d)
    return tuple(out)
