"""Write the model's lever-effect, constraint, scenario and posterior tables into model/README.md
(and, with --write, the posterior predictive chart beside it).

Usage::

    python scripts/model_report.py            # print the tables
    python scripts/model_report.py --write    # also replace the marked blocks of the README
                                              # (<!-- NAME:start --> ... <!-- NAME:end -->)

The tables come from the model itself: the lever sweep of :mod:`urbsim.sweep` under the ``plan``
scenario, and deterministic runs of every built-in scenario.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys

import numpy as np

import urbsim
from urbsim.export import Stamp, chart_png
from urbsim.fileio import write_atomic
from urbsim.indicators import INDICATORS, value_at
from urbsim.paths import model_dir
from urbsim.scenarios import list_scenarios
from urbsim.sweep import lever_sweep

YEARS = (2025, 2030, 2035)


def lever_table(model) -> str:
    table = lever_sweep(model, urbsim.load_scenario("plan"), 2030)
    lines = [
        "| lever | group | range | moves most (2030) | at min | at max "
        "| T2 share at min / max (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in table.sort_values(["group", "score"], ascending=[True, False]).iterrows():
        unit = INDICATORS[r.indicator].units
        lines.append(
            f"| {name} | {r.group} | {r['min']:g}-{r['max']:g} | {r.indicator} ({unit}) | "
            f"{r.at_min:,.2f} | {r.at_max:,.2f} | {r.share_at_min:.2f} / {r.share_at_max:.2f} |"
        )
    return "\n".join(lines) + "\n"


def binding(series, times) -> str:
    """'from YEAR, lowest X % (YEAR)' or 'never' for a constraint series in %."""
    below = np.flatnonzero(series < 99.5)
    if not below.size:
        return "never binds"
    low = int(np.argmin(series))
    span = f"{times[below[0]]:.0f}-{times[below[-1]]:.0f}"
    return f"below 99.5 % in {span}; lowest {series[low]:.0f} % ({times[low]:.0f})"


def scenario_tables(model) -> tuple[str, str]:
    from urbsim.posterior import central_run

    outputs = [
        "land_fulfilment",
        "funding_ratio",
        "county_town_share",
        "county_town_share_incl_temporary",
        "county_town_share_incl_cities",
        "citizenized_migrants",
        "county_gdp",
        "plan_public_cost",
    ]
    cons = [
        "| scenario | land (quota supply / demand) | money (plan capital need funded) |",
        "|---|---|---|",
    ]
    scen = [
        "| scenario | T2 69 seats 2025 / 2030 / 2035 (%) | T2b + temporary 2025 (%) "
        "| T2c + cities 2025 (%) | citizenized 2023-2030 (万人) | county GDP 2025 (亿元) "
        "| plan public cost 2023-2030 (亿元) |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in list_scenarios(model.info):
        name = scenario.name
        ds = central_run(model, scenario, outputs=outputs).isel(run=0)  # as `urbsim run`
        t = ds.time.values
        land, money = binding(ds.land_fulfilment.values, t), binding(ds.funding_ratio.values, t)
        cons.append(f"| {name} | {land} | {money} |")
        at = {y: {k: float(value_at(ds[k], y)) for k in outputs} for y in YEARS}
        share = " / ".join(f"{at[y]['county_town_share']:.2f}" for y in YEARS)
        scen.append(
            f"| {name} | {share} | {at[2025]['county_town_share_incl_temporary']:.2f} | "
            f"{at[2025]['county_town_share_incl_cities']:.2f} | "
            f"{at[2030]['citizenized_migrants']:.1f} | {at[2025]['county_gdp']:,.0f} | "
            f"{at[2030]['plan_public_cost']:,.0f} |"
        )
    return "\n".join(cons) + "\n", "\n".join(scen) + "\n"


def posterior_tables(model):
    """Diagnostics of the committed posterior and how the default ensemble meets history, and
    the posterior predictive chart; returns (markdown, chart)."""
    from urbsim.calibration import census_adjusted, fit_indicators, load_observed
    from urbsim.charts import calibration_chart
    from urbsim.ensemble.montecarlo import run_montecarlo
    from urbsim.indicators import TARGETS
    from urbsim.posterior import central_run, load_posterior, middle_half

    post = load_posterior(model)
    a = post.attrs
    q = np.percentile(post.draws, [5, 50, 95], axis=0)
    lines = [
        f"{a['sampler']}: {a['walkers']} walkers x {a['steps']} steps (first half burn-in), "
        f"acceptance {a['acceptance_fraction']:.2f}, longest autocorrelation time "
        f"{a['autocorr_time_max']:.0f} steps, {len(post.draws)} draws kept, seed {a['seed']}, "
        f"{a['fit_points']} observed points.",
        "",
        "| input | prior range | p5 | median | p95 | shrinkage | ESS |",
        "|---|---|---|---|---|---|---|",
    ]
    for j, name in enumerate(post.names):
        lines.append(
            f"| {name} | {post.lo[j]:g}-{post.hi[j]:g} | {q[0, j]:.4g} | {q[1, j]:.4g} | "
            f"{q[2, j]:.4g} | {post.shrinkage[j]:.2f} | {post.ess[j]:.0f} |"
        )
    plan = urbsim.load_scenario("plan")
    mc = run_montecarlo(plan, 2000, 1, model=model)
    observed = load_observed()
    run = central_run(model, plan, outputs=[t.indicator for t in TARGETS.values()])
    check = middle_half(mc, run, observed)
    lines += [
        "",
        "`urbsim mc --scenario plan --n 2000 --seed 1` (posterior) against history and `run`:",
        "",
        "| series | year | observed | ensemble 25-75 % | inside |",
        "|---|---|---|---|---|",
    ]
    for r in check[check.kind == "history"].itertuples():
        lines.append(
            f"| {r.name} | {r.year} | {r.value:g} | {r.lo:.2f}-{r.hi:.2f} | "
            f"{'yes' if r.inside else 'no'} |"
        )
    lines += ["", "| target | run 2025 | ensemble 25-75 % (2025) | inside |", "|---|---|---|---|"]
    for r in check[check.kind == "target"].itertuples():
        lines.append(
            f"| {r.name} | {r.value:.4g} | {r.lo:.4g}-{r.hi:.4g} | {'yes' if r.inside else 'no'} |"
        )
    indicators = fit_indicators()
    ds = model.run(plan, outputs=indicators)
    chart = calibration_chart(ds, census_adjusted(observed), indicators, "en", (2010, 2024), mc)
    return "\n".join(lines) + "\n", chart


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"model/README.md has no <!-- {name}:start/end --> block")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="write the tables into model/README.md"
    )
    args = parser.parse_args(argv)
    model = urbsim.load_model()
    blocks = {"levers": lever_table(model)}
    blocks["constraints"], blocks["scenarios"] = scenario_tables(model)
    blocks["posterior"], chart = posterior_tables(model)
    for name, body in blocks.items():
        print(f"## {name}\n{body}")
    if args.write:
        readme = model_dir() / "README.md"
        text = readme.read_text(encoding="utf-8")
        for name, body in blocks.items():
            text = replace_block(text, name, body)
        readme.write_text(text, encoding="utf-8")
        stamp = Stamp(scenario="plan", model_sha256=model.sha256, date=str(dt.date.today()))
        png = chart_png(chart, stamp, "en")
        write_atomic(model_dir() / "data" / "posterior_predictive.png", png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
