"""Plain result files: CSV that pandas and Excel open with no options, and ``.xlsx`` workbooks.

Every table urbsim writes goes through :func:`write_table`:

- ``.csv``: UTF-8 with a byte-order mark (Excel on Chinese Windows otherwise reads it as GBK),
  one header row, numbers rounded to :data:`SIGNIFICANT` significant digits. The provenance (model
  hash, scenario, parameters changed, seed, version, date) goes to a sidecar ``NAME.meta.json``
  next to it, never into the CSV itself, so ``pandas.read_csv(path)`` reads it as written.
- ``.xlsx``: a ``data`` sheet and a ``provenance`` sheet (key, value) in one workbook.

Both files are written atomically (:func:`urbsim.fileio.write_atomic`).

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"year": [2025], "value": [1 / 3]})
>>> csv_text(frame)
'\\ufeffyear,value\\n2025,0.333333\\n'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from urbsim.fileio import write_atomic

#: Significant digits kept in written tables (model results are not more precise than this).
SIGNIFICANT = 6
#: Table formats :func:`write_table` writes.
TABLE_SUFFIXES = (".csv", ".xlsx")
#: Byte-order mark that tells Excel the file is UTF-8.
BOM = "\ufeff"


def round_significant(values: np.ndarray, digits: int = SIGNIFICANT) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (NaN and infinities kept)."""
    arr = np.asarray(values, dtype=float)
    # Through decimal text: exact for every magnitude (scaling by 10**k under- or overflows).
    fmt = f"%.{digits}g"
    return np.array([float(fmt % x) for x in arr.ravel()]).reshape(arr.shape)


def rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every float column rounded by :func:`round_significant`."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = round_significant(out[col].to_numpy())
    return out


def annual(frame: pd.DataFrame, column: str = "time") -> pd.DataFrame:
    """The rows of ``frame`` at whole years (the model saves every quarter year)."""
    years = frame[column].to_numpy(dtype=float)
    keep = np.isclose(years, np.round(years))
    out = frame.loc[keep].copy()
    out[column] = np.round(years[keep]).astype(int)
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` as urbsim writes it: BOM, header row, rounded numbers, no index."""
    return BOM + rounded(frame).to_csv(index=False, lineterminator="\n")


def provenance(attrs: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The provenance record of a table: a result's attrs (JSON strings decoded), the date
    and ``extra`` fields (for example the columns' units)."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str) and value.startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value.item() if isinstance(value, np.generic) else value
    out.setdefault("written", dt.date.today().isoformat())
    return {**out, **extra}


def meta_path(path: Path) -> Path:
    """The sidecar of a CSV file: ``run.csv`` -> ``run.meta.json``."""
    return path.with_name(path.stem + ".meta.json")


def xlsx_bytes(frame: pd.DataFrame, meta: Mapping[str, Any]) -> bytes:
    """An ``.xlsx`` workbook: sheet ``data`` (rounded) and sheet ``provenance`` (key, value)."""
    rows = [
        (k, v if isinstance(v, (int, float, str)) else json.dumps(v, ensure_ascii=False))
        for k, v in meta.items()
    ]
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        rounded(frame).to_excel(writer, sheet_name="data", index=False)
        pd.DataFrame(rows, columns=["key", "value"]).to_excel(
            writer, sheet_name="provenance", index=False
        )
    return buf.getvalue()


def write_table(frame: pd.DataFrame, path: Path, meta: Mapping[str, Any]) -> list[Path]:
    """Write ``frame`` to ``path`` (.csv plus its sidecar, or .xlsx); returns the files written."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        write_atomic(path, xlsx_bytes(frame, meta))
        return [path]
    write_atomic(path, csv_text(frame))
    side = meta_path(path)
    write_atomic(side, json.dumps(dict(meta), ensure_ascii=False, indent=1, default=str) + "\n")
    return [path, side]


def dataset_units(ds: xr.Dataset, names: list[str]) -> dict[str, str]:
    """``{variable: units}`` of the variables of ``ds`` in ``names`` (for a table's provenance)."""
    return {n: ds[n].attrs.get("units", "") for n in names if n in ds}
