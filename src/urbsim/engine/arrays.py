"""The engine's array-level IR: the compiled program's statements over run-last arrays.

``expressions.py``, ``statefuls.py`` and the compiler build these typed, immutable nodes from
PySD's AbstractModel; :func:`source` prints them as the numpy/JAX code (``xp`` is numpy or
``jax.numpy``), and :mod:`lower` reads them directly to build the element-level IR
(:mod:`ir`). Nothing parses printed code back.

Every array is laid out ``(*dims, run)`` (lookup tables ``(*dims, run, points)``). Nodes
mirror the operations of the array code: ``Ref`` (a generated identifier: ``v12``, ``s3_0``,
or a name of the runtime namespace such as ``t``, ``n``, ``DT``, ``_SMALL``), ``Number`` (a
float or an int, in the model's units), ``Lit`` (a structural literal: axes, shapes, index
lists, seeds), ``Op`` / ``Chain`` (arithmetic; a chain is one precedence level, printed flat
so a 200-term sum stays within Python's parser limits), ``Neg``, ``Compare``, ``Call`` (a
whitelisted function of the runtime namespace), ``Index`` (basic indexing) and
``Assemble`` (a variable defined in several parts).

Safety: nodes check their fields when built: identifiers match ``[A-Za-z_][A-Za-z0-9_]*``,
functions come from :data:`FUNCTIONS` (which other modules extend with their helpers' names
through :func:`register`), literals are ints, floats, ``None`` or tuples/lists of them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
OPS = ("+", "-", "*", "/", "%", "**")
COMPARE = ("<", "<=", ">", ">=", "==", "!=")
_XP = (
    "abs", "exp", "log", "sqrt", "trunc", "minimum", "maximum", "power", "logical_and",
    "logical_or", "logical_not", "transpose", "take", "asarray", "all", "arange",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
)  # fmt: skip
_HELPERS = (
    "_bc", "_state", "_interp", "_where", "_sum", "_prod", "_vmin", "_vmax", "_pipe_read",
    "_pipe_write", "_pipe_init", "_dorder", "_dfo", "_runif", "_rnorm", "_rexp", "bool",
)  # fmt: skip
# the functions the array code may call: xp's (numpy or jax.numpy) and the runtime helpers
FUNCTIONS = {*(f"xp.{f}" for f in _XP), *_HELPERS}


def register(*names: str) -> None:
    """Allow the runtime helpers ``names`` (defined in the namespace by their module)."""
    for name in names:
        ident(name)
        FUNCTIONS.add(name)


class IRError(ValueError):
    """An IR node (array- or element-level) built with a field outside its whitelist (a bug
    of the compiler or the lowering)."""


def need(ok: bool, what: str) -> None:
    """Raise :class:`IRError` naming ``what`` unless ``ok``."""
    if not ok:
        raise IRError(what)


def ident(name) -> None:
    """Check that ``name`` is a generated identifier (``[A-Za-z_][A-Za-z0-9_]*``)."""
    need(isinstance(name, str) and _IDENT.match(name) is not None, f"identifier {name!r}")


def _literal(v) -> bool:
    if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return True
    return isinstance(v, (tuple, list)) and all(_literal(x) for x in v)


class AExpr:
    """Base of the array expressions."""

    __slots__ = ()

    def __str__(self) -> str:
        return source(self)


def _exprs(*xs) -> None:
    for x in xs:
        need(isinstance(x, AExpr), f"array expression {type(x).__name__}")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Ref(AExpr):
    name: str

    def __post_init__(self):
        ident(self.name)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Number(AExpr):
    value: int | float

    def __post_init__(self):
        v = self.value
        need(isinstance(v, (int, float)) and not isinstance(v, bool), f"number {v!r}")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Lit(AExpr):
    value: object

    def __post_init__(self):
        need(_literal(self.value), f"literal {self.value!r}")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Op(AExpr):
    op: str
    a: AExpr
    b: AExpr

    def __post_init__(self):
        need(self.op in OPS, f"operator {self.op!r}")
        _exprs(self.a, self.b)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Chain(AExpr):
    """``first op1 x1 op2 x2 ...`` of one precedence level (``+ -`` or ``* /``), left to right."""

    first: AExpr
    rest: tuple  # ((op, expr), ...)

    def __post_init__(self):
        _exprs(self.first, *(x for _, x in self.rest))
        ops = {op for op, _ in self.rest}
        need(ops <= {"+", "-"} or ops <= {"*", "/"}, f"chain of {sorted(ops)}")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Neg(AExpr):
    a: AExpr

    def __post_init__(self):
        _exprs(self.a)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Compare(AExpr):
    op: str
    a: AExpr
    b: AExpr

    def __post_init__(self):
        need(self.op in COMPARE, f"comparison {self.op!r}")
        _exprs(self.a, self.b)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Call(AExpr):
    fn: str
    args: tuple
    kw: tuple = ()  # ((name, expr), ...)

    def __post_init__(self):
        need(self.fn in FUNCTIONS, f"function {self.fn!r}")
        _exprs(*self.args, *(x for _, x in self.kw))
        for k, _ in self.kw:
            ident(k)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Index(AExpr):
    """``base[i, ...]``: each index an int, ``None`` (a new axis) or ``":"`` (all)."""

    base: AExpr
    index: tuple

    def __post_init__(self):
        _exprs(self.base)
        need(all(i is None or i == ":" or type(i) is int for i in self.index), "index")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Assemble(AExpr):
    """A variable of shape ``tail`` defined in parts: ``(index lists, expression)`` each."""

    tail: tuple
    parts: tuple

    def __post_init__(self):
        need(_literal(self.tail), "assemble shape")
        for ix, e in self.parts:
            need(_literal(ix), "assemble index")
            _exprs(e)


class AStmt:
    """Base of the array statements."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, repr=False)
class Assign(AStmt):
    target: str
    value: AExpr

    def __post_init__(self):
        ident(self.target)
        _exprs(self.value)


@dataclass(frozen=True, slots=True, repr=False)
class If(AStmt):
    cond: AExpr
    body: tuple
    orelse: tuple = ()

    def __post_init__(self):
        _exprs(self.cond)
        for s in (*self.body, *self.orelse):
            need(isinstance(s, AStmt), f"statement {type(s).__name__}")


# -- builders ------------------------------------------------------------------------------
def number(x) -> Number:
    """A float literal of the model (numpy scalars and ints become floats)."""
    return Number(float(x))


def call(fn: str, *args, **kw) -> Call:
    return Call(fn, tuple(args), tuple(kw.items()))


def where(c: AExpr, a: AExpr, b: AExpr) -> Call:
    return Call("_where", (c, a, b))


T, K, N, DT, SMALL = Ref("t"), Ref("k"), Ref("n"), Ref("DT"), Ref("_SMALL")


# -- the numpy/JAX emitter -----------------------------------------------------------------
def num(x: float | int) -> str:
    """Source text of a numeric literal (``repr``; NaN and infinities as the namespace's
    ``_NAN``/``_INF``)."""
    if isinstance(x, int):
        return repr(x)
    if math.isnan(x):
        return "_NAN"
    if math.isinf(x):
        return "_INF" if x > 0 else "(-_INF)"
    s = repr(x)
    return f"({s})" if x < 0 else s


def source(e: AExpr) -> str:
    """Python source of array expression ``e`` (over ``xp`` and the runtime helpers)."""
    if isinstance(e, Ref):
        return e.name
    if isinstance(e, Number):
        return num(e.value)
    if isinstance(e, Lit):
        return repr(e.value)
    if isinstance(e, (Op, Compare)):
        return f"({source(e.a)} {e.op} {source(e.b)})"
    if isinstance(e, Chain):
        return "(" + " ".join([source(e.first), *(f"{op} {source(x)}" for op, x in e.rest)]) + ")"
    if isinstance(e, Neg):
        return f"(-{source(e.a)})"
    if isinstance(e, Call):
        args = [source(a) for a in e.args] + [f"{k}={source(v)}" for k, v in e.kw]
        return f"{e.fn}({', '.join(args)})"
    if isinstance(e, Index):
        return f"({source(e.base)})[{', '.join(':' if i == ':' else repr(i) for i in e.index)}]"
    assert isinstance(e, Assemble)
    parts = ", ".join(f"({ix!r}, {source(x)})" for ix, x in e.parts)
    return f"_assemble({e.tail!r}, [{parts}])"


def lines(stmts, indent: str = "") -> list[str]:
    """Python source lines of array statements."""
    out = []
    for st in stmts:
        if isinstance(st, Assign):
            out.append(f"{indent}{st.target} = {source(st.value)}")
        else:
            out.append(f"{indent}if {source(st.cond)}:")
            out.extend(lines(st.body, indent + "    "))
            if st.orelse:
                out.append(f"{indent}else:")
                out.extend(lines(st.orelse, indent + "    "))
    return out


def names(stmts) -> tuple[set, set]:
    """(identifiers assigned, identifiers read) by the statements ``stmts``."""
    assigned, read = set(), set()

    def walk(e):
        if isinstance(e, Ref):
            read.add(e.name)
        elif isinstance(e, (Op, Compare)):
            walk(e.a)
            walk(e.b)
        elif isinstance(e, Chain):
            walk(e.first)
            for _, x in e.rest:
                walk(x)
        elif isinstance(e, (Neg,)):
            walk(e.a)
        elif isinstance(e, Call):
            for x in (*e.args, *(v for _, v in e.kw)):
                walk(x)
        elif isinstance(e, Index):
            walk(e.base)
        elif isinstance(e, Assemble):
            for _, x in e.parts:
                walk(x)

    def visit(sts):
        for st in sts:
            if isinstance(st, Assign):
                walk(st.value)
                assigned.add(st.target)
            else:
                walk(st.cond)
                visit(st.body)
                visit(st.orelse)

    visit(stmts)
    return assigned, read
