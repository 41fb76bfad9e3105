"""Output memory recycled between batches (:mod:`urbsim.engine.buffers`): only once no array
over it is left, never while a result or a view of one is kept, and with the right numbers."""

from __future__ import annotations

import numpy as np
from _paths import URBSIM, model, per_run_params, run

from urbsim.engine.buffers import MIN_VALUES, POOL, OutputPool

SHAPE = (MIN_VALUES // 100 + 1, 100)  # just large enough to come from the pool


def test_a_block_is_lent_again_only_when_no_array_over_it_is_left():
    pool = OutputPool()
    a = pool.empty(SHAPE)
    first = a.__array_interface__["data"][0]
    row = a[5]  # a view keeps the block
    del a
    b = pool.empty(SHAPE)
    assert b.__array_interface__["data"][0] != first and pool.free_values() == 0
    del row
    assert pool.free_values() == SHAPE[0] * SHAPE[1]
    c = pool.empty(SHAPE)
    assert c.__array_interface__["data"][0] == first and pool.free_values() == 0
    assert c.shape == SHAPE and c.dtype == np.float64 and c.flags.c_contiguous
    assert c.flags.writeable and b.base is not None


def test_the_pool_keeps_at_most_its_bound_and_small_arrays_are_numpys():
    pool = OutputPool(max_free=2 * SHAPE[0] * SHAPE[1])
    arrays = [pool.empty(SHAPE) for _ in range(5)]
    del arrays
    assert pool.free_values() == 2 * SHAPE[0] * SHAPE[1]
    small = pool.empty((3, 4))
    assert small.base is None and pool.free_values() == 2 * SHAPE[0] * SHAPE[1]
    too_big = pool.empty((SHAPE[0] * 3, SHAPE[1]))  # no free block fits: new memory
    assert too_big.size == 3 * SHAPE[0] * SHAPE[1]


def test_batch_results_kept_or_viewed_are_never_overwritten():
    """A kept result and a kept view of a dropped one survive later batches unchanged; once
    dropped, their memory serves a later batch, which gets its own numbers."""
    cm = model(URBSIM)
    n, out = 300, ["Rural Population"]  # 300 runs x 101 times x 3 values: from the pool
    p1, p2 = per_run_params(cm, n=n, lookups=False), per_run_params(cm, n=n, lookups=False)
    p2 = {k: v * 1.01 for k, v in p2.items()}
    r1 = run(cm, "native", params=p1, n=n, outputs=out)["Rural Population"]
    assert r1.base is not None  # lent by the pool
    want1 = r1.copy()
    r2 = run(cm, "native", params=p2, n=n, outputs=out)["Rural Population"]
    want2 = r2.copy()
    assert not np.shares_memory(r1, r2) and not np.array_equal(want1, want2)
    view = r1[:, -1]
    del r1
    r3 = run(cm, "native", params=p2, n=n, outputs=out)["Rural Population"]
    assert not np.shares_memory(view, r3) and not np.shares_memory(r2, r3)
    np.testing.assert_array_equal(view, want1[:, -1])
    np.testing.assert_array_equal(r3, want2)
    before = POOL.free_values()
    del view, r2, r3
    assert POOL.free_values() > before  # their blocks came back
    r4 = run(cm, "native", params=p1, n=n, outputs=out)["Rural Population"]
    np.testing.assert_array_equal(r4, want1)  # over recycled memory: the same numbers
    r5 = run(cm, "numpy", params=p2, n=n, outputs=out)["Rural Population"]
    np.testing.assert_allclose(r5, want2, rtol=1e-12)  # numpy's code fills pool memory too
