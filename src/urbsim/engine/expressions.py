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

import numpy as np
from pysd.translators.structures import abstract_expressions as ae

from urbsim.errors import UnsupportedFeature

from .arrays import (
    Chain,
    Compare,
    Index,
    Lit,
    Neg,
    Op,
    Ref,
    call,
    number,
)
from .arrays import T as TREF
from .functions import _SUPPORTED_FUNCS, TRIG, FunctionCalls
from .values import TIME, E, align, union_dims

__all__ = ["TIME", "TRIG", "E", "ExprCompiler", "align", "norm", "union_dims"]

_CMP = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


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


class ExprCompiler(FunctionCalls):
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
