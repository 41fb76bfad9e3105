"""Benchmark the app's response to a slider move (figures are printed, never asserted).

    python bench/app.py [--moves 50] [--seed 1] [--browser]

Server side: for each of ``--moves`` random slider moves (a random lever set to a random value
on its slider grid), the time until every chart's spec is ready: the scenario run plus its
200-run uncertainty ensemble (one vectorized call), the scorecard and the eight chart specs. The
baseline run is cached in the app, so it is done once before timing. Prints median and p95.

``--browser`` also serves the app (``urbsim.app.server``: the model and first runs are warmed
before the server answers) and measures in Debian's chromium the first visit to a complete page
(and a few more fresh visitors) and, per slider move to a new state, the time until the rerun
has finished and is painted. The machine's load average is printed with the figures: on a
shared machine the browser and the server compete for the same cores.
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
    """Seconds from a slider move to every chart spec being ready (the scenario and its
    ensemble run, the scorecard, each chart's spec and its data as the Arrow tables Streamlit
    sends), per move."""
    from streamlit.dataframe_util import convert_anything_to_arrow_bytes

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
            spec = time_spec(chart, data, "en", arrow=True)
            for frame in spec.pop("datasets").values():  # what st.vega_lite_chart sends
                convert_anything_to_arrow_bytes(frame)
            json.dumps(spec)
        times.append(time.perf_counter() - start)
    return times


#: Installs a watcher of Streamlit's script state on the page (``data-test-script-state`` of
#: the app root): ``window.__ran`` turns true once a rerun has started.
_WATCH = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  window.__ran = false;
  if (window.__watch) window.__watch.disconnect();
  window.__watch = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') window.__ran = true;
  });
  window.__watch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
_IDLE = (
    "() => document.querySelector('[data-testid=stApp]')"
    ".getAttribute('data-test-script-state') === 'notRunning'"
)
#: Resolves after the next two frames: everything the last message changed is painted.
_PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def browser_times(moves: int, visits: int) -> tuple[float, list[float], list[float]]:
    """In chromium: seconds to start the server (model and first runs warmed before it
    answers); seconds from opening the page to the complete page painted (scorecard, charts,
    script finished), for the first visit, then ``visits - 1`` more fresh visitors, then a
    returning visitor (a new session, Streamlit's files in the browser's cache); and per
    slider move the seconds from the key press until the rerun has finished and its result is
    painted.

    Each move sets a new state (a run nobody asked for before, as when a person drags): the
    People group's sliders take turns, each pressed towards its farther end.
    """
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    with serve_app(timeout_s=180) as url, sync_playwright() as p:
        ready = time.perf_counter() - start
        browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        firsts = []
        for _ in range(visits):  # a fresh context: an empty browser cache, a new session
            context = browser.new_context(viewport={"width": 1500, "height": 1400})
            page = context.new_page()
            start = time.perf_counter()
            page.goto(f"{url}/?lang=en")
            _settled(page)
            firsts.append(time.perf_counter() - start)
        # a returning visitor: a new session in a browser that has Streamlit's files cached
        again = context.new_page()
        start = time.perf_counter()
        again.goto(f"{url}/?lang=en")
        _settled(again)
        firsts.append(time.perf_counter() - start)
        again.close()
        page.get_by_test_id("stSidebarUserContent").get_by_text("People", exact=True).click()
        _settled(page)
        sliders = page.locator("[data-testid=stSidebarUserContent] input[type=range]").all()
        times = []
        for i in range(moves):
            thumb = sliders[i % len(sliders)]
            lo, hi, now = (float(x) for x in thumb.evaluate("e => [e.min, e.max, e.value]"))
            thumb.focus()
            time.sleep(0.3)  # let the page go quiet
            page.evaluate(_WATCH)
            start = time.perf_counter()
            thumb.press("ArrowLeft" if now - lo > hi - now else "ArrowRight")
            page.wait_for_function(f"() => window.__ran && ({_IDLE})()", timeout=30_000)
            page.evaluate(_PAINTED)
            times.append(time.perf_counter() - start)
        browser.close()
    return ready, firsts, times


def _settled(page) -> None:
    """Scorecard and charts drawn, the script finished and the result painted."""
    page.locator("[data-testid='stTable']").wait_for(timeout=120_000)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=120_000)
    page.wait_for_function(_IDLE, timeout=120_000)
    page.evaluate(_PAINTED)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--browser", action="store_true", help="also time the first visit and slider moves"
    )
    parser.add_argument("--browser-moves", type=int, default=12, help="slider moves in chromium")
    parser.add_argument(
        "--visits", type=int, default=3, help="fresh visitors timed in chromium (the first cold)"
    )
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
        print(f"before the browser runs: {_load()}")
        ready, firsts, moves = browser_times(args.browser_moves, args.visits)
        ms = np.array(moves) * 1000
        print(f"server start with warm-up (until it answers): {ready:.1f} s")
        rest = ", ".join(f"{x:.2f}" for x in firsts[1:-1])
        later = f"; next {len(firsts) - 2} fresh visitors: {rest} s" if len(firsts) > 2 else ""
        print(
            f"first visit -> complete page painted in chromium: {firsts[0]:.2f} s{later}; "
            f"a returning visitor (browser cache warm): {firsts[-1]:.2f} s (goal <= 3 s)"
        )
        print(
            f"slider move -> rerun finished and painted in chromium ({len(moves)} moves, each "
            f"a new state): median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, "
            f"min {ms.min():.0f} ms (goal <= 250 ms)"
        )
        print(f"after: {_load()}")


if __name__ == "__main__":
    main()
