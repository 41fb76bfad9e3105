"""Calibrate model/urbsim.mdl against model/data/observed.csv.

Usage::

    python scripts/calibrate.py            # fit and report, change nothing
    python scripts/calibrate.py --write    # also write the fitted defaults into the .mdl,
                                           # the fit table to model/data/calibration_fit.csv
                                           # and the fit block of model/README.md

The fit uses the ``plan`` scenario (identical to ``baseline`` before 2023).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys

import urbsim
from urbsim.calibration import (
    calibrate,
    census_adjusted,
    fit_indicators,
    load_observed,
    write_defaults,
)
from urbsim.charts import calibration_chart
from urbsim.export import Stamp, chart_png
from urbsim.fileio import write_atomic
from urbsim.paths import default_model_path, model_dir

MEASURES = {"mape": "MAPE (%)", "abs": "abs. error (pp)"}
FIT_BLOCK = re.compile(r"(<!-- fit:start -->\n).*?(<!-- fit:end -->)", re.S)


def markdown(result) -> str:
    lines = [
        "| series | years | points | measure | error | threshold | passes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result.summary.itertuples():
        lines.append(
            f"| {r.indicator} | {r.years} | {r.points} | {MEASURES[r.measure]} | {r.error:.2f} | "
            f"{r.threshold:.1f} | {'yes' if r.passes else 'NO'} |"
        )
    lines += ["", "| calibrated constant | value |", "|---|---|"]
    lines += [f"| {k} | {v:g} |" for k, v in result.values.items()]
    lines += ["", "| series | year | observed | model | error (%) |", "|---|---|---|---|---|"]
    for r in result.table.itertuples():
        lines.append(f"| {r.indicator} | {r.year} | {r.observed:g} | {r.model:.2f} | {r.ape:.2f} |")
    return "\n".join(lines) + "\n"


def write_fit_chart(model, scenario, band=None, name: str = "calibration_fit.png") -> None:
    """model/data/NAME: the calibrated model against the observed series (and the posterior
    predictive band of an ensemble, when given)."""
    indicators = fit_indicators()
    ds = model.run(scenario, outputs=indicators)
    observed = census_adjusted(load_observed())  # the 2011-2019 rates as fitted
    chart = calibration_chart(ds, observed, indicators, "en", (2010, 2024), band)
    stamp = Stamp(scenario=scenario.name, model_sha256=model.sha256, date=str(dt.date.today()))
    write_atomic(model_dir() / "data" / name, chart_png(chart, stamp, "en"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write results into the repo")
    args = parser.parse_args(argv)
    model = urbsim.load_model()
    scenario = urbsim.load_scenario("plan")
    result = calibrate(model, dict(scenario.parameters))
    print(markdown(result))
    if args.write:
        write_defaults(default_model_path(), result.values)
        write_fit_chart(urbsim.load_model(), scenario)
        result.table.to_csv(model_dir() / "data" / "calibration_fit.csv", index=False)
        readme = model_dir() / "README.md"
        text = readme.read_text(encoding="utf-8")
        readme.write_text(
            FIT_BLOCK.sub(lambda m: m.group(1) + markdown(result) + m.group(2), text),
            encoding="utf-8",
        )
        print(
            f"wrote {default_model_path()}, calibration_fit.csv/.png and the fit block of {readme}"
        )
    return 0 if result.summary.passes.all() else 1


if __name__ == "__main__":
    sys.exit(main())
