"""ALLOCATE BY PRIORITY as PySD 3.14.3 computes it (``pysd.py_backend.allocation``),
vectorised over runs and over every other subscript.

PySD allocates one vector at a time (``_allocate_by_priority_1d``): the targets, sorted by
priority, receive supply along piecewise-linear paths; each step ends where a target reaches its
request, the next target starts, or the supply runs out. Here every column (one run, one
combination of the other subscripts) takes the same steps with the same arithmetic, all columns
at once; a column that has finished simply stops changing. Requests of zero sort after the
others (PySD drops them), so they never become active.

ALLOCATE AVAILABLE: PySD finds, per vector, the priority at which the targets' priority
profiles add up to the supply with a least-squares optimiser (``_allocate_available_1d``),
whose answer depends on its tolerances and starting point; a vectorised solver would give
other numbers in the last digits PySD's optimiser leaves. The engine calls PySD's own function
on every column instead (PySD's numbers; as slow per column as PySD).
"""

from __future__ import annotations

import numpy as np

from urbsim.errors import ModelError

from .arrays import call, register
from .expressions import E, align, union_dims

NAMES = ("_allocp", "_allocav")
register(*NAMES)  # array-code helpers: the element-level lowering refuses them (NotScalar)


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


def allocate_available(request, profiles, avail):
    """``request`` ``(*outer, m, runs)``, ``profiles`` ``(*outer, m, 4, runs)`` (PySD's
    ptype, ppriority, pwidth, pextra per target), ``avail`` ``(*outer, runs)``: the
    allocation ``(*outer, m, runs)``, column by column with PySD's own solver."""
    from pysd.py_backend.allocation import _allocate_available_1d

    avail = np.atleast_1d(np.asarray(avail, dtype=np.float64))[..., None, :]
    profiles = np.asarray(profiles, dtype=np.float64)
    shape = np.broadcast_shapes(np.shape(request), profiles[..., 0, :].shape, avail.shape)
    m = shape[-2]
    req = np.moveaxis(np.broadcast_to(request, shape), -2, 0).reshape(m, -1)
    pp = np.broadcast_to(profiles, (*shape[:-1], profiles.shape[-2], shape[-1]))
    pp = np.moveaxis(np.moveaxis(pp, -3, 0), -2, 1).reshape(m, profiles.shape[-2], -1)
    av = np.broadcast_to(avail, shape)[..., 0, :].reshape(-1)
    if (req < 0).any():
        raise ModelError("ALLOCATE AVAILABLE: a request is negative (all must be >= 0)")
    if (av < 0).any():
        raise ModelError("ALLOCATE AVAILABLE: the supply available is negative")
    out = np.empty_like(req)
    try:
        for j in range(req.shape[1]):
            out[:, j] = _allocate_available_1d(req[:, j].copy(), pp[:, :, j], av[j])
    except (ValueError, NotImplementedError) as err:  # PySD's refusals of a profile
        raise ModelError(f"ALLOCATE AVAILABLE: {err}") from None
    return np.moveaxis(out.reshape((m, *shape[:-2], shape[-1])), 0, -2)


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
        # each step starts or fills a target, or ends the supply: 2 m steps in exact
        # arithmetic; PySD loops until the supply is spent, so a column still open long after
        # that is an error rather than numbers that could differ from PySD's
        for _ in range(16 * m + 16):
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
    if live.any():
        raise ModelError("ALLOCATE BY PRIORITY: the supply was not spent after 16 steps per target")
    inverse = np.argsort(order, axis=0)
    return np.take_along_axis(out, inverse, axis=0)


def helpers(backend: str) -> dict:
    """``_allocp`` and ``_allocav`` for the backend: numpy's, or (``_allocp``) the same
    through ``jax.pure_callback``."""
    if backend != "jax":
        return {"_allocp": allocate_by_priority, "_allocav": allocate_available}
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

    def _allocav(request, profiles, avail):
        avail = jnp.atleast_1d(avail)
        shape = jnp.broadcast_shapes(
            jnp.shape(request), profiles[..., 0, :].shape, (*avail.shape[:-1], 1, avail.shape[-1])
        )
        spec = jax.ShapeDtypeStruct(shape, jnp.float64)
        return jax.pure_callback(allocate_available, spec, request, profiles, avail)

    return {"_allocp": _allocp, "_allocav": _allocav}


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
    return E(call("_allocp", *args), full, True, deps)


def compile_available(ctx, a) -> E:
    """ALLOCATE AVAILABLE(request[..., target], pp[..., target, ptype], avail): the targets are
    the request's last subscript; pp's last subscript names its profile (PySD reads the whole
    profile range there)."""
    pp = a.pp
    node = ctx.p.resolve(pp.reference, ctx)
    subs = list(pp.subscripts.subscripts) if pp.subscripts else []
    if not node.dims or len(subs) != len(node.dims):
        raise ctx.unsupported("ALLOCATE AVAILABLE with a priority profile that is not a table")
    profile = node.dims[-1]
    rq, pr, av = ctx.expr(a.request), ctx.subscript(node, [*subs[:-1], profile]), ctx.expr(a.avail)
    if not rq.dims or len(ctx.p.ranges[profile]) != 4:
        raise ctx.unsupported("ALLOCATE AVAILABLE without a request vector and 4 profile values")
    target = rq.dims[-1]
    if target in av.dims or profile in rq.dims or profile in av.dims:
        raise ctx.unsupported("ALLOCATE AVAILABLE with a supply over the targets")
    outer = tuple(d for d in union_dims([rq, pr, av]) if d not in (target, profile))
    full = (*outer, target)
    args = [align(rq, full), align(pr, (*full, profile)), align(av, outer)]
    return E(call("_allocav", *args), full, True, rq.deps | pr.deps | av.deps)
