"""The numpy/JAX emitter: the planned array-level IR (:mod:`plan`) printed as one Python
function ``_sim(C, L, O, n, T, REC)`` over ``xp`` (numpy or ``jax.numpy``), run in a namespace
from :mod:`backends` with the runtime helpers below; for JAX, one time step is a separate
function ``_step`` to jit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from urbsim.errors import ModelError

from . import allocation, arrays, vectors
from .plan import plan

if TYPE_CHECKING:
    from .compile import Program

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


def runtime_helpers(p, xp) -> dict:
    """The delay-order, DELAY FIXED length and pipe helpers of the array code, for program
    ``p`` (its TIME STEP and error messages) over the array module ``xp``."""
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

    def _pipe_init(st, ko):
        m = int(np.max(ko))
        st = xp.moveaxis(st, -1, 0)
        return xp.broadcast_to(st, (m, *st.shape)) + 0.0

    return {"_dorder": _dorder, "_dfo": _dfo, "_pipe_init": _pipe_init}
