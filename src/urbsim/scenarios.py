"""Named scenarios: TOML files of parameter values, checked against the model's documented ranges.

Only ``[parameters]`` is required: ``name`` defaults to the file name (without ``.toml``), the
title to the name and the description to nothing. A full scenario file looks like this::

    name = "plan"
    [title]
    en = "The plan as written"
    zh = "按方案实施"
    [description]
    en = "..."
    zh = "..."
    [parameters]
    "plan switch" = 1
    "park investment policy" = { urb = 20, agr = 15, eco = 8 }
    [uncertainty]   # optional: Monte Carlo distributions, read by urbsim.ensemble

Every problem is reported as one line naming the file and line, e.g.
``scenarios/plan.toml:14: 'reward per settler' = 20000 is outside its documented range
[0, 10000] (yuan/person/year)``.

Example
-------
>>> plan = load_scenario("plan")
>>> plan.with_overrides({"reward per settler": 5000}).name
'plan+custom'
"""

from __future__ import annotations

import json
import re
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from urbsim.errors import ParameterError, ScenarioError
from urbsim.fileio import display_path
from urbsim.mdlinfo import ModelInfo, model_info
from urbsim.params import coerce_params, resolve_name, short_repr
from urbsim.paths import scenario_dir

LANGUAGES = ("en", "zh")
MAX_SCENARIO_BYTES = 1024 * 1024
"""Largest scenario file read (and uploaded to the app), in bytes."""
_TOP_KEYS = ("name", "title", "description", "parameters", "uncertainty")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SET_RE = re.compile(
    r"^\s*(?P<name>[^\[\]=]+?)\s*(?:\[\s*(?P<element>[^\[\]=]+?)\s*\])?"
    r"\s*=(?P<value>.*)$"
)


@dataclass(frozen=True)
class Scenario:
    """A named set of parameter values with a bilingual title and description.

    Attributes
    ----------
    name : short identifier (the file name without ``.toml`` for built-in scenarios).
    title : ``{"en": ..., "zh": ...}``.
    description : ``{"en": ..., "zh": ...}``: what the scenario changes and why.
    parameters : constant name (as written) -> number, or ``{element: number}`` for a
        subscripted constant; units and ranges are those of the model.
    uncertainty : the raw ``[uncertainty]`` table (Monte Carlo distributions).
    path : the file it was read from, or ``None``.
    """

    name: str
    title: dict[str, str]
    description: dict[str, str]
    parameters: dict[str, Any] = field(default_factory=dict)
    uncertainty: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def with_overrides(self, params: Mapping[str, Any]) -> Scenario:
        """A copy with some parameters replaced, named ``"<name>+custom"``.

        An override ``{element: number}`` of a table parameter changes only those elements.
        Names match case-, space- and underscore-insensitively.
        """
        if not params:
            return self
        merged = dict(self.parameters)
        by_key = {_normalize(k): k for k in merged}
        for name, value in params.items():
            old_key = by_key.get(_normalize(name), name)
            old = merged.pop(old_key, None)
            if isinstance(old, Mapping) and isinstance(value, Mapping):
                value = {**old, **value}
            merged[old_key] = value
            by_key[_normalize(name)] = old_key
        return replace(
            self,
            name=f"{self.name}+custom",
            title={
                "en": f"{self.title.get('en', self.name)} + custom settings",
                "zh": f"{self.title.get('zh', self.name)}（自定义）",
            },
            parameters=merged,
            path=None,
        )

    def arrays(self, info: ModelInfo | None = None, n: int = 1) -> dict[str, np.ndarray]:
        """Validated parameter arrays by Vensim name (see :func:`urbsim.params.coerce_params`)."""
        where = display_path(self.path) if self.path else f"scenario {self.name!r}"
        return coerce_params(info or model_info(), self.parameters, n=n, where=where)

    def to_toml(self) -> str:
        """The scenario as TOML text that :func:`load_scenario` reads back unchanged."""
        lines = [f"name = {_toml_value(self.name)}"]
        for table in ("title", "description"):
            lines += ["", f"[{table}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in getattr(self, table).items()]
        lines += ["", "[parameters]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in self.parameters.items()]
        text = "\n".join(lines) + "\n"
        if self.uncertainty:
            import tomli_w

            text += "\n" + tomli_w.dumps({"uncertainty": self.uncertainty})
        return text


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    """TOML for the values a scenario holds: strings, numbers and one-level tables."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, np.generic):  # numpy scalars from arrays or sliders
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    raise ScenarioError(
        f"cannot write {value!r} to a scenario file: values are numbers or tables "
        "{element = number}"
    )


def _normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def _split_dotted(header: str) -> list[str]:
    """Split a TOML dotted key (``parameters."a b"``) into its parts, unquoted."""
    parts = re.findall(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^.\s]+)\s*(?:\.|$)', header)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of each key and table header, by its full dotted path.

    A light scan that is enough to point at a scenario's keys; ``tomllib`` does the parsing.
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", raw)
        if header:
            table = tuple(_split_dotted(header.group(1)))
            lines.setdefault(table, number)
            continue
        key = re.match(r'^\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_.\-]+)\s*=', raw)
        if key:
            lines.setdefault(table + tuple(_split_dotted(key.group(1))), number)
    return lines


def _syntax_error(where: str, exc: tomllib.TOMLDecodeError, text: str) -> ScenarioError:
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        line, column = match.groups()
        detail = message[: match.start()].strip()
    else:
        line = str(max(1, text.count("\n")))
        detail = re.sub(r"\s*\(at end of document\)", "", message)
        return ScenarioError(key="toml_syntax_end", where=f"{where}:{line}", detail=detail)
    return ScenarioError(key="toml_syntax", where=f"{where}:{line}", detail=detail, column=column)


def _texts(data: dict, key: str, where: str, lines: dict, fallback: str) -> dict[str, str]:
    """The ``[key]`` table's texts by language, or ``fallback`` in both when it is absent."""
    if key not in data:
        return {lang: fallback for lang in LANGUAGES}
    table = data.get(key)
    at = f"{where}:{lines.get((key,), 1)}"
    if not isinstance(table, dict):
        raise ScenarioError(key="texts_missing", where=at, table=key)
    for lang in LANGUAGES:
        value = table.get(lang)
        if not isinstance(value, str) or not value.strip():
            raise ScenarioError(key="texts_empty", where=at, table=key, language=lang)
    extra = sorted(set(table) - set(LANGUAGES))
    if extra:
        raise ScenarioError(
            key="texts_language",
            where=f"{where}:{lines.get((key, extra[0]), 1)}",
            table=key,
            language=extra[0],
            allowed=", ".join(LANGUAGES),
        )
    return dict(table)


def _check_parameters(params: Any, info: ModelInfo, where: str, lines: dict) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise ScenarioError(key="parameters_not_table", where=where)
    seen: dict[str, str] = {}
    for key, value in params.items():
        at = f"{where}:{lines.get(('parameters', key), lines.get(('parameters',), 1))}"
        constant = resolve_name(info, key, at)
        if constant.name in seen:
            raise ParameterError(
                key="set_twice", where=at, given=key, name=constant.name, first=seen[constant.name]
            )
        seen[constant.name] = key
        if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            raise ParameterError(
                key="value_number_or_table" if constant.dims else "value_number",
                where=at,
                given=key,
                name=constant.name,
                units=constant.units,
                value=short_repr(value),
            )
        coerce_params(info, {key: value}, n=1, where=at)
    return dict(params)


def _check_uncertainty(table: Any, info: ModelInfo, where: str, text: str) -> dict[str, Any]:
    """Validate ``[uncertainty]`` with the ensemble package's parser when it is installed."""
    try:
        from urbsim.ensemble.distributions import parse_uncertainty
    except ModuleNotFoundError as exc:
        if exc.name not in ("urbsim.ensemble", "urbsim.ensemble.distributions"):
            raise
        if not isinstance(table, dict):
            raise ScenarioError(f"{where}: 'uncertainty' must be a table [uncertainty]") from None
        return dict(table)
    parse_uncertainty(info, table, where, text=text)
    return dict(table)


def read_scenario(path: Path, info: ModelInfo | None = None) -> Scenario:
    """Read and validate one scenario file (a regular file of at most
    :data:`MAX_SCENARIO_BYTES`; devices, FIFOs and folders are refused unread).

    Raises
    ------
    ScenarioError
        With ``FILE:LINE:`` and what is allowed, for every kind of bad content.
    """
    where = display_path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ScenarioError(f"{where}: not a regular file; give a .toml scenario file")
        if st.st_size > MAX_SCENARIO_BYTES:
            raise _too_large(where, st.st_size)
        with path.open("rb") as fh:
            data = fh.read(MAX_SCENARIO_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(key="scenario_file_missing", where=where) from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot be read: {exc.strerror or exc}") from None
    return parse_scenario(data, where, info, path=path)


def _too_large(where: str, size: int) -> ScenarioError:
    return ScenarioError(key="too_large_file", where=where, size=size, limit=MAX_SCENARIO_BYTES)


def parse_scenario(
    data: bytes, where: str, info: ModelInfo | None = None, path: Path | None = None
) -> Scenario:
    """Validate the bytes of a scenario file; ``where`` names it in messages (a path, or an
    uploaded file's name). A UTF-8 byte-order mark is accepted.

    Raises
    ------
    ScenarioError
        As :func:`read_scenario`.
    """
    if len(data) > MAX_SCENARIO_BYTES:
        raise _too_large(where, len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(key="not_utf8", where=f"{where}:{line}") from None
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(where, exc, text) from None
    except RecursionError:
        raise ScenarioError(key="too_deep", where=where) from None
    except ValueError:  # tomllib's only other error: an integer of over 4,300 digits
        raise ScenarioError(
            key="too_many_digits", where=where, digits=sys.get_int_max_str_digits()
        ) from None
    return _scenario_from(parsed, text, where, info, path)


def _scenario_from(
    data: dict, text: str, where: str, info: ModelInfo | None, path: Path | None
) -> Scenario:
    lines = key_lines(text)
    for key in data:
        if key not in _TOP_KEYS:
            raise ScenarioError(
                key="unknown_key",
                where=f"{where}:{lines.get((key,), 1)}",
                given=key,
                allowed=", ".join(_TOP_KEYS),
            )
    # Only [parameters] is needed: the name defaults to the file's, the titles to the name.
    name = data.get("name", Path(where).stem)
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(key="name_not_string", where=f"{where}:{lines.get(('name',), 1)}")
    info = info or model_info()
    return Scenario(
        name=name,
        title=_texts(data, "title", where, lines, name),
        description=_texts(data, "description", where, lines, ""),
        parameters=_check_parameters(data.get("parameters", {}), info, where, lines),
        uncertainty=_check_uncertainty(data.get("uncertainty", {}), info, where, text),
        path=path,
    )


def load_scenario(name_or_path: str | Path, info: ModelInfo | None = None) -> Scenario:
    """Load a built-in scenario by name (``scenarios/NAME.toml``) or any scenario file by path.

    Parameters
    ----------
    name_or_path : a scenario name such as ``"plan"``, or a path to a ``.toml`` file.
    info : the model to validate against; default ``model/urbsim.mdl``.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        return read_scenario(Path(name_or_path), info)
    path = scenario_dir() / f"{text}.toml"
    if not path.is_file():
        names = ", ".join(p.stem for p in scenario_files()) or "none"
        raise ScenarioError(key="scenario_unknown", scenario=text, names=names)
    return read_scenario(path, info)


def scenario_files() -> list[Path]:
    """The built-in scenario files, sorted by name."""
    return sorted(scenario_dir().glob("*.toml"), key=lambda p: p.stem)


def list_scenarios(info: ModelInfo | None = None) -> list[Scenario]:
    """Every built-in scenario, validated, sorted by name."""
    return [read_scenario(p, info) for p in scenario_files()]


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ``--set`` options: ``"VAR=VALUE"`` or ``"VAR[element]=VALUE"`` with a number VALUE.

    Several ``VAR[element]`` items for one variable build one table. Names and elements are
    checked against the model later, where the value is used.

    Example
    -------
    >>> parse_set(["reward per settler=5000", "park investment policy[urb]=30"])
    {'reward per settler': 5000.0, 'park investment policy': {'urb': 30.0}}
    """
    out: dict[str, Any] = {}
    for item in items:
        match = _SET_RE.match(item)
        value = parse_number(match.group("value")) if match else None
        if match is None or value is None:
            raise ParameterError(
                f"--set {item!r}: expected VAR=VALUE or VAR[element]=VALUE with a number VALUE, "
                'e.g. --set "reward per settler=5000" or --set "park investment policy[urb]=30"'
            )
        name, element = match.group("name"), match.group("element")
        if element is None:
            out[name] = value
            continue
        table = out.setdefault(name, {})
        if not isinstance(table, dict):
            raise ParameterError(
                f"--set {item!r}: {name!r} was already set to one number for all elements; "
                "give either VAR=VALUE or VAR[element]=VALUE items"
            )
        table[element] = value
    return out


def parse_number(text: str) -> float | None:
    """A finite number written in ``text`` (as ``--set`` and app URLs give it), else None."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if np.isfinite(value) else None
