"""What a `.mdl` file may contain before PySD reads it: no model text ever runs as Python.

PySD 3.14.3's Vensim parser passes pieces of model text to Python's ``eval``: the range of a
lookup (``x([(0,0)-(2,2)], ...)``, also inside ``WITH LOOKUP``), quoted strings, numbers and
function arguments (``pysd/translators/vensim/vensim_element.py``; the XMILE translator, which
urbsim never calls, does the same). A model whose range reads
``[(0,0)-(__import__('os').system('...'),2)]`` would run that command while being parsed.
urbsim closes this twice:

1. :func:`read_model_text` checks the file before PySD sees it: a regular file of at most
   :data:`MAX_MODEL_BYTES`, UTF-8, every lookup range made of numbers only, no lookup with more
   than :data:`MAX_LOOKUP_POINTS` points;
2. :func:`install` replaces ``eval`` in PySD's parser modules with :func:`literal`, which
   accepts only numbers, quoted strings and tuples/lists of them, and raises
   :class:`UnsafeModel` for anything else, so a form the text check missed is refused too.

The rest of PySD's translation path was audited: its other ``exec`` loads the split-model
modules PySD itself generated, and ``pysd.load`` runs the Python file PySD translated (whose
cached copy :mod:`urbsim.cache` verifies). urbsim's own engine puts no model text in the code it
generates (``tests/engine/test_codegen_safety.py``).
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

from urbsim.errors import ModelError

MAX_MODEL_BYTES = 4 * 1024 * 1024
"""Largest `.mdl` file read, in bytes (the project's model is about 70 KB)."""

MAX_LOOKUP_POINTS = 10_000
"""Most (x, y) points in one lookup table."""

_NUM = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
_PAIR = rf"\s*\({_NUM},{_NUM}\)\s*"
_RANGE = re.compile(rf"^{_PAIR}(?:[-,]{_PAIR})*$")
# a lookup range: "[(" up to the next "]", not a subscript like [Type]
_RANGE_TEXT = re.compile(r"\[\s*(\([^\]]*)\]?")
_POINT = re.compile(rf"\({_NUM},{_NUM}\)")


class ModelRefused(ModelError):
    """A model file refused before parsing (not a regular file, too large, not UTF-8, unsafe)."""


class UnsafeModel(ModelRefused):
    """Model text that PySD would evaluate as Python and that is not a plain literal."""


def read_model_text(path: Path) -> str:
    """The text of a `.mdl` file, checked to be safe for PySD's parser.

    Raises
    ------
    ModelRefused
        If the file is not a regular file, is larger than :data:`MAX_MODEL_BYTES`, is not UTF-8,
        has a lookup range that is not numbers only, or a lookup with too many points; the
        message names the file and the line.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ModelRefused(f"{path}: model file not found or not a regular file")
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelRefused(
                f"{path}: model file is {size:,} bytes; at most {MAX_MODEL_BYTES:,} are read"
            )
        raw = path.read_bytes()[: MAX_MODEL_BYTES + 1]
    except OSError as exc:
        raise ModelRefused(f"{path}: model file cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ModelRefused(
            f"{path}:{line}: model file is not UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "save it as UTF-8"
        ) from None
    _check_equations(path, text)
    return text


def _check_equations(path: Path, text: str) -> None:
    """Refuse lookup ranges that are not numbers and lookups with too many points."""
    body = re.split(r"\\\\\\---///", text, maxsplit=1)[0]  # the sketch is not parsed
    offset = 0
    for element in body.split("|"):
        equation = element.split("~", 1)[0]
        for m in _RANGE_TEXT.finditer(equation):
            if not m.group(0).endswith("]") or not _RANGE.match(m.group(1)):
                line = text.count("\n", 0, offset + m.start()) + 1
                shown = " ".join(m.group(0).split())[:60]
                raise UnsafeModel(
                    f"{path}:{line}: lookup range {shown!r} is not numbers only, like "
                    "[(0,0)-(10,10)]; urbsim refuses models whose text PySD would run as code"
                )
        points = len(_POINT.findall(equation))
        if points > MAX_LOOKUP_POINTS + 2:  # the range adds two pairs
            line = text.count("\n", 0, offset + len(element) - len(element.lstrip())) + 1
            raise ModelRefused(
                f"{path}:{line}: an equation with {points:,} (x, y) points; a lookup may have "
                f"at most {MAX_LOOKUP_POINTS:,}"
            )
        offset += len(element) + 1


def literal(text: str, *_ignored):
    """Evaluate ``text`` if it is a number, a quoted string or a tuple/list of them.

    Stands in for ``eval`` inside PySD's parser (see :func:`install`).

    Raises
    ------
    UnsafeModel
        For any other expression (a name, a call, an attribute, an operator other than a sign).
    """
    try:
        with warnings.catch_warnings():  # "1e" and the like: refused below, not warned about
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(str(text).strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise UnsafeModel(
            f"model text {str(text)[:60]!r} is not a number or a list of numbers"
        ) from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Expression, ast.Tuple, ast.List, ast.Load))
        ok = ok or (isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)))
        ok = ok or (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)))
        ok = ok or isinstance(node, (ast.USub, ast.UAdd))
        if not ok:
            raise UnsafeModel(
                f"model text {str(text)[:60]!r} is not a number or a list of numbers; urbsim "
                "refuses models whose text PySD would run as code"
            )
    try:
        return ast.literal_eval(tree)
    except ValueError:  # e.g. "--0": signs that literal_eval does not fold
        raise UnsafeModel(
            f"model text {str(text)[:60]!r} is not a number or a list of numbers"
        ) from None


def unsafe_cause(exc: BaseException) -> UnsafeModel | None:
    """The :class:`UnsafeModel` behind ``exc`` (parsimonious wraps it), if any."""
    seen = 0
    while exc is not None and seen < 32:
        if isinstance(exc, UnsafeModel):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def install() -> None:
    """Make PySD's Vensim and XMILE parsers use :func:`literal` instead of ``eval``."""
    from pysd.translators.vensim import vensim_element
    from pysd.translators.xmile import xmile_element

    for module in (vensim_element, xmile_element):
        module.eval = literal  # a module global shadows the builtin for that module's code
