"""``urbsim chart``: export one of the app's charts (PNG, SVG or CSV) from the command line.

The file is exactly what the app's download buttons give: the same chart builder, the scenario
against the baseline, the live ensemble's 5-95 % band and the footer stamp (for tables, a
``NAME.meta.json`` sidecar or a provenance sheet). ``--from FILE`` charts a saved run or
Monte Carlo result instead (see :func:`urbsim.charts.plot`). ``urbsim.cli``
calls :func:`add_commands`; the handler returns the exit code and raises
:class:`~urbsim.errors.UrbsimError` for bad input (printed as one line, exit 2).

Example
-------
    urbsim chart county_town_share --scenario plan --lang zh --out share.png
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import xarray as xr

from urbsim.app.compute import ENSEMBLE_SIZE
from urbsim.charts import CHARTS, TYPES
from urbsim.errors import OutputError
from urbsim.fileio import add_force, check_folder, check_new, write_atomic
from urbsim.i18n import LANGUAGES, text
from urbsim.tables import write_table

FORMATS = (".png", ".svg", ".csv", ".xlsx")


def add_commands(subparsers: Any) -> None:
    """Add ``chart`` to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "chart",
        help="export one of the app's charts as PNG, SVG, CSV or XLSX",
        description="Draw one chart of the app for a scenario (with the baseline and the "
        "5-95 % uncertainty band of an ensemble) or for a saved result (--from), and write it "
        "with its provenance stamp.",
    )
    p.add_argument(
        "chart",
        choices=list(CHARTS),
        metavar="CHART",
        help=f"which chart: {', '.join(CHARTS)}",
    )
    p.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="FILE",
        help="chart a saved result instead of running: a run (`urbsim run --out FILE.nc`) or "
        "an ensemble (`urbsim mc --out FILE.nc|DIR.zarr`, with --save-runs for per-type views)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="FILE.png, FILE.svg, FILE.csv or FILE.xlsx"
    )
    p.add_argument("--type", choices=TYPES, help="one county-town type (default: the region)")
    add_scenario_options(p)
    p.set_defaults(func=run_chart)


def add_scenario_options(p: argparse.ArgumentParser) -> None:
    """The options ``chart`` and ``brief`` share: --scenario, --set, --n, --seed, --lang and
    --force (see :func:`scenario_from_args`)."""
    p.add_argument("--scenario", default="plan", help="scenario name or path (default: plan)")
    p.add_argument(
        "--set",
        action="append",
        metavar='"VAR=VALUE"',
        help="override a constant of the scenario, as in `urbsim run` (repeatable)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=ENSEMBLE_SIZE,
        help=f"runs in the uncertainty ensemble (default {ENSEMBLE_SIZE})",
    )
    p.add_argument("--seed", type=int, default=None, help="ensemble seed (default: the app's)")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    add_force(p)


def scenario_from_args(args: argparse.Namespace, model: Any) -> tuple[Any, dict, int, int]:
    """The scenario with its --set changes (checked), the changes, --n and the seed."""
    import urbsim
    from urbsim.app.state import DEFAULT_SEED
    from urbsim.ensemble.sampling import check_n
    from urbsim.params import coerce_params
    from urbsim.scenarios import parse_set

    n = check_n(args.n)
    overrides = parse_set(args.set or [])
    coerce_params(model.info, overrides, n=1, where="--set")
    scenario = urbsim.load_scenario(args.scenario).with_overrides(overrides)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    return scenario, overrides, n, seed


def _check_out(out: Path, force: bool) -> str:
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(
            f"--out {out}: unknown format {suffix or '(none)'}; allowed: {', '.join(FORMATS)}"
        )
    check_folder(out)
    check_new(out, force)
    return suffix


def open_result(path: Path) -> xr.Dataset:
    """A saved run or ensemble (.nc or .zarr), loaded into memory, or a one-line error."""
    if not path.exists():
        raise OutputError(key="from_missing", where=f"--from {path}")
    try:
        opener = xr.open_zarr if path.suffix.lower() == ".zarr" else xr.open_dataset
        with opener(path) as ds:
            return ds.load()
    except Exception as exc:  # any unreadable file is reported the same way
        message = " ".join(str(exc).split())[:200]
        raise OutputError(
            f"--from {path}: not a NetCDF or Zarr result of urbsim ({message})"
        ) from None


def _simulated(args: argparse.Namespace, lang: str) -> tuple[Any, Any, Any]:
    """Run the scenario (with --set) and its --n ensemble: (cases, ensemble, stamp)."""
    import urbsim
    from urbsim import export
    from urbsim.app.compute import BASELINE, simulate_case, simulate_live

    model = urbsim.load_model()
    scenario, overrides, n, seed = scenario_from_args(args, model)
    single, ensemble = simulate_live(model, scenario, seed, n=n)
    cases = {
        text(lang, "charts.case_current", name=scenario.title.get(lang, scenario.name)): single
    }
    if scenario.name != BASELINE:
        cases[text(lang, "charts.case_baseline")] = simulate_case(
            model, urbsim.load_scenario(BASELINE)
        )
    stamp = export.Stamp(
        scenario=scenario.name,
        changed=overrides,
        model_sha256=model.sha256,
        seed=seed,
        date=dt.date.today().isoformat(),
    )
    return cases, ensemble, stamp


def run_chart(args: argparse.Namespace) -> int:
    """Handler of ``urbsim chart``."""
    from urbsim import export
    from urbsim.charts import chart_data, result_chart, time_chart

    suffix = _check_out(args.out, args.force)
    lang = args.lang
    chart = CHARTS[args.chart]
    if args.source is not None:
        if args.set:
            raise OutputError("--set changes a run; with --from the saved result is charted as is")
        ds = open_result(args.source)
        data, drawn = result_chart(ds, args.chart, lang=lang, county_type=args.type)
        stamp = export.Stamp.from_attrs(ds.attrs)
    else:
        cases, ensemble, stamp = _simulated(args, lang)
        data = chart_data(chart, cases, lang, ensemble=ensemble, county_type=args.type)
        drawn = time_chart(chart, data, lang, county_type=args.type)
    if suffix in (".csv", ".xlsx"):
        written = write_table(data.to_csv_frame(lang), args.out, stamp.meta())
    else:
        render = export.chart_png if suffix == ".png" else export.chart_svg
        write_atomic(args.out, render(drawn, stamp, lang))
        written = [args.out]
    for path in written:
        print(path)
    return 0
