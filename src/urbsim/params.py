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


def _describe_shape(c: ConstantInfo, n: int) -> str:
    dims = ", ".join(c.dims)
    if not c.dims:
        return f"a number or an array of {n} values (one per run)"
    return (
        f"a number, a table {{element: number}} over {dims}, or an array shaped "
        f"({dims}), (n={n},) or (n={n}, {dims})"
    )


def resolve_name(info: ModelInfo, name: str, where: str = "") -> ConstantInfo:
    """The constant called ``name`` (Vensim or snake_case spelling), or a clear error."""
    prefix = f"{where}: " if where else ""
    try:
        real = info.resolve(name)
    except KeyError:
        close = _suggest(info, name)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ParameterError(
            f"{prefix}unknown variable {name!r}: the model has no constant of that name.{hint} "
            "`urbsim check --list` lists the constants."
        ) from None
    if real not in info.constants:
        raise ParameterError(
            f"{prefix}{real!r} is computed by an equation, not a constant; only constants can be "
            "set (see `urbsim check --list`)."
        )
    c = info.constants[real]
    if c.structural:
        raise ParameterError(
            f"{prefix}{real!r} is a structural definition of the model ({c.source}); it cannot be "
            "set by a scenario."
        )
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
    prefix = f"{where}: " if where else ""
    shape = c.default.shape
    if isinstance(value, Mapping):
        if not c.dims:
            raise ParameterError(
                f"{prefix}{c.name!r} is not subscripted; give a number, not a table of elements."
            )
        if len(c.dims) != 1:
            raise ParameterError(
                f"{prefix}{c.name!r} has subscripts ({', '.join(c.dims)}); give it as a nested "
                "array, not a table."
            )
        elements = list(info.subscripts[c.dims[0]])
        arr = np.array(c.default, dtype=float)
        for key, v in value.items():
            if key not in elements:
                raise ParameterError(
                    f"{prefix}{c.name!r} has no element {key!r}; allowed: {', '.join(elements)}."
                )
            arr[elements.index(key)] = _number(c, v, prefix)
    else:
        try:
            arr = np.asarray(value, dtype=float)
        except OverflowError:
            raise ParameterError(
                f"{prefix}{c.name!r}: a value is too large for a float; got {short_repr(value)}."
            ) from None
        except (TypeError, ValueError):
            raise ParameterError(
                f"{prefix}{c.name!r} must be {_describe_shape(c, n)}; got {short_repr(value)}."
            ) from None
        if arr.shape not in {(), shape, (n,), (n, *shape)}:
            raise ParameterError(
                f"{prefix}{c.name!r} must be {_describe_shape(c, n)}; got shape {arr.shape}."
            )
        if arr.shape == (n,) and shape and (n,) != shape:
            arr = arr.reshape((n,) + (1,) * len(shape)) * np.ones(shape)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(
            f"{prefix}{c.name!r} must be a finite number; got {short_repr(value)}."
        )
    check_range(c, arr, prefix)
    return arr


def _number(c: ConstantInfo, v: Any, prefix: str) -> float:
    """An element value: any real number, numpy's included (not a bool)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise ParameterError(
            f"{prefix}{c.name!r} element values must be numbers; got {short_repr(v)}."
        )
    try:
        return float(v)
    except OverflowError:
        raise ParameterError(
            f"{prefix}{c.name!r}: {short_repr(v)} is too large for a float."
        ) from None


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to 60 characters (a 400-digit number stays one short line)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_range(c: ConstantInfo, arr: np.ndarray, prefix: str = "") -> None:
    """Raise :class:`ParameterError` if any value lies outside the constant's ``[min,max]``."""
    if c.range is None:
        return
    lo, hi = c.range
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        worst = arr[bad].flat[0]
        raise ParameterError(
            f"{prefix}{c.name!r} = {worst:g} is outside its documented range "
            f"[{lo:g}, {hi:g}] ({c.units})."
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
