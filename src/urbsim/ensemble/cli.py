"""The ``urbsim mc`` and ``urbsim sensitivity`` subcommands.

``urbsim.cli`` calls :func:`add_commands` on its subparsers; each handler returns the exit code
and raises :class:`urbsim.errors.UrbsimError` for bad input (``urbsim`` prints it and exits 2).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from urbsim.ensemble.sampling import SAMPLERS, check_n, round_sobol_n
from urbsim.errors import OutputError, ParameterError
from urbsim.fileio import add_force, check_folder, check_new
from urbsim.i18n import LANGUAGES
from urbsim.indicators import INDICATORS


def add_commands(subparsers: Any) -> None:
    """Add ``mc`` and ``sensitivity`` to an ``argparse`` subparsers object."""
    mc = subparsers.add_parser(
        "mc",
        help="Monte Carlo ensemble: target probabilities and percentile bands",
        description="Run a Monte Carlo ensemble over the uncertain constants and print, per "
        "target, P(met) in 2025 and 2030 (95 % Wilson interval) and the indicator's 2025 "
        "percentiles.",
    )
    _common(mc)
    mc.add_argument("--n", type=int, required=True, help="number of runs")
    mc.add_argument("--sampler", choices=SAMPLERS, default="lhs", help="default: lhs")
    mc.add_argument("--out", type=Path, help="write results to FILE.nc or DIR.zarr")
    mc.add_argument("--save-runs", action="store_true", help="also write every run's outputs")
    mc.add_argument("--chunk", type=int, default=None, help="runs per chunk (default 2048)")
    where = mc.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run on a local Dask cluster of K processes")
    where.add_argument("--scheduler", help="run on the Dask cluster at tcp://HOST:PORT")
    mc.add_argument("--resume", action="store_true", help="continue an interrupted --out run")
    mc.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    mc.add_argument(
        "--prior",
        action="store_true",
        help="draw every Uncertain constant uniformly over its range instead of from the "
        "posterior file (model/data/posterior.nc, made by 'urbsim calibrate')",
    )
    add_force(mc)
    mc.set_defaults(func=run_mc)

    sa = subparsers.add_parser(
        "sensitivity",
        help="time-resolved Sobol or Morris sensitivity indices",
        description="Global sensitivity of chosen outputs to the uncertain constants, at each "
        "year; prints the top drivers of county_town_share in 2025 and 2035.",
    )
    _common(sa)
    sa.add_argument(
        "--method",
        choices=("sobol", "morris"),
        required=True,
        help="sobol: variance-based indices; morris: cheaper elementary-effects screening",
    )
    sa.add_argument(
        "--n",
        type=int,
        required=True,
        help="Sobol: base samples (power of two); Morris: trajectories",
    )
    sa.add_argument(
        "--outputs",
        nargs="+",
        help=f"outputs (default: target indicators); e.g. {', '.join(list(INDICATORS)[:3])}",
    )
    sa.add_argument("--years", default="2023-2035", help="YEAR or FIRST-LAST (default 2023-2035)")
    sa.add_argument(
        "--out",
        type=Path,
        help="write indices to FILE.nc or FILE.csv (with its NAME.meta.json provenance)",
    )
    add_force(sa)
    sa.set_defaults(func=run_sensitivity)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", help="scenario name or path (default: the model's defaults)")
    p.add_argument("--seed", type=int, required=True, help="seed of the random generator")
    p.add_argument("--model", type=Path, help="model file (default: model/urbsim.mdl)")


def _scenario(name: str | None) -> Any:
    if name is None:
        return None
    import urbsim

    return urbsim.load_scenario(name)


def _model(path: Path | None):
    from urbsim.model import load_model

    return load_model(path)


def _n(args: argparse.Namespace, sobol: bool) -> int:
    n = check_n(args.n)
    if sobol:
        n, notice = round_sobol_n(n)
        if notice:
            print(notice, file=sys.stderr)
    return n


def run_mc(args: argparse.Namespace) -> int:
    """``urbsim mc``: run the ensemble, print the target table, write ``--out``."""
    from urbsim.ensemble.montecarlo import DEFAULT_CHUNK, run_montecarlo
    from urbsim.report import mc_table

    n = _n(args, args.sampler == "sobol")
    if args.resume and args.out is None:
        raise OutputError("--resume needs --out, the file of the interrupted run")
    if args.save_runs and args.out is None:
        raise OutputError("--save-runs needs --out FILE.nc or DIR.zarr to write the runs to")
    ds = run_montecarlo(
        _scenario(args.scenario),
        n,
        args.seed,
        args.sampler,
        model=_model(args.model),
        out=args.out,
        save_runs=args.save_runs,
        chunk=check_n(args.chunk, "chunk") if args.chunk is not None else DEFAULT_CHUNK,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        progress=True,
        overwrite=args.force,
        posterior="prior" if args.prior else "auto",
    )
    print(mc_table(ds, args.lang))
    if args.out is not None:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def parse_years(text: str) -> list[int]:
    """``"2025"`` or ``"2023-2035"`` as a list of years, or a :class:`ParameterError`."""
    m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        raise ParameterError(f"--years {text!r}: give YEAR or FIRST-LAST, e.g. 2023-2035")
    first = int(m.group(1))
    return list(range(first, int(m.group(2) or first) + 1))


def run_sensitivity(args: argparse.Namespace) -> int:
    """``urbsim sensitivity``: compute indices, print top drivers, write ``--out``."""
    from urbsim.ensemble.sensitivity import format_drivers, morris_indices, sobol_indices
    from urbsim.ensemble.store import write_dataset

    n = _n(args, args.method == "sobol")
    years = parse_years(args.years)
    if args.out is not None:
        if args.out.suffix.lower() not in (".nc", ".csv"):
            raise OutputError(f"--out {args.out}: allowed: FILE.nc (NetCDF) or FILE.csv")
        check_new(args.out, args.force)
        check_folder(args.out)
    analyze = sobol_indices if args.method == "sobol" else morris_indices
    ds = analyze(
        _scenario(args.scenario),
        n,
        args.seed,
        model=_model(args.model),
        outputs=args.outputs,
        years=years,
        progress=True,
    )
    output = "county_town_share" if "county_town_share" in ds.output else str(ds.output[0].values)
    print(format_drivers(ds, output, [2025, 2035]))
    if args.out is not None:
        write_dataset(ds, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
