"""Benchmark the app's response to a slider move (figures are printed, never asserted).

    python bench/app.py [--moves 50] [--seed 1] [--browser]

Server side: for each of ``--moves`` random slider moves (a random lever set to a random value
on its slider grid), the time until every chart's spec is ready: the scenario run plus its
200-run uncertainty ensemble (one vectorized call), the scorecard and the eight chart specs. The
baseline run is cached in the app, so it is done once before timing. Prints median and p95.

``--browser`` also serves the app (``urbsim.app.server``: the model and first runs are warmed
before the server answers) and measures in Debian's chromium the first visit to a complete page
and, per slider move, the time until the scorecard and charts show the new values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import urbsim  # noqa: E402
from urbsim.app.compute import (  # noqa: E402
    scenario_for,
    scorecard_frame,
    simulate_case,
    simulate_live,
)
from urbsim.app.serve import CHROMIUM, CHROMIUM_ARGS, serve_app  # noqa: E402
from urbsim.app.state import DEFAULT_SEED  # noqa: E402
from urbsim.charts import CHARTS, chart_data, time_spec  # noqa: E402
from urbsim.scenarios import list_scenarios  # noqa: E402


def _random_move(info, rng: np.random.Generator) -> dict:
    """One slider moved: a lever (or one element of it) set to a value on its grid."""
    levers = [c for group in info.levers().values() for c in group]
    c = levers[rng.integers(len(levers))]
    lo, hi = c.range
    steps = int(round((hi - lo) / c.step)) if c.step else 100
    value = float(lo + (hi - lo) * rng.integers(steps + 1) / steps)
    if c.dims:
        elements = info.subscripts[c.dims[0]]
        return {c.name: {elements[rng.integers(len(elements))]: value}}
    return {c.name: value}


def server_side(moves: int, seed: int) -> list[float]:
    """Seconds from a slider move to every chart spec being ready, per move."""
    model = urbsim.load_model()
    model.time  # noqa: B018 - compile before timing, as the app does at start
    presets = {s.name: s for s in list_scenarios(model.info)}
    baseline = simulate_case(model, presets["baseline"])
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(moves):
        move = _random_move(model.info, rng)
        start = time.perf_counter()
        scenario = scenario_for(presets, "plan", move)
        single, ensemble = simulate_live(model, scenario, DEFAULT_SEED)
        scorecard_frame(single, ensemble)
        for chart in CHARTS.values():
            data = chart_data(
                chart, {"current": single, "baseline": baseline}, "en", ensemble=ensemble
            )
            json.dumps(time_spec(chart, data, "en"))  # what the browser is sent
        times.append(time.perf_counter() - start)
    return times


def browser_times(moves: int) -> tuple[float, float, list[float]]:
    """In chromium: seconds to start the server (model and first runs warmed before it
    answers), seconds from the first visit to the complete page, and per slider move (arrow
    key on a lever) the seconds until the scorecard and every chart show the new values."""
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    with serve_app(timeout_s=180) as url, sync_playwright() as p:
        ready = time.perf_counter() - start
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        start = time.perf_counter()
        page.goto(f"{url}/?lang=en")
        _settled(page)
        first = time.perf_counter() - start
        page.get_by_test_id("stSidebarUserContent").get_by_text("People", exact=True).click()
        thumb = page.get_by_role("slider").first
        times = []
        for i in range(moves):
            before = _t2(page)
            thumb.focus()
            start = time.perf_counter()
            thumb.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
            page.wait_for_function(
                "(b) => { const r = [...document.querySelectorAll('[data-testid=stTable] tr')]"
                ".find(r => r.innerText.includes('T2')); return r && r.innerText !== b; }",
                arg=before,
                timeout=30_000,
            )
            _settled(page)
            times.append(time.perf_counter() - start)
        browser.close()
    return ready, first, times


def _t2(page) -> str:
    return page.locator("[data-testid='stTable'] tr", has_text="T2").first.inner_text()


def _settled(page) -> None:
    """Scorecard and charts drawn and Streamlit no longer running the script."""
    page.locator("[data-testid='stTable']").wait_for(timeout=120_000)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=120_000)
    page.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--browser", action="store_true", help="also time the first visit and slider moves"
    )
    parser.add_argument("--browser-moves", type=int, default=12, help="slider moves in chromium")
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; {dt.date.today()}"
    )
    times = np.array(server_side(args.moves, args.seed)) * 1000
    print(
        f"slider move -> all chart specs ready ({args.moves} moves, 1 + 200 runs each): "
        f"median {np.median(times):.0f} ms, p95 {np.percentile(times, 95):.0f} ms, "
        f"min {times.min():.0f} ms (goal: median <= 150 ms)"
    )
    if args.browser:
        ready, first, moves = browser_times(args.browser_moves)
        ms = np.array(moves) * 1000
        print(f"server start with warm-up (until it answers): {ready:.1f} s")
        print(f"first visit -> complete page in chromium: {first:.2f} s (goal <= 3 s)")
        print(
            f"slider move -> scorecard and charts updated in chromium ({len(moves)} moves): "
            f"median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms "
            "(goal <= 250 ms)"
        )


if __name__ == "__main__":
    main()
