"""PySD 3.14.3 is pinned; this module keeps its known noise out of users' consoles.

PySD raises pandas deprecation warnings (``DataFrame.set_index(inplace=True)``) and imports a
deprecated chardet module. They are silenced only around PySD calls, by module, so urbsim's own
warnings and everyone else's still show.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


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
