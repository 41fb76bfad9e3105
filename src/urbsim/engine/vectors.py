"""VECTOR SORT ORDER / RANK / REORDER / SELECT, INVERT MATRIX, ELMCOUNT, GET TIME VALUE and PI
as PySD 3.14.3 computes them (``pysd.py_backend.functions``), vectorised over runs.

Inside the generated code every array is ``(*dims, run)``: a vector's axis is its last
subscript axis, ``-2``, never the run axis. The helpers are array code only (numpy and JAX):
the element-level lowering (``lower.py``) refuses them, so a model using them runs on the
numpy path.

Sorting calls the array module's own ``argsort`` with its default algorithm, as PySD does
(``DataArray.argsort``), so ties come out in the same order on the numpy path.
"""

from __future__ import annotations

import numpy as np

from urbsim.errors import ModelError

from .arrays import Lit, Op, T, call, number, register
from .expressions import TIME, E, align, union_dims

NAMES = ("_vsort", "_vrank", "_vreorder", "_vselect", "_vinv")
register(*NAMES)  # array-code helpers: the element-level lowering refuses them (NotScalar)

# VECTOR SELECT's numerical actions (PySD's numbering) -> the reduction applied
_SELECT_SUM, _SELECT_PROD, _SELECT_MIN, _SELECT_MAX = (0, 6), (1, 5, 7), (2, 8), (3, 9)


def _argsort(xp):
    """numpy's ``argsort`` along the vectors' axis (JAX calls it back: jax.numpy's stable
    sort would order ties differently from numpy's, hence from PySD)."""
    if xp is np:
        return lambda v: np.argsort(v, axis=-2)
    import jax

    def argsort(v):
        spec = jax.ShapeDtypeStruct(v.shape, np.int64)
        return jax.pure_callback(lambda a: np.argsort(a, axis=-2).astype(np.int64), spec, v)

    return argsort


def helpers(xp) -> dict:
    """The helpers over the array module ``xp`` (numpy or jax.numpy)."""
    argsort = _argsort(xp)

    def _vsort(v, direction):
        """VECTOR SORT ORDER: 0-based positions of the sorted elements (ascending when
        ``direction`` > 0, else the ascending order reversed)."""
        order = argsort(v)
        return xp.where(direction <= 0, xp.flip(order, axis=-2), order).astype(xp.float64)

    def _vrank(v, direction):
        """VECTOR RANK: 1-based rank of each element in VECTOR SORT ORDER's order."""
        return argsort(_vsort(v, direction)).astype(xp.float64) + 1.0

    def _vreorder(v, order):
        """VECTOR REORDER: ``v``'s elements taken in the positions ``order`` lists."""
        v, order = xp.broadcast_arrays(v, order)
        return xp.take_along_axis(v, order.astype(xp.int64), axis=-2)

    def _reduce(sel, ex, zero, action: int, axes):
        """VECTOR SELECT's numerical ``action`` over ``axes`` (NaN where nothing counts)."""
        if action < 5:
            arr = sel * ex
        elif action == 5:  # PySD (and Vensim): expression ^ selection
            arr = ex**sel
        else:
            arr = ex
        arr = xp.where(zero, xp.nan, arr)  # broadcast to the selection's shape too
        ok = ~xp.isnan(arr)  # xarray's skipna: NaN values of the expression are skipped too
        count = xp.sum(ok, axis=axes)
        if action in _SELECT_SUM:
            return xp.sum(xp.where(ok, arr, 0.0), axis=axes)
        if action in _SELECT_PROD:
            return xp.prod(xp.where(ok, arr, 1.0), axis=axes)
        if action in _SELECT_MIN:
            return xp.where(count > 0, xp.min(xp.where(ok, arr, xp.inf), axis=axes), xp.nan)
        if action in _SELECT_MAX:
            return xp.where(count > 0, xp.max(xp.where(ok, arr, -xp.inf), axis=axes), xp.nan)
        total = xp.sum(xp.where(ok, arr, 0.0), axis=axes)  # the mean
        return xp.where(count > 0, total / xp.maximum(count, 1), xp.nan)

    def _vselect(sel, ex, missing, action, error, axes):
        """VECTOR SELECT over ``axes``: ``action`` and ``error`` are PySD's numerical_action
        and error_action, whole numbers written in the equation or values per run, which
        PySD reads as Python numbers (an action outside 0-10 is an error, an error action
        outside 1-3 none)."""
        zero = sel == 0
        zeros = xp.all(zero, axis=axes)
        fixed = isinstance(action, int) and isinstance(error, int)
        if xp is not np and (error or not fixed):  # a jitted step cannot stop on a value
            like = _reduce(sel, ex, zero, 0, axes)
            return _select_callback(sel, ex, missing, action, error, axes, like)
        if not fixed or error:
            _errors(zero, zeros, np.asarray(error), axes)
        if isinstance(action, int):
            return xp.where(zeros, missing, _reduce(sel, ex, zero, action, axes))
        actions = np.asarray(action)
        bad = ~np.isin(actions, range(11))
        if bad.any():
            value = float(actions[bad].flat[0])
            raise ModelError(f"VECTOR SELECT: numerical action {value!r} (PySD takes 0 to 10)")
        out = np.nan
        for a in np.unique(actions):
            out = np.where(actions == a, _reduce(sel, ex, zero, int(a), axes), out)
        return np.where(zeros, missing, out)

    def _vinv(m):
        """INVERT MATRIX over the last two subscript axes."""
        return xp.moveaxis(xp.linalg.inv(xp.moveaxis(m, -1, 0)), 0, -1)

    return {
        "_vsort": _vsort,
        "_vrank": _vrank,
        "_vreorder": _vreorder,
        "_vselect": _vselect,
        "_vinv": _vinv,
    }


def _select_callback(sel, ex, missing, action, error, axes, like):
    """JAX: VECTOR SELECT through numpy's helper (its checks and per-run actions need values);
    ``like`` has the reduction's shape. An error raised there reaches the caller wrapped in
    JAX's runtime error."""
    import jax
    import jax.numpy as jnp

    shape = jnp.broadcast_shapes(jnp.shape(like), jnp.shape(missing))
    select = helpers(np)["_vselect"]

    def host(*values):
        return np.broadcast_to(select(*values, axes), shape).astype(np.float64)

    spec = jax.ShapeDtypeStruct(shape, jnp.float64)
    return jax.pure_callback(host, spec, sel, ex, missing, action, error)


def _errors(zero, zeros, error, axes) -> None:
    """VECTOR SELECT's error actions, run by run: 1 or 3 stop on an all-zero selection, 2 or
    3 on more than one non-zero value (PySD raises FloatingPointError)."""

    def per_run(a):
        return a.reshape(-1, a.shape[-1]).any(axis=0)

    if (np.isin(error, (1, 3)) & per_run(zeros)).any():
        raise ModelError("VECTOR SELECT: all values of the selection array are 0")
    if (np.isin(error, (2, 3)) & per_run(np.sum(~zero, axis=axes) > 1)).any():
        raise ModelError("VECTOR SELECT: more than one non-zero value in the selection")


def _action(ctx, value, what: str, top: int):
    """A VECTOR SELECT action: a whole number in the equation (``Lit``), or a scalar
    expression whose values the helper checks per run. Returns (code, dependencies)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != int(value) or not 0 <= value <= top:
            raise ctx.unsupported(f"{what} {value!r} (PySD takes whole numbers 0 to {top})")
        return Lit(int(value)), set()
    e = ctx.expr(value)
    if e.dims:
        raise ctx.unsupported(f"a subscripted {what}")
    return e.code, e.deps


def _literal(ctx, value, what: str) -> int:
    """A whole-number literal argument (PySD evaluates these in Python, not per element)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ctx.unsupported(f"{what} that is not a whole number written in the equation")
    return int(value)


def _sort_like(ctx, fname: str, args: list) -> E:
    """VECTOR SORT ORDER / VECTOR RANK (vector, direction)."""
    title = fname.upper().replace("_", " ")
    if len(args) != 2:
        raise ctx.unsupported(f"{title} with {len(args)} arguments")
    v, d = ctx.expr(args[0]), ctx.expr(args[1])
    if not v.dims:
        raise ctx.unsupported(f"{title} of a value without subscripts")
    if d.dims:
        raise ctx.unsupported(f"{title} with a subscripted direction")
    helper = "_vsort" if fname == "vector_sort_order" else "_vrank"
    return E(call(helper, v.code, d.code), v.dims, True, v.deps | d.deps)


def _reorder(ctx, fname: str, args: list) -> E:
    if len(args) != 2:
        raise ctx.unsupported(f"VECTOR REORDER with {len(args)} arguments")
    v, s = ctx.expr(args[0]), ctx.expr(args[1])
    if not s.dims or set(v.dims) != set(s.dims):
        raise ctx.unsupported("VECTOR REORDER of arrays over different subscripts")
    # PySD reorders along the order array's last subscript
    code = call("_vreorder", align(v, s.dims), s.code)
    return E(code, s.dims, True, v.deps | s.deps)


def _select(ctx, fname: str, args: list) -> E:
    if len(args) != 5:
        raise ctx.unsupported(f"VECTOR SELECT with {len(args)} arguments")
    action, action_deps = _action(ctx, args[3], "VECTOR SELECT numerical action", 10)
    error, error_deps = _action(ctx, args[4], "VECTOR SELECT error action", 3)
    sel, ex, miss = (ctx.expr(a) for a in args[:3])
    dims = union_dims([sel, ex])
    axes = tuple(i for i, d in enumerate(dims) if d.endswith("!"))
    if not axes:
        raise ctx.unsupported("VECTOR SELECT without a '!' subscript")
    keep = tuple(d for d in dims if not d.endswith("!"))
    if any(d not in keep for d in miss.dims):
        raise ctx.unsupported("VECTOR SELECT with a missing value over other subscripts")
    args = [align(sel, dims), align(ex, dims), align(miss, keep), action, error]
    code = call("_vselect", *args, Lit(axes))
    return E(code, keep, True, sel.deps | ex.deps | miss.deps | action_deps | error_deps)


def _invert(ctx, fname: str, args: list) -> E:
    if len(args) not in (1, 2):
        raise ctx.unsupported(f"INVERT MATRIX with {len(args)} arguments")
    m = ctx.expr(args[0])  # the size argument is ignored, as PySD does
    sizes = ctx.p.sizes([d.rstrip("!") for d in m.dims[-2:]])
    if len(sizes) < 2 or sizes[0] != sizes[1]:
        raise ctx.unsupported("INVERT MATRIX of an array that is not square in its last two")
    return E(call("_vinv", m.code), m.dims, True, m.deps)


def _elmcount(ctx, fname: str, args: list) -> E:
    """ELMCOUNT(range): the number of elements (PySD: ``len`` of the range)."""
    ref = getattr(args[0], "reference", None) if len(args) == 1 else None
    rng = ctx.p.range_of_norm.get(ref) if isinstance(ref, str) else None
    if rng is None:
        raise ctx.unsupported("ELMCOUNT of something that is not a subscript range")
    return E(number(len(ctx.p.ranges[rng])))


def _time_value(ctx, fname: str, args: list) -> E:
    """GET TIME VALUE(0, offset, 0): Time + offset. PySD refuses ``relativeto`` 1 and reads
    the computer's clock for 2, which no reproducible engine run can match."""
    if len(args) != 3:
        raise ctx.unsupported(f"GET TIME VALUE with {len(args)} arguments")
    relative = _literal(ctx, args[0], "a GET TIME VALUE 'relativeto'")
    measure = _literal(ctx, args[2], "a GET TIME VALUE measure")
    if (relative, measure) != (0, 0):
        raise ctx.unsupported(f"GET TIME VALUE({relative}, ..., {measure}) (only 0, ..., 0)")
    off = ctx.expr(args[1])
    return E(Op("+", T, off.code), off.dims, off.ra, off.deps | {TIME})


def _pi(ctx, fname: str, args: list) -> E:
    if args:
        raise ctx.unsupported(f"PI with {len(args)} arguments")
    return E(number(np.pi))


# function name (PySD's) -> compile(ctx, name, arguments) -> E
CALLS = {
    "pi": _pi,
    "vector_sort_order": _sort_like,
    "vector_rank": _sort_like,
    "vector_reorder": _reorder,
    "vector_select": _select,
    "invert_matrix": _invert,
    "elmcount": _elmcount,
    "get_time_value": _time_value,
}
