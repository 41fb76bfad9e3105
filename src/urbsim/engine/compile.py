"""Vensim .mdl (through PySD's parser) -> compiled program -> simulations on every path.

Pipeline: ``VensimFile.parse()`` -> ``AbstractModel`` -> :class:`Program` (one node per variable,
plus hidden nodes for statefuls nested in expressions and time-invariant sub-expressions), each
defined in array-level IR (:mod:`arrays`; pass 2 in :mod:`definitions`, what changes over time
in :mod:`dynamics`) -> :class:`CompiledModel`, which runs the numpy/JAX code printed by
:mod:`npemit` or the scalar/native code built from the element-level IR (:mod:`fastpaths`).

Inside a run every array is ``(*dims, run)``: the run axis is last. Constants are
``(*dims, R)`` with R = 1 (shared) or n (per-run parameters). Only auxiliaries needed by the
requested outputs and the statefuls are computed; time-invariant ones once before the loop.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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

from . import datavars
from .arrays import Ref, number
from .backends import namespace
from .definitions import Definitions, Node, is_external
from .dynamics import Dynamics
from .expressions import E, ExprCompiler, norm
from .fastpaths import FastPaths
from .npemit import generate, runtime_helpers

_CONTROL = ("initial_time", "final_time", "time_step", "saveper")
SCALAR_MAX_N = 8  # default n up to which simulate() uses the scalar backend


def _is_literal(ast) -> bool:
    return isinstance(ast, (int, float, np.ndarray, np.integer, np.floating)) and not isinstance(
        ast, bool
    )


class Program(Definitions, Dynamics):
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
            elif all(_is_literal(c.ast) or is_external(c.ast) for c in comps):
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


class CompiledModel(FastPaths):
    """A Vensim model compiled to one vectorised simulation function.

    ``simulate(params, n, outputs)`` runs ``n`` parameter sets at once and returns
    ``{name: array (n, len(time), *dims)}``.
    """

    def __init__(self, program: Program, backend: str = "numpy"):
        self._p = program
        self.backend = backend
        self.path = program.path
        self._ns = namespace(backend)
        self._ns.update(runtime_helpers(program, self._ns["xp"]))
        self._cache: dict = {}
        # runs are simulated in blocks so that the working arrays stay in cache
        self.block_size = 1024
        self.threads = os.cpu_count() or 1
        self._steps, rec, self.time = program.time_grid()
        # n <= scalar_max_n runs use the scalar backend (scalar.py) when the model allows it;
        # 0 disables it. Measured crossover: see README.md.
        self.scalar_max_n = SCALAR_MAX_N if backend == "numpy" else 0
        self._scalar_cache: dict = {}
        # the element-level IR printed as C (native.py) runs every n when a C compiler is
        # available; False (or URBSIM_NATIVE=0) keeps the numpy/scalar backends
        self.native = backend == "numpy" and os.environ.get("URBSIM_NATIVE", "1") != "0"
        # vector exp/log/pow where available (the kernel's own and glibc's libmvec; within
        # 1e-12 of the scalar code, ~1.8x faster); False builds with the C library's maths:
        # the scalar code bit for bit
        self.native_vector_math = True
        # runs per SIMD value in the C kernel for n > 1 (1, 2, 4 or 8); None: 8 with vector
        # maths where the CPU has AVX-512, else 4 (native.default_lanes); single runs take a
        # 1-lane kernel with the same maths
        self.native_lanes: int | None = None
        self._native_cache: dict = {}
        self._out_plans: dict = {}
        self.native_status = "not used yet" if self.native else "off"
        # the execution path of the last simulate() that ran equations: native-vector
        # (C, vector maths), native-exact (C, C library maths), scalar, scalar+numpy
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
        if not np.isfinite(a).all():
            raise ParameterError(f"parameter '{nd.name}': values must be finite numbers")
        if a.shape == ():
            return np.full((*dims, 1), float(a))
        if a.shape == dims:
            return a.reshape((*dims, 1)).copy()
        if a.shape == (n,):
            return np.ascontiguousarray(np.broadcast_to(a, (*dims, n)))
        if a.shape == (n, *dims):  # runs last: a view, which the native kernel reads in place
            return a.transpose((*range(1, a.ndim), 0))
        allowed = ", ".join(str(s) for s in dict.fromkeys([(), dims, (n,), (n, *dims)]))
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
            outs, addrs = self._output_arrays(n, T, dyn_tails)
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
            # the kernel reads the run-last arrays in place (no copy); its defaults are bound
            # once, so only the parameters set here are passed; it refuses divisors beyond the
            # range of their reciprocals (native.RCP_REFUSED): numpy's code takes those runs
            if kernel is not None and kernel.run(values, n, outs, self.threads or 1, addrs):
                self.last_path = "native-vector" if kernel.vector_math else "native-exact"
            elif scalar is not None:
                # small n: plain-Python float code, one run at a time (see scalar.py)
                reruns = [self._run_scalar(scalar, values, n, r, outs, run_block) for r in range(n)]
                self.last_path = "scalar+numpy" if any(reruns) else "scalar"
            else:
                if workers <= 1 or self.backend != "numpy":
                    for start in starts:
                        run_block(start)
                else:
                    # numpy releases the GIL inside its loops: blocks run on several cores
                    with ThreadPoolExecutor(workers) as pool:
                        list(pool.map(run_block, starts))
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
