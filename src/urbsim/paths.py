"""Where the model, scenarios and observed data live.

In a source checkout (``pip install -e .``) they are the top-level ``model/`` and ``scenarios/``
folders; a wheel bundles copies under ``urbsim/_bundled``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent


def _root(name: str) -> Path:
    for candidate in (_CHECKOUT / name, _PACKAGE / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    return _CHECKOUT / name


def model_dir() -> Path:
    """The folder holding ``urbsim.mdl`` and ``data/``."""
    return _root("model")


def default_model_path() -> Path:
    """The project's model file, ``model/urbsim.mdl``."""
    return model_dir() / "urbsim.mdl"


def scenario_dir() -> Path:
    """The folder of built-in scenarios, ``scenarios/``."""
    return _root("scenarios")


def observed_path() -> Path:
    """Official series used for calibration, ``model/data/observed.csv``."""
    return model_dir() / "data" / "observed.csv"


def cache_dir() -> Path:
    """Where parsed and translated models and kernels are cached (``$URBSIM_CACHE_DIR``, else
    ``~/.cache/urbsim``), created private and checked by :func:`urbsim.cache.root`; every entry
    is verified before use, so deleting the folder is always safe."""
    from urbsim.cache import root

    return root()
