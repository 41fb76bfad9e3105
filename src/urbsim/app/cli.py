"""``urbsim chart``: export one of the app's charts (PNG, SVG or CSV) from the command line.

The file is exactly what the app's download buttons give: the same chart builder, the scenario
against the baseline, the live ensemble's 5-95 % band and the footer stamp. ``urbsim.cli``
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

from urbsim.charts import CHARTS, TYPES
from urbsim.errors import OutputError
from urbsim.fileio import write_atomic
from urbsim.i18n import LANGUAGES, text

FORMATS = (".png", ".svg", ".csv")


def add_commands(subparsers: Any) -> None:
    """Add ``chart`` to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "chart",
        help="export one of the app's charts as PNG, SVG or CSV",
        description="Draw one chart of the app for a scenario (with the baseline and the "
        "5-95%% uncertainty band) and write it with its footer stamp.",
    )
    p.add_argument("chart", choices=list(CHARTS), help="which chart")
    p.add_argument("--scenario", default="plan", help="scenario name or path (default: plan)")
    p.add_argument("--out", type=Path, required=True, help="FILE.png, FILE.svg or FILE.csv")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="default: en")
    p.add_argument("--type", choices=TYPES, help="one county-town type (default: the region)")
    p.add_argument("--seed", type=int, default=None, help="ensemble seed (default: the app's)")
    p.set_defaults(func=run_chart)


def run_chart(args: argparse.Namespace) -> int:
    """Handler of ``urbsim chart``."""
    import urbsim
    from urbsim import export
    from urbsim.app.compute import BASELINE, simulate_case, simulate_live
    from urbsim.app.state import DEFAULT_SEED
    from urbsim.charts import chart_data, time_chart

    suffix = args.out.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(
            f"--out {args.out}: unknown format {suffix or '(none)'}; allowed: {', '.join(FORMATS)}"
        )
    if not args.out.parent.is_dir():
        raise OutputError(f"--out {args.out}: folder {args.out.parent} does not exist")
    seed = DEFAULT_SEED if args.seed is None else args.seed
    model = urbsim.load_model()
    scenario = urbsim.load_scenario(args.scenario)
    single, ensemble = simulate_live(model, scenario, seed)
    lang = args.lang
    cases = {
        text(lang, "charts.case_current", name=scenario.title.get(lang, scenario.name)): single
    }
    if scenario.name != BASELINE:
        cases[text(lang, "charts.case_baseline")] = simulate_case(
            model, urbsim.load_scenario(BASELINE)
        )
    chart = CHARTS[args.chart]
    data = chart_data(chart, cases, lang, ensemble=ensemble, county_type=args.type)
    stamp = export.Stamp(
        scenario=scenario.name,
        changed={},
        model_sha256=model.sha256,
        seed=seed,
        date=dt.date.today().isoformat(),
    )
    if suffix == ".csv":
        payload: bytes | str = export.table_csv(data.to_csv_frame(), stamp, lang)
    else:
        drawn = time_chart(chart, data, lang, county_type=args.type)
        render = export.chart_png if suffix == ".png" else export.chart_svg
        payload = render(drawn, stamp, lang)
    write_atomic(args.out, payload)
    print(args.out)
    return 0
