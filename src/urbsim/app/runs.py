"""Model runs behind the app: one compiled model per process, runs cached by their parameters.

Streamlit reruns the whole page on every widget change, so everything slow is cached:

- the compiled model and the presets (``st.cache_resource``: one per process);
- the current scenario together with its live uncertainty ensemble, ONE vectorized call of
  ``1 + ENSEMBLE_SIZE`` runs, keyed by (preset, changed values, seed) (``st.cache_resource``:
  shared read-only, not copied on every rerun);
- single runs of other scenarios (baseline, compare tab) and the sensitivity batch.

The computations themselves live in :mod:`urbsim.app.compute` (no Streamlit there).
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
import xarray as xr

from urbsim.app.compute import (
    BASELINE,
    COMPARE_YEARS,
    ENSEMBLE_SIZE,
    OUTPUTS,
    SENSITIVITY_YEARS,
    default_preset,
    headline,
    overrides_key,
    scenario_for,
    scorecard_frame,
    simulate_case,
    simulate_live,
    simulate_tornado,
)
from urbsim.model import Model, load_model
from urbsim.scenarios import Scenario, list_scenarios

__all__ = [
    "BASELINE",
    "COMPARE_YEARS",
    "ENSEMBLE_SIZE",
    "OUTPUTS",
    "SENSITIVITY_YEARS",
    "case_run",
    "default_preset",
    "get_model",
    "get_presets",
    "headline",
    "live_runs",
    "overrides_key",
    "scenario_for",
    "scorecard_frame",
    "tornado_runs",
]


@st.cache_resource(show_spinner=False)
def get_model() -> Model:
    """The fast-engine model, compiled once per server process."""
    model = load_model()
    model.time  # noqa: B018 - compiles now, not on the first user's slider move
    return model


@st.cache_resource(show_spinner=False)
def get_presets() -> dict[str, Scenario]:
    """The built-in scenarios by name (validated against the model)."""
    return {s.name: s for s in list_scenarios(get_model().info)}


# -- cached wrappers: Streamlit hashes the plain-text arguments ---------------------------------
# Resource caches: shared by every session of the process without a copy per read (the page
# never changes a result), and filled before the first visit by urbsim.app.server.warm.


@st.cache_resource(max_entries=32, show_spinner=False)
def live_runs(preset: str, key: str, seed: int) -> tuple[xr.Dataset, xr.Dataset]:
    """Cached :func:`simulate_live` of the preset with the changes in ``key`` (JSON)."""
    scenario = scenario_for(get_presets(), preset, json.loads(key))
    return simulate_live(get_model(), scenario, seed)


@st.cache_resource(max_entries=64, show_spinner=False)
def case_run(preset: str, key: str) -> xr.Dataset:
    """Cached :func:`simulate_case` of the preset with the changes in ``key`` (JSON)."""
    return simulate_case(get_model(), scenario_for(get_presets(), preset, json.loads(key)))


@st.cache_resource(max_entries=16, show_spinner=False)
def tornado_runs(preset: str, key: str) -> pd.DataFrame:
    """Cached :func:`simulate_tornado` of the preset with the changes in ``key`` (JSON)."""
    return simulate_tornado(get_model(), scenario_for(get_presets(), preset, json.loads(key)))
