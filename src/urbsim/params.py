"""Turn user-given parameter values into validated arrays, with errors that say what is allowed.

A value may be:

- a number (the same for every run and every subscript element);
- a mapping ``{element: number}`` for a subscripted constant (elements not named keep their
  default);
- an array shaped like the constant's subscripts, ``(n,)`` (one value per run) or
  ``(n, *subscripts)``.

Every value is checked against the ``[min,max]`` range documented in the model.

Example
-------
>>> from urbsim.mdlinfo import model_info
>>> values = coerce_params(model_info(), {"park investment policy": {"urb": 30}}, n=1)
>>> values["park investment policy"]
array([30., 15.,  8.])
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from urbsim.errors import ParameterError
from urbsim.mdlinfo import ConstantInfo, ModelInfo


def resolve_name(info: ModelInfo, name: str, where: str = "") -> ConstantInfo:
    """The constant called ``name`` (Vensim or snake_case spelling), or a clear error."""
    try:
        real = info.resolve(name)
    except KeyError:
        close = _suggest(info, name)
        if close:
            raise ParameterError(
                key="unknown_variable_close", where=where, name=name, close=close
            ) from None
        raise ParameterError(key="unknown_variable", where=where, name=name) from None
    if real not in info.constants:
        raise ParameterError(key="computed", where=where, name=real)
    c = info.constants[real]
    if c.structural:
        raise ParameterError(key="structural", where=where, name=real, source=c.source)
    return c


def _suggest(info: ModelInfo, name: str) -> str | None:
    import difflib

    hits = difflib.get_close_matches(name.lower(), [c.lower() for c in info.constants], n=1)
    if not hits:
        return None
    return next(c for c in info.constants if c.lower() == hits[0])


def coerce_value(
    info: ModelInfo, c: ConstantInfo, value: Any, n: int, where: str = ""
) -> np.ndarray:
    """Validate one value and return it shaped ``c.dims`` or ``(n, *c.dims)``.

    Raises
    ------
    ParameterError
        On a wrong type, shape, unknown subscript element or a value outside the range.
    """
    shape = c.default.shape
    if isinstance(value, Mapping):
        if not c.dims:
            raise ParameterError(key="not_subscripted", where=where, name=c.name)
        if len(c.dims) != 1:
            raise ParameterError(key="multi_dims", where=where, name=c.name, dims=", ".join(c.dims))
        elements = list(info.subscripts[c.dims[0]])
        arr = np.array(c.default, dtype=float)
        for key, v in value.items():
            if key not in elements:
                raise ParameterError(
                    key="no_element",
                    where=where,
                    name=c.name,
                    element=key,
                    allowed=", ".join(elements),
                )
            arr[elements.index(key)] = _number(c, v, where)
    else:
        try:
            arr = np.asarray(value, dtype=float)
        except OverflowError:
            raise ParameterError(
                key="too_large_float", where=where, name=c.name, value=short_repr(value)
            ) from None
        except (TypeError, ValueError):
            raise _shape_error(c, n, where, got=short_repr(value)) from None
        if arr.shape not in {(), shape, (n,), (n, *shape)}:
            raise _shape_error(c, n, where, got_shape=str(arr.shape))
        if arr.shape == (n,) and shape and (n,) != shape:
            arr = arr.reshape((n,) + (1,) * len(shape)) * np.ones(shape)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(key="not_finite", where=where, name=c.name, value=short_repr(value))
    check_range(c, arr, where)
    return arr


def _shape_error(c: ConstantInfo, n: int, where: str, **got: str) -> ParameterError:
    """What ``c`` accepts (a number or per-run values, or a table over its subscripts), and
    what was given: ``got`` (a value) or ``got_shape`` (an array's shape)."""
    key = "shape_table" if c.dims else "shape_scalar"
    return ParameterError(key=key, where=where, name=c.name, n=n, dims=", ".join(c.dims), **got)


def _number(c: ConstantInfo, v: Any, where: str) -> float:
    """An element value: any real number, numpy's included (not a bool)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise ParameterError(
            key="element_not_number", where=where, name=c.name, value=short_repr(v)
        )
    try:
        return float(v)
    except OverflowError:
        raise ParameterError(
            key="too_large_float", where=where, name=c.name, value=short_repr(v)
        ) from None


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to 60 characters (a 400-digit number stays one short line)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_range(c: ConstantInfo, arr: np.ndarray, where: str = "") -> None:
    """Raise :class:`ParameterError` if any value lies outside the constant's ``[min,max]``
    (``where``: where the value was given, put in front of the message)."""
    if c.range is None:
        return
    lo, hi = c.range
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        raise ParameterError(
            key="out_of_range",
            where=where,
            name=c.name,
            value=f"{arr[bad].flat[0]:g}",
            lo=f"{lo:g}",
            hi=f"{hi:g}",
            units=c.units,
        )


def coerce_params(
    info: ModelInfo, params: Mapping[str, Any] | None, n: int = 1, where: str = ""
) -> dict[str, np.ndarray]:
    """Validate a whole parameter mapping; keys are returned in Vensim spelling."""
    out: dict[str, np.ndarray] = {}
    for name, value in (params or {}).items():
        c = resolve_name(info, name, where)
        out[c.name] = coerce_value(info, c, value, n, where)
    return out


def changed_params(info: ModelInfo, params: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The parameters that differ from the model's defaults, as JSON-ready values.

    A value given per run (an ensemble) is summarized by its run count and range, so provenance
    stays small however many runs there are.
    """
    changed: dict[str, Any] = {}
    for name, arr in params.items():
        default = info.constants[name].default
        if arr.ndim > default.ndim:
            changed[name] = {
                "runs": int(arr.shape[0]),
                "min": float(arr.min()),
                "max": float(arr.max()),
            }
        elif not np.array_equal(arr, default):
            changed[name] = arr.tolist() if arr.ndim else float(arr)
    return changed


def split_scenario(scenario_or_params: Any) -> tuple[str, Mapping[str, Any], Any]:
    """``(name, fixed parameters, uncertainty table or None)`` of a Scenario, mapping or None.

    A Scenario is anything with ``.name`` and ``.parameters``; its ``.uncertainty`` (a raw
    ``[uncertainty]`` table or parsed distributions) is used when present.
    """
    if scenario_or_params is None:
        return "", {}, None
    if hasattr(scenario_or_params, "parameters") and hasattr(scenario_or_params, "name"):
        s = scenario_or_params
        return str(s.name), s.parameters or {}, getattr(s, "uncertainty", None)
    if isinstance(scenario_or_params, Mapping):
        return "", scenario_or_params, None
    raise ParameterError(
        "expected a Scenario or a mapping of constant names to values; got "
        f"{type(scenario_or_params).__name__}"
    )
