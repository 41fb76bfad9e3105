"""Vensim .mdl (through PySD's parser) -> one generated, vectorised simulation function.

Pipeline: ``VensimFile.parse()`` -> ``AbstractModel`` -> :class:`Program` (one node per variable,
plus hidden nodes for statefuls nested in expressions) -> dependency-ordered Python source for
``_sim(C, L, O, n, T, REC)`` -> ``exec`` in a namespace from :mod:`backends`.

Every array has the run axis first, then the variable's subscript axes in the order of its
declaration. Constants are ``(R, *dims)`` with R = 1 (shared) or n (per-run parameters); numpy
broadcasting does the rest. Only auxiliaries needed by the requested outputs and the statefuls
are computed; time-invariant ones are computed once before the time loop.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pysd.translators.structures import abstract_expressions as ae
from pysd.translators.structures import abstract_model as am_

from urbsim.errors import ModelError, ParameterError, UnsupportedFeature, UrbsimError
from urbsim.mdlinfo import (
    VariableInfo,
    definition_line,
    definition_lines,
    model_info,
    subscript_ranges,
)
from urbsim.pysd_compat import abstract_model

from . import allocation, arrays, datavars, external, vectors
from . import native as native_mod
from . import scalar as scalar_mod
from . import statefuls as sf
from .arrays import Assemble, Lit, Ref, call, number
from .backends import namespace
from .expressions import STATEFUL_ARGS, TIME, E, ExprCompiler, align, norm, union_dims

_STATEFUL_TYPES = tuple(STATEFUL_ARGS)
_CONTROL = ("initial_time", "final_time", "time_step", "saveper")
SCALAR_MAX_N = 8  # default n up to which simulate() uses the scalar backend


class Node:
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


def _external(ast) -> bool:
    """A GET XLS/DIRECT CONSTANTS definition (read at compile time, external.py)."""
    return isinstance(ast, ae.GetConstantsStructure)


def _is_literal(ast) -> bool:
    return isinstance(ast, (int, float, np.ndarray, np.integer, np.floating)) and not isinstance(
        ast, bool
    )


class Program:
    def __init__(self, path: Path):
        self.path = path
        self.path_name = path.name
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise ModelError(f"model file {path}: cannot be read ({err.strerror})") from err
        self.def_lines = definition_lines(text)
        # The parse is shared with model metadata and cached on disk; the compiler annotates
        # nothing in it, but takes its own copy so no other reader can ever see a change.
        am = copy.deepcopy(abstract_model(path))
        sec = next(s for s in am.sections if s.type == "main")
        # macros, inlined at each call (macros.py)
        self.macros = {norm(s.name): s for s in am.sections if s.type == "macro"}
        self.macro_calls = 0
        self.ranges: dict[str, list[str]] = subscript_ranges(sec.subscripts, path.parent)
        # subscript mapping (``Dim: a, b -> Other``): the ranges each range maps onto
        self.mapping = {r.name: list(r.mapping) for r in sec.subscripts if r.mapping}
        self.range_of_norm = {norm(k): k for k in self.ranges}
        self.nodes: list[Node] = []
        self.by_norm: dict[str, Node] = {}
        self.control: dict[str, float] = {}
        self.elements = sec.elements
        self._hidden_count = 0
        self._hoisted: dict = {}
        self._subscript_values: dict[str, E | None] = {}
        self.run_node: Node | None = None
        self.data_vars: list = []  # data variables' hidden lookups (datavars.py)
        self._random_sites = 0
        self._at: tuple[str, int | None] | None = None  # the element being compiled
        try:
            self._first_pass()
            self._control_values()
            self._scan_dynamic()
            self._second_pass()
            self._classify()
        except UrbsimError:
            raise
        except Exception as err:  # a construct no pass anticipated: name it, never crash
            raise self.internal_error(err) from err

    def internal_error(self, err: Exception) -> UnsupportedFeature:
        """``UnsupportedFeature`` for an unexpected exception while compiling ``self._at``."""
        name, line = self._at or ("?", None)
        detail = " ".join(str(err).split())[:200]
        return self.err(
            name,
            line,
            f"a construct the fast engine cannot compile ({type(err).__name__}: {detail})",
        )

    # -- helpers ----------------------------------------------------------------------------
    def find_line(self, name: str) -> int | None:
        return definition_line(self.def_lines, name)

    def delay_order_error(self, nid: int) -> str:
        """Message for a DELAY whose delay time is shorter than TIME STEP (all backends)."""
        name = self.nodes[nid].name.split("#")[0]
        return (
            f"variable '{name}' of {self.path_name}: delay time shorter than TIME STEP, PySD "
            "cannot run it either"
        )

    def err(self, name, line, what, cls=UnsupportedFeature):
        where = f" (line {line})" if line else ""
        return cls(f"variable '{name}'{where} of {self.path_name}: {what}")

    def new_node(self, name, kind, dims, line=None, public=True):
        node = Node(len(self.nodes), name, kind, dims, line, public)
        self.nodes.append(node)
        return node

    def try_resolve(self, ref: str):
        return self.by_norm.get(norm(ref))

    def resolve(self, ref: str, ctx: ExprCompiler):
        node = self.try_resolve(ref)
        if node is None:
            raise ModelError(
                f"variable '{ctx.var}' (line {ctx.line}) of {self.path_name}: refers to "
                f"'{ref}', which the model does not define"
            )
        return node

    def run_index(self) -> Node:
        """A hidden per-run constant holding each run's index (and ``random_seed``), which
        ``simulate`` fills: the counter of the RANDOM functions' streams (rng.py)."""
        if self.run_node is None:
            self.run_node = self.new_node("#run", "const", [], None, False)
            self.run_node.value = np.zeros((1,))
        return self.run_node

    def random_site(self) -> int:
        """A new RANDOM call site (each draws its own stream)."""
        self._random_sites += 1
        return self._random_sites

    def subscript_value(self, ref: str) -> E | None:
        """A subscript range or element used as a value, as PySD computes it: a range gives
        the 1-based positions of its elements in their main range, an element its position;
        None if ``ref`` is neither."""
        key = norm(ref)
        if key in self._subscript_values:
            return self._subscript_values[key]
        mains = {}  # PySD's main ranges: no other range holds more of their elements
        for r, es in self.ranges.items():
            bigger = [q for q, qs in self.ranges.items() if set(es) < set(qs)]
            equal = [q for q, qs in self.ranges.items() if set(es) == set(qs)]
            if not bigger and norm(r) == min(norm(q) for q in equal):
                mains[r] = es
        value = None
        for es in mains.values():
            for i, e in enumerate(es, start=1):
                if norm(e) == key:
                    value = E(number(i))
        rng = self.range_of_norm.get(key)
        if rng is not None:
            main = next(m for m, es in mains.items() if set(self.ranges[rng]) <= set(es))
            pos = [mains[main].index(e) + 1.0 for e in self.ranges[rng]]
            node = self.new_node(f"{rng}#positions", "const", [rng], None, False)
            node.value = np.asarray(pos, dtype=np.float64).reshape(-1, 1)
            value = E(Ref(node.py), (rng,), True, {node.id})
        self._subscript_values[key] = value
        return value

    def _range_of(self, name, dim=None):
        if name in self.ranges:
            return name
        if dim is not None and name in self.ranges[dim]:
            return None
        if any(name in es for es in self.ranges.values()):
            return None
        return self.range_of_norm.get(norm(name))

    def _element_dims(self, el, line):
        comps = el.components
        subs_lists = []
        for c in comps:
            subs_lists.append(list(c.subscripts[0]))
        nd = {len(s) for s in subs_lists}
        if len(nd) != 1:
            raise self.err(el.name, line, "components with different numbers of subscripts")
        ndim = nd.pop()
        dims = []
        for k in range(ndim):
            used = [s[k] for s in subs_lists]
            rngs = {self._range_of(u) for u in used}
            if len(rngs) == 1 and None not in rngs:
                dims.append(rngs.pop())
                continue
            elems: set = set()
            for u in used:
                r = self._range_of(u)
                elems |= set(self.ranges[r]) if r else {u}
            cands = [r for r, es in self.ranges.items() if elems <= set(es)]
            if not cands:
                raise self.err(el.name, line, f"subscripts {sorted(elems)} fit no declared range")
            cands.sort(key=lambda r: len(self.ranges[r]))
            dims.append(cands[0])
        return dims

    def _placement(self, comp, dims):
        """Per-position index lists of a component inside its variable, and its lhs dims."""
        ix, lhs = [], []
        for s, d in zip(comp.subscripts[0], dims, strict=True):
            r = self._range_of(s, d)
            elems = self.ranges[d]
            if r is not None:
                ix.append([elems.index(x) for x in self.ranges[r]])
                lhs.append(r)
            else:
                ix.append([elems.index(s)])
                lhs.append(None)
        return ix, lhs

    # -- pass 1: one node per element -------------------------------------------------------
    def _first_pass(self):
        for el in self.elements:
            line = self.find_line(el.name)
            self._at = (el.name, line)
            comps = el.components
            if isinstance(el, am_.AbstractControlElement) or norm(el.name) in _CONTROL:
                node = self.new_node(el.name, "control", [], line)
                node.el = el
                self.by_norm[norm(el.name)] = node
                continue
            if any(isinstance(c, am_.AbstractData) for c in comps):
                datavars.as_lookup(self, el, line)
            dims = self._element_dims(el, line)
            if all(isinstance(c, am_.AbstractLookup) for c in comps):
                kind = "lookup"
            elif any(isinstance(c, am_.AbstractLookup) for c in comps):
                raise self.err(el.name, line, "mixes lookup and equation definitions")
            elif all(_is_literal(c.ast) or _external(c.ast) for c in comps):
                kind = "const"
            else:
                kind = "aux"
            node = self.new_node(el.name, kind, dims, line)
            node.el = el
            if norm(el.name) in self.by_norm:
                raise self.err(el.name, line, "defined twice", ModelError)
            self.by_norm[norm(el.name)] = node

    def _control_values(self):
        def value(node, seen=()):
            ast = node.el.components[0].ast
            if _is_literal(ast):
                return float(ast)
            if isinstance(ast, ae.ReferenceStructure):
                other = self.try_resolve(ast.reference)
                if other is not None and other.kind == "control" and other not in seen:
                    return value(other, (*seen, node))
            raise self.err(node.name, node.line, "control variables must be numbers")

        for key in _CONTROL:
            node = self.by_norm.get(key)
            if node is None:
                raise ModelError(f"model file {self.path_name}: {key.upper()} is not defined")
            self.control[key] = value(node)
        for node in self.nodes:
            if node.kind == "control":
                node.value = np.full((1,), value(node))
        self.dt = self.control["time_step"]
        if not self.dt > 0:
            raise ModelError(f"model file {self.path_name}: TIME STEP must be positive")

    def sizes(self, dims):
        return tuple(len(self.ranges[d]) for d in dims)

    # -- pre-pass: which elements change over time (for hoisting invariant sub-expressions) --
    def _scan_dynamic(self):
        info = {}

        def scan(a, acc):
            if isinstance(a, ae.InitialStructure):
                return
            if isinstance(a, ae.CallStructure):
                fname = norm(a.function.reference)
                if fname in self.macros or fname == "active_initial":
                    acc["dyn"] = True  # a macro may hold stocks; ACTIVE INITIAL changes value
            if isinstance(a, _STATEFUL_TYPES):
                acc["dyn"] = True
                return
            if isinstance(a, ae.ReferenceStructure):
                if a.reference == "time":
                    acc["dyn"] = True
                else:
                    acc["refs"].add(norm(a.reference))
                scan(a.subscripts, acc)
                return
            if isinstance(a, (list, tuple)):
                for x in a:
                    scan(x, acc)
                return
            if isinstance(a, ae.AbstractSyntax):
                for f in getattr(a, "__dataclass_fields__", {}):
                    scan(getattr(a, f), acc)

        for node in self.nodes:
            acc = {"dyn": False, "refs": set()}
            if node.kind == "aux":
                for c in node.el.components:
                    scan(c.ast, acc)
            info[node.id] = acc
        memo: dict[int, bool] = {}

        def dyn(nid, stack=frozenset()):
            if nid in memo:
                return memo[nid]
            if nid in stack:
                return False
            acc = info[nid]
            res = acc["dyn"]
            if not res:
                for r in acc["refs"]:
                    other = self.by_norm.get(r)
                    if other is not None and dyn(other.id, stack | {nid}):
                        res = True
                        break
            memo[nid] = res
            return res

        self._pre_dyn = {node.id: dyn(node.id) for node in self.nodes}

    def mark_dynamic(self, node) -> None:
        """Treat ``node`` as changing over time while the rest is compiled (macros.py)."""
        self._pre_dyn[node.id] = True

    def is_dynamic(self, nid) -> bool:
        if nid == TIME:
            return True
        pre = self._pre_dyn.get(nid)
        if pre is not None:
            return pre
        node = self.nodes[nid]
        if node.st is not None or node.kind == "stateful":
            return node.st is None or node.st.stype != "initial"
        if node.kind == "aux":
            return any(self.is_dynamic(d) for d in node.deps)
        return False

    def hoist(self, e: E, ctx) -> E:
        """Move a time-invariant array sub-expression before the time loop."""
        if not e.ra or not e.deps or any(self.is_dynamic(d) for d in e.deps):
            return e
        if isinstance(e.code, Ref) and re.fullmatch(r"v\d+", e.code.name):
            return e
        key = arrays.source(e.code)
        node = self._hoisted.get(key)
        if node is None:
            self._hidden_count += 1
            node = self.new_node(
                f"{ctx.var}#inv{self._hidden_count}", "aux", e.dims, ctx.line, False
            )
            node.code = e.code
            node.deps = set(e.deps)
            node.ra = True
            self._hoisted[key] = node
        return E(Ref(node.py), e.dims, True, {node.id})

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
            a = self._external_values(node, c.ast, ix) if _external(c.ast) else c.ast
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

    # -- classification ----------------------------------------------------------------------
    def _classify(self):
        for node in self.nodes:
            if node.st is not None:
                node.step_deps = sf.output_deps(node.st)
                node.init_deps = sf.init_deps(node.st)
                node.upd_deps = sf.update_deps(node.st)
            elif node.kind == "aux":
                node.step_deps = node.deps
                node.init_deps = node.init_only_deps if node.init_code else node.deps
                node.upd_deps = set()
            else:
                node.step_deps = node.init_deps = node.upd_deps = set()
        memo: dict[int, bool] = {}

        def dyn(nid, stack=()):
            if nid == TIME:
                return True
            if nid in memo:
                return memo[nid]
            node = self.nodes[nid]
            if node.st is not None:
                res = node.st.stype != "initial"
            elif node.kind == "aux":
                if nid in stack:
                    raise ModelError(self._loop_msg(stack, nid))
                res = node.init_code is not None or any(dyn(d, (*stack, nid)) for d in node.deps)
            else:
                res = False
            memo[nid] = res
            return res

        for node in self.nodes:
            node.dynamic = dyn(node.id)

    def _loop_msg(self, stack, nid):
        names = [self.nodes[i].name.split("#")[0] for i in (*stack, nid)]
        start = names.index(names[-1])
        return (
            f"model file {self.path_name}: algebraic loop (a cycle without a stock): "
            + " -> ".join(names[start:])
        )

    # -- time grid ---------------------------------------------------------------------------
    def time_grid(self):
        """Replicates PySD's Time: additive stepping, return test on (t - t0) % SAVEPER."""
        t0 = self.control["initial_time"]
        tf = self.control["final_time"]
        dt = self.dt
        sp = self.control["saveper"]
        rprec = 1e-5
        prec = dt * rprec
        times, rec = [], []
        t = t0

        def in_return(t):
            d = t - t0
            return d % sp < prec or -d % sp < prec

        while True:
            times.append(t)
            rec.append(in_return(t))
            if not (t + dt * rprec < tf):
                break
            t = t + dt
            if len(times) > 10_000_000:
                raise ModelError(f"model file {self.path_name}: too many time steps")
        digits = -int(np.log10(dt * rprec))
        saved = np.round(np.array([x for x, r in zip(times, rec, strict=True) if r]), digits)
        return np.array(times), np.array(rec), saved


def _topo(nodes_by_id, ids, deps_of, what, program):
    order, state = [], {}

    def visit(i, stack):
        s = state.get(i)
        if s == 2:
            return
        if s == 1:
            names = [program.nodes[j].name.split("#")[0] for j in (*stack, i)]
            start = names.index(names[-1])
            raise ModelError(
                f"model file {program.path_name}: {what} loop (a cycle without a stock): "
                + " -> ".join(names[start:])
            )
        state[i] = 1
        for d in sorted(deps_of(i)):
            if d != TIME and d in ids:
                visit(d, (*stack, i))
        state[i] = 2
        order.append(i)

    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        for i in sorted(ids):
            visit(i, ())
    finally:
        sys.setrecursionlimit(old)
    return order


_NS_NAMES = {
    "xp",
    "_bc",
    "_state",
    "_interp",
    "_where",
    "_sum",
    "_prod",
    "_vmin",
    "_vmax",
    "_assemble",
    "_pipe_read",
    "_pipe_write",
    "_pipe_init",
    "_record",
    "_SMALL",
    "_NAN",
    "_INF",
    "_dorder",
    "_dfo",
    "_runif",
    "_rnorm",
    "_rexp",
    *vectors.NAMES,
    *allocation.NAMES,
    "t",
    "k",
    "n",
    "DT",
    "bool",
    "range",
    "len",
    "float",
}


def _generate_jit(lines, body, pl, out_ids, nodes):
    """Source where one time step is a separate function ``_step`` (jitted by JAX)."""
    assigned, loaded = arrays.names(pl.aux + pl.upd + pl.commits)
    states = [c.target for c in pl.commits]
    aux_lines, upd_lines, commits = (arrays.lines(x) for x in (pl.aux, pl.upd, pl.commits))
    free = sorted((loaded - assigned - _NS_NAMES) | {nodes[i].py for i in out_ids})
    free = [x for x in free if x not in states and x not in assigned]
    flags = [x for x in free if x.endswith("_kf")]
    params = [x for x in free if not x.endswith("_kf")]
    outs = ", ".join(nodes[i].py for i in out_ids)

    def tup(names):
        return "(" + "".join(f"{x}, " for x in names) + ")"

    step = ["def _step(S, P, F, n, t, k):"]
    step.append(f"    {tup(states)} = S")
    step.append(f"    {tup(params)} = P")
    step.append(f"    {tup(flags)} = F")
    step.append("    DT = 0.0")  # replaced below
    step.extend("    " + x for x in aux_lines)
    step.append(f"    _outs = ({outs},)")
    step.extend("    " + x for x in upd_lines)
    step.extend("    " + x for x in commits)
    step.append(f"    return {tup(states)}, _outs")
    dt_line = next(x for x in body if x.startswith("DT = "))
    step[4] = "    " + dt_line
    body = list(body)
    body.append(f"S = {tup(states)}")
    body.append(f"P = {tup(params)}")
    body.append(f"F = {tup(flags)}")
    body.append("for k in range(len(T)):")
    body.append("    S2, _outs = _STEP(S, P, F, n, T[k], k)")
    body.append("    j = REC[k]")
    body.append("    if j >= 0:")
    for pos in range(len(out_ids)):
        body.append(f"        O[{pos}] = _record(O[{pos}], j, _outs[{pos}])")
    body.append("    S = S2")
    body.append("return O")
    src = "\n".join(step) + "\n\n\n" + "\n".join(lines + ["    " + x for x in body]) + "\n"
    return src


@dataclass
class Plan:
    """The statements of one simulation (array IR, :mod:`arrays`), in order, before they are
    assembled into a function.

    ``init`` runs at INITIAL TIME (after the constants/lookups are bound), ``aux`` at every
    step, then (except after the last step) ``upd`` computes the new states and ``commits``
    stores them. Shared by the numpy/JAX emitter below and the element-level lowering
    (``lower.py``).
    """

    const_ids: list
    lookup_ids: list
    init: list
    aux: list
    upd: list
    commits: list


def plan(program: Program, out_ids: list[int]) -> Plan:
    """Which nodes the outputs ``out_ids`` need, and the statements computing them."""
    nodes = program.nodes
    needed: set = set()
    todo = list(out_ids)
    while todo:
        i = todo.pop()
        if i == TIME or i in needed:
            continue
        needed.add(i)
        n = nodes[i]
        todo.extend(n.step_deps | n.init_deps | n.upd_deps | n.deps | n.init_only_deps)
    const_ids = [i for i in sorted(needed) if nodes[i].kind in ("const", "control")]
    lookup_ids = [i for i in sorted(needed) if nodes[i].kind == "lookup"]
    init_lines = []
    init_ids = {i for i in needed if nodes[i].kind in ("aux", "stateful")}
    for i in _topo(nodes, init_ids, lambda i: nodes[i].init_deps, "initialisation", program):
        nd = nodes[i]
        if nd.st is not None:
            init_lines.extend(sf.emit_init(nd.st))
        else:
            init_lines.append(arrays.Assign(nd.py, nd.init_code or nd.code))
    dyn_ids = {i for i in needed if nodes[i].dynamic}
    step_order = _topo(nodes, dyn_ids, lambda i: nodes[i].step_deps, "algebraic", program)
    aux_lines = []
    for i in step_order:
        nd = nodes[i]
        if nd.st is not None:
            aux_lines.extend(sf.emit_output(nd.st))
        else:
            aux_lines.append(arrays.Assign(nd.py, nd.code))
    upd_lines, commits = [], []
    for i in sorted(dyn_ids):
        nd = nodes[i]
        if nd.st is not None:
            upd, com = sf.emit_update(nd.st)
            upd_lines.extend(upd)
            commits.extend(com)
    return Plan(const_ids, lookup_ids, init_lines, aux_lines, upd_lines, commits)


def generate(program: Program, out_ids: list[int], jit: bool = False) -> str:
    """Python source of ``_sim`` computing the outputs ``out_ids``."""
    nodes = program.nodes
    pl = plan(program, out_ids)
    const_ids, lookup_ids = pl.const_ids, pl.lookup_ids
    lines = ["def _sim(C, L, O, n, T, REC):"]
    body = []
    for i in sorted(const_ids + lookup_ids):
        if nodes[i].kind == "lookup":
            body.append(f"{nodes[i].xpy}, {nodes[i].py} = L[{lookup_ids.index(i)}]")
        else:
            body.append(f"{nodes[i].py} = C[{const_ids.index(i)}]")
    body.append(f"DT = {arrays.num(float(program.dt))}")
    body.append("t = T[0]")
    body.append("k = 0")
    body.extend(arrays.lines(pl.init))
    if jit:
        return _generate_jit(lines, body, pl, out_ids, nodes), const_ids, lookup_ids
    loop = ["for k in range(len(T)):", "    t = T[k]"]
    loop.extend(arrays.lines(pl.aux, "    "))
    loop.append("    j = REC[k]")
    loop.append("    if j >= 0:")
    for pos, i in enumerate(out_ids):
        loop.append(f"        O[{pos}] = _record(O[{pos}], j, {nodes[i].py})")
    loop.append("    if k == len(T) - 1:")
    loop.append("        break")
    loop.extend(arrays.lines(pl.upd + pl.commits, "    "))
    body.extend(loop)
    body.append("return O")
    lines.extend("    " + s for s in body)
    src = "\n".join(lines) + "\n"
    return src, const_ids, lookup_ids


class CompiledModel:
    """A Vensim model compiled to one vectorised simulation function.

    ``simulate(params, n, outputs)`` runs ``n`` parameter sets at once and returns
    ``{name: array (n, len(time), *dims)}``.
    """

    def __init__(self, program: Program, backend: str = "numpy"):
        self._p = program
        self.backend = backend
        self.path = program.path
        self._ns = namespace(backend)
        self._ns.update(self._helpers())
        self._cache: dict = {}
        # runs are simulated in blocks so that the working arrays stay in cache
        self.block_size = 1024
        self.threads = os.cpu_count() or 1
        self._steps, rec, self.time = program.time_grid()
        # n <= scalar_max_n runs use the scalar backend (scalar.py) when the model allows it;
        # 0 disables it. Measured crossover: see README.md.
        self.scalar_max_n = SCALAR_MAX_N if backend == "numpy" else 0
        self._scalar_cache: dict = {}
        # the scalar program compiled to C (native.py) runs every n when a C compiler is
        # available; False (or URBSIM_NATIVE=0) keeps the numpy/scalar backends
        self.native = backend == "numpy" and os.environ.get("URBSIM_NATIVE", "1") != "0"
        # glibc's vector exp/log/pow where available (within 1e-12 of the scalar code, ~1.8x
        # faster); False builds with the C library's maths: the scalar code bit for bit
        self.native_vector_math = True
        # runs per SIMD value in the C kernel for n > 1 (1, 2, 4 or 8); None: 8 with vector
        # maths where the CPU has AVX-512, else 4 (native.default_lanes); single runs take a
        # 1-lane kernel with the same maths
        self.native_lanes: int | None = None
        self._native_cache: dict = {}
        self._out_plans: dict = {}
        self.native_status = "not used yet" if self.native else "off"
        # the execution path of the last simulate() that ran equations: native-vector
        # (C, glibc vector maths), native-exact (C, C library maths), scalar, scalar+numpy
        # (a run the scalar code could not finish was rerun with numpy), numpy or jax
        self.last_path = "not run yet"
        # added to every RANDOM function's seed: another value gives other streams (rng.py)
        self.random_seed = 0
        self._steps_list = self._steps.tolist()
        self._rec_list = rec.astype(bool).tolist()
        self._rec = np.full(len(self._steps), -1, dtype=np.int64)
        self._rec[np.nonzero(rec)[0]] = np.arange(int(rec.sum()))
        self.subscripts = {k: list(v) for k, v in program.ranges.items()}
        # documentation of every variable: the project's one reader of .mdl metadata
        self.variables: dict[str, VariableInfo] = dict(model_info(program.path).variables)
        self._public = {nd.name: nd for nd in program.nodes if nd.public}
        self._norm_public = {norm(k): v for k, v in self._public.items()}
        self.constants = {
            nd.name: (nd.value[..., 0].copy() if nd.dims else np.float64(nd.value.reshape(-1)[0]))
            for nd in self._public.values()
            if nd.kind in ("const", "control")
        }
        self.constants = {k: np.asarray(v, dtype=np.float64) for k, v in self.constants.items()}

    # -- runtime helpers bound into the generated namespace ---------------------------------
    def _helpers(self):
        p = self._p
        dt = p.dt

        def _dorder(dtm, k, ndim, nid):
            a = np.asarray(dtm, dtype=np.float64)
            m = np.full(1, float(a)) if a.ndim == 0 else a.reshape(-1, a.shape[-1]).min(axis=0)
            o = np.full(m.shape, k)
            for _ in range(k):
                o = np.where(o * dt > m, o - 1, o)
            if (o <= 0).any():
                raise ModelError(p.delay_order_error(nid))
            return o.astype(np.float64)

        def _dfo(dtm, n, nid):
            a = np.asarray(dtm, dtype=np.float64).reshape(-1)
            o = np.round(np.maximum(a / dt, 1.0) + 1e-6).astype(np.int64)
            return np.broadcast_to(o, (n,)).copy()

        xp = self._ns["xp"]

        def _pipe_init(st, ko):
            m = int(np.max(ko))
            st = xp.moveaxis(st, -1, 0)
            return xp.broadcast_to(st, (m, *st.shape)) + 0.0

        return {"_dorder": _dorder, "_dfo": _dfo, "_pipe_init": _pipe_init}

    # -- parameters --------------------------------------------------------------------------
    def _node(self, name: str, what: str):
        nd = self._public.get(name) or self._norm_public.get(norm(name))
        if nd is None:
            raise ParameterError(
                f"{what} '{name}' is not a variable of {self._p.path_name}; "
                "names are the model's Vensim names"
            )
        return nd

    def _param_value(self, nd, value, n):
        dims = self._p.sizes(nd.dims)
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter '{nd.name}': value is not numeric") from None
        if nd.kind == "lookup":
            npts = nd.y.shape[-1]
            shapes = [(npts,), (*dims, npts), (n, npts), (n, *dims, npts)]
            allowed = ", ".join(str(s) for s in dict.fromkeys(shapes))
            if a.shape == (npts,):
                out = np.broadcast_to(a, (*dims, 1, npts))
            elif a.shape == (*dims, npts):
                out = a.reshape((*dims, 1, npts))
            elif a.shape == (n, npts):
                out = np.broadcast_to(a, (*dims, n, npts))
            elif a.shape == (n, *dims, npts):
                out = np.moveaxis(a, 0, -2)
            else:
                raise ParameterError(
                    f"lookup '{nd.name}': y values shaped {a.shape}; allowed shapes {allowed} "
                    f"(x points fixed at {list(nd.x)})"
                )
            return np.ascontiguousarray(out)
        if nd.kind == "control":
            raise ParameterError(
                f"parameter '{nd.name}' is a control variable; the time grid is fixed by the model"
            )
        if nd.kind != "const":
            raise ParameterError(
                f"'{nd.name}' is not a constant (it is {self.variables[nd.name].kind}); only "
                "constants and lookups can be set"
            )
        allowed = ", ".join(str(s) for s in dict.fromkeys([(), dims, (n,), (n, *dims)]))
        if not np.isfinite(a).all():
            raise ParameterError(f"parameter '{nd.name}': values must be finite numbers")
        if a.shape == ():
            return np.full((*dims, 1), float(a))
        if a.shape == dims:
            return a.reshape((*dims, 1)).copy()
        if a.shape == (n,):
            return np.ascontiguousarray(np.broadcast_to(a, (*dims, n)))
        if a.shape == (n, *dims):
            return np.ascontiguousarray(np.moveaxis(a, 0, -1))
        raise ParameterError(
            f"parameter '{nd.name}': value shaped {a.shape} for n={n}; allowed shapes {allowed}"
        )

    def _function(self, out_ids):
        key = tuple(out_ids)
        fn = self._cache.get(key)
        if fn is None:
            jit = self.backend == "jax"
            src, const_ids, lookup_ids = generate(self._p, list(out_ids), jit=jit)
            ns = dict(self._ns)
            exec(compile(src, f"<urbsim-engine:{self._p.path_name}>", "exec"), ns)  # noqa: S102
            if jit:
                import jax

                ns["_STEP"] = jax.jit(ns["_step"], static_argnums=(2, 3))
            fn = (ns["_sim"], const_ids, lookup_ids, src)
            self._cache[key] = fn
        return fn

    def _scalar_function(self, out_ids):
        """The scalar code for ``out_ids`` (cached), or None where it is not available."""
        key = tuple(out_ids)
        if key in self._scalar_cache:
            return self._scalar_cache[key]
        p = self._p
        try:
            prog, src = scalar_mod.generate_scalar(p, list(out_ids), plan(p, key))
        except (scalar_mod.NotScalar, RecursionError):  # RecursionError: a 1000-term sum
            self._scalar_cache[key] = None
            return None
        layout = [(q.kind, q.nid) for q in prog.params]
        widths = prog.widths
        ns = scalar_mod.namespace(p)
        exec(compile(src, f"<urbsim-scalar:{p.path_name}>", "exec"), ns)  # noqa: S102
        defaults = {}
        for kind, i in layout:
            nd = p.nodes[i]
            defaults[i] = self._scalar_values(nd, nd.value if kind == "const" else nd.y, 0)
        cols = np.cumsum([0, *widths])
        shapes = [p.sizes(p.nodes[i].dims) for i in out_ids]
        fn = (ns["_sim1"], layout, defaults, cols, shapes, src, prog)
        self._scalar_cache[key] = fn
        return fn

    def _native_kernel(self, out_ids, single: bool = False):
        """The C kernel for ``out_ids`` (cached), or None where it cannot be built; sets
        ``native_status`` to what this call found. ``single``: the 1-lane kernel for one run,
        whose vector maths are those of the ``native_lanes`` kernel (the same numbers)."""
        lanes = self._lanes()
        maths = native_mod.maths_width(lanes)
        key = (tuple(out_ids), bool(self.native_vector_math), 1 if single else lanes, maths)
        if key not in self._native_cache:
            self._native_cache[key] = self._build_native(*key)
        kernel, self.native_status = self._native_cache[key]
        return kernel

    def _lanes(self) -> int:
        """Runs per SIMD value of the kernel for n > 1 (``native_lanes``, or the default)."""
        if self.native_lanes is None:
            return native_mod.default_lanes(bool(self.native_vector_math))
        return int(self.native_lanes)

    def _c_text(self, out_ids, lanes: int, maths: int):
        """(C text, parameter layout) of the kernel for ``out_ids``; raises NotNative."""
        scalar = self._scalar_function(out_ids)
        if scalar is None:
            raise native_mod.NotNative("the program has no scalar form")
        layout, prog = scalar[1], scalar[-1]
        return native_mod.translate(prog, lanes, maths), layout

    def _build_native(self, out_ids, vector_math, lanes, maths):
        try:
            csrc, layout = self._c_text(out_ids, lanes, maths)
            lib = native_mod.build(csrc, vector_math=vector_math)
        except native_mod.NotNative as err:
            return None, f"unavailable: {err}"
        kernel = native_mod.NativeKernel(lib, self._p.delay_order_error)
        defaults = []
        for kind, i in layout:
            nd = self._p.nodes[i]
            a = nd.y if kind == "lookup" else nd.value
            defaults.append((i, a, kind == "lookup"))
        kernel.bind(defaults, self._steps, np.asarray(self._rec_list, dtype=np.uint8))
        maths = "glibc vector maths" if kernel.vector_math else "C library maths"
        return kernel, f"compiled ({lib.name}, {maths})"

    @staticmethod
    def _scalar_values(nd, a, r):
        """Flat list of Python floats of run ``r`` of a constant/lookup value array."""
        if nd.kind == "lookup":  # (*dims, R, npts)
            rows = a[..., r if a.shape[-2] > 1 else 0, :].reshape(-1, a.shape[-1])
            return [tuple(nd.x.tolist())] + [tuple(y) for y in rows.tolist()]
        return a[..., r if a.shape[-1] > 1 else 0].reshape(-1).tolist()

    def _run_scalar(self, scalar, values, n, r, outs, run_block) -> bool:
        """Run ``r`` through the scalar code; True if it had to be rerun with numpy."""
        fn, layout, defaults, cols, shapes = scalar[:5]
        P = []
        for _, i in layout:
            v = values.get(i)
            P.extend(defaults[i] if v is None else self._scalar_values(self._p.nodes[i], v, r))
        try:
            rows = fn(P, self._steps_list, self._rec_list)
        except (ArithmeticError, ValueError):
            # Python raises where numpy gives inf/NaN (x/0, log(0), exp overflow ...): this run
            # takes the numpy code, so it gets numpy's numbers
            run_block(r, r + 1)
            return True
        a = np.array(rows, dtype=np.float64)
        for o, c0, c1, shape in zip(outs, cols[:-1], cols[1:], shapes, strict=True):
            o[r] = a[:, c0:c1].reshape((a.shape[0], *shape))
        return False

    def scalar_source(self, outputs: Sequence[str] | None = None) -> str | None:
        """The generated scalar (one run) source for ``outputs``, or None if not available."""
        names = [o for o in self._outputs(outputs)]
        ids = []
        for o in names:
            nd = self._node(o, "output")
            if nd.kind not in ("const", "control", "lookup") and nd.id not in ids:
                ids.append(nd.id)
        fn = self._scalar_function(ids)
        return None if fn is None else fn[5]

    def native_source(self, outputs: Sequence[str] | None = None, single: bool = False):
        """The C text of the kernel for ``outputs`` (``single``: the 1-lane kernel of single
        runs), or None where there is none (for inspection and benchmarks)."""
        ids = [nd.id for nd in self._output_plan(outputs)[0] if nd.kind not in ("const", "control")]
        lanes = self._lanes()
        try:
            return self._c_text(
                list(dict.fromkeys(ids)), 1 if single else lanes, native_mod.maths_width(lanes)
            )[0]
        except native_mod.NotNative:
            return None

    def source(self, outputs: Sequence[str] | None = None) -> str:
        """The generated simulation source for ``outputs`` (for inspection)."""
        ids = [self._node(o, "output").id for o in self._outputs(outputs)]
        return self._function(ids)[3]

    def _outputs(self, outputs):
        if outputs is None:
            return [k for k, v in self.variables.items() if v.kind in ("auxiliary", "stateful")]
        if isinstance(outputs, str):
            outputs = [outputs]
        return list(outputs)

    def simulate(
        self,
        params: Mapping | None = None,
        n: int = 1,
        outputs: Sequence[str] | None = None,
        first_run: int = 0,
    ) -> dict[str, np.ndarray]:
        """Run ``n`` parameter sets; return ``{name: (n, len(time), *dims)}``.

        ``first_run`` numbers the runs for the RANDOM functions' streams (run ``i`` draws
        the same numbers whether it is simulated alone or in a chunk that starts elsewhere).
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ParameterError(f"n must be a positive integer, got {n!r}")
        n = int(n)
        values: dict[int, np.ndarray] = {}
        for name, v in (params or {}).items():
            nd = self._node(name, "parameter")
            values[nd.id] = self._param_value(nd, v, n)
        if self._p.run_node is not None:  # the RANDOM streams' run counter (rng.py)
            if not 0 <= int(self.random_seed) < 2**20:
                raise ParameterError(f"random_seed must be in [0, 2**20), got {self.random_seed}")
            runs = np.arange(first_run, first_run + n, dtype=np.float64)
            values[self._p.run_node.id] = runs + float(int(self.random_seed) * 2**32)
        nodes, dyn_ids, dyn_names, dyn_tails = self._output_plan(outputs)
        results: dict[str, np.ndarray] = {}
        T = len(self.time)
        for nd in nodes:
            if nd.kind in ("const", "control"):
                shape = (n, T, *self._p.sizes(nd.dims))
                val = np.moveaxis(values.get(nd.id, nd.value), -1, 0)
                results[nd.name] = np.array(np.broadcast_to(val[:, None], shape), dtype=np.float64)
        if dyn_ids:
            outs = [np.empty((n, T, *tail)) for tail in dyn_tails]
            block = max(1, int(self.block_size))

            def run_block(start, stop=None):
                fn, const_ids, lookup_ids, _ = self._function(dyn_ids)
                stop = min(n, start + block) if stop is None else stop

                def cut(a, axis):  # the run axis is last for constants, next to last for tables
                    if n > 1 and a.shape[axis] == n:
                        return a[(Ellipsis, slice(start, stop)) + (slice(None),) * (-1 - axis)]
                    return a

                C = [
                    cut(values[i], -1) if i in values else self._p.nodes[i].value for i in const_ids
                ]
                L = []
                for i in lookup_ids:
                    nd = self._p.nodes[i]
                    L.append((nd.x, cut(values[i], -2) if i in values else nd.y))
                Ob = [o[start:stop] for o in outs]
                with np.errstate(all="ignore"):  # thread-local: set in every worker
                    fn(C, L, Ob, stop - start, self._steps, self._rec)

            starts = list(range(0, n, block))
            workers = min(len(starts), self.threads or 1)
            scalar = kernel = None
            if self.native:
                kernel = self._native_kernel(dyn_ids, single=n == 1)
            if kernel is None and self.backend == "numpy" and n <= self.scalar_max_n:
                scalar = self._scalar_function(dyn_ids)
            if kernel is not None:
                # the kernel reads the run-last arrays in place (no copy); its defaults are
                # bound once, so only the parameters set here are passed
                kernel.run(values, n, outs, self.threads or 1)
                self.last_path = "native-vector" if kernel.vector_math else "native-exact"
            elif scalar is not None:
                # small n: plain-Python float code, one run at a time (see scalar.py)
                reruns = [self._run_scalar(scalar, values, n, r, outs, run_block) for r in range(n)]
                self.last_path = "scalar+numpy" if any(reruns) else "scalar"
            elif workers <= 1 or self.backend != "numpy":
                for start in starts:
                    run_block(start)
            else:
                # numpy releases the GIL inside its loops: blocks run on several cores
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(run_block, starts))
            if kernel is None and scalar is None:
                self.last_path = self.backend
            for name, o in zip(dyn_names, outs, strict=True):
                results[name] = o
        names = self._outputs(outputs)
        return {name: results[nd.name] for name, nd in zip(names, nodes, strict=True)}

    def _output_plan(self, outputs):
        """The nodes of ``outputs``, and the ids, names and element shapes of those computed
        per step (cached per tuple of outputs: a single run must not look names up again)."""
        names = self._outputs(outputs)
        key = tuple(names)
        plan_ = self._out_plans.get(key)
        if plan_ is None:
            nodes, dyn_ids, dyn_names, tails = [], [], [], []
            for name in names:
                nd = self._node(name, "output")
                if nd.kind == "lookup":
                    raise ParameterError(f"output '{name}' is a lookup table, not a variable")
                nodes.append(nd)
                if nd.kind not in ("const", "control") and nd.id not in dyn_ids:
                    dyn_ids.append(nd.id)
                    dyn_names.append(nd.name)
                    tails.append(self._p.sizes(nd.dims))
            plan_ = self._out_plans[key] = (nodes, dyn_ids, dyn_names, tails)
        return plan_


def compile_model(path, backend: str = "numpy") -> CompiledModel:
    """Parse ``path`` with PySD's Vensim parser and compile it for ``backend``."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path}: not found")
    if backend not in ("numpy", "jax"):
        raise ModelError(f"unknown engine backend {backend!r}; allowed: numpy, jax")
    return CompiledModel(Program(path), backend)
