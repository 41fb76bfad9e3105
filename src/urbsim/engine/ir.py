"""The engine's element-level intermediate representation (IR) of one simulation.

One run's arithmetic as typed, immutable nodes: every float is an element of a variable
(``Var``: a generated identifier such as ``v12_0``), a number, the time, or an operation on
those. :mod:`lower` builds a :class:`Program` from the compiled model; the emitters print it:
:mod:`scalar` as a Python function of floats, :mod:`cemit` as C over SIMD lanes. No emitter
reads another emitter's output.

Safety: the nodes check their own fields when built. Names are generated identifiers
(``[A-Za-z_][A-Za-z0-9_]*``, never text of the model file), numbers are ``int``/``float``,
operators and functions come from the fixed sets below. The model's own names live only in
the :class:`NameTable`, which the C emitter prints inside comments after
:func:`comment_text` has removed anything that could end a comment.

Units: values are whatever the model's variables measure; ``Special("t")`` is the model's
time (its time unit), ``Special("DT")`` the TIME STEP.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .arrays import IRError
from .arrays import ident as _ident
from .arrays import need as _need
from .functions import TRIG

__all__ = ["IRError"]  # raised by the nodes below (shared with the array-level IR)
SPECIALS = ("t", "k", "DT", "NAN", "INF")  # time, step index, TIME STEP, NaN, +inf
ARITH = ("+", "-", "*", "/", "%")  # % is Python's floor modulo (sign of the divisor)
COMPARE = ("<", "<=", ">", ">=", "==", "!=")
# whitelisted maths, one or two float arguments; each emitter maps them to its library
FUNCTIONS = {"abs": 1, "exp": 1, "log": 1, "sqrt": 1, "trunc": 1, "pow": 2}
FUNCTIONS.update(dict.fromkeys(TRIG, 1))


class Expr:
    """Base of the expression nodes (values of one run)."""

    __slots__ = ()


def _expr(*xs) -> None:
    for x in xs:
        _need(isinstance(x, Expr), f"expression {type(x).__name__}")


@dataclass(frozen=True, slots=True)
class Num(Expr):
    value: int | float

    def __post_init__(self):
        v = self.value
        _need(isinstance(v, (int, float)) and not isinstance(v, bool), f"number {v!r}")


@dataclass(frozen=True, slots=True)
class Var(Expr):
    """One element of a variable, parameter, state or temporary (a generated identifier)."""

    name: str

    def __post_init__(self):
        _ident(self.name)


@dataclass(frozen=True, slots=True)
class Special(Expr):
    name: str

    def __post_init__(self):
        _need(self.name in SPECIALS, f"special {self.name!r}")


@dataclass(frozen=True, slots=True)
class Neg(Expr):
    a: Expr

    def __post_init__(self):
        _expr(self.a)


@dataclass(frozen=True, slots=True)
class Bin(Expr):
    op: str
    a: Expr
    b: Expr

    def __post_init__(self):
        _need(self.op in ARITH, f"operator {self.op!r}")
        _expr(self.a, self.b)


@dataclass(frozen=True, slots=True)
class Cmp(Expr):
    """A comparison: true or false (1.0 or 0.0 where used as a number)."""

    op: str
    a: Expr
    b: Expr

    def __post_init__(self):
        _need(self.op in COMPARE, f"comparison {self.op!r}")
        _expr(self.a, self.b)


@dataclass(frozen=True, slots=True)
class Logic(Expr):
    """``and``/``or`` of truth values (comparisons or other ``Logic``; a number ``x`` enters
    as ``Cmp("!=", x, Num(0))``)."""

    op: str
    args: tuple

    def __post_init__(self):
        _need(self.op in ("and", "or") and len(self.args) >= 1, f"logic {self.op!r}")
        _expr(*self.args)
        # truth values only: Python's ``and``/``or`` would return an operand's number
        _need(all(isinstance(a, (Cmp, Logic)) for a in self.args), "logic of numbers")


@dataclass(frozen=True, slots=True)
class Select(Expr):
    """``a`` where ``cond`` holds, else ``b``; only the taken side matters (no side effects)."""

    cond: Expr
    a: Expr
    b: Expr

    def __post_init__(self):
        _expr(self.cond, self.a, self.b)


@dataclass(frozen=True, slots=True)
class MinMax(Expr):
    """numpy's NaN-propagating ``minimum`` (op ``<=``) or ``maximum`` (``>=``): ``a`` where
    ``a op b`` or ``a`` is NaN, else ``b``. Each operand is evaluated once."""

    op: str
    a: Expr
    b: Expr

    def __post_init__(self):
        _need(self.op in ("<=", ">="), f"min/max {self.op!r}")
        _expr(self.a, self.b)


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """A whitelisted maths function (:data:`FUNCTIONS`)."""

    fn: str
    args: tuple

    def __post_init__(self):
        _need(FUNCTIONS.get(self.fn) == len(self.args), f"function {self.fn!r}")
        _expr(*self.args)


@dataclass(frozen=True, slots=True)
class Lookup(Expr):
    """Linear interpolation with clamped ends in a table with fixed x points ``table`` and y
    values ``ys`` (one element of a lookup parameter). ``own`` is the numpy backend's formula
    for multi-element tables, else ``np.interp``'s; they differ only at the last x point."""

    x: Expr
    table: str
    ys: str
    own: bool

    def __post_init__(self):
        _expr(self.x)
        _ident(self.table)
        _ident(self.ys)


@dataclass(frozen=True, slots=True)
class DelayOrder(Expr):
    """PySD's delay order lowering: ``order`` less 1 while ``order * DT`` exceeds the smallest
    delay time; node ``nid``'s model error where no order fits."""

    nid: int
    order: int
    times: tuple

    def __post_init__(self):
        _need(type(self.nid) is int and type(self.order) is int, "delay order")
        _need(len(self.times) >= 1, "delay order without times")
        _expr(*self.times)


@dataclass(frozen=True, slots=True)
class PipeLength(Expr):
    """DELAY FIXED's number of slots for delay time ``d``: ``round(max(d / DT, 1) + 1e-6)``."""

    nid: int
    d: Expr

    def __post_init__(self):
        _need(type(self.nid) is int, "pipe node")
        _expr(self.d)


@dataclass(frozen=True, slots=True)
class PipeNew(Expr):
    """A DELAY FIXED ring buffer of ``length`` slots filled with ``init`` (only as the value
    of an :class:`Assign`)."""

    init: Expr
    length: Expr

    def __post_init__(self):
        _expr(self.init, self.length)


@dataclass(frozen=True, slots=True)
class PipeRead(Expr):
    pipe: str
    index: Expr

    def __post_init__(self):
        _ident(self.pipe)
        _expr(self.index)


class Stmt:
    """Base of the statements."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Assign(Stmt):
    target: str
    value: Expr

    def __post_init__(self):
        _ident(self.target)
        _expr(self.value)


@dataclass(frozen=True, slots=True)
class PipeWrite(Stmt):
    pipe: str
    index: Expr
    value: Expr

    def __post_init__(self):
        _ident(self.pipe)
        _expr(self.index, self.value)


@dataclass(frozen=True, slots=True)
class If(Stmt):
    cond: Expr
    body: tuple
    orelse: tuple = ()

    def __post_init__(self):
        _expr(self.cond)
        for s in (*self.body, *self.orelse):
            _need(isinstance(s, Stmt), f"statement {type(s).__name__}")


@dataclass(frozen=True)
class Param:
    """A parameter the caller may set, in the order of the kernel's parameter table: a
    constant's element variables, or a lookup's y-value elements and its fixed x points."""

    kind: str  # const | lookup
    nid: int
    names: tuple
    table: str | None = None  # lookup: the x points' identifier
    xs: tuple = ()  # lookup: the x points


@dataclass
class NameTable:
    """Generated identifier -> the model's name for it (``Vensim name[element, ...]``)."""

    names: dict = field(default_factory=dict)

    def add(self, ident: str, vensim: str, labels: tuple = ()) -> None:
        self.names[ident] = f"{vensim}[{', '.join(labels)}]" if labels else vensim

    def label(self, ident: str) -> str | None:
        return self.names.get(ident)


_UNSAFE = re.compile(r"[\\\n\r]|\*/|/\*|\?\?")


def comment_text(text: str) -> str:
    """``text`` fit for inside a C comment: printable characters only, no ``*/`` (which would
    end it), no ``/*``, backslash or ``??`` (trigraphs)."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    while True:
        clean = _UNSAFE.sub(" ", text)
        if clean == text:
            return text
        text = clean


@dataclass
class Program:
    """One simulation: ``init`` at INITIAL TIME; per step ``aux``, then ``record`` (the saved
    elements, ``widths`` per output), then (not after the last step) ``upd`` and ``commits``.
    ``dt`` is the TIME STEP in the model's time unit."""

    dt: float
    params: list
    init: list
    aux: list
    record: list
    widths: list
    upd: list
    commits: list
    names: NameTable


@functools.cache
def fields(cls: type) -> tuple[str, ...]:
    """The field names of an IR node class (``dataclasses.fields`` is slow per call)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def _children(e: Expr) -> Iterator[Expr]:
    for name in fields(type(e)):
        v = getattr(e, name)
        if isinstance(v, Expr):
            yield v
        elif isinstance(v, tuple):
            yield from (x for x in v if isinstance(x, Expr))


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of expression ``e``, ``e`` first."""
    yield e
    for c in _children(e):
        yield from walk(c)


def statements(body) -> Iterator[Stmt]:
    """Every statement of ``body``, an ``If``'s own (both branches) after it."""
    for st in body:
        yield st
        if isinstance(st, If):
            yield from statements((*st.body, *st.orelse))


def reads(e: Expr) -> set[str]:
    """The variables (and pipes) expression ``e`` reads."""
    out = set()
    for x in walk(e):
        if isinstance(x, Var):
            out.add(x.name)
        elif isinstance(x, PipeRead):
            out.add(x.pipe)
    return out
