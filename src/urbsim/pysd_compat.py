"""PySD 3.14.3 is pinned; this module keeps its known noise out of users' consoles.

PySD raises pandas deprecation warnings (``DataFrame.set_index(inplace=True)``) and imports a
deprecated chardet module. They are silenced only around PySD calls, by module, so urbsim's own
warnings and everyone else's still show.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path


@contextmanager
def quiet_pysd() -> Iterator[None]:
    """Silence PySD's known deprecation warnings inside the ``with`` block only."""
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=r"pysd(\.|$)")
        try:
            from pandas.errors import Pandas4Warning
        except ImportError:  # pandas < 3 has no Pandas4Warning
            pass
        else:
            warnings.filterwarnings("ignore", category=Pandas4Warning, module=r"pysd(\.|$)")
        yield


# PySD's first import pulls in a deprecated chardet module; import it here, quietly, once, so
# every later ``import pysd...`` in urbsim (and in users' code) is silent.
with quiet_pysd():
    import pysd  # noqa: E402, F401

from urbsim import mdlguard  # noqa: E402

mdlguard.install()  # no model text reaches Python's eval through PySD's parser


def abstract_model(path: str | Path):
    """PySD's abstract model of a `.mdl` file, parsed once per file version.

    Model metadata, the unit checker, the engine and the app's diagram all read the same parse
    (parsing the project's model takes seconds). Treat the result as read-only.

    Raises
    ------
    urbsim.errors.ModelError
        If the file is missing, unsafe (see :mod:`urbsim.mdlguard`) or PySD cannot parse it.
    """
    p = Path(path).resolve()
    mdlguard.read_model_text(p)
    return _parse(p, p.stat().st_mtime_ns)


@cache
def _parse(path: Path, mtime_ns: int):
    """Parse with PySD, or load the verified parse of the same bytes from the on-disk cache
    (see :mod:`urbsim.cache`: keyed by the file's sha256 and PySD's version)."""
    import hashlib
    import pickle

    import pysd
    from pysd.translators.vensim.vensim_file import VensimFile

    from urbsim import cache
    from urbsim.errors import ModelError, UrbsimError

    key = f"{hashlib.sha256(path.read_bytes()).hexdigest()}-pysd{pysd.__version__}"
    try:
        cached = cache.subdir("parsed") / f"{key}.pickle"
    except cache.CacheUnavailable:  # a read-only home only costs each start a parse
        cached = None
    am = cache.load_parse(cached, key) if cached else None
    if am is not None:
        return am
    try:
        with quiet_pysd():
            vf = VensimFile(path)
            vf.parse()
            am = vf.get_abstract_model()
    except Exception as exc:  # PySD raises bare exceptions with long messages
        unsafe = mdlguard.unsafe_cause(exc)
        if unsafe is not None:  # parsimonious wraps it in a VisitationError
            raise mdlguard.UnsafeModel(f"{path}: {unsafe}") from None
        first = " ".join(str(exc).split("\n")[0].split())
        raise ModelError(f"{path}: cannot be parsed as a Vensim model: {first}") from exc
    if cached:
        with suppress(OSError, UrbsimError):  # not stored: the next start parses again
            cache.store(cached, pickle.dumps(am), key)
    return am
