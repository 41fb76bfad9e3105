"""Vensim function calls -> array-level IR: the built-in functions (maths, IF THEN ELSE,
ZIDZ/XIDZ, STEP/RAMP/PULSE, RANDOM ...), lookups called with an argument, macros and the
functions compiled by their own modules (VECTOR ..., ALLOCATE ...). A mixin of
:class:`expressions.ExprCompiler`, whose ``expr``, ``_combine``, ``subscript`` and
``unsupported`` it uses."""

from __future__ import annotations

import numpy as np
from pysd.translators.structures import abstract_expressions as ae

from .arrays import SMALL, AExpr, Call, Chain, Compare, Index, Lit, Op, Ref, call, number, where
from .arrays import T as TREF
from .values import TIME, E, align, union_dims

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
_SUPPORTED_FUNCS = sorted(
    [*_UNARY, *_BINARY, *_REDUCE, "if_then_else", "zidz", "xidz", "step", "ramp", "pulse"]
    + ["integer", "modulo", "quantum", "log", "pulse_train", "active_initial", *_RANDOM]
    + list(_EXTENSIONS)
)


class FunctionCalls:
    """Function calls of :class:`expressions.ExprCompiler` (a mixin)."""

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
