"""Packing of a narrow kernel's vector-maths calls: several ``exp``/``log``/``pow`` per call.

A kernel with fewer lanes ``W`` than its vector maths' width ``MW`` (the 1-lane kernel of single
runs calls AVX-512's 8-run ``exp``) used to broadcast each call's argument into every lane: one
8-lane call per scalar ``exp``. Each lane of the vector maths depends on its own argument
alone (``native._PRELUDE``), so independent calls can share one call, each in its own lanes,
and every result keeps its bits. :func:`windows` cuts a statement list into groups of
assignments of which none reads what another of the group assigns (by dependency level,
so that the calls of different equations at the same depth meet in one group); :func:`hoist`
takes the innermost calls out of a run's values (repeatedly, so that a call whose argument
holds a call follows it), and the C emitter prints each round's calls of one function as
packed calls (``cemit.CEmitter.packed``). Calls are pure and both sides of a selection are
evaluated anyway, so computing them first changes no number.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Iterator, Sequence

from . import ir

PACKED = ("exp", "log", "pow")  # the functions with vector maths (native._PRELUDE: m_*)
_MATHS, _DELAY, _VARYING = 1, 2, 4  # what a subexpression holds (hoist)


def _is_maths(x: ir.Expr) -> bool:
    return isinstance(x, ir.Call) and x.fn in PACKED


def windows(body: Sequence[ir.Stmt]) -> Iterator[tuple[str, list]]:
    """Split ``body`` into ``(kind, statements)``: ``"plain"`` for a statement that keeps its
    place (``If``, pipe writes, new pipes, delay orders), one at a time, and ``"pack"`` for
    groups of assignments in which no statement reads a variable assigned in the group. A run
    of assignments between plain statements is grouped by dependency level (the level of a
    statement is one more than that of the latest statement of the run it reads), so that
    calls at the same depth of a chain share packs; where the run assigns a variable twice, or
    one that it read before, its order is kept and it is cut where a statement reads one
    before it."""
    run = []
    for st in body:
        if isinstance(st, ir.Assign) and not any(
            isinstance(x, (ir.PipeNew, ir.DelayOrder)) for x in ir.walk(st.value)
        ):
            run.append(st)
            continue
        yield from _groups(run)
        run = []
        yield "plain", [st]
    yield from _groups(run)


def _groups(run: list[ir.Assign]) -> Iterator[tuple[str, list]]:
    level: dict[str, int] = {}
    seen: set[str] = set()  # read so far
    levels = []
    for st in run:
        r = ir.reads(st.value)
        seen |= r
        if st.target in level or st.target in seen:
            yield from _in_order(run)
            return
        lv = 1 + max((level[v] for v in r if v in level), default=-1)
        level[st.target] = lv
        levels.append(lv)
    for lv in sorted(set(levels)):
        yield "pack", [st for st, x in zip(run, levels, strict=True) if x == lv]


def _in_order(run: list[ir.Assign]) -> Iterator[tuple[str, list]]:
    group, assigned = [], set()
    for st in run:
        if ir.reads(st.value) & assigned:
            yield "pack", group
            group, assigned = [], set()
        group.append(st)
        assigned.add(st.target)
    if group:
        yield "pack", group


def hoist(
    values: Sequence[ir.Expr], fresh: Callable[[], str]
) -> tuple[list[tuple[str, ir.Call]], list[ir.Expr]]:
    """One round: the packable calls of ``values`` (in order, each distinct call once) as
    ``[(temporary, call)]``, and ``values`` with each replaced by ``ir.Var(temporary)``;
    ``fresh()`` names a new temporary."""
    found: dict = {}

    def sub(e: ir.Expr) -> tuple[ir.Expr, int]:
        """``e`` with its packable calls replaced, and what ``e`` holds (bits: a maths call, a
        delay order, a varying value). A call is packable where its arguments vary (a call of
        numbers is left to the compiler, which computes it once) and hold no maths call (it
        goes in a later round) and no delay order (which reports errors, so keeps its
        place)."""
        kids, held = {}, 0
        for name in ir.fields(type(e)):
            v = getattr(e, name)
            if isinstance(v, ir.Expr):
                new, h = sub(v)
                held |= h
                if new is not v:
                    kids[name] = new
            elif isinstance(v, tuple) and any(isinstance(x, ir.Expr) for x in v):
                parts = [sub(x) if isinstance(x, ir.Expr) else (x, 0) for x in v]
                held |= functools.reduce(operator.or_, (h for _, h in parts), 0)
                if any(new is not x for (new, _), x in zip(parts, v, strict=True)):
                    kids[name] = tuple(new for new, _ in parts)
        if isinstance(e, (ir.Var, ir.Special, ir.PipeRead)):
            held |= _VARYING
        elif isinstance(e, ir.DelayOrder):
            held |= _DELAY
        elif _is_maths(e):
            if not held & (_MATHS | _DELAY) and held & _VARYING:
                if e not in found:
                    found[e] = fresh()
                return ir.Var(found[e]), held | _MATHS
            held |= _MATHS
        return (dataclasses.replace(e, **kids) if kids else e), held

    new = [sub(v)[0] for v in values]
    return [(tmp, call) for call, tmp in found.items()], new
