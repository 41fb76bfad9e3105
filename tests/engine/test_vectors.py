"""The array helpers of vectors.py and allocation.py against PySD's own functions, on
generated inputs (the probe models compare whole models: test_probes.py)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from pysd.py_backend import functions as pf
from pysd.py_backend.allocation import _allocate_by_priority_1d

from urbsim.engine import allocation, vectors
from urbsim.errors import ModelError

H = vectors.helpers(np)
SMALL = st.sampled_from([0.0, 1.0, 2.5, 4.0])  # ties and zero requests
VALUE = st.floats(0.0, 10.0, allow_nan=False) | SMALL


@st.composite
def allocations(draw):
    m = draw(st.integers(1, 6))
    request = np.array(draw(st.lists(VALUE, min_size=m, max_size=m)))
    priority = np.array(draw(st.lists(VALUE, min_size=m, max_size=m)))
    width = draw(st.floats(0.05, 5.0))
    supply = draw(st.floats(0.0, 1.2) | st.just(0.0)) * request.sum()
    return request, priority, width, supply


@settings(max_examples=300, deadline=None)
@given(st.lists(allocations(), min_size=1, max_size=4))
def test_allocate_by_priority_equals_pysd_column_by_column(cases):
    m = max(len(c[0]) for c in cases)
    cases = [c for c in cases if len(c[0]) == m]  # one vector length per call
    req, pri = (np.stack([c[i] for c in cases], axis=-1) for i in (0, 1))
    width, supply = (np.array([c[i] for c in cases]) for i in (2, 3))
    got = allocation.allocate_by_priority(req, pri, width, supply)
    assert got.shape == req.shape
    for j, (r, p, w, s) in enumerate(cases):
        ref = np.asarray(_allocate_by_priority_1d(r.copy(), p.copy(), w, s), dtype=float)
        np.testing.assert_allclose(got[:, j], ref, rtol=1e-9, atol=1e-9)
        assert got[:, j].sum() <= max(s, r.sum()) * (1 + 1e-12) + 1e-12


def test_allocate_by_priority_refuses_what_pysd_refuses():
    one = np.ones((2, 1))
    with pytest.raises(ModelError, match="negative"):
        allocation.allocate_by_priority(-one, one, [1.0], [1.0])
    with pytest.raises(ModelError, match="width"):
        allocation.allocate_by_priority(one, one, [0.0], [1.0])


VECTORS = st.lists(VALUE, min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(VECTORS, st.sampled_from([1.0, 0.0, -1.0]))
def test_sort_order_rank_and_reorder_equal_pysd(values, direction):
    v = xr.DataArray(np.array(values), {"d": list(range(len(values)))}, ["d"])
    col = v.values[:, None]  # the engine's layout: (elements, runs)
    order = H["_vsort"](col, direction)[:, 0]
    np.testing.assert_array_equal(order, pf.vector_sort_order(v, direction).values)
    rank = H["_vrank"](col, direction)[:, 0]
    np.testing.assert_array_equal(rank, pf.vector_rank(v, direction).values)
    sv = pf.vector_sort_order(v, direction)
    reord = H["_vreorder"](col, order[:, None])[:, 0]
    np.testing.assert_array_equal(reord, pf.vector_reorder(v, sv).values)


@pytest.mark.filterwarnings("ignore:Vensim's help says")  # PySD's note on action 5
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([0.0, 0.0, 1.0, 2.0, -0.5]), VALUE), min_size=1),
    st.integers(0, 10),
)
def test_vector_select_equals_pysd(pairs, action):
    sel = np.array([p[0] for p in pairs])
    ex = np.array([p[1] for p in pairs]) + 0.5
    coords = {"d": list(range(len(pairs)))}
    ref = pf.vector_select(
        xr.DataArray(sel, coords, ["d"]), xr.DataArray(ex, coords, ["d"]), ["d"], -7.0, action, 0
    )
    got = H["_vselect"](sel[:, None], ex[:, None], -7.0, action, 0, (0,))
    np.testing.assert_allclose(got, [float(ref)], rtol=1e-12)


def test_vector_select_error_actions_raise_as_pysd():
    zero = np.zeros((3, 1))
    with pytest.raises(ModelError, match="all values"):
        H["_vselect"](zero, zero, 0.0, 0, 1, (0,))
    with pytest.raises(ModelError, match="more than one"):
        H["_vselect"](zero + 1, zero, 0.0, 0, 2, (0,))


def test_invert_matrix_per_run():
    rng = np.random.default_rng(3)
    m = rng.uniform(1, 2, (3, 3, 5)) + 3 * np.eye(3)[..., None]  # (rows, cols, runs)
    inv = H["_vinv"](m)
    for r in range(5):
        np.testing.assert_allclose(inv[..., r], np.linalg.inv(m[..., r]), rtol=1e-13)


def test_vector_select_error_actions_stop_jax_too():
    pytest.importorskip("jax", reason="the optional JAX backend is not installed")
    from urbsim.engine.backends import namespace

    ns = namespace("jax")  # float64 on, as the backend runs
    zero = ns["xp"].zeros((3, 1))
    with pytest.raises(Exception, match="all values of the selection array are 0"):
        ns["_vselect"](zero, zero, 0.0, 0, 1, (0,))
    got = ns["_vselect"](zero + 1, zero + 2, 0.0, ns["xp"].asarray(8.0), 0, (0,))
    np.testing.assert_array_equal(got, [2.0])  # an action from the model: numpy's helper


SELECT = """{UTF-8}
Type : urb, agr, eco ~~|
sel[Type] = 0, 1, 2 ~~|
vals[Type] = 3, 1, 2 ~~|
action = 0 ~~|
errors = 0 ~~|
Picked = VECTOR SELECT(sel[Type!], vals[Type!] * Time, -1, action, errors) ~~|
FINAL TIME = 2 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 1 ~~|
TIME STEP = 1 ~~|
"""


def _runs_equal_pysd(tmp_path, text: str, name: str, values: list, output: str):
    """The model ``text`` run once per value of the constant ``name`` (one simulate call)
    equals separate PySD runs; returns the compiled model and the output."""
    from _compare import compare, pysd_run

    from urbsim.engine import compile_model

    mdl = tmp_path / "model.mdl"
    mdl.write_text(text, encoding="utf-8")
    cm = compile_model(mdl)
    out = cm.simulate({name: values}, n=len(values), outputs=[output])
    for r, value in enumerate(values):
        compare(cm, out, pysd_run(mdl, tmp_path / "pysd", {name: value}), run=r)
    return cm, out[output]


def test_vector_select_actions_per_run_equal_separate_pysd_runs(tmp_path):
    cm, picked = _runs_equal_pysd(tmp_path, SELECT, "action", [0.0, 3.0, 8.0, 10.0], "Picked")
    assert len(set(picked[:, -1])) == 4
    with pytest.raises(ModelError, match="numerical action 11.0"):
        cm.simulate({"action": [1.0, 11.0]}, n=2)
    with pytest.raises(ModelError, match="all values"):  # only the run whose error action is 1
        cm.simulate({"sel": [0.0, 0.0, 0.0], "errors": [0.0, 1.0]}, n=2)
    with pytest.raises(ModelError, match="more than one"):  # two of sel are not 0
        cm.simulate({"errors": [0.0, 3.0]}, n=2)
    assert np.isfinite(cm.simulate({"errors": [1.0, 0.5]}, n=2, outputs=["Picked"])["Picked"]).all()


ALLOCATE = """{UTF-8}
Branch : a, b, c ~~|
demand[Branch] = 5, 3, 4 ~~|
priority[Branch] = 3, 1, 2.5 ~~|
supply = 6 ~~|
Shipped[Branch] = ALLOCATE BY PRIORITY(demand[Branch], priority[Branch], 3, 1, supply * Time) ~~|
FINAL TIME = 2 ~~|
INITIAL TIME = 0 ~~|
SAVEPER = 1 ~~|
TIME STEP = 1 ~~|
"""


def test_allocate_by_priority_per_run_supplies_equal_separate_pysd_runs(tmp_path):
    _, shipped = _runs_equal_pysd(tmp_path, ALLOCATE, "supply", [0.0, 2.0, 4.5, 20.0], "Shipped")
    assert len({tuple(v) for v in shipped[:, -1]}) == 4
