"""The fast execution paths of a compiled model: the scalar code (one run in Python floats)
and the native C kernel, both printed from the element-level IR (lower.py), built on first
use and cached per set of outputs. A mixin of :class:`compile.CompiledModel`, whose
attributes (`_p`, `native_lanes`, `native_vector_math`, the caches, the time grid) it reads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from . import native as native_mod
from . import scalar as scalar_mod
from .buffers import POOL
from .plan import plan


@functools.cache
def _block_layout(T: int, tails: tuple) -> tuple[int, list[tuple[int, int, tuple]]]:
    """Values in one block for a single run's outputs of ``T`` saved times and element shapes
    ``tails`` (at least 1), and each output's (offset, values, shape) in it."""
    parts, at = [], 0
    for tail in tails:
        size = T * math.prod(tail)
        parts.append((at, size, (1, T, *tail)))
        at += size
    return max(1, at), parts


class FastPaths:
    """The scalar and native paths of :class:`compile.CompiledModel` (a mixin)."""

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
        maths = "vector maths" if kernel.vector_math else "C library maths"
        return kernel, f"compiled ({lib.name}, {maths})"

    @staticmethod
    def _output_arrays(n: int, T: int, tails) -> tuple[list[np.ndarray], list[int] | None]:
        """Empty ``(n, T, *tail)`` output arrays, and for a single run their addresses: one
        block holds them all, so one address lookup serves every output and the kernel need
        not check them (~2 µs of a single run's ~65-100); more runs get arrays of their own
        (so that keeping one output does not keep the others' memory), whose memory is
        recycled from outputs no longer held (:mod:`buffers`)."""
        if n > 1:
            return [POOL.empty((n, T, *tail)) for tail in tails], None
        total, parts = _block_layout(T, tuple(tails))
        block = np.empty(total)
        base = native_mod.address(block)
        outs = [block[at : at + size].reshape(shape) for at, size, shape in parts]
        return outs, [base + 8 * at for at, _, _ in parts]

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
