"""urbsim: county-town urbanization in Inner Mongolia under the 2023-2025 plan.

A system-dynamics scenario simulator of the plan's people-land-money linkage (人地钱挂钩).
The model's equations live in ``model/urbsim.mdl``; PySD is the reference runner and urbsim's
own engine compiles the same file into vectorized array code.

Example
-------
>>> import urbsim
>>> model = urbsim.load_model()
>>> ds = model.run(urbsim.load_scenario("plan"), outputs=["county_town_share"])
"""

from __future__ import annotations

__version__ = "0.1.0"

from urbsim.errors import (  # noqa: E402
    ModelError,
    OutputError,
    ParameterError,
    ScenarioError,
    UnsupportedFeature,
    UrbsimError,
)
from urbsim.indicators import INDICATORS, TARGETS  # noqa: E402
from urbsim.model import Model, load_model  # noqa: E402


def load_scenario(name_or_path):
    """Load and validate a scenario by name (``scenarios/NAME.toml``) or path.

    See :func:`urbsim.scenarios.load_scenario`.
    """
    from urbsim.scenarios import load_scenario as _load

    return _load(name_or_path)


def plot(ds, chart="county_town_share", **kwargs):
    """One stamped Altair chart of a run, a multi-run Dataset or a Monte Carlo result.

    See :func:`urbsim.charts.plot` (``lang``, ``county_type``, ``baseline``).
    """
    from urbsim.charts import plot as _plot

    return _plot(ds, chart, **kwargs)


__all__ = [
    "INDICATORS",
    "TARGETS",
    "Model",
    "ModelError",
    "OutputError",
    "ParameterError",
    "ScenarioError",
    "UnsupportedFeature",
    "UrbsimError",
    "__version__",
    "load_model",
    "load_scenario",
    "plot",
]
