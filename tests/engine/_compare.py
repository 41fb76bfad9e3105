"""Helpers that compare engine results with PySD runs."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np

RTOL = 1e-9
ATOL = 1e-12


def pysd_run(mdl: Path, tmp: Path, params: dict | None = None, final_time=None):
    """Translate a copy of ``mdl`` in ``tmp`` with PySD and run it; returns the DataFrame."""
    import warnings

    import pysd

    tmp.mkdir(parents=True, exist_ok=True)
    dst = tmp / mdl.name
    if not dst.exists():
        shutil.copy(mdl, dst)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pysd.read_vensim(str(dst))
        return model.run(params=params or {}, final_time=final_time)


def pysd_columns(cm, name):
    """PySD's flattened column names for ``name`` in engine axis order."""
    dims = cm.variables[name].dims
    if not dims:
        return [name]
    elems = [cm.subscripts[d] for d in dims]
    return [f"{name}[{','.join(c)}]" for c in itertools.product(*elems)]


def as_pysd_frame(cm, ds, run: int = 0):
    """A run of an urbsim Dataset as the DataFrame PySD's ``run()`` returns (its column
    names), for the variables of ``cm`` it holds."""
    import pandas as pd

    columns = {}
    for name in ds.data_vars:
        if name in cm.variables and "time" in ds[name].dims:  # inputs have no time axis
            da = ds[name].isel(run=run).transpose("time", *cm.variables[name].dims)
            values = da.to_numpy().reshape(ds.sizes["time"], -1)
            columns.update(zip(pysd_columns(cm, name), values.T, strict=True))
    return pd.DataFrame(columns, index=ds["time"].to_numpy())


def compare(cm, out: dict, df, run: int = 0, names=None):
    """Assert every engine output equals PySD's at every saved time; returns #values checked."""
    k = len(df.index)  # PySD may have been run over a prefix of the horizon
    assert np.allclose(np.asarray(df.index, dtype=float), cm.time[:k], rtol=0, atol=1e-9)
    checked = 0
    bad = []
    for name in names or out:
        arr = out[name][run].reshape(len(cm.time), -1)[:k]
        cols = pysd_columns(cm, name)
        ref = df[cols].to_numpy(dtype=float)
        ok = np.isclose(arr, ref, rtol=RTOL, atol=ATOL) | (np.isnan(arr) & np.isnan(ref))
        if not ok.all():
            i, j = np.argwhere(~ok)[0]
            bad.append(
                f"{cols[j]} (run {run}) at t={cm.time[i]}: "
                f"engine {arr[i, j]!r} vs PySD {ref[i, j]!r}"
            )
        checked += arr.size
    assert not bad, f"{len(bad)} variables differ from PySD, e.g.:\n" + "\n".join(bad[:15])
    return checked
