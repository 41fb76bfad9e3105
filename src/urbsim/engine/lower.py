"""Element-level lowering: the compiled program's array IR (:mod:`arrays`) -> :mod:`ir` nodes.

The statements of one simulation (``plan.plan``: every auxiliary's array expression and
the stateful emitters' init/output/update statements, see ``statefuls.py``) are evaluated
*symbolically*: every array is a numpy object array whose elements are :mod:`ir`
expressions, so broadcasting, ``transpose``, ``take``, basic indexing and
``_bc``/``_state``/``_assemble`` are done by numpy on the symbols, and every element then
becomes one IR variable (``v12_0, v12_1, v12_2``). Element-wise operations become IR
operations; reductions become explicit chains; ``_where`` becomes :class:`ir.Select`;
lookups :class:`ir.Lookup`. Nothing here decides semantics: the Euler order,
initialisation, delay order lowering, DELAY FIXED ring buffers and ZIDZ/XIDZ tolerances are
the array statements', translated operation by operation. A construct not handled here
raises :class:`NotScalar` and the model keeps the numpy backend.

The names of the model reach only the IR's name table (for comments), never an identifier.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import arrays as ar
from . import ir
from .backends import SMALL_VENSIM
from .functions import TRIG

MAX_ELEMENTS = 256  # per variable; larger subscripted variables stay on the numpy backend
_SPECIAL = {"t": "t", "k": "k", "DT": "DT", "_NAN": "NAN", "_INF": "INF"}
_UNARY = {"xp.abs": "abs", "xp.exp": "exp", "xp.log": "log", "xp.sqrt": "sqrt"}
_UNARY["xp.trunc"] = "trunc"
_UNARY.update({f"xp.{f}": f for f in TRIG})
_ZERO = ir.Num(0)
# hidden nodes ("Var#state3"): what their comment calls them; other tags are kept as they are
_HIDDEN = {"inv": "invariant part", "state": "stateful", "active": "ACTIVE INITIAL"}
_TAG = re.compile(r"([a-z]+)\d*(.*)\Z", re.S)
_BASE = re.compile(r"([vsx])(\d+)(?:_(.*))?\Z")  # generated array names: node id, state part


class NotScalar(Exception):
    """The program uses something the element-level lowering does not translate."""


def _lit(node):
    """A structural literal of the array code (axes, tails, index lists, ints)."""
    if isinstance(node, ar.Lit):
        return node.value
    if isinstance(node, ar.Number) and type(node.value) is int:
        return node.value
    raise NotScalar(f"non-literal structural argument {type(node).__name__}")


# maths of numbers alone, computed here as the scalar code computes them at run time (Python's
# math module calls the C library's functions), so the scalar and the exact C code keep their
# numbers, and the C kernel divides by a literal (``LN(x) / LN(2)``: by its reciprocal, where
# the build has the vector maths) instead of calling log(2) and dividing every step
_FOLD = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "pow": math.pow}


def _call(fn: str, args: tuple) -> ir.Expr:
    """``fn(*args)``: a number where every argument is one and the result is finite."""
    if fn in _FOLD and all(isinstance(a, ir.Num) for a in args):
        try:
            v = _FOLD[fn](*(float(a.value) for a in args))
        except (ValueError, OverflowError):  # log(0), exp(1000): left to run time
            v = math.nan
        if math.isfinite(v):
            return ir.Num(v)
    return ir.Call(fn, args)


def _ew(fn, *arrays):
    """Apply ``fn`` to the element expressions of the broadcast ``arrays``."""
    bs = np.broadcast_arrays(*arrays)
    out = np.empty(bs[0].shape, dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = fn(*(b[idx] for b in bs))
    return out


def _c(x) -> np.ndarray:
    a = np.empty((), dtype=object)
    a[()] = x
    return a


def _one(a: np.ndarray, what: str):
    if a.shape not in ((), (1,)):
        raise NotScalar(what)
    return a.reshape(-1)[0]


class Lowering:
    """Symbolic evaluation of array statements into IR statements (``out``)."""

    def __init__(self, program):
        self.program = program
        self.env: dict[str, np.ndarray] = {}
        self.owner: dict[str, tuple] = {}  # element name -> (base name, index), uniqueness
        self.out: list = []
        self.names = ir.NameTable()

    # -- names ------------------------------------------------------------------------------
    def elem_names(self, name: str, shape: tuple, tail: int = 1) -> np.ndarray:
        if not shape:
            self._describe(name, name, ())
            return _c(ir.Var(name))
        if len(shape) < tail or any(s != 1 for s in shape[-tail:]):
            raise NotScalar(f"{name}: unexpected shape {shape}")
        if math.prod(shape) > MAX_ELEMENTS:
            raise NotScalar(f"{name}: {math.prod(shape)} elements")
        arr = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            ix = tuple(int(i) for i in idx[: len(shape) - tail])
            el = name + "".join(f"_{i}" for i in ix)
            prev = self.owner.setdefault(el, (name, ix))
            if prev != (name, ix):
                raise NotScalar(f"element name clash {el}")
            self._describe(el, name, ix)
            arr[idx] = ir.Var(el)
        return arr

    def _describe(self, el: str, base: str, ix: tuple) -> None:
        """Name table entry of element ``el``: the Vensim name of its node and its labels."""
        if el in self.names.names:
            return
        m = _BASE.match(base)
        nodes = self.program.nodes
        if m is None or int(m.group(2)) >= len(nodes):
            return
        nd = nodes[int(m.group(2))]
        name, _, hidden = nd.name.partition("#")  # hidden nodes: "Var#state3", "Var#inv2"
        tag = _TAG.match(hidden)
        parts = [_HIDDEN.get(tag[1], tag[1]) + tag[2]] if tag else []
        parts += {"x": ["x points"], "s": [f"state {m.group(3) or ''}".strip()]}.get(m.group(1), [])
        name += f" ({', '.join(parts)})" if parts else ""
        ranges = [self.program.ranges.get(d.rstrip("!"), ()) for d in nd.dims]
        labels = tuple(str(i) for i in ix)
        if len(ix) == len(ranges) and all(i < len(r) for i, r in zip(ix, ranges, strict=True)):
            labels = tuple(str(r[i]) for i, r in zip(ix, ranges, strict=True))
        self.names.add(el, name, labels)

    def bind(self, name: str, shape: tuple, tail: int = 1) -> np.ndarray:
        arr = self.elem_names(name, shape, tail)
        self.env[name] = arr
        return arr

    # -- statements -------------------------------------------------------------------------
    def block(self, stmts) -> list:
        """IR statements of the array statements ``stmts`` (appended to ``out`` too)."""
        start = len(self.out)
        for st in stmts:
            self.stmt(st)
        return self.out[start:]

    def stmt(self, st):
        if isinstance(st, ar.Assign):
            v = st.value
            if isinstance(v, ar.Call) and v.fn == "_pipe_write":
                self.pipe_write(st.target, v)
                return
            if isinstance(v, ar.Call) and v.fn == "xp.arange":
                self.env[st.target] = _c(None)  # run index of the pipes: not needed per run
                return
            self.assign(st.target, self.sym(v))
            return
        if isinstance(st, ar.If):
            test = _one(self.sym(st.cond), "array if")
            outer, self.out = self.out, []
            for s in st.body:
                self.stmt(s)
            body, self.out = tuple(self.out), []
            for s in st.orelse:
                self.stmt(s)
            orelse, self.out = tuple(self.out), outer
            self.out.append(ir.If(test, body, orelse))
            return
        raise NotScalar(f"statement {type(st).__name__}")

    def assign(self, name: str, val: np.ndarray):
        names = self.elem_names(name, val.shape)
        for idx in np.ndindex(val.shape):
            if names[idx] != val[idx]:
                self.out.append(ir.Assign(names[idx].name, self.expr(val[idx])))
        self.env[name] = names

    def pipe_write(self, name, call):
        p, ptr, _ar, v = call.args
        pipes = self.sym(p)
        ptr_code = self.expr(_one(self.sym(ptr), "pipe pointer"))
        vals = np.broadcast_to(self.sym(v), pipes.shape)
        for idx in np.ndindex(pipes.shape):
            self.out.append(ir.PipeWrite(pipes[idx].name, ptr_code, self.expr(vals[idx])))
        self.env[name] = pipes

    @staticmethod
    def expr(x) -> ir.Expr:
        if not isinstance(x, ir.Expr):
            raise NotScalar(f"value {type(x).__name__}")
        return x

    # -- expressions ------------------------------------------------------------------------
    def sym(self, node) -> np.ndarray:
        if isinstance(node, ar.Number):
            return _c(_number(node.value))
        if isinstance(node, ar.Ref):
            if node.name in self.env:
                return self.env[node.name]
            if node.name in _SPECIAL:
                return _c(ir.Special(_SPECIAL[node.name]))
            if node.name == "_SMALL":
                return _c(ir.Num(float(SMALL_VENSIM)))
            raise NotScalar(f"name {node.name}")
        if isinstance(node, ar.Op):
            a, b = self.sym(node.a), self.sym(node.b)
            if node.op == "**":
                return _ew(lambda x, y: _call("pow", (x, y)), a, b)
            return _ew(lambda x, y: ir.Bin(node.op, x, y), a, b)
        if isinstance(node, ar.Chain):
            acc = self.sym(node.first)
            for op, x in node.rest:
                acc = _ew(lambda p, q, op=op: ir.Bin(op, p, q), acc, self.sym(x))
            return acc
        if isinstance(node, ar.Neg):
            return _ew(ir.Neg, self.sym(node.a))
        if isinstance(node, ar.Compare):
            a, b = self.sym(node.a), self.sym(node.b)
            return _ew(lambda x, y: ir.Cmp(node.op, x, y), a, b)
        if isinstance(node, ar.Index):
            index = tuple(slice(None) if i == ":" else i for i in node.index)
            return self.sym(node.base)[index]
        if isinstance(node, ar.Assemble):
            return self.assemble(node)
        if isinstance(node, ar.Call):
            return self.call(node)
        raise NotScalar(f"expression {type(node).__name__}")

    def call(self, node: ar.Call):
        f, args, kw = node.fn, node.args, dict(node.kw)
        sig = (len(args), tuple(sorted(kw)))
        handler = _CALLS.get((f, *sig)) if f not in _UNARY else None
        if f in _UNARY and sig == (1, ()):
            fn = _UNARY[f]
            return _ew(lambda x: _call(fn, (x,)), self.sym(args[0]))
        if handler is None:
            raise NotScalar(f"function {f}")
        return handler(self, f, args, kw)

    def elementwise(self, f, args, kw):
        a = [self.sym(x) for x in args]
        if f in ("xp.minimum", "xp.maximum"):
            op = "<=" if f == "xp.minimum" else ">="
            return _ew(lambda x, y: ir.MinMax(op, x, y), *a)
        if f == "xp.power":
            return _ew(lambda x, y: _call("pow", (x, y)), *a)
        if f in ("xp.logical_and", "xp.logical_or"):
            op = "and" if f == "xp.logical_and" else "or"
            return _ew(lambda x, y: ir.Logic(op, (_truth(x), _truth(y))), *a)
        if f == "xp.logical_not":
            return _ew(lambda x: ir.Cmp("==", x, _ZERO), *a)
        return _ew(ir.Select, *a)  # _where

    def structural(self, f, args, kw):
        if f == "xp.transpose":
            return np.transpose(self.sym(args[0]), _lit(args[1]))
        if f == "xp.take":
            idx = args[1]
            if not (isinstance(idx, ar.Call) and idx.fn == "xp.asarray"):
                raise NotScalar("take")
            return np.take(self.sym(args[0]), _lit(idx.args[0]), axis=_lit(kw["axis"]))
        if f in ("_bc", "_state"):
            tail = tuple(_lit(args[-1]))
            return np.broadcast_to(self.sym(args[0]), (*tail, 1)).copy()
        if f == "bool":
            return self.sym(args[0])
        a = self.sym(args[0]).reshape(-1)  # xp.all
        return _c(ir.Logic("and", tuple(_truth(x) for x in a.tolist())) if a.size else ir.Num(1))

    def assemble(self, node: ar.Assemble):
        out = np.empty((*node.tail, 1), dtype=object)
        for ix, e in node.parts:
            out[(*np.ix_(*ix), slice(None))] = self.sym(e)
        if any(x is None for x in out.reshape(-1)):
            raise NotScalar("assemble leaves holes")
        return out

    def interp(self, f, args, kw):
        x, xs, tab = (self.sym(a) for a in args)
        if xs.shape != () or tab.ndim < 2:
            raise NotScalar("lookup table")
        table = xs[()].name
        ys = tab[..., 0]
        # numpy uses np.interp for a single table (one element, shared over runs), else its
        # own formula; pick the same per call site (they differ only at the top end)
        own = ys.size != 1
        return _ew(lambda x_, y_: ir.Lookup(x_, table, y_.name, own), x, ys)

    def reduce(self, f, args, kw):
        a, axes = self.sym(args[0]), tuple(int(x) for x in _lit(kw["axis"]))
        keep = [i for i in range(a.ndim) if i not in axes]
        moved = np.transpose(a, keep + list(axes))
        shape = moved.shape[: len(keep)]
        flat = moved.reshape((*shape, -1))
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            items = flat[idx].tolist()
            acc = items[0]
            for x in items[1:]:
                if f == "_sum":
                    acc = ir.Bin("+", acc, x)
                elif f == "_prod":
                    acc = ir.Bin("*", acc, x)
                else:
                    acc = ir.MinMax("<=" if f == "_vmin" else ">=", acc, x)
            out[idx] = acc
        return out

    def delays(self, f, args, kw):
        if f == "_dorder":
            times = tuple(self.sym(args[0]).reshape(-1).tolist())
            order, nid = int(_lit(args[1])), int(_lit(args[3]))
            return _c(ir.DelayOrder(nid, order, times))
        if f == "_dfo":
            d = self.sym(args[0]).reshape(-1)
            if d.size != 1:
                raise NotScalar("subscripted DELAY FIXED time")
            return _c(ir.PipeLength(int(_lit(args[2])), d[0]))
        if f == "_pipe_init":
            st = self.sym(args[0])
            length = _one(self.sym(args[1]).reshape(-1)[:1], "pipe length")
            return _ew(lambda s: ir.PipeNew(s, length), st)
        pipes, ptr = self.sym(args[0]), self.sym(args[1]).reshape(-1)  # _pipe_read
        return _ew(lambda p: ir.PipeRead(p.name, ptr[0]), pipes)


def _number(v) -> ir.Expr:
    """A number of the array code: NaN and infinities as specials, a negative number as the
    negation of its magnitude (as the printed array code reads)."""
    if isinstance(v, float) and math.isnan(v):
        return ir.Special("NAN")
    if isinstance(v, float) and math.isinf(v):
        return ir.Special("INF") if v > 0 else ir.Neg(ir.Special("INF"))
    if math.copysign(1.0, v) < 0:
        return ir.Neg(ir.Num(-v))
    return ir.Num(v)


def _truth(x: ir.Expr) -> ir.Expr:
    """``x`` as a truth value (true where not 0)."""
    return x if isinstance(x, (ir.Cmp, ir.Logic)) else ir.Cmp("!=", x, _ZERO)


_L = Lowering
# (function, positional arguments, keywords) -> handler; unary maths are in _UNARY
_CALLS = {
    **{(f, 2, ()): _L.elementwise for f in ("xp.minimum", "xp.maximum", "xp.power")},
    **{(f, 2, ()): _L.elementwise for f in ("xp.logical_and", "xp.logical_or")},
    ("xp.logical_not", 1, ()): _L.elementwise,
    ("_where", 3, ()): _L.elementwise,
    ("xp.transpose", 2, ()): _L.structural,
    ("xp.take", 2, ("axis",)): _L.structural,
    ("_bc", 2, ()): _L.structural,
    ("_bc", 3, ()): _L.structural,
    ("_state", 2, ()): _L.structural,
    ("_state", 3, ()): _L.structural,
    ("bool", 1, ()): _L.structural,
    ("xp.all", 1, ()): _L.structural,
    ("_interp", 3, ()): _L.interp,
    **{(f, 1, ("axis",)): _L.reduce for f in ("_sum", "_prod", "_vmin", "_vmax")},
    ("_dorder", 4, ()): _L.delays,
    ("_dfo", 3, ()): _L.delays,
    ("_pipe_init", 2, ()): _L.delays,
    ("_pipe_read", 3, ()): _L.delays,
}


def lower(program, out_ids, pl) -> ir.Program:
    """The IR of one run computing the outputs ``out_ids``; ``pl`` is ``plan.plan``'s.

    Raises :class:`NotScalar` when the program uses something not translated here.
    """
    nodes = program.nodes
    g = Lowering(program)
    params = []
    for i in sorted(pl.const_ids + pl.lookup_ids):
        nd = nodes[i]
        if nd.kind == "lookup":
            g.env[nd.xpy] = _c(ir.Var(nd.xpy))
            g.owner[nd.xpy] = (nd.xpy, ())
            shape = (*program.sizes(nd.dims), 1, 1)
            names = tuple(v.name for v in g.bind(nd.py, shape, tail=2).reshape(-1))
            xs = tuple(float(x) for x in nd.x)
            params.append(ir.Param("lookup", i, names, nd.xpy, xs))
        else:
            shape = (*program.sizes(nd.dims), 1)
            names = tuple(v.name for v in g.bind(nd.py, shape).reshape(-1))
            params.append(ir.Param("const", i, names))
    init = g.block(pl.init)
    aux = g.block(pl.aux)
    record, widths = [], []
    for i in out_ids:
        nd = nodes[i]
        val = g.env.get(nd.py)
        if val is None:
            raise NotScalar("output not computed")
        elems = np.broadcast_to(val, (*program.sizes(nd.dims), 1)).reshape(-1).tolist()
        record.extend(g.expr(e) for e in elems)
        widths.append(len(elems))
    upd = g.block(pl.upd)
    commits = g.block(pl.commits)
    return ir.Program(program.dt, params, init, aux, record, widths, upd, commits, g.names)
