"""The ``urbsim optimize`` and ``urbsim discover`` subcommands.

``urbsim.cli`` calls :func:`add_commands` on its subparsers; handlers return the exit code and
raise :class:`urbsim.errors.UrbsimError` for bad input (one line, exit 2). Every output path is
checked (suffix, folder, not already there unless ``--force``) before anything runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from urbsim.errors import OutputError
from urbsim.fileio import add_force, check_folder, check_new, write_atomic
from urbsim.i18n import LANGUAGES, text
from urbsim.indicators import TARGETS


def add_commands(subparsers: Any) -> None:
    """Add ``optimize`` and ``discover`` to an ``argparse`` subparsers object."""
    opt = subparsers.add_parser(
        "optimize",
        help="what it takes: the cheapest lever mix meeting targets with a given confidence",
        description="Search every lever (differential evolution, common random numbers) for the "
        "lowest plan public cost (亿元) at which the target(s) are met in --year with "
        "probability >= --confidence; the probability is re-checked on an independent ensemble.",
    )
    _common(opt, "T2", 2030)
    opt.add_argument(
        "--confidence", type=float, default=0.8, help="required probability, 0-1 (default 0.8)"
    )
    opt.add_argument(
        "--n", type=int, default=200, help="uncertainty draws per candidate, >= 200 (default 200)"
    )
    opt.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="LEVER",
        help="hold this lever at the scenario's setting (repeatable)",
    )
    opt.add_argument(
        "--maxiter", type=int, default=30, help="generations of the search (default 30)"
    )
    opt.add_argument("--out", type=Path, metavar="BEST.toml", help="write the answer as a scenario")
    opt.add_argument("--report", type=Path, metavar="REPORT.json", help="write the full report")
    add_force(opt)
    opt.set_defaults(func=run_optimize)

    dis = subparsers.add_parser(
        "discover",
        help="scenario discovery: which uncertain ranges make a target met (PRIM)",
        description="Run an ensemble under the scenario and find, with PRIM, boxes of the "
        "uncertain constants in which the target is met (or, with --missed, missed).",
    )
    _common(dis, "T2", 2035)
    dis.add_argument("--n", type=int, default=4000, help="ensemble runs, >= 200 (default 4000)")
    dis.add_argument(
        "--missed", action="store_true", help="find where the target is missed instead"
    )
    dis.add_argument(
        "--boxes", type=int, default=1, help="boxes to find, each on the runs left (default 1)"
    )
    dis.add_argument("--out", type=Path, metavar="BOXES.json", help="write the boxes as JSON")
    add_force(dis)
    dis.set_defaults(func=run_discover)


def _common(p: argparse.ArgumentParser, target: str, year: int) -> None:
    p.add_argument(
        "--scenario", default="plan", metavar="NAME|PATH", help="scenario (default: plan)"
    )
    p.add_argument(
        "--target",
        action="append",
        metavar="ID",
        help=f"target id, repeatable (all must be met); default {target}; allowed: "
        f"{', '.join(TARGETS)}",
    )
    p.add_argument("--year", type=int, default=year, help=f"2023-2035 (default {year})")
    p.add_argument("--seed", type=int, default=1, help="seed of the ensemble (default 1)")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="language (default: en)")
    p.set_defaults(default_target=target)


def _outputs(args: argparse.Namespace, **suffixes: tuple[str, ...]) -> None:
    """Refuse an output with the wrong suffix, in a missing folder, or already there."""
    for flag, allowed in suffixes.items():
        path = getattr(args, flag)
        if path is None:
            continue
        if path.suffix.lower() not in allowed:
            raise OutputError(f"--{flag} {path}: allowed: {', '.join('FILE' + s for s in allowed)}")
        check_folder(path, f"--{flag}")
        check_new(path, args.force)


def _progress(fraction: float, message: str) -> None:
    print(f"\r{fraction:4.0%} {message:<60}", end="", file=sys.stderr, flush=True)


def run_optimize(args: argparse.Namespace) -> int:
    """``urbsim optimize``: search, print the answer, write ``--out`` and ``--report``."""
    from urbsim.cli import load_cached_model
    from urbsim.pathways.optimize import MIN_DRAWS, check_confidence, optimize
    from urbsim.pathways.runs import check_draws, check_targets, check_year, lever_space
    from urbsim.scenarios import load_scenario

    targets = [t.id for t in check_targets(args.target or [args.default_target])]
    check_year(args.year)
    check_confidence(args.confidence)
    check_draws(args.n, "n", MIN_DRAWS)
    check_draws(args.maxiter, "maxiter", 1)
    _outputs(args, out=(".toml",), report=(".json",))
    scenario = load_scenario(args.scenario)
    model = load_cached_model("fast")
    lever_space(model, scenario, args.fix)  # a bad --fix fails before the search
    report = optimize(
        model,
        scenario,
        targets,
        args.year,
        args.confidence,
        n=args.n,
        seed=args.seed,
        fix=args.fix,
        maxiter=args.maxiter,
        progress=_progress,
    )
    print(file=sys.stderr)
    print(summary(report, args.lang))
    if args.out is not None:
        write_atomic(args.out, answer_scenario(scenario, report).to_toml())
        print(f"wrote {args.out}", file=sys.stderr)
    if args.report is not None:
        write_atomic(args.report, json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        print(f"wrote {args.report}", file=sys.stderr)
    return 0


def headline(report: Any, lang: str) -> str:
    """The answer in one sentence of ``lang`` (feasible or not, probability, cost)."""
    key = "pathways." + (
        "feasible" if report.feasible else "borderline" if report.search_feasible else "infeasible"
    )
    fields = {
        "target": "+".join(report.target),
        "year": report.year,
        "conf": round(report.confidence * 100),
        "p": round(report.p_met * 100),
        "low": round(report.p_met_low * 100),
        "high": round(report.p_met_high * 100),
        "cost": f"{report.cost:,.0f}",
        "unit": report.cost_unit,
        "earliest": report.earliest_year or text(lang, "pathways.never"),
    }
    return text(lang, key, **fields)


def summary(report: Any, lang: str) -> str:
    """The answer in a few lines of ``lang``: the headline and the levers changed."""
    lines = [headline(report, lang)]
    lines += [f"  {name} = {_show(v)}" for name, v in report.changed.items()]
    if not report.feasible and report.levers_at_bounds:
        lines.append(text(lang, "pathways.at_bounds", levers=", ".join(report.levers_at_bounds)))
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {v:g}" for k, v in value.items()) + "}"
    return f"{value:g}"


def answer_scenario(base: Any, report: Any) -> Any:
    """``base`` with the answer's changed levers, named and titled in both languages."""
    fields = {
        "target": "+".join(report.target),
        "year": report.year,
        "conf": round(report.confidence * 100),
        "p": round(report.p_met * 100),
        "cost": f"{report.cost:,.0f}",
        "base": base.name,
    }
    scenario = base.with_overrides(report.changed)
    kind = "feasible" if report.feasible else "infeasible"
    return replace(
        scenario,
        name=f"{base.name}-what-it-takes",
        title={lang: text(lang, f"pathways.title_{kind}", **fields) for lang in LANGUAGES},
        description={lang: text(lang, "pathways.description", **fields) for lang in LANGUAGES},
    )


def run_discover(args: argparse.Namespace) -> int:
    """``urbsim discover``: ensemble, PRIM, print the first box, write ``--out``."""
    from urbsim.cli import load_cached_model
    from urbsim.pathways.discover import MIN_RUNS, discover, sentence
    from urbsim.pathways.runs import check_draws, check_targets, check_year
    from urbsim.scenarios import load_scenario

    targets = [t.id for t in check_targets(args.target or [args.default_target])]
    check_year(args.year)
    check_draws(args.n, "n", MIN_RUNS)
    check_draws(args.boxes, "boxes", 1)
    _outputs(args, out=(".json",))
    scenario = load_scenario(args.scenario)
    result = discover(
        load_cached_model("fast"),
        scenario,
        targets,
        args.year,
        n=args.n,
        seed=args.seed,
        met=not args.missed,
        max_boxes=args.boxes,
    )
    print(sentence(result, args.lang))
    if args.out is not None:
        write_atomic(args.out, json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
