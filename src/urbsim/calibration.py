"""Calibrate the model against official statistics and report the fit.

The constants marked ``Calibrated`` in ``model/urbsim.mdl`` are fitted with
:func:`scipy.optimize.least_squares` to every point of ``model/data/observed.csv`` from 2010 to
2023 (and the 2024 new-energy capacity, which is not a population figure): the resident and
registered urbanization rates over the decade before the 7th census, total, urban and rural
population, the urbanization rate and regional GDP over 2020-2023, the 2021 county-town
population (69 seats) and the plan's idle-land figure. Population figures for 2024 and later are
reserved for out-of-sample validation and never enter the fit.

The census break: the annual sample series of 2011-2019 drifted away from the true population
(the 7th census counted 135 万 fewer residents than the 2019 estimate, and an urbanization rate
4.1 points above it), so their population levels are not fitted at all (levels are fitted at the
two censuses and from 2021 on), and their urbanization rates are fitted after
:func:`census_adjusted` spreads the 2020 census gap linearly over the decade. Residuals are
relative errors divided by each point's relative standard deviation (:data:`SIGMA`, the same
observation-error model as the Bayesian posterior, so these defaults are the posterior's mode).
The Jacobian is computed in one vectorized
engine call (one run per parameter plus the base run).

Example
-------
>>> import urbsim
>>> from urbsim.calibration import fit_summary, fit_table, load_observed
>>> ds = urbsim.load_model().run(urbsim.load_scenario("plan"))
>>> fit_summary(fit_table(ds, load_observed()))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import least_squares

from urbsim.errors import UrbsimError
from urbsim.indicators import INDICATORS
from urbsim.model import Model
from urbsim.paths import observed_path

#: Years an observed point may have: the model's horizon.
OBSERVED_YEARS = (2010, 2035)


class ObservedDataError(UrbsimError):
    """An observed-data file that cannot be used (one line naming the file and line)."""


#: Series that must be reproduced over 2021-2023 to MAPE <= 2 %.
MAPE_SERIES = (
    "total_population",
    "urban_population",
    "rural_population",
    "urbanization_rate",
    "regional_gdp",
)
#: Last year whose observed points are fitted. Population figures after it are held out.
FIT_LAST_YEAR = 2023
#: Non-population points after FIT_LAST_YEAR that are fitted too.
EXTRA_POINTS = (("new_energy_capacity", 2024),)


@dataclass(frozen=True)
class Check:
    """One fit threshold: an error measure over the observed points of one series and years.

    Attributes
    ----------
    indicator : standard indicator.
    years : first and last year (inclusive).
    measure : ``"mape"`` (mean absolute percentage error, %) or ``"abs"`` (mean absolute error,
        in the indicator's unit: percentage points for a rate).
    threshold : largest error that passes.
    """

    indicator: str
    years: tuple[int, int]
    measure: str
    threshold: float


#: The thresholds the calibrated model must meet (tests/test_calibration.py checks them).
CHECKS = (
    Check("urbanization_rate", (2010, 2019), "mape", 2.0),
    Check("registered_urbanization_rate", (2010, 2015), "mape", 2.0),
    Check("urbanization_rate", (2020, 2020), "abs", 0.5),
    Check("total_population", (2020, 2020), "mape", 1.0),
    *(Check(name, (2021, 2023), "mape", 2.0) for name in MAPE_SERIES),
    Check("county_town_population", (2021, 2021), "mape", 3.0),
)


def load_observed(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check ``observed.csv`` (columns indicator, year, value, unit, basis, source).

    Raises
    ------
    ObservedDataError
        One line naming the file and line: a row with the wrong number of fields, an indicator
        urbsim does not know, a value that is not a finite number, or a year outside 2010-2035.
    """
    import csv
    import io

    path = Path(path or observed_path())
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ObservedDataError(
            f"{path}: cannot be read as UTF-8 text ({exc.__class__.__name__})"
        ) from None
    rows = list(csv.reader(io.StringIO(text)))
    need = ["indicator", "year", "value"]
    if not rows or not set(need) <= set(rows[0]):
        raise ObservedDataError(f"{path}:1: the header must name the columns {', '.join(need)}")
    header = rows[0]
    col = {name: header.index(name) for name in need}
    records = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise ObservedDataError(
                f"{where}: {len(row)} fields, expected {len(header)} ({', '.join(header)}); "
                "quote a field that contains a comma"
            )
        name = row[col["indicator"]]
        if name not in INDICATORS:
            raise ObservedDataError(
                f"{where}: unknown indicator {name!r}; allowed: the standard indicators of "
                "urbsim.indicators.INDICATORS (e.g. urban_population, urbanization_rate)"
            )
        try:
            year = int(row[col["year"]])
            value = float(row[col["value"]])
        except ValueError:
            raise ObservedDataError(
                f"{where}: year {row[col['year']]!r} and value {row[col['value']]!r} must be "
                "a whole year and a number"
            ) from None
        if not np.isfinite(value):
            raise ObservedDataError(f"{where}: value {row[col['value']]!r} is not a finite number")
        if not OBSERVED_YEARS[0] <= year <= OBSERVED_YEARS[1]:
            raise ObservedDataError(
                f"{where}: year {year} is outside the model's horizon "
                f"{OBSERVED_YEARS[0]}-{OBSERVED_YEARS[1]}"
            )
        records.append(dict(zip(header, row, strict=True)) | {"year": year, "value": value})
    return pd.DataFrame.from_records(records, columns=header)


#: The two census years: they anchor the decade's annual sample-survey rates.
CENSUS_YEARS = (2010, 2020)


#: Relative standard deviation of each kind of observed point.
SIGMA = {
    "census": 0.005,
    "bulletin": 0.01,
    "survey rate": 0.02,
    "gdp": 0.015,
    "capacity": 0.02,
    "single figure": 0.05,
}


def point_sigma(indicator: str, year: int) -> float:
    """The relative standard deviation of one observed point (see :data:`SIGMA`)."""
    if year in CENSUS_YEARS:
        return SIGMA["census"]
    if indicator in ("county_town_population", "idle_land_stock"):
        return SIGMA["single figure"]
    if indicator == "regional_gdp":
        return SIGMA["gdp"]
    if indicator == "new_energy_capacity":
        return SIGMA["capacity"]
    if indicator == "registered_urbanization_rate" or year < CENSUS_YEARS[1]:
        return SIGMA["survey rate"]
    return SIGMA["bulletin"]


def fit_indicators() -> list[str]:
    """The indicators the fit checks or fits, each once, in :data:`CHECKS` order (the panels of
    the calibration charts)."""
    return list(dict.fromkeys([*(c.indicator for c in CHECKS), *(i for i, _ in EXTRA_POINTS)]))


def census_adjusted(observed: pd.DataFrame) -> pd.DataFrame:
    """The observed series with the census break treated.

    The annual urbanization rates between the censuses come from sample surveys on the 2010 census
    frame and drifted: the 2020 census found 67.48 % against 63.99 % extrapolated from the 2018-2019
    series (+0.64 points a year). The drift is taken to have grown linearly from zero at the 2010
    census to that gap in 2020, and each annual rate in between is corrected by its share of it.
    Other rows are returned unchanged.

    Returns
    -------
    A copy with the column ``reported`` (the published value) beside ``value`` (what is fitted).
    """
    out = observed.assign(reported=observed.value)
    rate = out[out.indicator == "urbanization_rate"].set_index("year").value
    lo, hi = CENSUS_YEARS
    if not {lo, hi - 2, hi - 1, hi} <= set(rate.index):
        return out
    gap = rate[hi] - (rate[hi - 1] + (rate[hi - 1] - rate[hi - 2]))
    between = (out.indicator == "urbanization_rate") & out.year.between(lo + 1, hi - 1)
    out.loc[between, "value"] = out.value[between] + gap * (out.year[between] - lo) / (hi - lo)
    return out


def _fit_points(observed: pd.DataFrame) -> pd.DataFrame:
    """Observed points that enter the fit: every standard indicator up to FIT_LAST_YEAR, plus
    EXTRA_POINTS."""
    observed = census_adjusted(observed)
    known = observed.indicator.isin(list(INDICATORS))
    extra = [(i, y) in EXTRA_POINTS for i, y in zip(observed.indicator, observed.year, strict=True)]
    keep = known & (observed.year.le(FIT_LAST_YEAR) | np.asarray(extra))
    return observed[keep].reset_index(drop=True)


def fit_table(ds: xr.Dataset, observed: pd.DataFrame) -> pd.DataFrame:
    """Model against observed for every fitted point of run 0.

    Returns
    -------
    DataFrame with columns indicator, year, reported (published), observed (fitted, after
    :func:`census_adjusted`), model, ape (absolute % error against observed), unit.
    """
    pts = _fit_points(observed)
    model = [
        float(ds[row.indicator].isel(run=0).sel(time=float(row.year), method="nearest"))
        for row in pts.itertuples()
    ]
    out = pts[["indicator", "year", "reported", "value", "unit"]].rename(
        columns={"value": "observed"}
    )
    out["model"] = model
    out["ape"] = (out.model - out.observed).abs() / out.observed.abs() * 100
    return out


def fit_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per :data:`CHECKS` entry: the error over its points, the threshold and whether it
    passes (columns indicator, years, points, measure, error, threshold, passes)."""
    rows = []
    for c in CHECKS:
        lo, hi = c.years
        sub = table[(table.indicator == c.indicator) & table.year.between(lo, hi)]
        error = float(
            sub.ape.mean() if c.measure == "mape" else (sub.model - sub.observed).abs().mean()
        )
        years = str(lo) if lo == hi else f"{lo}-{hi}"
        rows.append((c.indicator, years, len(sub), c.measure, error, c.threshold))
    df = pd.DataFrame(
        rows, columns=["indicator", "years", "points", "measure", "error", "threshold"]
    )
    df["passes"] = (df.points > 0) & (df.error <= df.threshold)
    return df


@dataclass
class CalibrationResult:
    """Fitted values and the fit they give."""

    values: dict[str, float]
    table: pd.DataFrame
    summary: pd.DataFrame
    cost: float


def calibrated_constants(model: Model) -> list[str]:
    """Scalar constants the model marks ``Calibrated``."""
    return [c.name for c in model.info.constants.values() if c.calibrated and not c.dims]


def calibrate(
    model: Model, base_params: dict | None = None, observed: pd.DataFrame | None = None
) -> CalibrationResult:
    """Fit the ``Calibrated`` constants to the observed series.

    Parameters
    ----------
    model : a fast-engine model (each residual evaluation is one vectorized call).
    base_params : parameters held fixed during the fit (the ``plan`` scenario's).
    observed : observed series; default ``model/data/observed.csv``.
    """
    observed = load_observed() if observed is None else observed
    pts = _fit_points(observed)
    names = calibrated_constants(model)
    bounds = np.array([model.info.constants[n].range for n in names], dtype=float).T
    x0 = np.array([float(model.info.constants[n].default) for n in names])
    base = dict(base_params or {})
    outputs = sorted({INDICATORS[i].variable for i in pts.indicator})
    times = pts.year.to_numpy(dtype=float)
    obs = pts.value.to_numpy(dtype=float)
    weight = 1 / np.array(
        [point_sigma(i, int(y)) for i, y in zip(pts.indicator, pts.year, strict=True)]
    )
    variables = [INDICATORS[i].variable for i in pts.indicator]

    def residuals(xs: np.ndarray) -> np.ndarray:
        """Relative errors for each row of ``xs`` (runs x parameters)."""
        params = {**base, **{n: xs[:, k] for k, n in enumerate(names)}}
        ds = model.run(params, n=len(xs), outputs=outputs)
        t_index = np.searchsorted(ds.time.values, times)
        cols = [ds[v].values[:, t] for v, t in zip(variables, t_index, strict=True)]
        return (np.stack(cols, axis=1) - obs) / obs * weight

    span = bounds[1] - bounds[0]

    def jac(x: np.ndarray) -> np.ndarray:
        # Forward differences, backward where the step would leave the documented range.
        h = np.where(x + 1e-6 * span > bounds[1], -1e-6, 1e-6) * span
        xs = np.vstack([x, x + np.diag(h)])
        r = residuals(xs)
        return ((r[1:] - r[0]) / h[:, None]).T

    fit = least_squares(
        lambda x: residuals(x[None, :])[0],
        np.clip(x0, *bounds),
        jac=jac,
        bounds=bounds,
        x_scale=span,
        xtol=1e-10,
        ftol=1e-12,
    )
    values = dict(zip(names, (float(f"{v:.6g}") for v in fit.x), strict=True))
    ds = model.run({**base, **values}, outputs=outputs)
    table = fit_table(ds, observed)
    return CalibrationResult(values, table, fit_summary(table), float(fit.cost))


def write_defaults(mdl_path: Path, values: dict[str, float]) -> None:
    """Rewrite the default value of scalar constants in the `.mdl` (in place, atomically)."""
    text = mdl_path.read_text(encoding="utf-8")
    for name, value in values.items():
        pattern = re.compile(rf"^({re.escape(name)}\s*=\s*)[-+0-9.eE]+\s*$", re.M)
        text, count = pattern.subn(lambda m, v=value: f"{m.group(1)}{v:g}", text)
        if count != 1:
            raise ValueError(
                f"{mdl_path}: expected one scalar definition of {name!r}, found {count}"
            )
    tmp = mdl_path.with_suffix(".mdl.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(mdl_path)


def __getattr__(name: str):
    """``urbsim.calibration.posterior`` is :func:`urbsim.posterior.posterior` (the Bayesian
    calibration), imported on first use: that module builds on this one."""
    if name == "posterior":
        from urbsim.posterior import posterior

        return posterior
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
