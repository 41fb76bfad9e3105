"""Array namespaces the generated step code runs against (numpy, and optionally JAX).

The generated source only ever calls names bound here (``xp``, ``_bc``, ``_interp`` ...). The
numpy namespace is the reference; the JAX namespace maps the same names onto ``jax.numpy`` in
float64, so both backends execute the *same* compiled program.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from urbsim.errors import UrbsimError

from . import allocation, rng, vectors

SMALL_VENSIM = 1e-6  # what PySD (and Vensim) consider zero in ZIDZ / XIDZ / QUANTUM


def _numpy_namespace() -> dict:
    xp = np

    def _bc(v, tail):
        """Broadcast ``v`` (run axis last, or a scalar) to ``(*tail, R)`` as a read-only view."""
        v = np.asarray(v, dtype=np.float64)
        r = v.shape[-1] if v.ndim else 1
        return np.broadcast_to(v, (*tail, r))

    def _state(v, n, tail):
        """A fresh writable float64 state array shaped ``(*tail, n)``."""
        v = np.asarray(v, dtype=np.float64)
        return np.array(np.broadcast_to(v, (*tail, n)), dtype=np.float64)

    def _interp(x, xp_, yp):
        """PySD lookup: linear interpolation, clamped to the end values outside the x range."""
        if yp.size == yp.shape[-1]:
            r = np.interp(x, xp_, yp.reshape(-1))
            return r.reshape(1) if r.ndim == 0 else r
        x = np.asarray(x, dtype=np.float64)
        m = xp_.shape[0]
        xc = np.clip(x, xp_[0], xp_[-1])
        idx = np.clip(np.searchsorted(xp_, xc, side="right") - 1, 0, m - 2)
        x0 = xp_[idx]
        x1 = xp_[idx + 1]
        shape = np.broadcast_shapes(x.shape, yp.shape[:-1])
        ypb = np.broadcast_to(yp, (*shape, m))
        idb = np.broadcast_to(idx, shape)[..., None]
        y0 = np.take_along_axis(ypb, idb, -1)[..., 0]
        y1 = np.take_along_axis(ypb, idb + 1, -1)[..., 0]
        return y0 + (xc - x0) * ((y1 - y0) / (x1 - x0))

    def _assemble(tail, parts):
        r = max((np.shape(v)[-1] if np.ndim(v) else 1) for _, v in parts)
        out = np.empty((*tail, r))
        for ix, v in parts:
            out[(*np.ix_(*ix), slice(None))] = v
        return out

    # Axis permutations moving the run axis (last inside the step) to the front and back: a
    # plain transpose costs a fraction of np.moveaxis, which runs once per output per step.
    first = {d: (d - 1, *range(d - 1)) for d in range(1, 8)}
    last = {d: (*range(1, d), 0) for d in range(1, 8)}

    def _pipe_read(pipe, ptr, ar):
        v = pipe[ptr, ar]
        return v.transpose(last[v.ndim])

    def _pipe_write(pipe, ptr, ar, v):
        pipe[ptr, ar] = v.transpose(first[v.ndim])
        return pipe

    def _record(o, j, v):
        v = np.asarray(v)
        o[:, j] = v.transpose(first[v.ndim]) if v.ndim > 1 else v
        return o

    return {
        "xp": xp,
        "_bc": _bc,
        "_state": _state,
        "_interp": _interp,
        "_where": np.where,
        "_sum": np.add.reduce,
        "_prod": np.multiply.reduce,
        "_vmin": np.minimum.reduce,
        "_vmax": np.maximum.reduce,
        "_assemble": _assemble,
        "_pipe_read": _pipe_read,
        "_pipe_write": _pipe_write,
        "_record": _record,
        "_SMALL": SMALL_VENSIM,
    }


def _jax_namespace() -> dict:
    try:
        import jax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise UrbsimError(
            "backend 'jax' needs the optional extra: pip install 'urbsim[jax]' (jax, jaxlib); "
            "use backend='numpy' otherwise"
        ) from err
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def _bc(v, tail):
        v = jnp.asarray(v, dtype=jnp.float64)
        r = v.shape[-1] if v.ndim else 1
        return jnp.broadcast_to(v, (*tail, r))

    def _state(v, n, tail):
        v = jnp.asarray(v, dtype=jnp.float64)
        return jnp.broadcast_to(v, (*tail, n)).astype(jnp.float64)

    def _interp(x, xp_, yp):
        xp_ = jnp.asarray(xp_)
        yp = jnp.asarray(yp)
        if yp.size == yp.shape[-1]:
            r = jnp.interp(x, xp_, yp.reshape(-1))
            return r.reshape(1) if r.ndim == 0 else r
        x = jnp.asarray(x, dtype=jnp.float64)
        m = xp_.shape[0]
        xc = jnp.clip(x, xp_[0], xp_[-1])
        idx = jnp.clip(jnp.searchsorted(xp_, xc, side="right") - 1, 0, m - 2)
        x0 = xp_[idx]
        x1 = xp_[idx + 1]
        shape = jnp.broadcast_shapes(x.shape, yp.shape[:-1])
        ypb = jnp.broadcast_to(yp, (*shape, m))
        idb = jnp.broadcast_to(idx, shape)[..., None]
        y0 = jnp.take_along_axis(ypb, idb, -1)[..., 0]
        y1 = jnp.take_along_axis(ypb, idb + 1, -1)[..., 0]
        return y0 + (xc - x0) * ((y1 - y0) / (x1 - x0))

    def _where(c, a, b):
        return jnp.where(c, a, b)

    def _assemble(tail, parts):
        r = max((jnp.shape(v)[-1] if jnp.ndim(v) else 1) for _, v in parts)
        out = jnp.zeros((*tail, r))
        for ix, v in parts:
            out = out.at[(*np.ix_(*ix), slice(None))].set(v)
        return out

    def _pipe_read(pipe, ptr, ar):
        return jnp.moveaxis(pipe[ptr, ar], 0, -1)

    def _pipe_write(pipe, ptr, ar, v):
        return pipe.at[ptr, ar].set(jnp.moveaxis(v, -1, 0))

    def _record(o, j, v):
        v = np.asarray(v)
        o[:, j] = np.moveaxis(v, -1, 0) if v.ndim else v
        return o

    return {
        "xp": jnp,
        "_bc": _bc,
        "_state": _state,
        "_interp": _interp,
        "_where": _where,
        "_sum": jnp.sum,
        "_prod": jnp.prod,
        "_vmin": jnp.min,
        "_vmax": jnp.max,
        "_assemble": _assemble,
        "_pipe_read": _pipe_read,
        "_pipe_write": _pipe_write,
        "_record": _record,
        "_SMALL": SMALL_VENSIM,
    }


BACKENDS = {"numpy": _numpy_namespace, "jax": _jax_namespace}


def _random_helpers(backend: str) -> dict:
    """The RANDOM helpers (``rng.py``) over the backend's array module and normal CDF."""
    if backend == "jax":
        import jax.numpy as jnp
        from jax.scipy.special import ndtr, ndtri

        return rng.helpers(jnp, ndtr, ndtri)
    from scipy.special import ndtr, ndtri

    return rng.helpers(np, ndtr, ndtri)


def namespace(backend: str) -> dict:
    """The globals the generated code runs in, for ``backend`` ('numpy' or 'jax')."""
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise UrbsimError(
            f"unknown engine backend {backend!r}; allowed: {', '.join(sorted(BACKENDS))}"
        ) from None
    ns = factory()
    ns.update(_random_helpers(backend))
    ns.update(vectors.helpers(ns["xp"]))
    ns.update(allocation.helpers(backend))
    ns["_NAN"] = float("nan")
    ns["_INF"] = float("inf")
    return dict(ns, __builtins__={"range": range, "len": len, "float": float, "bool": bool})


__all__ = ["namespace", "BACKENDS", "SMALL_VENSIM", "SimpleNamespace"]
