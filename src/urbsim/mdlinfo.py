"""What the model file says about itself: constants, units, ranges, sources, levers and sectors.

The `.mdl` is the one source of truth, so everything the package needs to know about a constant
(its unit, its ``[min,max,step]`` range, its source, whether it is a policy lever or an uncertain
assumption) is read from the equation's unit and comment fields through PySD's Vensim parser.

Comment conventions (see ``model/README.md``):

- ``Lever: <group>.`` marks a policy lever shown as a slider, grouped People / Land / Money /
  Jobs & industry / Housing / Public services.
- ``Uncertain.`` marks an assumption that Monte Carlo and sensitivity analysis vary over its range.
- ``Calibrated`` marks a value fitted by ``scripts/calibrate.py``.
- ``Source: ...`` names the official document, or says ``assumption``.

Example
-------
>>> info = model_info()
>>> info.constants["per capita land allotment"].range
(50.0, 110.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from urbsim.errors import ModelError
from urbsim.mdlguard import ModelRefused, read_model_text
from urbsim.paths import default_model_path
from urbsim.pysd_compat import abstract_model

LEVER_GROUPS = ("People", "Land", "Money", "Jobs & industry", "Housing", "Public services")
CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")

_LEVER_RE = re.compile(r"\bLever:\s*([A-Za-z& ]+?)\.")
_SOURCE_RE = re.compile(r"\bSource:\s*(.+)$", re.S)
_SECTOR_RE = re.compile(r"^\*{10,}\s*\n\s*\.(.+?)\s*\n\*{10,}", re.M)


@dataclass(frozen=True)
class VariableInfo:
    """One model variable as documented in the `.mdl`.

    Attributes
    ----------
    name : Vensim name as written in the file.
    units : Vensim unit string (for example ``"wperson/year"``).
    doc : the comment field.
    dims : subscript range names, in the order of the equation's left-hand side.
    kind : ``"constant"``, ``"lookup"``, ``"stateful"`` or ``"auxiliary"``.
    sector : the group (``.Population``, ``.Land`` ...) the equation sits in.
    line : 1-based line of the definition in the file.
    """

    name: str
    units: str
    doc: str
    dims: tuple[str, ...]
    kind: str
    sector: str
    line: int


@dataclass(frozen=True)
class ConstantInfo(VariableInfo):
    """A constant: a variable with a default value, a range and a source.

    Attributes
    ----------
    default : default value shaped by ``dims`` (a 0-d array for scalars).
    range : ``(min, max)`` from the Vensim ``[min,max]`` unit field, or ``None``.
    step : slider step from ``[min,max,step]``, or ``None``.
    source : text after ``Source:`` in the comment, or ``None`` if missing.
    lever : lever group, or ``None`` if the constant is not a policy lever.
    uncertain : whether Monte Carlo varies it by default.
    calibrated : whether ``scripts/calibrate.py`` fits it.
    structural : a definition (selector, unit conversion, simulation control) that scenarios
        cannot change.
    """

    default: np.ndarray = field(default_factory=lambda: np.zeros(()))
    range: tuple[float, float] | None = None
    step: float | None = None
    source: str | None = None
    lever: str | None = None
    uncertain: bool = False
    calibrated: bool = False
    structural: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """Everything the package reads from one `.mdl` file."""

    path: Path
    subscripts: dict[str, tuple[str, ...]]
    variables: dict[str, VariableInfo]
    constants: dict[str, ConstantInfo]
    sectors: tuple[str, ...]

    def levers(self) -> dict[str, list[ConstantInfo]]:
        """Policy levers by group, in the order of :data:`LEVER_GROUPS`."""
        out: dict[str, list[ConstantInfo]] = {g: [] for g in LEVER_GROUPS}
        for c in self.constants.values():
            if c.lever:
                out[c.lever].append(c)
        return out

    def settable(self) -> list[ConstantInfo]:
        """Constants a scenario may change: all but structural definitions."""
        return [c for c in self.constants.values() if not c.structural]

    def uncertain(self) -> list[ConstantInfo]:
        """Constants that Monte Carlo varies by default (marked ``Uncertain.``)."""
        return [c for c in self.constants.values() if c.uncertain]

    def resolve(self, name: str) -> str:
        """Return the Vensim spelling of ``name`` (case and spacing insensitive).

        Raises
        ------
        KeyError
            If no variable has that name.
        """
        try:
            return self._by_normalized_name[_normalize(name)]
        except KeyError:
            raise KeyError(name) from None

    @cached_property
    def _by_normalized_name(self) -> dict[str, str]:
        return {_normalize(real): real for real in self.variables}

    def element_index(self, dim: str, element: str) -> int:
        """Position of ``element`` in subscript range ``dim``."""
        return self.subscripts[dim].index(element)


def _normalize(name: str) -> str:
    return " ".join(name.strip().strip('"').replace("_", " ").split()).lower()


# a left-hand side: a plain or "quoted" name, optional [subscripts], then = (equation),
# ([ (lookup table) or : (subscript range)
_LHS_RE = re.compile(r'\s*("[^"]+"|[A-Za-z][^=\[\(~|:]*?)\s*(\[[^\]]*\])?\s*(=|\(\[|:)')


def definition_lines(text: str) -> dict[str, int]:
    """1-based line of each definition in a `.mdl` text, by normalized name (case, spaces
    and underscores ignored; see :func:`definition_line`)."""
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _LHS_RE.match(raw)
        if match:
            lines.setdefault(_normalize(match.group(1)), number)
    return lines


def name_clashes(text: str) -> list[tuple[tuple[int, str], tuple[int, str]]]:
    """Pairs of names that Vensim would take for one name although they are spelled differently.

    Vensim ignores case, spaces and underscores in names, and variables, subscript ranges and
    subscript elements share one namespace (an element ``ind`` and a range ``Ind`` clash).

    Returns
    -------
    ``((line, name), (line, other name))`` for each clash, in file order.
    """
    seen: dict[str, tuple[int, str]] = {}
    clashes = []
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _LHS_RE.match(raw)
        if not match:
            continue
        names = [match.group(1).strip().strip('"')]
        if match.group(3) == ":":
            elements = raw.split(":", 1)[1].split("->")[0].split(",")
            names += [e.strip() for e in elements if e.strip() and "(" not in e]
        for name in names:
            first = seen.setdefault(_normalize(name), (number, name))
            if first[1] != name:
                clashes.append((first, (number, name)))
    return clashes


def definition_line(lines: dict[str, int], name: str) -> int | None:
    """The line of ``name`` in ``definition_lines(text)``, or None."""
    return lines.get(_normalize(name))


def _definition_lines(text: str) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Map each normalized left-hand-side name to its first line, and list sector markers."""
    lines = definition_lines(text)
    sectors = [
        (text.count("\n", 0, m.start()) + 1, m.group(1).strip()) for m in _SECTOR_RE.finditer(text)
    ]
    return lines, sectors


def _sector_at(line: int, sectors: list[tuple[int, str]]) -> str:
    current = ""
    for start, name in sectors:
        if start <= line:
            current = name
    return current


def _kind(element) -> str:
    # pysd_compat (imported above) has already imported PySD with its known warnings silenced.
    from pysd.translators.structures import abstract_expressions as ae

    asts = [c.ast for c in element.components]
    if all(isinstance(a, (int, float, np.ndarray)) for a in asts):
        return "constant"
    if any(isinstance(a, (ae.LookupsStructure, ae.GetLookupsStructure)) for a in asts):
        return "lookup"
    stateful = (
        ae.IntegStructure,
        ae.SmoothStructure,
        ae.SmoothNStructure,
        ae.DelayStructure,
        ae.DelayNStructure,
        ae.DelayFixedStructure,
        ae.TrendStructure,
        ae.InitialStructure,
        ae.SampleIfTrueStructure,
        ae.ForecastStructure,
    )
    if any(isinstance(a, stateful) for a in asts):
        return "stateful"
    return "auxiliary"


def subscript_ranges(ranges, root: Path | None = None) -> dict[str, list[str]]:
    """Elements of each of PySD's subscript ranges, a copy (``Dim2 <-> Dim``) taking the
    elements of the range it copies; GET XLS/DIRECT SUBSCRIPT ranges are read with PySD's
    loader from the file next to the model (in folder ``root``)."""
    out = {r.name: list(r.subscripts) for r in ranges if isinstance(r.subscripts, list)}
    for r in ranges:
        if isinstance(r.subscripts, dict):
            out[r.name] = _external_subscript(r.name, r.subscripts, root or Path.cwd())
    by_norm = {_normalize(k): v for k, v in out.items()}
    for r in ranges:
        if isinstance(r.subscripts, str):
            source = by_norm.get(_normalize(str(r.subscripts)))
            if source is None:
                raise ModelError(f"subscript range '{r.name}' copies '{r.subscripts}', not defined")
            out[r.name] = list(source)
    return out


def _external_subscript(name: str, spec: dict, root: Path) -> list[str]:
    """The elements a GET XLS/DIRECT SUBSCRIPT range reads (PySD's ``ExtSubscript``)."""
    from pysd.py_backend.external import ExtSubscript

    from urbsim.pysd_compat import quiet_pysd

    try:
        with quiet_pysd():
            ext = ExtSubscript(
                spec["file"], spec["tab"], spec["firstcell"], spec["lastcell"], spec["prefix"],
                root,
            )  # fmt: skip
    except Exception as err:  # PySD's loader raises bare exceptions
        detail = " ".join(str(err).split())[:200]
        raise ModelError(
            f"subscript range '{name}': PySD cannot read {spec['file']!r}: {detail}"
        ) from err
    return [str(e) for e in ext.subscript]


def _positions(name: str, dim: str, subs: dict[str, tuple[str, ...]]) -> list[int]:
    """Positions in ``dim`` that a subscript ``name`` (an element, the range or a subrange)
    covers on a left-hand side."""
    elems = subs[dim]
    if name in elems:
        return [elems.index(name)]
    return [elems.index(e) for e in subs.get(name, elems)]


def _constant_default(element, dims: tuple[str, ...], subs: dict[str, tuple[str, ...]]):
    shape = tuple(len(subs[d]) for d in dims)
    value = np.full(shape, np.nan)
    # :EXCEPT: blocks first; the excepted elements' own definitions then overwrite them
    for comp in sorted(element.components, key=lambda c: not c.subscripts[1]):
        ix = [_positions(s, d, subs) for s, d in zip(comp.subscripts[0], dims, strict=True)]
        part = np.asarray(comp.ast, dtype=float)
        # a TABBED ARRAY or a flat list fills its block row by row, like PySD
        part = part.reshape(tuple(len(i) for i in ix)) if part.size > 1 else part
        value[np.ix_(*ix)] = part
    return value


def _dims_of(element, subs: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Subscript ranges of an element: per position, the smallest declared range that holds
    every element its definitions use (``x[SubA] = ... ~~| x[eco] = ...`` is over ``Type``)."""
    comps = [list(c.subscripts[0]) for c in element.components]
    dims = []
    for k in range(len(comps[0])):
        used: set[str] = set()
        for names in comps:
            used |= set(subs[names[k]]) if names[k] in subs else {names[k]}
        fits = [r for r, elems in subs.items() if used <= set(elems)]
        if not fits:
            raise ModelError(
                f"variable '{element.name}': subscripts {sorted(used)} fit no declared range"
            )
        named = {names[k] for names in comps}
        if len(named) == 1 and next(iter(named)) in subs:  # one range throughout keeps it
            dims.append(named.pop())
        else:  # as the engine: the smallest, the first declared among equals
            dims.append(min(fits, key=lambda r: len(subs[r])))
    return tuple(dims)


def _parse_doc(doc: str) -> dict:
    lever = _LEVER_RE.search(doc)
    source = _SOURCE_RE.search(doc)
    return {
        "lever": lever.group(1).strip() if lever else None,
        "source": " ".join(source.group(1).split()) if source else None,
        "uncertain": bool(re.search(r"\bUncertain\.", doc)),
        "calibrated": bool(re.search(r"\bCalibrated\b", doc)),
        "structural": bool(source and re.match(r"(definition|unit conversion)\b", source.group(1))),
    }


@cache
def _model_info_cached(path: Path, mtime_ns: int) -> ModelInfo:
    am = abstract_model(path)
    text = read_model_text(path)
    section = am.sections[0]
    ranges = subscript_ranges(section.subscripts, path.parent)
    subs = {k: tuple(v) for k, v in ranges.items()}
    def_lines, sectors = _definition_lines(text)
    variables: dict[str, VariableInfo] = {}
    constants: dict[str, ConstantInfo] = {}
    for el in section.elements:
        line = def_lines.get(_normalize(el.name), 0)
        dims = _dims_of(el, subs)
        kind = _kind(el)
        base = dict(
            name=el.name,
            units=(el.units or "").strip(),
            doc=(el.documentation or "").strip(),
            dims=dims,
            kind=kind,
            sector=_sector_at(line, sectors),
            line=line,
        )
        variables[el.name] = VariableInfo(**base)
        if kind == "constant":
            limits = tuple(el.limits or ())
            lo, hi = (limits + (None, None))[:2]
            step = limits[2] if len(limits) > 2 else None
            rng = (float(lo), float(hi)) if lo is not None and hi is not None else None
            constants[el.name] = ConstantInfo(
                **base,
                default=_constant_default(el, dims, subs),
                range=rng,
                step=float(step) if step is not None else None,
                **_parse_doc(base["doc"]),
            )
    return ModelInfo(
        path=path,
        subscripts=subs,
        variables=variables,
        constants=constants,
        sectors=tuple(dict.fromkeys(name for _, name in sectors)),
    )


def model_info(path: str | Path | None = None) -> ModelInfo:
    """Read the documentation of every variable in a `.mdl` file (cached per file version).

    Parameters
    ----------
    path : the `.mdl` file; default: the project's ``model/urbsim.mdl``.

    Returns
    -------
    ModelInfo
    """
    p = Path(path) if path is not None else default_model_path()
    if not p.is_file():
        raise ModelRefused(f"{p}: model file not found or not a regular file")
    return _model_info_cached(p.resolve(), p.stat().st_mtime_ns)
