"""Scalar backend: the compiled program as plain-Python float code, for one run at a time.

The numpy generator (``compile.generate``) pays ~1.5 µs of call overhead per array operation,
which dominates a single run. This module takes the *same* statements (``compile.plan``: the
numpy/JAX source of every auxiliary, and the stateful emitters' init/output/update lines from
``statefuls.py``) and unrolls them at code-generation time: every array is evaluated
*symbolically* as a numpy object array whose elements are scalar Python expressions, so
broadcasting, ``transpose``, ``take``, basic indexing, ``_bc``/``_state``/``_assemble`` are
done by numpy on the symbols, and every element then becomes one local variable
(``v12_0, v12_1, v12_2``). Element-wise operations become float expressions; reductions
become explicit chains; ``_where`` becomes ``a if c else b`` (the untaken branch is never
evaluated); lookups call a small bisect interpolation with PySD's clamped ends.

Nothing here decides semantics: the Euler order, initialisation, delay order lowering,
DELAY FIXED ring buffers, ZIDZ/XIDZ tolerances are the numpy statements, translated
operation by operation. A construct the translator does not know raises :class:`NotScalar`
at generation time and the model keeps using the numpy backend.

At run time, Python raises where numpy returns inf/NaN (division by zero, ``math.log(0)``,
``math.exp`` overflow, ``math.pow`` of a negative base): the caller catches
``ArithmeticError``/``ValueError`` and reruns that run with the numpy backend, so such runs
give numpy's numbers too.

Safety: the source is built from the numpy source (itself only generated identifiers,
``repr(float)`` numbers and whitelisted names, see ``expressions.py``), parsed with
:mod:`ast` and re-emitted; only the node types and helper names handled below are accepted.
Element names are generated identifiers plus ``_<int>`` suffixes; numbers are emitted as
``repr(float)``/``repr(int)``. Nothing from the model file reaches the source.
"""

from __future__ import annotations

import ast
import math
import re
from bisect import bisect_right

import numpy as np

from urbsim.errors import ModelError

from .backends import SMALL_VENSIM
from .expressions import TRIG

_MATH_NAME = {"arcsin": "asin", "arccos": "acos", "arctan": "atan"}  # numpy -> math names
MAX_ELEMENTS = 256  # per variable; larger subscripted variables stay on the numpy backend


_NUMBER = re.compile(r"^\(?-?[0-9][0-9.e+-]*\)?$")
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^\(?-?[0-9][0-9.e+-]*\)?$")


class NotScalar(Exception):
    """The program uses something the scalar generator does not translate."""


_SPECIAL = {"t": "t", "k": "k", "DT": "DT", "_NAN": "_NAN", "_INF": "_INF"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_UNARY = {"xp.abs": "_abs", "xp.exp": "_exp", "xp.log": "_log", "xp.sqrt": "_sqrt"}
_UNARY["xp.trunc"] = "_trunc"
_UNARY.update({f"xp.{f}": f"_{f}" for f in TRIG})
# helpers bound as default arguments of the generated function (fast local lookups)
HELPERS = ("_abs", "_exp", "_log", "_sqrt", "_trunc", "_pow", "_lk", "_lkf", "_dorder1", "_dfo1")
HELPERS += tuple(f"_{f}" for f in TRIG)


def _lit(node):
    """A structural literal of the numpy source (axes, tails, index lists, ints)."""
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise NotScalar(f"non-literal structural argument {ast.dump(node)[:80]}") from err


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


class _Gen:
    def __init__(self):
        self.env: dict[str, np.ndarray] = {}
        self.owner: dict[str, tuple] = {}  # element name -> (base name, index), uniqueness
        self.tmp = 0
        self.out: list[str] = []
        self.indent = ""

    # -- names ------------------------------------------------------------------------------
    def elem_names(self, name: str, shape: tuple, tail: int = 1) -> np.ndarray:
        if not shape:
            return _c(name)
        if len(shape) < tail or any(s != 1 for s in shape[-tail:]):
            raise NotScalar(f"{name}: unexpected shape {shape}")
        if math.prod(shape) > MAX_ELEMENTS:
            raise NotScalar(f"{name}: {math.prod(shape)} elements")
        arr = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            el = name + "".join(f"_{int(i)}" for i in idx[: len(shape) - tail])
            prev = self.owner.setdefault(el, (name, idx[: len(shape) - tail]))
            if prev != (name, idx[: len(shape) - tail]):
                raise NotScalar(f"element name clash {el}")
            arr[idx] = el
        return arr

    def bind(self, name: str, shape: tuple, tail: int = 1) -> np.ndarray:
        arr = self.elem_names(name, shape, tail)
        self.env[name] = arr
        return arr

    def emit(self, line: str):
        self.out.append(self.indent + line)

    def walrus(self) -> str:
        self.tmp += 1
        return f"_w{self.tmp}"

    # -- statements -------------------------------------------------------------------------
    def block(self, src: str):
        try:
            tree = ast.parse(src)
        except SyntaxError as err:  # pragma: no cover - numpy source always parses
            raise NotScalar(str(err)) from err
        for st in tree.body:
            self.stmt(st)

    def stmt(self, st):
        if isinstance(st, ast.Assign) and len(st.targets) == 1:
            tgt = st.targets[0]
            if not isinstance(tgt, ast.Name):
                raise NotScalar("assignment target")
            v = st.value
            if isinstance(v, ast.Call) and _fname(v.func) == "_pipe_write":
                self.pipe_write(tgt.id, v)
                return
            if isinstance(v, ast.Call) and _fname(v.func) == "xp.arange":
                self.env[tgt.id] = _c("None")  # run index of the pipes: not needed per run
                return
            self.assign(tgt.id, self.sym(v))
            return
        if isinstance(st, ast.If):
            test = self.sym(st.test)
            if test.shape not in ((), (1,)):
                raise NotScalar("array if")
            self.emit(f"if {test.reshape(-1)[0]}:")
            self.indent += "    "
            for s in st.body:
                self.stmt(s)
            self.indent = self.indent[:-4]
            if st.orelse:
                self.emit("else:")
                self.indent += "    "
                for s in st.orelse:
                    self.stmt(s)
                self.indent = self.indent[:-4]
            return
        raise NotScalar(f"statement {type(st).__name__}")

    def assign(self, name: str, val: np.ndarray):
        names = self.elem_names(name, val.shape)
        for idx in np.ndindex(val.shape):
            if names[idx] != val[idx]:
                self.emit(f"{names[idx]} = {val[idx]}")
        self.env[name] = names

    def pipe_write(self, name, call):
        p, ptr, _ar, v = call.args
        pipes = self.sym(p)
        ptr_code = self.sym(ptr)
        if ptr_code.shape not in ((), (1,)):
            raise NotScalar("pipe pointer")
        ptr_code = ptr_code.reshape(-1)[0]
        vals = np.broadcast_to(self.sym(v), pipes.shape)
        for idx in np.ndindex(pipes.shape):
            self.emit(f"{pipes[idx]}[{ptr_code}] = {vals[idx]}")
        self.env[name] = pipes

    # -- expressions ------------------------------------------------------------------------
    def sym(self, node) -> np.ndarray:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise NotScalar(f"constant {v!r}")
            return _c(repr(v))
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            if node.id in _SPECIAL:
                return _c(_SPECIAL[node.id])
            if node.id == "_SMALL":
                return _c(repr(float(SMALL_VENSIM)))
            raise NotScalar(f"name {node.id}")
        if isinstance(node, ast.BinOp):
            a, b = self.sym(node.left), self.sym(node.right)
            if isinstance(node.op, ast.Pow):
                return _ew(lambda x, y: f"_pow({x}, {y})", a, b)
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise NotScalar(f"operator {type(node.op).__name__}")
            return _ew(lambda x, y: f"({x} {op} {y})", a, b)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _ew(lambda x: f"(-{x})", self.sym(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op = _CMPOPS.get(type(node.ops[0]))
            if op is None:
                raise NotScalar("comparison")
            a, b = self.sym(node.left), self.sym(node.comparators[0])
            return _ew(lambda x, y: f"({x} {op} {y})", a, b)
        if isinstance(node, ast.Subscript):
            base = self.sym(node.value)
            return base[self.index(node.slice)]
        if isinstance(node, ast.Call):
            return self.call(node)
        raise NotScalar(f"expression {type(node).__name__}")

    def index(self, sl):
        parts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        out = []
        for p in parts:
            if isinstance(p, ast.Slice):
                if p.lower or p.upper or p.step:
                    raise NotScalar("slice bounds")
                out.append(slice(None))
            elif isinstance(p, ast.Constant) and (p.value is None or type(p.value) is int):
                out.append(p.value)
            else:
                raise NotScalar("index")
        return tuple(out)

    def minmax(self, a, b, op):
        """NaN-propagating ``np.minimum``/``np.maximum`` of two element expressions."""
        nan_a = not _NUMBER.match(a)  # a literal is never NaN
        if _SIMPLE.match(a):
            w1 = a
        else:
            w1 = self.walrus()
            a = f"({w1} := {a})"
        if _SIMPLE.match(b):
            w2 = b
        else:
            w2 = self.walrus()
            b = f"({w2} := {b})"
        isnan = f" or {w1} != {w1}" if nan_a else ""
        return f"({w1} if {a} {op} {b}{isnan} else {w2})"

    def call(self, node):
        f = _fname(node.func)
        args = node.args
        kw = {k.arg: k.value for k in node.keywords}
        if f in _UNARY and len(args) == 1 and not kw:
            h = _UNARY[f]
            return _ew(lambda x: f"{h}({x})", self.sym(args[0]))
        if f in ("xp.minimum", "xp.maximum") and len(args) == 2 and not kw:
            op = "<=" if f == "xp.minimum" else ">="
            return _ew(lambda x, y: self.minmax(x, y, op), self.sym(args[0]), self.sym(args[1]))
        if f == "xp.power" and len(args) == 2 and not kw:
            return _ew(lambda x, y: f"_pow({x}, {y})", self.sym(args[0]), self.sym(args[1]))
        if f in ("xp.logical_and", "xp.logical_or") and len(args) == 2 and not kw:
            op = "and" if f == "xp.logical_and" else "or"
            a, b = self.sym(args[0]), self.sym(args[1])
            return _ew(lambda x, y: f"(({x}) != 0 {op} ({y}) != 0)", a, b)
        if f == "xp.logical_not" and len(args) == 1 and not kw:
            return _ew(lambda x: f"(({x}) == 0)", self.sym(args[0]))
        if f == "_where" and len(args) == 3 and not kw:
            c, x, y = (self.sym(a) for a in args)
            return _ew(lambda c_, x_, y_: f"({x_} if {c_} else {y_})", c, x, y)
        if f == "xp.transpose" and len(args) == 2 and not kw:
            return np.transpose(self.sym(args[0]), _lit(args[1]))
        if f == "xp.take" and len(args) == 2 and set(kw) == {"axis"}:
            idx = args[1]
            if not (isinstance(idx, ast.Call) and _fname(idx.func) == "xp.asarray"):
                raise NotScalar("take")
            return np.take(self.sym(args[0]), _lit(idx.args[0]), axis=_lit(kw["axis"]))
        if f in ("_sum", "_prod", "_vmin", "_vmax") and len(args) == 1 and set(kw) == {"axis"}:
            return self.reduce(f, self.sym(args[0]), _lit(kw["axis"]))
        if f in ("_bc", "_state") and len(args) in (2, 3) and not kw:
            v = self.sym(args[0])
            tail = tuple(_lit(args[-1]))
            return np.broadcast_to(v, (*tail, 1)).copy()
        if f == "_assemble" and len(args) == 2 and not kw:
            tail = tuple(_lit(args[0]))
            out = np.empty((*tail, 1), dtype=object)
            if not isinstance(args[1], ast.List):
                raise NotScalar("assemble")
            for item in args[1].elts:
                ix = _lit(item.elts[0])
                out[(*np.ix_(*ix), slice(None))] = self.sym(item.elts[1])
            if any(x is None for x in out.reshape(-1)):
                raise NotScalar("assemble leaves holes")
            return out
        if f == "_interp" and len(args) == 3 and not kw:
            x = self.sym(args[0])
            xs = self.sym(args[1])
            tab = self.sym(args[2])
            if xs.shape != () or tab.ndim < 2:
                raise NotScalar("lookup table")
            xn = xs[()]
            ys = tab[..., 0]
            # numpy uses np.interp for a single table (one element, shared over runs), else
            # its own formula; pick the same per call site (they differ only at the top end)
            h = "_lk" if ys.size == 1 else "_lkf"
            return _ew(lambda x_, y_: f"{h}({x_}, {xn}, {y_})", x, ys)
        if f == "bool" and len(args) == 1 and not kw:
            return self.sym(args[0])
        if f == "xp.all" and len(args) == 1 and not kw:
            a = self.sym(args[0]).reshape(-1)
            return _c("(" + " and ".join(a.tolist()) + ")") if a.size else _c("True")
        if f == "_dorder" and len(args) == 4 and not kw:
            dts = self.sym(args[0]).reshape(-1).tolist()
            order, nid = int(_lit(args[1])), int(_lit(args[3]))
            return _c(f"_dorder1({nid!r}, {order!r}, {', '.join(dts)})")
        if f == "_dfo" and len(args) == 3 and not kw:
            d = self.sym(args[0]).reshape(-1)
            if d.size != 1:
                raise NotScalar("subscripted DELAY FIXED time")
            return _c(f"_dfo1({int(_lit(args[2]))!r}, {d[0]})")
        if f == "_pipe_init" and len(args) == 2 and not kw:
            st, ko = self.sym(args[0]), self.sym(args[1]).reshape(-1)
            return _ew(lambda s: f"[{s}] * {ko[0]}", st)
        if f == "_pipe_read" and len(args) == 3 and not kw:
            pipes, ptr = self.sym(args[0]), self.sym(args[1]).reshape(-1)
            return _ew(lambda p: f"{p}[{ptr[0]}]", pipes)
        raise NotScalar(f"function {f}")

    def reduce(self, f, a, axes):
        axes = tuple(int(x) for x in axes)
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
                    acc = f"({acc} + {x})"
                elif f == "_prod":
                    acc = f"({acc} * {x})"
                else:
                    acc = self.minmax(acc, x, "<=" if f == "_vmin" else ">=")
            out[idx] = acc
        return out


def _fname(func) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    raise NotScalar("call of an expression")


def generate_scalar(program, out_ids, pl, num):
    """Source of ``_sim1(P, T, REC, ...)`` for one run, and the layout of ``P``.

    ``pl`` is ``compile.plan(program, out_ids)``. Returns ``(src, layout, widths)`` where
    ``layout`` lists ``("const", nid)`` / ``("lookup", nid)`` in the order their flattened
    values appear in ``P`` and ``widths`` the number of recorded elements per output.
    Raises :class:`NotScalar` when the program uses something not translated here.
    """
    nodes = program.nodes
    g = _Gen()
    params = []
    layout = []
    for i in sorted(pl.const_ids + pl.lookup_ids):
        nd = nodes[i]
        if nd.kind == "lookup":
            g.env[nd.xpy] = _c(nd.xpy)
            g.owner[nd.xpy] = (nd.xpy, ())
            shape = (*program.sizes(nd.dims), 1, 1)
            params.append(nd.xpy)
            params.extend(g.bind(nd.py, shape, tail=2).reshape(-1).tolist())
            layout.append(("lookup", i))
        else:
            shape = (*program.sizes(nd.dims), 1)
            params.extend(g.bind(nd.py, shape).reshape(-1).tolist())
            layout.append(("const", i))
    g.emit(f"DT = {num(program.dt)}")
    g.emit("t = T[0]")
    g.emit("k = 0")
    g.block("\n".join(pl.init))
    init = g.out
    g.out = []
    g.indent = "    "
    g.block("\n".join(pl.aux))
    aux = g.out
    rec, widths = [], []
    for i in out_ids:
        nd = nodes[i]
        shape = (*program.sizes(nd.dims), 1)
        val = g.env.get(nd.py)
        if val is None:
            raise NotScalar("output not computed")
        elems = np.broadcast_to(val, shape).reshape(-1).tolist()
        rec.extend(elems)
        widths.append(len(elems))
    g.out = []
    g.block("\n".join(pl.upd))
    upd = g.out
    g.out = []
    g.block("\n".join(pl.commits))
    commits = g.out
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
    lines.extend("    " + x for x in upd)
    lines.extend("    " + x for x in commits)
    lines.append("    return _rows")
    src = "\n".join(lines) + "\n"
    try:
        compile(src, "<urbsim-scalar-check>", "exec")
    except (SyntaxError, RecursionError, MemoryError) as err:
        raise NotScalar(f"generated source does not compile: {err}") from err
    return src, layout, widths


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
