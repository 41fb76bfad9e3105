"""GET XLS/DIRECT CONSTANTS, LOOKUPS and DATA, read at compile time with PySD's own loaders.

PySD reads a spreadsheet's cells with its ``ExtConstant``/``ExtLookup`` classes (cell
ranges, ``*`` for a column, files relative to the model); the engine calls the same classes
once while compiling, so the values are PySD's and, by run time, plain constants and lookup
tables (parameters like any other). A file PySD cannot read is a ``ModelError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from urbsim.pysd_compat import quiet_pysd


def constants(ast, block: dict[str, list[str]], dims: dict[str, list[str]], *, root: Path):
    """Values of a GET ... CONSTANTS component over ``block`` (its elements per dimension,
    in the variable's dimension order; ``dims`` all of them), shaped like the block."""
    from pysd.py_backend.external import ExtConstant

    ext = ExtConstant(ast.file, ast.tab, ast.cell, block, Path(root), dims, "_ext_constant")
    with quiet_pysd():
        ext.initialize()
    data = ext.data
    if hasattr(data, "loc"):  # an xarray DataArray over dims
        return np.asarray(data.loc[block].transpose(*block).values, dtype=np.float64)
    return np.asarray(float(data), dtype=np.float64)


def lookup(ast, block: dict, dims: dict, *, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """x points and y values of a GET ... LOOKUPS component over ``block`` (its elements per
    dimension; empty for a lookup without subscripts): y shaped ``(*block, points)``, one
    row of the file per element."""
    from pysd.py_backend.external import ExtLookup

    ext = ExtLookup(
        ast.file, ast.tab, ast.x_row_or_col, ast.cell, block, Path(root), dims, "_ext_lk"
    )  # fmt: skip
    with quiet_pysd():
        ext.initialize()
    data = ext.data
    x = np.asarray(data.coords["lookup_dim"].values, dtype=np.float64)
    y = data.loc[block].transpose(*block, "lookup_dim") if block else data
    return x, np.asarray(y.values, dtype=np.float64)


def keyword(comp) -> str:
    """A data component's interpolation: interpolate, hold_backward, look_forward or raw."""
    return (comp.keyword or "interpolate").lower().replace(" ", "_")


def data_table(comps, blocks, dims: dict, times, *, root: Path):
    """What PySD computes from a data variable read by GET ... DATA (its components
    ``comps``, the elements of each in ``blocks``, all of them in ``dims``), as a lookup of
    Time: x points and y values ``(*dims, points)``.

    Interpolated data keep the file's times as x points (PySD interpolates linearly and holds
    the end values). HOLD BACKWARD, LOOK FORWARD and RAW are PySD's values at the run's
    ``times`` (every time step; RAW is NaN where the file has no value), kept only where they
    change: between two kept points the value is constant, so the lookup's interpolation
    returns it exactly at every time step.
    """
    from pysd.py_backend.external import ExtData

    interp = keyword(comps[0])
    ext = None
    for c, block in zip(comps, blocks, strict=True):
        a = c.ast
        args = (a.file, a.tab, a.time_row_or_col, a.cell, interp, block)
        if ext is None:
            ext = ExtData(*args, Path(root), dims, "_ext_data")
        else:
            ext.add(*args)
    with quiet_pysd():
        ext.initialize()
    if interp == "interpolate":
        x = np.asarray(ext.data.coords["time"].values, dtype=np.float64)
        y = np.asarray(ext.data.transpose(*dims, "time").values, dtype=np.float64)
        return x, y
    import warnings

    with warnings.catch_warnings():  # PySD warns when it holds the end values
        warnings.simplefilter("ignore")
        y = np.stack([np.asarray(ext(t), dtype=np.float64) for t in times], axis=-1)
    flat = y.reshape(-1, len(times))
    change = (flat[:, 1:] != flat[:, :-1]).any(axis=0)
    keep = np.zeros(len(times), dtype=bool)
    keep[[0, -1]] = True
    keep[:-1] |= change
    keep[1:] |= change
    return np.asarray(times, dtype=np.float64)[keep], y[..., keep]
