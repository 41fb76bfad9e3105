"""Dimensional analysis of a Vensim model: every equation's two sides must have the same unit.

Units are read from each equation's unit field (``wperson/year``, ``yiyuan/(wjob*year)``,
``km2*person/(wperson*m2)``, ``1/(year*year)``; ``dmnl`` is dimensionless and ``percent`` is a
unit of its own) and parsed into products of base units with rational exponents. The checker
then walks each equation's PySD abstract syntax tree and infers the unit of every expression:

- ``+``, ``-``, ``MIN``, ``MAX``, ``IF THEN ELSE`` branches and comparisons need equal units;
- ``*`` and ``/`` combine units; ``^`` needs a dimensionless exponent and base unless the
  exponent is a literal number (then the base's exponents are multiplied by it);
- numeric literals adapt: they take the unit of what they are added to and are pure numbers in
  a product (Vensim's own convention);
- ``EXP``, ``LN`` and ``LOG`` need dimensionless arguments; ``SQRT`` halves exponents;
- a lookup returns its declared unit, whatever its input; ``Time`` is in ``year``;
- ``INTEG(flow, init)``: the flow is in stock/year and the initial value in stock units;
  ``SMOOTH``/``DELAY`` keep their input's unit and take a delay time in ``year``;
- ``SUM``/``VMIN``/``VMAX`` keep units, ``PROD`` multiplies them; ``ZIDZ`` and ``XIDZ`` divide.

A variable with an empty unit field is not checked (and makes expressions using it unknown).

Example
-------
>>> parse_unit("yiyuan/(wjob*year)") == parse_unit("yiyuan/wjob/year")
True
>>> str(parse_unit("km2*person/(wperson*m2)"))
'km2*person/(wperson*m2)'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np

from urbsim.errors import ModelError
from urbsim.fileio import display_path
from urbsim.mdlinfo import model_info
from urbsim.pysd_compat import abstract_model

_DIMENSIONLESS = {"dmnl", "dimensionless", "1", ""}
_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_$][\w$]*)|(?P<op>[*/^()\-]))"
)


class UnitSyntaxError(ModelError):
    """A unit string in the model cannot be read."""


@dataclass(frozen=True)
class Unit:
    """A product of base units with rational exponents; the empty product is dimensionless.

    ``terms`` keeps the order in which base units were written, for display; equality and
    hashing use the order-free ``key``.
    """

    terms: tuple[tuple[str, Fraction], ...] = field(compare=False)
    key: frozenset = field(init=False, repr=False)

    def __post_init__(self) -> None:
        merged: dict[str, Fraction] = {}
        for base, power in self.terms:
            merged[base] = merged.get(base, Fraction(0)) + power
        clean = tuple((b, p) for b, p in merged.items() if p != 0)
        object.__setattr__(self, "terms", clean)
        object.__setattr__(self, "key", frozenset(clean))

    def __mul__(self, other: Unit) -> Unit:
        return Unit(self.terms + other.terms)

    def __truediv__(self, other: Unit) -> Unit:
        return self * other**-1

    def __pow__(self, power: Fraction | int) -> Unit:
        return Unit(tuple((b, p * Fraction(power)) for b, p in self.terms))

    @property
    def dimensionless(self) -> bool:
        return not self.terms

    def __str__(self) -> str:
        if not self.terms:
            return "dmnl"
        up = [_power_text(b, p) for b, p in self.terms if p > 0]
        down = [_power_text(b, -p) for b, p in self.terms if p < 0]
        text = "*".join(up) or "1"
        if down:
            text += "/" + (down[0] if len(down) == 1 else "(" + "*".join(down) + ")")
        return text


def _power_text(base: str, power: Fraction) -> str:
    if power == 1:
        return base
    return f"{base}^{power}" if power.denominator == 1 else f"{base}^({power})"


DMNL = Unit(())
YEAR = Unit((("year", Fraction(1)),))


class _Marker:
    """A unit that is not a :class:`Unit`: a literal number or something unknown."""

    def __init__(self, label: str):
        self.label = label

    def __repr__(self) -> str:
        return self.label


#: A numeric literal: adapts to what it is added to, a pure number in products.
LITERAL = _Marker("LITERAL")
#: Not known (a variable without a unit, an unsupported function): never reported.
UNKNOWN = _Marker("UNKNOWN")
Inferred = Unit | _Marker


def parse_unit(text: str) -> Unit:
    """Parse a Vensim unit string such as ``yiyuan/(wjob*year)`` into a :class:`Unit`.

    Raises
    ------
    UnitSyntaxError
        If the string is not a product/quotient of names, ``1`` and integer powers.
    """
    if text.strip().lower() in _DIMENSIONLESS:
        return DMNL
    tokens = _tokens(text)
    unit, rest = _expr(tokens, text)
    if rest:
        raise UnitSyntaxError(f"unexpected {rest[0]!r} in unit {text!r}")
    return unit


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise UnitSyntaxError(f"unit {text!r} has an unexpected character at {text[pos:]!r}")
        tokens.append(match.group(match.lastgroup))
        pos = match.end()
    return tokens


def _expr(tokens: list[str], text: str) -> tuple[Unit, list[str]]:
    unit, tokens = _factor(tokens, text)
    while tokens and tokens[0] in "*/":
        op, (right, tokens) = tokens[0], _factor(tokens[1:], text)
        unit = unit * right if op == "*" else unit / right
    return unit, tokens


def _factor(tokens: list[str], text: str) -> tuple[Unit, list[str]]:
    if not tokens:
        raise UnitSyntaxError(f"unit {text!r} ends too early")
    head, tokens = tokens[0], tokens[1:]
    if head == "(":
        unit, tokens = _expr(tokens, text)
        if not tokens or tokens[0] != ")":
            raise UnitSyntaxError(f"unit {text!r} has an unclosed '('")
        tokens = tokens[1:]
    elif head[0].isdigit():
        if float(head) != 1:
            raise UnitSyntaxError(f"unit {text!r}: only the number 1 may stand for a unit")
        unit = DMNL
    elif head[0].isalpha() or head[0] in "_$":
        unit = DMNL if head.lower() in _DIMENSIONLESS else Unit(((head, Fraction(1)),))
    else:
        raise UnitSyntaxError(f"unit {text!r}: unexpected {head!r}")
    if tokens and tokens[0] == "^":
        sign = -1 if len(tokens) > 1 and tokens[1] == "-" else 1
        tokens = tokens[2:] if sign < 0 else tokens[1:]
        if not tokens or not tokens[0][0].isdigit():
            raise UnitSyntaxError(f"unit {text!r}: '^' must be followed by a number")
        unit, tokens = unit ** (sign * Fraction(tokens[0])), tokens[1:]
    return unit, tokens


def _norm(name: str) -> str:
    """Reference spelling in PySD's syntax tree: lower case, spaces and underscores as ``_``."""
    return re.sub(r"[\s_]+", "_", name.strip().lower())


def _literal_number(node) -> float | None:
    """The value of a literal number node (including a negated one), else ``None``."""
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(node, bool):
        return None
    if isinstance(node, (int, float, np.integer, np.floating)):
        return float(node)
    if isinstance(node, ae.ArithmeticStructure) and node.operators == ["negative"]:
        inner = _literal_number(node.arguments[0])
        return None if inner is None else -inner
    return None


class _Checker:
    """Infers units of expressions for one model, collecting problems for the current equation."""

    def __init__(self, units: dict[str, Inferred], lookups: set[str], sizes: dict[str, int]):
        self.units = units
        self.lookups = lookups
        self.sizes = sizes
        self.problems: list[str] = []

    # -- helpers ------------------------------------------------------------------------------
    def same(self, what: str, *parts: Inferred) -> Inferred:
        """Units that must agree (sum, MIN, comparison): the common unit, or report them."""
        known = [p for p in parts if isinstance(p, Unit)]
        if not known:
            return UNKNOWN if UNKNOWN in parts else LITERAL
        if any(k != known[0] for k in known):
            listed = " and ".join(dict.fromkeys(str(k) for k in known))
            self.problems.append(f"{what} mixes {listed}")
            return UNKNOWN
        return UNKNOWN if UNKNOWN in parts else known[0]

    def expect(self, what: str, got: Inferred, want: Unit) -> None:
        if isinstance(got, Unit) and got != want:
            self.problems.append(f"{what} is {got} but must be {want}")

    @staticmethod
    def product(a: Inferred, b: Inferred, divide: bool = False) -> Inferred:
        if UNKNOWN in (a, b):
            return UNKNOWN
        if a is LITERAL and b is LITERAL:
            return LITERAL
        left = DMNL if a is LITERAL else a
        right = DMNL if b is LITERAL else b
        return left / right if divide else left * right

    # -- inference ----------------------------------------------------------------------------
    def infer(self, node) -> Inferred:
        from pysd.translators.structures import abstract_expressions as ae

        if isinstance(node, (bool, int, float, np.ndarray, np.integer, np.floating)):
            return LITERAL
        if isinstance(node, ae.ReferenceStructure):
            name = _norm(node.reference)
            return YEAR if name == "time" else self.units.get(name, UNKNOWN)
        if isinstance(node, ae.ArithmeticStructure):
            return self.arithmetic(node)
        if isinstance(node, ae.LogicStructure):
            return self.logic(node)
        if isinstance(node, ae.CallStructure):
            return self.call(_norm(node.function.reference), node.arguments)
        return self.stateful(node)

    def arithmetic(self, node) -> Inferred:
        args = node.arguments
        if node.operators == ["negative"]:
            return self.infer(args[0])
        acc = self.infer(args[0])
        for op, arg in zip(node.operators, args[1:], strict=True):
            if op == "^":
                acc = self.power(acc, arg)
                continue
            right = self.infer(arg)
            if op in "+-":
                acc = self.same(f"'{op}'", acc, right)
            else:
                acc = self.product(acc, right, divide=op == "/")
        return acc

    def power(self, base: Inferred, exponent_node) -> Inferred:
        literal = _literal_number(exponent_node)
        if literal is not None:
            if not isinstance(base, Unit):
                return base
            return base ** Fraction(literal).limit_denominator(1000)
        exponent = self.infer(exponent_node)
        self.expect("the exponent of '^'", exponent, DMNL)
        self.expect("the base of '^' (with a non-literal exponent)", base, DMNL)
        return DMNL if isinstance(base, Unit) else base

    def logic(self, node) -> Inferred:
        parts = [self.infer(a) for a in node.arguments]
        if node.operators[0] in ("=", "<>", "<", ">", "<=", ">="):
            self.same(f"comparison '{node.operators[0]}'", *parts)
        return DMNL

    def call(self, name: str, args) -> Inferred:
        units = [self.infer(a) for a in args]
        if name in self.lookups:
            return self.units.get(name, UNKNOWN)
        upper = name.upper().replace("_", " ")
        if name in ("exp", "ln", "log"):
            for u in units:
                self.expect(f"the argument of {upper}", u, DMNL)
            return DMNL
        if name == "sqrt":
            return units[0] ** Fraction(1, 2) if isinstance(units[0], Unit) else units[0]
        if name in ("abs", "integer", "sum", "vmin", "vmax"):
            return units[0]
        if name == "prod":
            return self.prod(units[0], args[0])
        if name in ("min", "max", "active_initial", "random_uniform"):
            return self.same(upper, *units[:2])
        if name == "modulo":
            return self.same(upper, *units)
        if name == "if_then_else":
            return self.same("IF THEN ELSE branches", units[1], units[2])
        if name == "step":
            self.expect("the time of STEP", units[1], YEAR)
            return units[0]
        if name in ("pulse", "pulse_train"):
            for u in units:
                self.expect(f"a time argument of {upper}", u, YEAR)
            return DMNL
        if name == "ramp":
            for u in units[1:]:
                self.expect("a time argument of RAMP", u, YEAR)
            return self.product(units[0], YEAR)
        if name in ("zidz", "xidz"):
            ratio = self.product(units[0], units[1], divide=True)
            if name == "xidz":
                ratio = self.same("XIDZ's ratio and its fallback value", ratio, units[2])
            return ratio
        if name == "power":
            return self.power(units[0], args[1])
        return UNKNOWN

    def prod(self, unit: Inferred, arg) -> Inferred:
        """PROD over the ``Dim!`` ranges of its argument multiplies the unit that many times."""
        if not isinstance(unit, Unit) or unit.dimensionless:
            return unit
        count = math.prod(self.sizes.get(d, 0) for d in _banged_dims(arg))
        return unit**count if count else UNKNOWN

    def stateful(self, node) -> Inferred:
        from pysd.translators.structures import abstract_expressions as ae

        if isinstance(node, ae.IntegStructure):
            flow = self.infer(node.flow)
            stock = self.same(
                "INTEG's initial value and flow*year",
                self.infer(node.initial),
                self.product(flow, YEAR),
            )
            return stock
        if isinstance(node, (ae.SmoothStructure, ae.SmoothNStructure)):
            return self.delay("SMOOTH", node.input, node.smooth_time, node.initial)
        if isinstance(node, (ae.DelayStructure, ae.DelayNStructure, ae.DelayFixedStructure)):
            return self.delay("DELAY", node.input, node.delay_time, node.initial)
        if isinstance(node, ae.TrendStructure):
            self.infer(node.input)
            self.expect("the averaging time of TREND", self.infer(node.average_time), YEAR)
            trend = self.infer(node.initial_trend)
            self.expect("the initial trend of TREND", trend, YEAR**-1)
            return YEAR**-1
        if isinstance(node, ae.ForecastStructure):
            for what, part in (("averaging time", node.average_time), ("horizon", node.horizon)):
                self.expect(f"the {what} of FORECAST", self.infer(part), YEAR)
            return self.infer(node.input)
        if isinstance(node, ae.InitialStructure):
            return self.infer(node.initial)
        if isinstance(node, ae.SampleIfTrueStructure):
            self.infer(node.condition)
            return self.same(
                "SAMPLE IF TRUE input and initial value",
                self.infer(node.input),
                self.infer(node.initial),
            )
        if isinstance(node, ae.InlineLookupsStructure):
            self.infer(node.argument)
            return LITERAL  # a WITH LOOKUP table returns the unit of its left side
        if isinstance(node, ae.GameStructure):
            return self.infer(node.expression)
        return UNKNOWN

    def delay(self, what: str, value, time, initial) -> Inferred:
        self.expect(f"the time of {what}", self.infer(time), YEAR)
        return self.same(f"{what} input and initial value", self.infer(value), self.infer(initial))


def _banged_dims(node) -> list[str]:
    """Subscript ranges summed over (``Dim!``) anywhere inside ``node``."""
    from pysd.translators.structures import abstract_expressions as ae

    found: list[str] = []
    if isinstance(node, ae.ReferenceStructure) and node.subscripts is not None:
        found += [s[:-1] for s in node.subscripts.subscripts if s.endswith("!")]
    for name in getattr(node, "__dataclass_fields__", {}):
        value = getattr(node, name)
        for child in value if isinstance(value, tuple) else (value,):
            found += _banged_dims(child)
    return list(dict.fromkeys(found))


def check_units(path: str | Path | None = None) -> list[str]:
    """Check that every equation of a `.mdl` file is dimensionally consistent.

    Parameters
    ----------
    path : the model file; default ``model/urbsim.mdl``.

    Returns
    -------
    list of str
        One line per problem, ``FILE:LINE: 'Variable': what is wrong``; empty when consistent.

    Raises
    ------
    ModelError
        If the file cannot be parsed at all.
    """
    info = model_info(path)
    return list(_check_units_cached(info.path, info.path.stat().st_mtime_ns, Path.cwd()))


@cache
def _check_units_cached(path: Path, mtime_ns: int, cwd: Path) -> tuple[str, ...]:
    """The problems of one file version (messages show paths relative to ``cwd``)."""
    info = model_info(path)
    where = display_path(info.path)
    section = abstract_model(info.path).sections[0]

    problems: list[str] = []
    units: dict[str, Inferred] = {}
    for el in section.elements:
        text = (el.units or "").strip()
        if not text:
            units[_norm(el.name)] = UNKNOWN
            continue
        try:
            units[_norm(el.name)] = parse_unit(text)
        except UnitSyntaxError as exc:
            units[_norm(el.name)] = UNKNOWN
            problems.append(f"{where}:{info.variables[el.name].line}: {el.name!r}: {exc}")
    lookups = {_norm(v.name) for v in info.variables.values() if v.kind == "lookup"}
    sizes = {dim: len(elements) for dim, elements in info.subscripts.items()}

    for el in section.elements:
        declared = units[_norm(el.name)]
        checker = _Checker(units, lookups, sizes)
        for component in el.components:
            _check_component(checker, component.ast, declared)
        prefix = f"{where}:{info.variables[el.name].line}: {el.name!r}: "
        problems += [prefix + p for p in dict.fromkeys(checker.problems)]
    return tuple(problems)


def _check_component(checker: _Checker, ast, declared: Inferred) -> None:
    """Compare one equation's right side with its declared unit."""
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(ast, ae.LookupsStructure | ae.DataStructure):
        return
    if isinstance(ast, ae.IntegStructure) and isinstance(declared, Unit):
        flow, initial = checker.infer(ast.flow), checker.infer(ast.initial)
        if isinstance(flow, Unit) and flow != declared / YEAR:
            checker.problems.append(
                f"the stock is {declared}, so its flow must be {declared / YEAR}, but the "
                f"flow is {flow}"
            )
        if isinstance(initial, Unit) and initial != declared:
            checker.problems.append(f"the stock is {declared} but its initial value is {initial}")
        return
    right = checker.infer(ast)
    if isinstance(declared, Unit) and isinstance(right, Unit) and right != declared:
        checker.problems.append(f"left side is {declared} but right side is {right}")
