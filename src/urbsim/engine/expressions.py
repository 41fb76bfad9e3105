"""PySD abstract-syntax nodes -> array expressions (Python source over a whitelist).

Safety: this module turns PySD's AST into Python *source*, which ``compile.py`` then ``exec``s.
Nothing taken from the model file reaches that source as text:

* only the node types handled in :meth:`ExprCompiler.expr` are accepted; any other node raises
  :class:`UnsupportedFeature`;
* variables are referred to by generated identifiers (``v0``, ``v1``, ``s3_0`` ...), never by
  their model names;
* numbers are emitted as ``repr(float(x))`` (or ``repr(int(i))`` for subscript positions), so
  only digits, ``.``, ``e``, ``-`` and ``+`` can appear;
* functions and operators come from fixed tables in this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from pysd.translators.structures import abstract_expressions as ae

from urbsim.errors import UnsupportedFeature

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


def num(x) -> str:
    """Source text for a numeric literal."""
    f = float(x)
    if np.isnan(f):
        return "_NAN"
    if np.isinf(f):
        return "_INF" if f > 0 else "(-_INF)"
    s = repr(f)
    return f"({s})" if f < 0 else s


@dataclass
class E:
    """A compiled expression: source, its axes after the run axis, and dependencies."""

    code: str
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


def align(e: E, target: tuple) -> str:
    """Source of ``e`` with its axes permuted/expanded to ``target`` (run axis kept last)."""
    if not e.ra:
        return e.code
    if e.dims == target:
        return e.code
    src = list(e.dims)
    present = [d for d in target if d in src]
    perm = [src.index(d) for d in present]
    code = e.code
    if perm != sorted(perm):
        axes = ", ".join([str(p) for p in perm] + [str(len(src))])
        code = f"xp.transpose({code}, ({axes}))"
    if len(present) < len(target):
        idx = [":" if d in src else "None" for d in target]
        while idx and idx[0] == "None":  # numpy prepends missing leading axes
            idx.pop(0)
        if "None" in idx:
            code = f"({code})[{', '.join([*idx, ':'])}]"
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
            return E(num(float(a)))
        if isinstance(a, (int, float, np.integer, np.floating)):
            return E(num(a))
        if isinstance(a, np.ndarray):
            if a.ndim == 0:
                return E(num(a.item()))
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
            return E(node.py, dims, True, {node.id})
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
                return E(f"(-{e.code})", e.dims, e.ra, e.deps)
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
                    code = f"(-({num(-float(arg))} ** {code}))"
                else:
                    code = f"({c} ** {code})"
            return E(code, dims, ra, deps)
        if "^" in ops:
            raise self.unsupported("mixed '^' with other operators in one node")
        if set(ops) <= {"+", "-"} or set(ops) <= {"*", "/"}:
            # one precedence level: Python evaluates ``a + b - c`` left to right, exactly as
            # the nested form, and a long sum (210 terms) stays within its parser's 200 levels
            parts = [codes[0]] + [f"{op} {c}" for op, c in zip(ops, codes[1:], strict=True)]
            return E(f"({' '.join(parts)})", dims, ra, deps)
        code = codes[0]
        for op, c in zip(ops, codes[1:], strict=True):
            code = f"({code} {op} {c})"
        return E(code, dims, ra, deps)

    def logic(self, a):
        return self.p.hoist(self._logic(a), self)

    def _logic(self, a: ae.LogicStructure) -> E:
        ops = list(a.operators)
        if ops == [":NOT:"]:
            e = self.expr(a.arguments[0])
            return E(f"xp.logical_not({e.code})", e.dims, e.ra, e.deps)
        codes, dims, ra, deps = self._combine(a.arguments)
        code = codes[0]
        for op, c in zip(ops, codes[1:], strict=True):
            if op in _CMP:
                code = f"({code} {_CMP[op]} {c})"
            elif op == ":AND:":
                code = f"xp.logical_and({code}, {c})"
            elif op == ":OR:":
                code = f"xp.logical_or({code}, {c})"
            else:
                raise self.unsupported(f"operator {op!r}")
        return E(code, dims, ra, deps)

    # -- references -------------------------------------------------------------------------
    def reference(self, a: ae.ReferenceStructure) -> E:
        ref = a.reference
        if ref == "time" and self.p.try_resolve(ref) is None:  # a macro's input may be 'time'
            if a.subscripts:
                raise self.unsupported("subscripted Time")
            return E("t", (), False, {TIME})
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
            return E(node.py, dims, node.ra, {node.id})
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
                basic.append(repr(int(elems.index(sname))))
                continue
            lowered = [x.lower() for x in elems]
            if sname.lower() in lowered:
                basic.append(repr(int(lowered.index(sname.lower()))))
                continue
            raise self.unsupported(f"subscript '{s}' on '{node.name}' (dimension {d})")
        code = node.py
        if any(b != ":" for b in basic):
            code = f"{code}[{', '.join([*basic, ':'])}]"
        for ax, idx in gathers:
            code = f"xp.take({code}, xp.asarray({idx!r}), axis={ax})"
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
            return E(f"{_UNARY[fname]}({e.code})", e.dims, e.ra, e.deps)
        if fname == "integer" and len(args) == 1:
            e = self.expr(args[0])
            return E(f"xp.trunc({e.code})", e.dims, e.ra, e.deps)
        if fname in _BINARY and len(args) == 2:
            (c0, c1), dims, ra, deps = self._combine(args)
            return E(f"{_BINARY[fname]}({c0}, {c1})", dims, ra, deps)
        if fname in _REDUCE and len(args) == 1:
            e = self.expr(args[0])
            axes = [i for i, d in enumerate(e.dims) if d.endswith("!")]
            if not axes:
                raise self.unsupported(f"{fname.upper()} without a '!' subscript")
            keep = tuple(d for d in e.dims if not d.endswith("!"))
            return E(f"{_REDUCE[fname]}({e.code}, axis={tuple(axes)!r})", keep, True, e.deps)
        if fname == "if_then_else" and len(args) == 3:
            (c, x, y), dims, ra, deps = self._combine(args)
            return E(f"_where({c}, {x}, {y})", dims, ra, deps)
        if fname == "zidz" and len(args) == 2:
            (x, y), dims, ra, deps = self._combine(args)
            return E(f"_where(xp.abs({y}) < _SMALL, 0.0, {x} / {y})", dims, ra, deps)
        if fname == "xidz" and len(args) == 3:
            (x, y, z), dims, ra, deps = self._combine(args)
            return E(f"_where(xp.abs({y}) < _SMALL, {z}, {x} / {y})", dims, ra, deps)
        if fname in ("modulo", "quantum") and len(args) == 2:
            # PySD: QUANTUM(x, m) = x if m < 1e-6 else m * INTEGER(x / m); MODULO = x - QUANTUM
            (x, m), dims, ra, deps = self._combine(args)
            q = f"_where({m} < _SMALL, {x}, {m} * xp.trunc({x} / {m}))"
            return E(f"({x} - {q})" if fname == "modulo" else q, dims, ra, deps)
        if fname == "log" and len(args) == 2:  # PySD: ln(x) / ln(base)
            (x, b), dims, ra, deps = self._combine(args)
            return E(f"(xp.log({x}) / xp.log({b}))", dims, ra, deps)
        if fname == "step" and len(args) == 2:
            (v, ts), dims, ra, deps = self._combine(args)
            half = num(self.p.dt / 2)
            return E(f"({v} * ((t + {half}) > {ts}))", dims, ra, deps | {TIME})
        if fname == "ramp" and len(args) in (2, 3):
            (sl, st, *fin), dims, ra, deps = self._combine(args)
            final = f"xp.minimum({fin[0]}, t)" if fin else "t"
            code = f"((((t + _SMALL) > {st}) * {sl}) * ({final} - {st}))"
            return E(code, dims, ra, deps | {TIME})
        if fname == "pulse" and len(args) == 2:
            (st, w), dims, ra, deps = self._combine(args)
            code = f"_where(xp.logical_and(({st} - _SMALL) <= t, t < ({st} + {w})), 1.0, 0.0)"
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
            one = f"xp.logical_and(({st} - _SMALL) <= t, t < ({st} + {w}))"
            on = f"xp.logical_and({st} <= t, t < {e})"
            train = f"xp.logical_and({on}, ((t - {st} + _SMALL) % {r}) < {w})"
            code = f"_where(_where({r} == 0.0, {one}, {train}), 1.0, 0.0)"
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
        call = ", ".join([*codes, repr(int(seed)), repr(site), run.py, "k", repr(tail)])
        deps = set().union(*(e.deps for e in es)) | {run.id, TIME}
        return E(f"{helper}({call})", dims, True, deps)

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
                axes = ", ".join([str(p) for p in perm] + [str(len(src)), str(len(src) + 1)])
                tab_code = f"xp.transpose({tab_code}, ({axes}))"
            if len(present) < len(dims):
                idx = [":" if d in src else "None" for d in dims]
                while idx and idx[0] == "None":
                    idx.pop(0)
                if "None" in idx:
                    tab_code = f"({tab_code})[{', '.join([*idx, ':', ':'])}]"
        code = f"_interp({xcode}, x{node.id}, {tab_code})"
        return E(code, dims, True, x.deps | {node.id})


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
