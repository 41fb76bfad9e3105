"""ALLOCATE BY PRIORITY as PySD 3.14.3 computes it (``pysd.py_backend.allocation``),
vectorised over runs and over every other subscript.

PySD allocates one vector at a time (``_allocate_by_priority_1d``): the targets, sorted by
priority, receive supply along piecewise-linear paths; each step ends where a target reaches its
request, the next target starts, or the supply runs out. Here every column (one run, one
combination of the other subscripts) takes the same steps with the same arithmetic, all columns
at once; a column that has finished simply stops changing. Requests of zero sort after the
others (PySD drops them), so they never become active.

ALLOCATE AVAILABLE is not here: PySD solves it with a least-squares optimiser per element,
which the engine does not reproduce; such models run through PySD (``urbsim.load_model``).
"""

from __future__ import annotations

import numpy as np

from urbsim.errors import ModelError

from .expressions import E, align, union_dims

NAMES = ("_allocp",)


def allocate_by_priority(request, priority, width, supply):
    """``request`` and ``priority`` shaped ``(*outer, m, runs)``, ``width`` and ``supply``
    ``(*outer, runs)`` (any of them broadcastable): the allocation, ``(*outer, m, runs)``,
    in the units of ``request``."""
    width, supply = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (width, supply))
    width, supply = width[..., None, :], supply[..., None, :]  # the targets' axis
    shape = np.broadcast_shapes(np.shape(request), np.shape(priority), width.shape, supply.shape)
    m = shape[-2]
    cols = (m, -1)

    def columns(a):
        return np.moveaxis(np.broadcast_to(a, shape), -2, 0).reshape(cols)

    req, pri = columns(request).astype(np.float64), columns(priority)
    wid, sup = columns(width)[0], columns(supply)[0].copy()
    if (req < 0).any():
        raise ModelError("ALLOCATE BY PRIORITY: a request is negative (all must be >= 0)")
    if (wid <= 0).any():
        raise ModelError("ALLOCATE BY PRIORITY: the width must be greater than 0")
    if (sup < 0).any():
        raise ModelError("ALLOCATE BY PRIORITY: the supply is negative")
    out = _columns(req, pri, wid, sup)
    result = np.where(sup >= req.sum(axis=0), req, np.where(sup == 0, 0.0, out))
    return np.moveaxis(result.reshape((m, *shape[:-2], shape[-1])), 0, -2)


def _columns(req, pri, wid, supply):
    """PySD's ``_allocate_by_priority_1d`` on every column of ``(m, columns)`` at once."""
    m, ncol = req.shape
    is0 = req == 0
    order = np.argsort(np.where(is0, np.inf, -pri), axis=0)  # highest priority first
    r = np.take_along_axis(req, order, axis=0)
    p = np.take_along_axis(pri, order, axis=0)
    last = (~is0).sum(axis=0) - 1  # the last target with a request
    row = np.arange(m)[:, None]
    dist = np.full((m, ncol), np.nan)
    dist[:-1] = np.minimum(-np.diff(p, axis=0) / wid, 1.0) * r[:-1]
    dist = np.where(row >= last, np.nan, dist)
    out = np.zeros((m, ncol))
    live = (supply < r.sum(axis=0)) & (supply != 0)
    active = (row == 0) & live
    current = np.zeros(ncol, dtype=np.int64)
    sup = np.where(live, supply, 0.0)
    cols = np.arange(ncol)
    with np.errstate(all="ignore"):
        for _ in range(4 * m + 4):  # each step starts or fills a target, or ends the supply
            if not live.any():
                break
            slopes = r * active
            slopes = slopes / slopes.sum(axis=0)
            top = np.min(np.where(active, (r - out) / slopes, np.inf), axis=0)
            c = current.clip(0, m - 1)
            start = (dist[c, cols] - out[c, cols]) / slopes[c, cols]
            dx = np.fmin(np.fmin(top, start), sup)
            out = np.where(live, out + slopes * dx, out)
            nxt = live & np.isclose(dx, start, rtol=1e-10, atol=1e-16)
            current = np.where(nxt, current + 1, current)
            active = active | ((row == current) & nxt)
            full = live & (dx == top)
            active = np.where(full & (out == r), False, active)
            sup = np.where(live, sup - dx, sup)
            live = live & (sup > 0)
    inverse = np.argsort(order, axis=0)
    return np.take_along_axis(out, inverse, axis=0)


def helpers(backend: str) -> dict:
    """``_allocp`` for the backend: numpy's, or the same through ``jax.pure_callback``."""
    if backend != "jax":
        return {"_allocp": allocate_by_priority}
    import jax
    import jax.numpy as jnp

    def _allocp(request, priority, width, supply):
        width, supply = jnp.atleast_1d(width), jnp.atleast_1d(supply)
        shape = jnp.broadcast_shapes(
            jnp.shape(request), jnp.shape(priority), (*width.shape[:-1], 1, width.shape[-1])
        )
        shape = jnp.broadcast_shapes(shape, (*supply.shape[:-1], 1, supply.shape[-1]))
        spec = jax.ShapeDtypeStruct(shape, jnp.float64)
        return jax.pure_callback(allocate_by_priority, spec, request, priority, width, supply)

    return {"_allocp": _allocp}


def compile_priority(ctx, a) -> E:
    """ALLOCATE BY PRIORITY(request[..., target], priority[..., target], size, width, supply):
    the targets are the request's last subscript (PySD); width and supply must not have it."""
    rq, pr, wd, sp = (ctx.expr(x) for x in (a.request, a.priority, a.width, a.supply))
    if not rq.dims:
        raise ctx.unsupported("ALLOCATE BY PRIORITY of a request without subscripts")
    target = rq.dims[-1]
    if target in wd.dims or target in sp.dims:
        raise ctx.unsupported("ALLOCATE BY PRIORITY with a width or supply over the targets")
    outer = tuple(d for d in union_dims([rq, pr, wd, sp]) if d != target)
    full = (*outer, target)
    # missing leading axes of width and supply broadcast (the helper adds the targets' axis)
    args = [align(rq, full), align(pr, full), align(wd, outer), align(sp, outer)]
    deps = rq.deps | pr.deps | wd.deps | sp.deps
    return E(f"_allocp({', '.join(args)})", full, True, deps)
