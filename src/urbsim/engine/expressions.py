"""PySD abstract-syntax nodes -> array-level IR expressions (:mod:`arrays`).

Safety: this module turns PySD's AST into typed array-IR nodes, which ``compile.py`` prints
as Python source and ``exec``s. Nothing taken from the model file reaches that source as text:

* only the node types handled in :meth:`ExprCompiler.expr` are accepted; any other node raises
  :class:`UnsupportedFeature`;
* variables are referred to by generated identifiers (``v0``, ``v1``, ``s3_0`` ...), never by
  their model names;
* numbers are ``float``/``int`` nodes, printed as ``repr``, so only digits, ``.``, ``e``,
  ``-`` and ``+`` can appear;
* functions and operators come from fixed tables (the IR's nodes refuse others).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from pysd.translators.structures import abstract_expressions as ae

from urbsim.errors import UnsupportedFeature

from .arrays import (
    SMALL,
    AExpr,
    Call,
    Chain,
    Compare,
    Index,
    Lit,
    Neg,
    Op,
    Ref,
    call,
    number,
    where,
)
from .arrays import T as TREF

TIME = -1  # pseudo node id for Time


# each stateful structure: the engine's kind and the arguments it compiles (PySD's names)
STATEFUL_ARGS = {
    ae.IntegStructure: ("integ", ("flow", "initial")),
    ae.SmoothStructure: ("smooth", ("input", "smooth_time", "initial")),
    ae.SmoothNStructure: ("smooth", ("input", "smooth_time", "initial")),
    ae.DelayStructure: ("delay", ("input", "delay_time", "initial")),
    ae.DelayNStructure: ("delay", ("input", "delay_time", "initial")),
    ae.DelayFixedStructure: ("delayfixed", ("input", "delay_time", "initial")),
    ae.TrendStructure: ("trend", ("input", "average_time", "initial_trend")),
    ae.ForecastStructure: ("forecast", ("input", "average_time", "horizon", "initial_trend")),
    ae.InitialStructure: ("initial", ("initial",)),
    ae.SampleIfTrueStructure: ("sample", ("condition", "input", "initial")),
}


def norm(name: str) -> str:
    """Normalise a Vensim identifier the way references are compared (case, spaces, _)."""
    return re.sub(r"[\s_]+", "_", name.strip().lower())


@dataclass
class E:
    """A compiled expression: array IR, its axes before the run axis, and dependencies."""

    code: AExpr
    dims: tuple = ()
    ra: bool = False  # has a leading run axis (else a plain scalar)
    deps: set = field(default_factory=set)


_UNARY = {"abs": "xp.abs", "exp": "xp.exp", "ln": "xp.log", "sqrt": "xp.sqrt"}
# trigonometric and hyperbolic functions: numpy's, as PySD calls them (radians)
TRIG = ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh")
_UNARY.update({f: f"xp.{f}" for f in TRIG})
_BINARY = {"min": "xp.minimum", "max": "xp.maximum", "power": "xp.power"}
_REDUCE = {"sum": "_sum", "prod": "_prod", "vmin": "_vmin", "vmax": "_vmax"}
# number of arguments and helper (rng.py)
_RANDOM = {
    "random_uniform": (3, "_runif"),
    "random_0_1": (0, "_runif"),
    "random_normal": (5, "_rnorm"),
    "random_exponential": (5, "_rexp"),
}
# PySD functions compiled by their own modules (vectors.py): VECTOR ..., INVERT MATRIX, ...
_EXTENSIONS = (
    "pi",
    "vector_sort_order",
    "vector_rank",
    "vector_reorder",
    "vector_select",
    "invert_matrix",
    "elmcount",
    "get_time_value",
)
_CMP = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SUPPORTED_FUNCS = sorted(
    [*_UNARY, *_BINARY, *_REDUCE, "if_then_else", "zidz", "xidz", "step", "ramp", "pulse"]
    + ["integer", "modulo", "quantum", "log", "pulse_train", "active_initial", *_RANDOM]
    + list(_EXTENSIONS)
)


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


class ExprCompiler:
    """Compiles the right-hand side of one component (arrays are (*dims, run)).

    ``program`` supplies: ``resolve(ref_norm) -> node``, ``ranges`` (name -> elements),
    ``range_of_norm`` (normalised range name -> name), ``hidden_stateful(...)``,
    ``hidden_lookup(...)`` and the time step ``dt``.
    """

    def __init__(self, program, var_name: str, lhs: list, line: int | None):
        self.p = program
        self.var = var_name
        self.lhs = lhs  # list of range names (None at element positions)
        self.line = line

    # -- errors -----------------------------------------------------------------------------
    def unsupported(self, what: str) -> UnsupportedFeature:
        where = f" (line {self.line})" if self.line else ""
        return UnsupportedFeature(
            f"variable '{self.var}'{where} of {self.p.path_name}: {what} is not supported by "
            "the fast engine; supported functions: "
            + ", ".join(_SUPPORTED_FUNCS)
            + ", INTEG, SMOOTH(I/3/3I/N), DELAY1(I), DELAY3(I), DELAY N, DELAY FIXED, TREND, "
            "FORECAST, SAMPLE IF TRUE, INITIAL, lookups, WITH LOOKUP, GET XLS/DIRECT, GAME, "
            "ALLOCATE BY PRIORITY, ALLOCATE AVAILABLE"
        )

    # -- entry ------------------------------------------------------------------------------
    def expr(self, a) -> E:
        if isinstance(a, bool):
            return E(number(a))
        if isinstance(a, (int, float, np.integer, np.floating)):
            return E(number(a))
        if isinstance(a, np.ndarray):
            if a.ndim == 0:
                return E(number(a.item()))
            raise self.unsupported("a literal array inside an expression")
        if isinstance(a, ae.ArithmeticStructure):
            return self.arith(a)
        if isinstance(a, ae.LogicStructure):
            return self.logic(a)
        if isinstance(a, ae.ReferenceStructure):
            return self.reference(a)
        if isinstance(a, ae.CallStructure):
            return self.call(a)
        if isinstance(a, ae.InlineLookupsStructure):
            node = self.p.hidden_lookup(a.lookups, self)
            return self.lookup_call(node, None, a.argument)
        if isinstance(a, tuple(STATEFUL_ARGS)):
            node = self.p.hidden_stateful(a, self)
            dims = tuple(d for d in self.lhs if d is not None)
            return E(Ref(node.py), dims, True, {node.id})
        if isinstance(a, ae.GameStructure):  # PySD runs GAME as its input
            return self.expr(a.expression)
        if isinstance(a, (ae.AllocateByPriorityStructure, ae.AllocateAvailableStructure)):
            from . import allocation

            by_priority = isinstance(a, ae.AllocateByPriorityStructure)
            compiler = allocation.compile_priority if by_priority else allocation.compile_available
            return self.p.hoist(compiler(self, a), self)
        raise self.unsupported(_describe(a))

    # -- operators --------------------------------------------------------------------------
    def _combine(self, args):
        es = [self.expr(x) for x in args]
        dims = union_dims(es)
        ra = any(e.ra for e in es)
        deps = set().union(*(e.deps for e in es))
        return [align(e, dims) for e in es], dims, ra, deps

    def arith(self, a):
        return self.p.hoist(self._arith(a), self)

    def _arith(self, a: ae.ArithmeticStructure) -> E:
        ops = list(a.operators)
        if len(a.arguments) == 1:
            if ops[0] == "negative":
                e = self.expr(a.arguments[0])
                return E(Neg(e.code), e.dims, e.ra, e.deps)
            raise self.unsupported(f"operator {ops[0]!r}")
        codes, dims, ra, deps = self._combine(a.arguments)
        for op in ops:
            if op not in ("+", "-", "*", "/", "^"):
                raise self.unsupported(f"operator {op!r}")
        if all(op == "^" for op in ops):
            # PySD emits the text a**b**c, which Python evaluates right to left; a negative
            # number written as a base (``-2^2``, ``30^-30^-c``) is emitted as ``-2**2``, which
            # Python reads as -(2**2): the engine computes the same
            code = codes[-1]
            for arg, c in zip(reversed(a.arguments[:-1]), reversed(codes[:-1]), strict=True):
                if _negative_literal(arg):
                    code = Neg(Op("**", number(-float(arg)), code))
                else:
                    code = Op("**", c, code)
            return E(code, dims, ra, deps)
        if "^" in ops:
            raise self.unsupported("mixed '^' with other operators in one node")
        if set(ops) <= {"+", "-"} or set(ops) <= {"*", "/"}:
            # one precedence level: Python evaluates ``a + b - c`` left to right, exactly as
            # the nested form, and a long sum (210 terms) stays within its parser's 200 levels
            rest = tuple(zip(ops, codes[1:], strict=True))
            return E(Chain(codes[0], rest), dims, ra, deps)
        code = codes[0]
        for op, c in zip(ops, codes[1:], strict=True):
            code = Op(op, code, c)
        return E(code, dims, ra, deps)

    def logic(self, a):
        return self.p.hoist(self._logic(a), self)

    def _logic(self, a: ae.LogicStructure) -> E:
        ops = list(a.operators)
        if ops == [":NOT:"]:
            e = self.expr(a.arguments[0])
            return E(call("xp.logical_not", e.code), e.dims, e.ra, e.deps)
        codes, dims, ra, deps = self._combine(a.arguments)
        code = codes[0]
        for op, c in zip(ops, codes[1:], strict=True):
            if op in _CMP:
                code = Compare(_CMP[op], code, c)
            elif op == ":AND:":
                code = call("xp.logical_and", code, c)
            elif op == ":OR:":
                code = call("xp.logical_or", code, c)
            else:
                raise self.unsupported(f"operator {op!r}")
        return E(code, dims, ra, deps)

    # -- references -------------------------------------------------------------------------
    def reference(self, a: ae.ReferenceStructure) -> E:
        ref = a.reference
        if ref == "time" and self.p.try_resolve(ref) is None:  # a macro's input may be 'time'
            if a.subscripts:
                raise self.unsupported("subscripted Time")
            return E(TREF, (), False, {TIME})
        if self.p.try_resolve(ref) is None:
            value = self.p.subscript_value(ref)
            if value is not None:  # a range or an element used as a number (PySD)
                if a.subscripts:
                    raise self.unsupported(f"subscripted subscript range '{ref}'")
                return value
        node = self.p.resolve(ref, self)
        if node.kind == "lookup":
            raise self.unsupported(f"lookup '{node.name}' used without an argument")
        subs = a.subscripts.subscripts if a.subscripts else None
        return self.subscript(node, subs)

    def subscript(self, node, subs) -> E:
        dims = tuple(node.dims)
        if not subs:
            return E(Ref(node.py), dims, node.ra, {node.id})
        if len(subs) != len(dims):
            raise self.unsupported(
                f"reference to '{node.name}' with {len(subs)} subscripts (it has {len(dims)})"
            )
        basic = []
        out_dims = []
        gathers = []  # (axis in result, index list)
        for s, d in zip(subs, dims, strict=True):
            bang = s.endswith("!")
            sname = s[:-1].strip() if bang else s.strip()
            elems = self.p.ranges[d]
            if sname in self.p.ranges:
                rng = sname
            elif sname in elems:
                rng = None
            else:
                rng = self.p.range_of_norm.get(norm(sname))
            if rng is not None:
                if rng == d:
                    basic.append(":")
                    out_dims.append(d + "!" if bang else self.mapped(rng, subs))
                    continue
                sub_elems = self.p.ranges[rng]
                if all(x in elems for x in sub_elems):
                    basic.append(":")
                    gathers.append((len(out_dims), [elems.index(x) for x in sub_elems]))
                    out_dims.append(rng + "!" if bang else self.mapped(rng, subs))
                    continue
                raise self.unsupported(
                    f"subscript '{s}' on '{node.name}' (dimension {d}): subscript mapping"
                )
            if bang:
                raise self.unsupported(f"subscript '{s}'")
            if sname in elems:
                basic.append(int(elems.index(sname)))
                continue
            lowered = [x.lower() for x in elems]
            if sname.lower() in lowered:
                basic.append(int(lowered.index(sname.lower())))
                continue
            raise self.unsupported(f"subscript '{s}' on '{node.name}' (dimension {d})")
        code = Ref(node.py)
        if any(b != ":" for b in basic):
            code = Index(code, (*basic, ":"))
        for ax, idx in gathers:
            code = call("xp.take", code, call("xp.asarray", Lit(idx)), axis=Lit(ax))
        if len(out_dims) > len(set(out_dims)):
            raise self.unsupported(f"repeated dimension in a reference to '{node.name}'")
        return E(code, tuple(out_dims), True, {node.id})

    def mapped(self, rng: str, subs) -> str:
        """The range a reference's ``rng`` axis stands for: a range that ``rng`` maps onto
        (``rng: a, b -> Other``) when the left side has it and ``rng`` not (PySD's rule)."""
        if rng in self.lhs:
            return rng
        for target in self.p.mapping.get(rng, ()):
            if target in self.lhs and target not in subs:
                if len(self.p.ranges[target]) != len(self.p.ranges[rng]):
                    raise self.unsupported(f"mapping of '{rng}' onto a range of another size")
                return target  # element by element, in order: the same array
        return rng

    # -- calls ------------------------------------------------------------------------------
    def call(self, a):
        return self.p.hoist(self._call(a), self)

    def _call(self, a: ae.CallStructure) -> E:
        fname = a.function.reference
        args = list(a.arguments)
        node = self.p.try_resolve(fname)
        if node is not None and node.kind == "lookup":
            subs = a.function.subscripts.subscripts if a.function.subscripts else None
            if len(args) != 1:
                raise self.unsupported(f"lookup '{node.name}' called with {len(args)} arguments")
            return self.lookup_call(node, subs, args[0])
        if fname in _UNARY and len(args) == 1:
            e = self.expr(args[0])
            return E(call(_UNARY[fname], e.code), e.dims, e.ra, e.deps)
        if fname == "integer" and len(args) == 1:
            e = self.expr(args[0])
            return E(call("xp.trunc", e.code), e.dims, e.ra, e.deps)
        if fname in _BINARY and len(args) == 2:
            (c0, c1), dims, ra, deps = self._combine(args)
            return E(call(_BINARY[fname], c0, c1), dims, ra, deps)
        if fname in _REDUCE and len(args) == 1:
            e = self.expr(args[0])
            axes = [i for i, d in enumerate(e.dims) if d.endswith("!")]
            if not axes:
                raise self.unsupported(f"{fname.upper()} without a '!' subscript")
            keep = tuple(d for d in e.dims if not d.endswith("!"))
            code = call(_REDUCE[fname], e.code, axis=Lit(tuple(axes)))
            return E(code, keep, True, e.deps)
        if fname == "if_then_else" and len(args) == 3:
            (c, x, y), dims, ra, deps = self._combine(args)
            return E(where(c, x, y), dims, ra, deps)
        if fname == "zidz" and len(args) == 2:
            (x, y), dims, ra, deps = self._combine(args)
            return E(_zidz(x, y, number(0.0)), dims, ra, deps)
        if fname == "xidz" and len(args) == 3:
            (x, y, z), dims, ra, deps = self._combine(args)
            return E(_zidz(x, y, z), dims, ra, deps)
        if fname in ("modulo", "quantum") and len(args) == 2:
            # PySD: QUANTUM(x, m) = x if m < 1e-6 else m * INTEGER(x / m); MODULO = x - QUANTUM
            (x, m), dims, ra, deps = self._combine(args)
            q = where(Compare("<", m, SMALL), x, Op("*", m, call("xp.trunc", Op("/", x, m))))
            return E(Op("-", x, q) if fname == "modulo" else q, dims, ra, deps)
        if fname == "log" and len(args) == 2:  # PySD: ln(x) / ln(base)
            (x, b), dims, ra, deps = self._combine(args)
            return E(Op("/", call("xp.log", x), call("xp.log", b)), dims, ra, deps)
        if fname == "step" and len(args) == 2:
            (v, ts), dims, ra, deps = self._combine(args)
            half = number(self.p.dt / 2)
            code = Op("*", v, Compare(">", Op("+", TREF, half), ts))
            return E(code, dims, ra, deps | {TIME})
        if fname == "ramp" and len(args) in (2, 3):
            (sl, st, *fin), dims, ra, deps = self._combine(args)
            final = call("xp.minimum", fin[0], TREF) if fin else TREF
            on = Op("*", Compare(">", Op("+", TREF, SMALL), st), sl)
            return E(Op("*", on, Op("-", final, st)), dims, ra, deps | {TIME})
        if fname == "pulse" and len(args) == 2:
            (st, w), dims, ra, deps = self._combine(args)
            code = where(_pulse(st, w), number(1.0), number(0.0))
            return E(code, dims, ra, deps | {TIME})
        if fname in _RANDOM:
            return self.random(fname, args)
        if fname == "active_initial" and len(args) == 2:
            active, initial = self.expr(args[0]), self.expr(args[1])
            return self.p.hidden_active_initial(active, initial, self)
        if fname in self.p.macros:
            from .macros import inline

            return inline(self, self.p.macros[fname], args)
        if fname in _EXTENSIONS:
            from .vectors import CALLS

            return CALLS[fname](self, fname, args)
        if fname == "pulse_train" and len(args) == 4:
            # PySD's pulse(time, start, repeat_time, width, end): one pulse when repeat = 0
            (st, r, w, e), dims, ra, deps = self._combine(args)
            on = call("xp.logical_and", Compare("<=", st, TREF), Compare("<", TREF, e))
            phase = Op("%", Chain(TREF, (("-", st), ("+", SMALL))), r)
            train = call("xp.logical_and", on, Compare("<", phase, w))
            pulse = where(Compare("==", r, number(0.0)), _pulse(st, w), train)
            code = where(pulse, number(1.0), number(0.0))
            return E(code, dims, ra, deps | {TIME})
        raise self.unsupported(f"function {fname.upper().replace('_', ' ')}")

    def random(self, fname: str, args: list) -> E:
        """RANDOM UNIFORM / 0 1 / NORMAL / EXPONENTIAL: one draw per element, run and step
        (see rng.py)."""
        nargs, helper = _RANDOM[fname]
        if len(args) != nargs:
            raise self.unsupported(f"{fname.upper().replace('_', ' ')} with {len(args)} arguments")
        *values, seed = args or [0.0, 1.0, 0.0]
        if isinstance(seed, bool) or not isinstance(seed, (int, float, np.integer, np.floating)):
            raise self.unsupported("a RANDOM seed that is not a number")
        dims = tuple(d for d in self.lhs if d is not None)
        es = [self.expr(v) for v in values]
        extra = [d for e in es for d in e.dims if d not in dims]
        if extra:
            raise self.unsupported(f"RANDOM arguments over {', '.join(extra)}")
        codes = [align(e, dims) for e in es]
        run = self.p.run_index()
        site = self.p.random_site()
        tail = tuple(int(x) for x in self.p.sizes(dims))
        args = [*codes, Lit(int(seed)), Lit(site), Ref(run.py), Ref("k"), Lit(tail)]
        deps = set().union(*(e.deps for e in es)) | {run.id, TIME}
        return E(call(helper, *args), dims, True, deps)

    def lookup_call(self, node, subs, arg) -> E:
        x = self.expr(arg)
        tab = self.subscript(node, subs)  # dims of the table (its points axis is not listed)
        dims = union_dims([x, tab])
        xcode = align(x, dims)
        tab_code = tab.code
        if tab.dims != dims:
            # table arrays are (*dims, run, points): align the dims, keep the last two axes
            src = list(tab.dims)
            present = [d for d in dims if d in src]
            perm = [src.index(d) for d in present]
            if perm != sorted(perm):
                axes = Lit((*perm, len(src), len(src) + 1))
                tab_code = call("xp.transpose", tab_code, axes)
            if len(present) < len(dims):
                idx = [":" if d in src else None for d in dims]
                while idx and idx[0] is None:
                    idx.pop(0)
                if None in idx:
                    tab_code = Index(tab_code, (*idx, ":", ":"))
        code = call("_interp", xcode, Ref(f"x{node.id}"), tab_code)
        return E(code, dims, True, x.deps | {node.id})


def _zidz(x: AExpr, y: AExpr, z: AExpr) -> Call:
    """XIDZ(x, y, z) (ZIDZ: z = 0): z where |y| is below PySD's 1e-6, else x / y."""
    return where(Compare("<", call("xp.abs", y), SMALL), z, Op("/", x, y))


def _pulse(st: AExpr, w: AExpr) -> Call:
    """PULSE's window: start - 1e-6 <= Time < start + width."""
    lo = Compare("<=", Op("-", st, SMALL), TREF)
    return call("xp.logical_and", lo, Compare("<", TREF, Op("+", st, w)))


def _negative_literal(a) -> bool:
    """A number literal PySD writes with a leading minus sign (-0.0 included)."""
    if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)):
        return False
    return bool(np.signbit(a)) and not np.isnan(a)


def _describe(a) -> str:
    name = type(a).__name__.replace("Structure", "")
    table = {
        "GetLookups": "GET LOOKUPS (external data)",
        "GetData": "GET DATA (external data)",
        "GetConstants": "GET CONSTANTS (external data)",
        "Data": "a data variable",
    }
    return "function " + table.get(name, name)
