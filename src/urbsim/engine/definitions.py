"""Pass 2 of the compiler: every variable's definition compiled to array-level IR (constants
and lookups to their default values, with values read through PySD's loaders; auxiliaries and
hidden statefuls to expressions). A mixin of :class:`compile.Program`, whose node table,
ranges and helpers it uses.
"""

from __future__ import annotations

import math

import numpy as np
from pysd.translators.structures import abstract_expressions as ae

from urbsim.errors import ModelError

from . import datavars, external
from . import statefuls as sf
from .arrays import Assemble, Lit, Ref, call
from .expressions import STATEFUL_ARGS, E, ExprCompiler, align, union_dims


class Node:
    """One variable of the program (or a hidden one: a nested stateful, a lookup, a
    time-invariant sub-expression): its generated identifier ``py`` and, once compiled,
    its array-IR definition ``code`` or stateful spec ``st``."""

    def __init__(self, nid, name, kind, dims, line=None, public=True):
        self.id = nid
        self.name = name
        self.kind = kind  # const | aux | lookup | stateful(hidden) | control
        self.dims = tuple(dims)
        self.line = line
        self.public = public
        self.py = f"v{nid}"
        self.ra = True
        self.code = None
        self.deps: set = set()
        self.st: sf.Stateful | None = None
        self.value = None  # const default (1, *dims)
        self.xpy = None  # lookup: x points name
        self.x = None
        self.y = None  # lookup default y (1, *dims, npts)
        self.per_run = False
        self.init_code = None  # ACTIVE INITIAL: what the node is at initialisation
        self.init_only_deps: set = set()


def _except_first(components) -> list:
    """Components with ``:EXCEPT:`` first: each fills its whole block, then the definitions
    of the excepted elements overwrite their part (every element is defined exactly once)."""
    return sorted(components, key=lambda c: not c.subscripts[1])


def is_external(ast) -> bool:
    """A GET XLS/DIRECT CONSTANTS definition (read at compile time, external.py)."""
    return isinstance(ast, ae.GetConstantsStructure)


class Definitions:
    """Pass 2 of :class:`compile.Program`: each variable's definition (a mixin)."""

    # -- pass 2: compile ---------------------------------------------------------------------
    def _second_pass(self):
        datavars.fill(self)
        for node in list(self.nodes):
            if not node.public:
                continue
            if node.kind == "control":
                continue
            self._at = (node.name, node.line)
            if node.kind == "const":
                self._compile_const(node)
            elif node.kind == "lookup":
                self._compile_lookup(node)
            else:
                self._compile_aux(node)

    def _compile_const(self, node):
        el = node.el
        tail = self.sizes(node.dims)
        val = np.full((*tail, 1), np.nan)
        for c in _except_first(el.components):
            ix, lhs = self._placement(c, node.dims)
            shape = tuple(len(i) for i in ix)
            a = self._external_values(node, c.ast, ix) if is_external(c.ast) else c.ast
            a = np.asarray(a, dtype=np.float64)
            if a.size == 1:
                a = np.full(shape, float(a.reshape(-1)[0]))
            elif a.size != math.prod(shape):
                raise self.err(
                    node.name, node.line, "constant table size does not match", ModelError
                )
            val[(*np.ix_(*ix), slice(None))] = a.reshape((*shape, 1))
        if np.isnan(val).any():
            raise self.err(
                node.name, node.line, "some subscript elements are not defined", ModelError
            )
        node.value = val

    def _external_values(self, node, ast, ix):
        """A GET ... CONSTANTS block through PySD's loader (external.py)."""
        dims = {d: list(self.ranges[d]) for d in node.dims}
        block = {d: [dims[d][i] for i in pos] for d, pos in zip(node.dims, ix, strict=True)}
        return self._read_external(node, ast.file, external.constants, ast, block, dims)

    def _read_external(self, node, file, reader, *args):
        """``reader(*args)`` reading ``file`` through PySD; its failure names the variable."""
        try:
            return reader(*args, root=self.path.parent)
        except Exception as err:  # PySD's loaders raise bare exceptions
            detail = " ".join(str(err).split())[:200]
            name = node.name.split("#")[0]  # a data variable's hidden lookup: the variable
            raise self.err(
                name, node.line, f"PySD cannot read {file!r}: {detail}", ModelError
            ) from err

    def _table(self, node, ast, ix=()):
        """x points and y values ``(*block, points)`` of a lookup component over the elements
        ``ix`` (positions per dimension; a table written in the model has one row)."""
        if isinstance(ast, ae.GetLookupsStructure):
            dims = {d: list(self.ranges[d]) for d in node.dims}
            block = {d: [dims[d][i] for i in p] for d, p in zip(dims, ix, strict=True)}
            x, y = self._read_external(node, ast.file, external.lookup, ast, block, dims)
        elif not isinstance(ast, ae.LookupsStructure):
            raise self.err(node.name, node.line, f"lookup {type(ast).__name__} (external data)")
        elif ast.type != "interpolate":
            raise self.err(node.name, node.line, f"lookup type {ast.type!r}")
        else:
            x, y = ast.x, ast.y
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if len(x) < 2 or len(set(x.tolist())) != len(x):
            raise self.err(node.name, node.line, "lookup needs >= 2 distinct x points", ModelError)
        order = np.argsort(x, kind="stable")
        return x[order], y[..., order]

    def _compile_lookup(self, node):
        el = node.el
        tables = []
        for c in el.components:
            ix, _ = self._placement(c, node.dims)
            tables.append((ix, *self._table(node, c.ast, ix)))
        xs = np.unique(np.concatenate([t[1] for t in tables]))
        tail = self.sizes(node.dims)
        y = np.full((*tail, 1, len(xs)), np.nan)
        for ix, x, yy in tables:
            # PySD merges x points and fills the gaps by (clamped) linear interpolation
            vals = np.apply_along_axis(lambda row: np.interp(xs, x, row), -1, yy)  # noqa: B023
            y[(*np.ix_(*ix), slice(None), slice(None))] = vals[..., None, :]
        if np.isnan(y).any():
            raise self.err(
                node.name, node.line, "some subscript elements are not defined", ModelError
            )
        node.x, node.y = xs, y
        node.xpy = f"x{node.id}"

    def hidden_lookup(self, ast, ctx):
        self._hidden_count += 1
        node = self.new_node(f"{ctx.var}#lookup{self._hidden_count}", "lookup", [], ctx.line, False)
        node.x, yy = self._table(node, ast)
        node.y = yy.reshape(1, -1)
        node.xpy = f"x{node.id}"
        return node

    def hidden_stateful(self, ast, ctx: ExprCompiler):
        self._hidden_count += 1
        sdims = tuple(d for d in ctx.lhs if d is not None)
        node = self.new_node(
            f"{ctx.var}#state{self._hidden_count}", "stateful", sdims, ctx.line, False
        )
        tail = self.sizes(sdims)
        if isinstance(ast, ae.IntegStructure) and ast.non_negative:
            raise ctx.unsupported("non-negative INTEG")
        stype, fields = next(v for t, v in STATEFUL_ARGS.items() if isinstance(ast, t))
        args = {f: getattr(ast, f) for f in fields}
        order = self._order(ast, ctx) if stype in ("smooth", "delay") else 1
        st = sf.Stateful(stype, node.py, f"s{node.id}", node.id, order, tail)
        for k, a in args.items():
            e = ctx.expr(a)
            self._check_dims(e, sdims, ctx)
            if stype == "delayfixed" and k == "delay_time" and e.dims:
                raise ctx.unsupported("DELAY FIXED with a subscripted delay time")
            # PySD's DELAY N keeps each stage's own delay time; with a delay time that does
            # not change over time that is DELAY3's arithmetic at order N, else "delayn"
            dynamic = any(self.is_dynamic(d) for d in e.deps)
            if isinstance(ast, ae.DelayNStructure) and k == "delay_time" and dynamic:
                st.stype = "delayn"
            code = align(e, sdims)
            if stype == "initial" and (e.dims != sdims or not e.ra) and sdims:
                code = call("_bc", code, Lit(tail))
            st.args[k] = code
            st.deps[k] = set(e.deps)
        node.st = st
        node.ra = bool(sdims) or stype != "initial" or True
        return node

    def hidden_active_initial(self, active: E, initial: E, ctx: ExprCompiler) -> E:
        """ACTIVE INITIAL(active, initial): ``initial`` while the model initialises (the
        stocks' initial values see it), ``active`` at every step (PySD's active_initial)."""
        self._hidden_count += 1
        dims = union_dims([active, initial])
        node = self.new_node(f"{ctx.var}#active{self._hidden_count}", "aux", dims, ctx.line)
        node.public = False
        node.code, node.init_code = align(active, dims), align(initial, dims)
        node.deps, node.init_only_deps = set(active.deps), set(initial.deps)
        node.ra = True
        self.mark_dynamic(node)
        return E(Ref(node.py), dims, True, {node.id})

    def _table_part(self, node, values, dims) -> E:
        """A constant table that defines part of an equation's elements (a hidden constant)."""
        shape = self.sizes(dims)
        a = np.asarray(values, dtype=np.float64)
        if a.size != math.prod(shape):
            raise self.err(node.name, node.line, "constant table size does not match", ModelError)
        self._hidden_count += 1
        part = self.new_node(f"{node.name}#table{self._hidden_count}", "const", dims, node.line)
        part.public = False
        part.value = a.reshape((*shape, 1))
        return E(Ref(part.py), tuple(dims), True, {part.id})

    @staticmethod
    def _order(ast, ctx: ExprCompiler) -> int:
        """The order of a SMOOTH/DELAY (N): PySD fixes it once, from a whole number."""
        order = ast.order
        if isinstance(order, bool) or not isinstance(order, (int, float, np.integer, np.floating)):
            raise ctx.unsupported("a SMOOTH N / DELAY N order that is not a number")
        if order != int(order) or order < 1:
            raise ctx.unsupported(f"SMOOTH N / DELAY N order {order!r} (a whole number >= 1)")
        return int(order)

    def _check_dims(self, e: E, dims, ctx):
        extra = [d for d in e.dims if d not in dims]
        if extra:
            raise ctx.unsupported(
                f"dimension(s) {', '.join(extra)} on the right side that the left side "
                f"({', '.join(dims) or 'scalar'}) does not have (a missing '!' or SUM?)"
            )

    def _compile_aux(self, node):
        el = node.el
        tail = self.sizes(node.dims)
        parts = []
        for c in _except_first(el.components):
            ix, lhs = self._placement(c, node.dims)
            ctx = ExprCompiler(self, node.name, lhs, node.line)
            cdims = tuple(d for d in lhs if d is not None)
            if isinstance(c.ast, np.ndarray) and c.ast.ndim > 0:
                e = self._table_part(node, c.ast, cdims)  # numbers next to equations
            else:
                e = ctx.expr(c.ast)
            self._check_dims(e, cdims, ctx)
            parts.append((ix, lhs, e))
        if len(parts) == 1 and all(lh == d for lh, d in zip(parts[0][1], node.dims, strict=True)):
            e = parts[0][2]
            code = align(e, node.dims)
            if node.dims and (e.dims != node.dims or not e.ra):
                code = call("_bc", code, Lit(tail))
            node.code = code
            node.ra = bool(node.dims) or e.ra
            node.deps = set(e.deps)
            return
        items = []
        deps: set = set()
        for ix, lhs, e in parts:
            target = tuple(d if d is not None else f"__e{k}" for k, d in enumerate(lhs))
            items.append((ix, align(e, target)))
            deps |= e.deps
        node.code = Assemble(tail, tuple(items))
        node.ra = True
        node.deps = deps
