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


def lookup(ast, *, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """x points and y values of a GET ... LOOKUPS table with one row of values."""
    from pysd.py_backend.external import ExtLookup

    ext = ExtLookup(ast.file, ast.tab, ast.x_row_or_col, ast.cell, {}, Path(root), {}, "_ext_lk")
    with quiet_pysd():
        ext.initialize()
    data = ext.data
    x = np.asarray(data.coords["lookup_dim"].values, dtype=np.float64)
    return x, np.asarray(data.transpose("lookup_dim").values, dtype=np.float64)


def data_series(ast, *, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of a scalar GET ... DATA series (PySD interpolates it linearly in
    time and holds its end values outside, as a lookup of Time does)."""
    from pysd.py_backend.external import ExtData

    ext = ExtData(
        ast.file, ast.tab, ast.time_row_or_col, ast.cell, "interpolate", {}, Path(root), {},
        "_ext_data",
    )  # fmt: skip
    with quiet_pysd():
        ext.initialize()
    data = ext.data
    x = np.asarray(data.coords["time"].values, dtype=np.float64)
    return x, np.asarray(data.transpose("time").values, dtype=np.float64)
