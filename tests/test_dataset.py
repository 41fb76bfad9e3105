"""``Model.to_dataset`` builds Datasets from cached coordinates without xarray's merge: the
result must be identical to xarray's own construction, whatever the variables, inputs and
runs, and one Dataset's changes must not leak into the next."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import urbsim
from urbsim.indicators import INDICATORS, indicator_variables


@pytest.fixture(scope="module")
def model():
    return urbsim.load_model(engine="fast")


def reference(model, arrays, runs, attrs, inputs) -> xr.Dataset:
    """The same Dataset through xarray's public constructor (coordinates from labels)."""
    info = model.info
    coords = {"run": runs, "time": model.time}
    data_vars = {}
    for name, arr in inputs.items():
        dims = info.constants[name].dims
        coords.update({d: list(info.subscripts[d]) for d in dims if d not in coords})
        per_run = np.broadcast_to(arr, (len(runs), *np.shape(arr)[np.ndim(arr) - len(dims) :]))
        attrs_in = {"units": info.constants[name].units, "role": "input"}
        data_vars[name] = xr.Variable(("run", *dims), per_run, attrs=attrs_in)
    for name, arr in arrays.items():
        dims = info.variables[name].dims
        coords.update({d: list(info.subscripts[d]) for d in dims if d not in coords})
        units = {"units": info.variables[name].units}
        data_vars[name] = xr.Variable(("run", "time", *dims), arr, attrs=units)
    data_vars.update(indicator_variables(data_vars))
    ds = xr.Dataset(data_vars, coords=coords, attrs=dict(attrs))
    ds["time"].attrs["units"] = "year"
    return ds


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_datasets_equal_xarrays_own_construction(model, data):
    info = model.info
    outputs = sorted(v.name for v in info.variables.values() if v.kind in ("auxiliary", "stateful"))
    indicator_vars = sorted({ind.variable for ind in INDICATORS.values()} & set(outputs))
    chosen = data.draw(st.lists(st.sampled_from(outputs), max_size=6, unique=True))
    chosen += data.draw(st.lists(st.sampled_from(indicator_vars), max_size=2, unique=True))
    chosen = list(dict.fromkeys(chosen))
    settable = sorted(c.name for c in info.settable())
    set_here = data.draw(st.lists(st.sampled_from(settable), max_size=4, unique=True))
    n = data.draw(st.integers(1, 4))
    start = data.draw(st.integers(0, 1000))
    runs = np.arange(start, start + n)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    T = len(model.time)
    arrays = {}
    for name in chosen:
        shape = [len(info.subscripts[d]) for d in info.variables[name].dims]
        arrays[name] = rng.normal(size=(n, T, *shape))
    inputs = {}
    for name in set_here:
        shape = tuple(len(info.subscripts[d]) for d in info.constants[name].dims)
        per_run = data.draw(st.booleans())
        inputs[name] = rng.normal(size=(n, *shape) if per_run else shape)
    attrs = {"scenario": "s", "engine": "native-vector"}
    got = model.to_dataset(arrays, runs, attrs, inputs)
    want = reference(model, arrays, runs, attrs, inputs)
    xr.testing.assert_identical(got, want)
    assert list(got.sizes) == list(want.sizes)
    assert list(got.coords) == list(want.coords)
    assert list(got.data_vars) == list(want.data_vars)
    assert all(type(got.indexes[d]) is type(want.indexes[d]) for d in want.indexes)
    assert got.indexes["run"].equals(want.indexes["run"])


def test_changing_one_datasets_coordinates_leaves_the_next_alone(model):
    name = next(v.name for v in model.info.variables.values() if v.dims)  # subscripted
    first = model.run(n=1, outputs=[name])
    first["time"].attrs["units"] = "days"
    first["time"].attrs["note"] = "changed"
    second = model.run(n=2, outputs=[name])
    assert second["time"].attrs == {"units": "year"}
    assert list(second["run"].values) == [0, 1]
    dim = model.info.variables[name].dims[0]
    label = model.info.subscripts[dim][-1]
    picked = second.sel({dim: label, "time": float(model.time[4])})[name]
    assert picked.dims == ("run", *model.info.variables[name].dims[1:])
