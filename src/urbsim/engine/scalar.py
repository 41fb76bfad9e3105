"""Scalar backend: the IR of one run (:mod:`ir`) printed as plain-Python float code.

The numpy generator (``npemit.generate``) pays ~1.5 µs of call overhead per array operation,
which dominates a single run. :mod:`lower` unrolls the same statements into the element-level
IR (one variable per element, ``v12_0, v12_1, v12_2``); :class:`PythonEmitter` prints it as
one function ``_sim1``: float expressions, ``a if c else b`` for selections (the untaken
branch is never evaluated), a bisect interpolation with PySD's clamped ends for lookups.
The C emitter (:mod:`cemit`) prints the same IR, so the two compute the same operations in
the same order.

At run time, Python raises where numpy returns inf/NaN (division by zero, ``math.log(0)``,
``math.exp`` overflow, ``math.pow`` of a negative base): the caller catches
``ArithmeticError``/``ValueError`` and reruns that run with the numpy backend, so such runs
give numpy's numbers too.

Safety: the IR holds only generated identifiers, ``int``/``float`` numbers and whitelisted
operators and functions (checked when its nodes are built); numbers are printed as
``repr(float)``/``repr(int)``. Nothing from the model file reaches the source.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from urbsim.errors import ModelError

from . import ir
from .functions import TRIG
from .lower import NotScalar, lower

__all__ = ["NotScalar", "PythonEmitter", "emit_python", "generate_scalar", "namespace"]

_MATH_NAME = {"arcsin": "asin", "arccos": "acos", "arctan": "atan"}  # numpy -> math names
_PY_SPECIAL = {"t": "t", "k": "k", "DT": "DT", "NAN": "_NAN", "INF": "_INF"}
# helpers bound as default arguments of the generated function (fast local lookups)
HELPERS = ("_abs", "_exp", "_log", "_sqrt", "_trunc", "_pow", "_lk", "_lkf", "_dorder1", "_dfo1")
HELPERS += tuple(f"_{f}" for f in TRIG)


class PythonEmitter:
    """:mod:`ir` -> Python source of one run in floats.

    ``Select`` becomes ``a if c else b`` (the untaken side is never evaluated); ``MinMax``
    evaluates each operand once through a walrus temporary ``_w<int>``.
    """

    def __init__(self):
        self.tmp = 0
        self.lines: list[str] = []

    def stmts(self, body, indent: str) -> None:
        for st in body:
            if isinstance(st, ir.Assign):
                self.lines.append(f"{indent}{st.target} = {self.expr(st.value)}")
            elif isinstance(st, ir.PipeWrite):
                idx, val = self.expr(st.index), self.expr(st.value)
                self.lines.append(f"{indent}{st.pipe}[{idx}] = {val}")
            elif isinstance(st, ir.If):
                self.lines.append(f"{indent}if {self.expr(st.cond)}:")
                self.stmts(st.body, indent + "    ")
                if st.orelse:
                    self.lines.append(f"{indent}else:")
                    self.stmts(st.orelse, indent + "    ")
            else:  # pragma: no cover - the IR has no other statements
                raise NotScalar(f"statement {type(st).__name__}")

    def expr(self, e) -> str:
        x = self.expr
        if isinstance(e, ir.Var):
            return e.name
        if isinstance(e, ir.Num):
            return repr(e.value)
        if isinstance(e, ir.Special):
            return _PY_SPECIAL[e.name]
        if isinstance(e, (ir.Bin, ir.Cmp)):
            return f"({x(e.a)} {e.op} {x(e.b)})"
        if isinstance(e, ir.Neg):
            return f"(-{x(e.a)})"
        if isinstance(e, ir.Call):
            return f"_{e.fn}({', '.join(x(a) for a in e.args)})"
        if isinstance(e, ir.Select):
            return f"({x(e.a)} if {x(e.cond)} else {x(e.b)})"
        if isinstance(e, ir.Logic):
            return "(" + f" {e.op} ".join(x(a) for a in e.args) + ")"
        if isinstance(e, ir.MinMax):
            return self.minmax(e)
        if isinstance(e, ir.Lookup):
            h = "_lkf" if e.own else "_lk"
            return f"{h}({x(e.x)}, {e.table}, {e.ys})"
        if isinstance(e, ir.DelayOrder):
            times = ", ".join(x(a) for a in e.times)
            return f"_dorder1({e.nid!r}, {e.order!r}, {times})"
        if isinstance(e, ir.PipeLength):
            return f"_dfo1({e.nid!r}, {x(e.d)})"
        if isinstance(e, ir.PipeNew):
            return f"[{x(e.init)}] * {x(e.length)}"
        if isinstance(e, ir.PipeRead):
            return f"{e.pipe}[{x(e.index)}]"
        raise NotScalar(f"expression {type(e).__name__}")  # pragma: no cover

    def minmax(self, e: ir.MinMax) -> str:
        """NaN-propagating ``np.minimum``/``np.maximum``: each operand evaluated once."""
        a, b = self.expr(e.a), self.expr(e.b)
        w = []
        for code, node in ((a, e.a), (b, e.b)):
            if isinstance(node, (ir.Var, ir.Num, ir.Special)):
                w.append((code, code))
            else:
                self.tmp += 1
                w.append((f"_w{self.tmp}", f"(_w{self.tmp} := {code})"))
        (w1, a), (w2, b) = w
        isnan = "" if isinstance(e.a, ir.Num) else f" or {w1} != {w1}"  # a number is not NaN
        return f"({w1} if {a} {e.op} {b}{isnan} else {w2})"


def emit_python(prog: ir.Program) -> str:
    """Source of ``_sim1(P, T, REC, ...)`` for one run of the IR program ``prog``.

    ``P`` holds the parameters' flattened values in the order of ``prog.params`` (a lookup:
    its x points, then its y values per element); the function returns one tuple of the
    recorded elements per saved time.
    """
    em = PythonEmitter()
    params = []
    for p in prog.params:
        params.extend(((p.table,) if p.kind == "lookup" else ()) + p.names)
    em.lines.append(f"DT = {float(prog.dt)!r}")
    em.lines.append("t = T[0]")
    em.lines.append("k = 0")
    em.stmts(prog.init, "")
    init, em.lines = em.lines, []
    em.stmts(prog.aux, "    ")
    aux, em.lines = em.lines, []
    rec = [em.expr(e) for e in prog.record]
    em.stmts(prog.upd, "    ")
    em.stmts(prog.commits, "    ")
    step, em.lines = em.lines, []
    sig = ", ".join(["P", "T", "REC", *(f"{h}={h}" for h in HELPERS)])
    lines = [f"def _sim1({sig}):"]
    if params:
        lines.append("    (" + "".join(f"{p}, " for p in params) + ") = P")
    lines.extend("    " + x for x in init)
    lines.append("    _rows = []")
    lines.append("    _app = _rows.append")
    lines.append("    _last = len(T) - 1")
    lines.append("    for k in range(len(T)):")
    lines.append("        t = T[k]")
    lines.extend("    " + x for x in aux)
    lines.append("        if REC[k]:")
    lines.append("            _app((" + "".join(f"{x}, " for x in rec) + "))")
    lines.append("        if k == _last:")
    lines.append("            break")
    lines.extend("    " + x for x in step)
    lines.append("    return _rows")
    src = "\n".join(lines) + "\n"
    try:
        compile(src, "<urbsim-scalar-check>", "exec")
    except (SyntaxError, RecursionError, MemoryError) as err:
        raise NotScalar(f"generated source does not compile: {err}") from err
    return src


def generate_scalar(program, out_ids, pl):
    """The IR of one run for ``out_ids`` and its Python source: ``(prog, src)``.

    ``pl`` is ``plan.plan(program, out_ids)``. Raises :class:`NotScalar` when the program
    uses something the lowering does not translate.
    """
    prog = lower(program, out_ids, pl)
    return prog, emit_python(prog)


def _trunc(x):
    """``np.trunc`` for a float: keeps the sign of zero and passes inf/NaN through."""
    if x != x or x in (math.inf, -math.inf):
        return x
    return math.copysign(float(math.trunc(x)), x)


def _lk(x, xs, ys):
    """``np.interp`` for one point: linear, clamped to the end values (PySD's lookups)."""
    if x >= xs[-1]:
        return ys[-1]
    if x < xs[0]:
        return ys[0]
    if x != x:
        return x
    i = bisect_right(xs, x) - 1
    x0 = xs[i]
    y0 = ys[i]
    return ((ys[i + 1] - y0) / (xs[i + 1] - x0)) * (x - x0) + y0


def _lkf(x, xs, ys):
    """The numpy backend's interpolation for tables of several elements or runs.

    Same as :func:`_lk` except at and above the last x point, where it extrapolates the last
    segment to the clamped x (``y0 + (x1 - x0) * slope``, which can differ from ``y1`` in
    the last bit) exactly as the numpy backend's ``_interp`` does.
    """
    if x != x:
        return x
    m = len(xs)
    xc = xs[0] if x < xs[0] else (xs[-1] if x > xs[-1] else x)
    i = bisect_right(xs, xc) - 1
    i = 0 if i < 0 else (m - 2 if i > m - 2 else i)
    x0 = xs[i]
    y0 = ys[i]
    return y0 + (xc - x0) * ((ys[i + 1] - y0) / (xs[i + 1] - x0))


def namespace(program) -> dict:
    """Globals of the scalar source: math functions and the helpers above, nothing else."""
    dt = program.dt

    def _dorder1(nid, k, *dts):
        m = dts[0]
        for d in dts[1:]:
            m = d if (d < m or d != d) else m
        o = k
        for _ in range(k):
            if o * dt > m:
                o -= 1
        if o <= 0:
            raise ModelError(program.delay_order_error(nid))
        return float(o)

    def _dfo1(nid, d):
        return int(np.round(max(d / dt, 1.0) + 1e-6))

    ns = {
        "_abs": abs,
        "_exp": math.exp,
        "_log": math.log,
        "_sqrt": math.sqrt,
        "_trunc": _trunc,
        "_pow": math.pow,
        **{f"_{f}": getattr(math, _MATH_NAME.get(f, f)) for f in TRIG},
        "_lk": _lk,
        "_lkf": _lkf,
        "_dorder1": _dorder1,
        "_dfo1": _dfo1,
        "_NAN": math.nan,
        "_INF": math.inf,
    }
    return dict(ns, __builtins__={"range": range, "len": len})
