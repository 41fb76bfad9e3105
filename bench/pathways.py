"""Benchmark the pathway tools; prints figures, asserts nothing.

Usage: python bench/pathways.py [--maxiter 30] [--naive-runs 40]

- optimize: T2 / 2030 / 0.8 over every lever, 200 draws per candidate (goal <= 60 s on 2 cores);
- PRIM on 4,000 runs (goal <= 5 s; the ensemble's simulation timed apart);
- the app's first result: the tab's search (8 generations) and its PRIM sentence (goal <= 30 s);
- EMA Workbench: 1,000 experiments through VectorizedEvaluator against ``model.run(n=1000)``
  (goal: within 10x);

each with the ratio to a naive loop of one ``model.run`` per run (its per-run time measured on
``--naive-runs`` runs and multiplied out).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import urbsim
from urbsim.app import pathways as app_tab
from urbsim.pathways import optimize
from urbsim.pathways.discover import discover, factor_frame, prim_boxes
from urbsim.pathways.runs import draw_ensemble, evaluate


def naive_seconds_per_run(model, scenario, runs: int) -> float:
    """Seconds per ``model.run`` of one run with drawn parameters (the naive loop's unit)."""
    ens = draw_ensemble(model, scenario, runs, 7)
    drawn = ens.drawn(model.info)
    t = time.perf_counter()
    for i in range(runs):
        params = {**ens.params, **{k: v[i] for k, v in drawn.items()}}
        model.run(params, outputs=["county_town_share", "plan_public_cost"])
    return (time.perf_counter() - t) / runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--maxiter", type=int, default=30, help="generations of the full search")
    p.add_argument("--naive-runs", type=int, default=40, help="runs timed for the naive loop")
    a = p.parse_args()
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"date {time.strftime('%Y-%m-%d %H:%M')}"
    )
    model = urbsim.load_model()
    plan = urbsim.load_scenario("plan")
    t = time.perf_counter()
    ens = draw_ensemble(model, plan, 200, 1)
    evaluate(model, ens, {}, ["county_town_share", "plan_public_cost"], [2030])
    evaluate(model, ens, {}, ["county_town_share"], [2035])
    print(f"warm-up (kernels compiled or loaded from cache): {time.perf_counter() - t:.1f} s")
    per_run = naive_seconds_per_run(model, plan, a.naive_runs)
    print(f"naive loop: {per_run * 1000:.1f} ms per model.run of one run")

    t = time.perf_counter()
    report = optimize(model, plan, "T2", 2030, 0.8, n=200, seed=1, maxiter=a.maxiter)
    s = time.perf_counter() - t
    runs = report.search["evaluations"] * 200 + 17 * 200 + 9 * 1000
    print(
        f"optimize T2/2030/0.8: {s:.1f} s, {report.search['evaluations']} candidates x 200 "
        f"draws over {report.search['free_lever_elements']} lever elements "
        f"({report.search['generations']} generations), {runs:,} runs = {runs / s:,.0f} runs/s; "
        f"naive loop ~{runs * per_run:,.0f} s ({runs * per_run / s:.0f}x); feasible "
        f"{report.feasible}, P {report.p_met:.2f}"
    )

    ens = draw_ensemble(model, plan, 4000, 1)
    t = time.perf_counter()
    out = evaluate(model, ens, {}, ["county_town_share"], [2035])
    sim = time.perf_counter() - t
    y = out["county_town_share"][0, :, 0] >= 29.5
    x = factor_frame(model.info, ens)
    prim_boxes(x[:200], y[:200])  # import EMA Workbench outside the timing
    t = time.perf_counter()
    boxes = prim_boxes(x, y)
    prim_s = time.perf_counter() - t
    print(
        f"PRIM on 4,000 runs x {x.shape[1]} inputs: {prim_s:.1f} s ({len(boxes)} boxes); the "
        f"runs {sim:.1f} s (naive loop ~{4000 * per_run:,.0f} s, {4000 * per_run / sim:.0f}x)"
    )

    t = time.perf_counter()
    first = optimize(
        model, plan, "T2", 2030, 0.8, n=app_tab.DRAWS, seed=1, maxiter=app_tab.GENERATIONS
    )
    discover(model, plan, "T2", 2030, n=app_tab.PRIM_RUNS, seed=2)
    print(
        f"app first result (search of {app_tab.GENERATIONS} generations + PRIM of "
        f"{app_tab.PRIM_RUNS} runs): {time.perf_counter() - t:.1f} s; P {first.p_met:.2f}"
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench import perform_experiments

        from urbsim.pathways.ema import VectorizedEvaluator, ema_model

        em = ema_model(plan, ["county_town_share@2030"], model=model)
        t = time.perf_counter()
        with VectorizedEvaluator(em) as ev:
            perform_experiments(em, 1000, evaluator=ev)
        ema_s = time.perf_counter() - t
    params = draw_ensemble(model, plan, 1000, 3).params
    t = time.perf_counter()
    model.run(params, n=1000, outputs=["county_town_share"])
    run_s = time.perf_counter() - t
    print(
        f"EMA: 1,000 experiments in {ema_s:.1f} s; model.run(n=1000) {run_s:.1f} s "
        f"({ema_s / run_s:.1f}x); naive loop ~{1000 * per_run:.0f} s"
    )


if __name__ == "__main__":
    main()
