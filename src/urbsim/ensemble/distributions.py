"""Distributions of uncertain constants, read from a scenario's ``[uncertainty]`` table.

Each key of the table is a constant of the model (Vensim or snake_case spelling). Its value is a
distribution spec, or, for a subscripted constant, a table ``{element: spec}``::

    [uncertainty]
    "park crowd in ratio" = {dist = "triangular", min = 2, mode = 3, max = 5}
    "productivity growth" = {dist = "normal", mean = 0.06, sd = 0.01}
    "price income elasticity" = {dist = "lognormal", mean = 0.8, sd = 0.2}
    "resource price boom" = {dist = "choice", values = [0, 0.5, 1], weights = [0.5, 0.3, 0.2]}
    "normal rural to town rate" = {urb = {dist = "uniform", min = 0.01, max = 0.02}}

Specs (all numbers in the constant's own unit):

- ``uniform``: ``min``, ``max``;
- ``triangular``: ``min``, ``mode``, ``max``;
- ``normal``: ``mean``, ``sd`` of the constant itself;
- ``lognormal``: ``mean``, ``sd`` of the constant itself (not of its logarithm); the underlying
  normal has ``sigma**2 = ln(1 + sd**2/mean**2)`` and ``mu = ln(mean) - sigma**2/2``;
- ``choice``: ``values`` (a list) and optional ``weights`` summing to 1 (default: equal).

Continuous distributions are truncated to the constant's documented ``[min,max]`` range, so a
draw never leaves it; a spec whose own bounds (``min``/``max``, ``mean``, ``mode``, ``values``)
fall outside that range is an error. A spec given for a subscripted constant without an element
table applies to every element, drawn independently. Elements a table does not list keep their
value (or, for a constant the model marks ``Uncertain.``, their default distribution; see
:func:`urbsim.ensemble.sampling.sample`).

Every marginal is sampled by its inverse CDF (:meth:`Marginal.ppf`) from uniforms in ``[0, 1)``,
so Latin hypercube, Sobol and plain Monte Carlo designs, and SALib's designs, all share one path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Protocol

import numpy as np
from scipy.special import ndtr, ndtri

from urbsim.errors import ModelError, ScenarioError
from urbsim.mdlinfo import ConstantInfo, ModelInfo
from urbsim.params import resolve_name

SPECS: dict[str, tuple[str, ...]] = {
    "uniform": ("min", "max"),
    "triangular": ("min", "mode", "max"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "choice": ("values",),
}
_OPTIONAL = {"choice": ("weights",)}


class Marginal(Protocol):
    """A one-dimensional distribution sampled by its inverse CDF."""

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms ``u`` in ``[0, 1]`` to draws (same shape, the constant's unit)."""
        ...


@dataclass(frozen=True)
class Uniform:
    """Uniform on ``[lo, hi]``."""

    lo: float
    hi: float

    def ppf(self, u: np.ndarray) -> np.ndarray:
        # lo + 1.0 * (hi - lo) can round one ulp past hi; the clip keeps the documented range.
        return np.clip(self.lo + u * (self.hi - self.lo), self.lo, self.hi)


@dataclass(frozen=True)
class Triangular:
    """Triangular on ``[lo, hi]`` with its peak at ``mode``."""

    lo: float
    mode: float
    hi: float

    def ppf(self, u: np.ndarray) -> np.ndarray:
        width = self.hi - self.lo
        split = (self.mode - self.lo) / width
        left = self.lo + np.sqrt(u * width * (self.mode - self.lo))
        right = self.hi - np.sqrt((1.0 - u) * width * (self.hi - self.mode))
        return np.clip(np.where(u < split, left, right), self.lo, self.hi)


@dataclass(frozen=True)
class TruncatedNormal:
    """Normal(``mean``, ``sd``) truncated to ``[lo, hi]``; ``log=True`` makes it lognormal.

    With ``log=True``, ``mean`` and ``sd`` are those of the logarithm (``mu``, ``sigma``) and the
    bounds stay in the constant's unit.
    """

    mean: float
    sd: float
    lo: float
    hi: float
    log: bool = False

    def ppf(self, u: np.ndarray) -> np.ndarray:
        lo, hi = self.lo, self.hi
        if self.log:
            lo = math.log(lo) if lo > 0 else -math.inf
            hi = math.log(hi)
        p_lo = float(ndtr((lo - self.mean) / self.sd))
        p_hi = float(ndtr((hi - self.mean) / self.sd))
        z = self.mean + self.sd * ndtri(p_lo + u * (p_hi - p_lo))
        x = np.exp(z) if self.log else z
        # ndtri of a probability rounded to 0 or 1 gives +-inf; the clip keeps draws in range.
        return np.clip(x, self.lo, self.hi)


@dataclass(frozen=True)
class Choice:
    """A discrete choice among ``values`` with probabilities ``weights``."""

    values: tuple[float, ...]
    weights: tuple[float, ...]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        edges = np.cumsum(self.weights)[:-1]
        return np.asarray(self.values)[np.searchsorted(edges, u, side="right")]


@dataclass(frozen=True)
class Distribution:
    """The uncertainty of one constant: a marginal per element, drawn independently.

    Attributes
    ----------
    name : the constant's Vensim name.
    dims : its subscript ranges.
    elements : one label per element in C order (``""`` for a scalar, ``"urb"``,
        ``"urb,mfg"`` ...).
    marginals : per element, a :class:`Marginal`, or ``None`` for an element held at its value.
    """

    name: str
    dims: tuple[str, ...]
    elements: tuple[str, ...]
    marginals: tuple[Marginal | None, ...]

    def factors(self) -> list[tuple[str, int, Marginal]]:
        """Varied elements as ``(label, flat index, marginal)``; label ``name[element]``."""
        out = []
        for i, (element, m) in enumerate(zip(self.elements, self.marginals, strict=True)):
            if m is not None:
                out.append((f"{self.name}[{element}]" if element else self.name, i, m))
        return out


def element_labels(info: ModelInfo, c: ConstantInfo) -> tuple[str, ...]:
    """Labels of a constant's elements in C order (``("",)`` for a scalar)."""
    return tuple(",".join(p) for p in product(*(info.subscripts[d] for d in c.dims)))


def _uniform_over_ranges(info: ModelInfo, constants) -> dict[str, Distribution]:
    """Each constant uniform over its documented range, each element independently."""
    out: dict[str, Distribution] = {}
    for c in constants:
        if c.range is None:
            raise ModelError(
                f"{info.path.name}:{c.line}: {c.name!r} is marked Uncertain. but has no "
                "[min,max] range in its unit field; add one so it can be sampled"
            )
        labels = element_labels(info, c)
        out[c.name] = Distribution(c.name, c.dims, labels, (Uniform(*c.range),) * len(labels))
    return out


def default_uncertainty(info: ModelInfo) -> dict[str, Distribution]:
    """Every constant marked ``Uncertain.``: uniform over its documented range, per element.

    Raises
    ------
    ModelError
        If an uncertain constant has no ``[min,max]`` range in the model.
    """
    return _uniform_over_ranges(info, info.uncertain())


def range_uncertainty(info: ModelInfo) -> dict[str, Distribution]:
    """Every constant a scenario may set (levers included), uniform over its documented range.

    For robustness checks and equivalence tests that must cover the whole documented parameter
    space, not only the assumptions marked ``Uncertain.``.
    """
    varied = [c for c in info.settable() if c.range[0] < c.range[1]]
    return _uniform_over_ranges(info, varied)


def find_line(text: str | None, key: str) -> int | None:
    """1-based line of ``key`` inside the ``[uncertainty]`` table of a TOML text, if found."""
    if not text:
        return None
    inside = False
    quoted = re.escape(key)
    pattern = re.compile(rf"^\s*(\"{quoted}\"|'{quoted}'|{quoted})\s*=")
    header = re.compile(rf"^\s*\[+\s*uncertainty\s*\.\s*(\"{quoted}\"|'{quoted}'|{quoted})\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if header.match(stripped):
            return number
        if stripped.startswith("["):
            inside = re.match(r"^\[\s*uncertainty\s*\]", stripped) is not None
        elif inside and pattern.match(line):
            return number
    return None


def parse_uncertainty(
    info: ModelInfo, table: Mapping[str, Any], where: str = "", *, text: str | None = None
) -> dict[str, Distribution]:
    """Validate an ``[uncertainty]`` table and return a :class:`Distribution` per constant.

    Parameters
    ----------
    info : the model's metadata (names, subscripts, ranges).
    table : ``{constant: spec}`` or ``{constant: {element: spec}}`` as read from TOML.
    where : the file the table came from, for error messages.
    text : the file's text; when given, errors name the line of the offending key.

    Returns
    -------
    dict
        Vensim constant name -> :class:`Distribution`; elements a table does not list are
        ``None`` (held at their value).

    Raises
    ------
    ScenarioError
        One line naming the file (and line), the constant and what is allowed.
    """
    if not isinstance(table, Mapping):
        raise ScenarioError(
            key="uncertainty.not_table", where=where or "scenario", got=type(table).__name__
        )
    out: dict[str, Distribution] = {}
    for key, value in table.items():
        line = find_line(text, key)
        loc = f"{where}:{line}" if where and line else where
        c = resolve_name(info, key, f"{loc} [uncertainty]" if loc else "[uncertainty]")
        out[c.name] = _constant_distribution(info, c, value, {"where": loc, "name": c.name})
    return out


def _error(at: Mapping[str, str], key: str, **fields: Any) -> ScenarioError:
    """The error ``errors.uncertainty.<key>`` about the constant (and element) ``at`` names:
    ``where`` (file and line), ``name`` and ``part`` (``"[element]"`` or none)."""
    return ScenarioError(key=f"uncertainty.{key}", **{"part": "", **at}, **fields)


def _constant_distribution(
    info: ModelInfo, c: ConstantInfo, value: Any, at: Mapping[str, str]
) -> Distribution:
    labels = element_labels(info, c)
    if not isinstance(value, Mapping):
        raise _error(at, "not_dist_table" if c.dims else "not_dist", value=repr(value))
    if "dist" in value:
        marginal = parse_spec(c, value, at)
        return Distribution(c.name, c.dims, labels, (marginal,) * len(labels))
    if not c.dims:
        raise _error(at, "not_subscripted")
    marginals: list[Marginal | None] = [None] * len(labels)
    normalized = [lab.replace(" ", "") for lab in labels]
    for element, spec in value.items():
        label = str(element).replace(" ", "")
        if label not in normalized:
            raise _error(at, "no_element", element=element, allowed=", ".join(labels))
        part = {**at, "part": f"[{element}]"}
        if not isinstance(spec, Mapping) or "dist" not in spec:
            raise _error(part, "element_not_dist", value=repr(spec))
        marginals[normalized.index(label)] = parse_spec(c, spec, part)
    return Distribution(c.name, c.dims, labels, tuple(marginals))


def _number(spec: Mapping[str, Any], key: str, at: Mapping[str, str]) -> float:
    v = spec[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _error(at, "not_finite", field=key, value=repr(v))
    return float(v)


def parse_spec(c: ConstantInfo, spec: Mapping[str, Any], at: Mapping[str, str]) -> Marginal:
    """Validate one ``{dist = ..., ...}`` spec for constant ``c`` and build its marginal
    (``at``: where it was given, for errors; see :func:`_error`)."""
    kind = spec.get("dist")
    if kind not in SPECS:
        raise _error(at, "unknown_dist", dist=repr(kind), allowed=", ".join(SPECS))
    need = SPECS[kind]
    allowed = {"dist", *need, *_OPTIONAL.get(kind, ())}
    missing = [k for k in need if k not in spec]
    extra = sorted(set(spec) - allowed)
    if missing or extra:
        raise _error(
            at,
            "missing" if missing else "unexpected",
            fields=", ".join(missing or extra),
            dist=repr(kind),
            takes=", ".join(sorted(allowed - {"dist"})),
        )
    lo, hi = c.range if c.range is not None else (-math.inf, math.inf)
    span = {"lo": f"{lo:g}", "hi": f"{hi:g}", "units": c.units}

    def inside(key: str, x: float) -> float:
        if not lo <= x <= hi:
            raise _error(at, "outside", field=key, value=f"{x:g}", **span)
        return x

    if kind == "choice":
        return _choice(spec, at, inside)
    if kind in ("uniform", "triangular"):
        a = inside("min", _number(spec, "min", at))
        b = inside("max", _number(spec, "max", at))
        if a >= b:
            raise _error(at, "min_max", low=f"{a:g}", high=f"{b:g}")
        if kind == "uniform":
            return Uniform(a, b)
        m = _number(spec, "mode", at)
        if not a <= m <= b:
            raise _error(at, "mode", mode=f"{m:g}", low=f"{a:g}", high=f"{b:g}")
        return Triangular(a, m, b)
    mean = inside("mean", _number(spec, "mean", at))
    sd = _number(spec, "sd", at)
    if sd <= 0:
        raise _error(at, "sd", sd=f"{sd:g}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise _error(at, "no_range", dist=kind)
    if kind == "normal":
        return TruncatedNormal(mean, sd, lo, hi)
    if mean <= 0 or hi <= 0:
        raise _error(at, "lognormal", mean=f"{mean:g}", **span)
    # ln(1 + (sd/mean)^2); for an extreme sd (1e200) its limit 2 ln(sd/mean), without overflow
    ratio = sd / mean
    sigma2 = math.log1p(ratio**2) if ratio < 1e150 else 2 * (math.log(sd) - math.log(mean))
    return TruncatedNormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), lo, hi, log=True)


def _choice(spec: Mapping[str, Any], at: Mapping[str, str], inside) -> Choice:
    values = spec["values"]
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise _error(at, "values", value=repr(values))
    numbers = tuple(inside("values", _number({"values": v}, "values", at)) for v in values)
    weights = spec.get("weights")
    if weights is None:
        return Choice(numbers, (1.0 / len(numbers),) * len(numbers))
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise _error(at, "weights_list", value=repr(weights))
    if len(weights) != len(numbers):
        raise _error(at, "weights_count", weights=len(weights), values=len(numbers))
    w = tuple(_number({"weights": x}, "weights", at) for x in weights)
    if any(x < 0 for x in w) or abs(sum(w) - 1.0) > 1e-9:
        raise _error(at, "weights_sum", value=repr(list(w)), total=f"{sum(w):g}")
    return Choice(numbers, w)
