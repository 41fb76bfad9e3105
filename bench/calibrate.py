"""Benchmark the Bayesian calibration and the app's band with posterior draws (figures are
printed, never asserted).

    python bench/calibrate.py [--steps 4000] [--moves 30]

1. A full posterior run, as ``urbsim calibrate --seed 1 --steps STEPS`` does it (Sobol selection
   of the influential inputs included), written to a temporary file (goal: <= 10 minutes on
   2 cores).
2. The app's live band (``urbsim.app.compute.simulate_live``: the scenario plus its 200-run
   ensemble in one call) with posterior draws and with the prior, median over ``--moves``
   slider-like changes (goal: no slower with the posterior).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import urbsim  # noqa: E402
import urbsim.posterior as posterior_module  # noqa: E402
from urbsim.app import compute  # noqa: E402
from urbsim.posterior import posterior  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--moves", type=int, default=30)
    args = parser.parse_args()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    model = urbsim.load_model()
    plan = urbsim.load_scenario("plan")
    model.run(plan)  # compile outside the timings
    t0 = time.perf_counter()
    post = posterior(model, plan, seed=1, steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        post.save(Path(tmp) / "posterior.nc")
    full = time.perf_counter() - t0
    runs = post.attrs["walkers"] * args.steps
    print(
        f"posterior: {len(post.names)} inputs, {post.attrs['walkers']} walkers x {args.steps} "
        f"steps = {runs:,} runs + Sobol selection: {full:.1f} s ({runs / full:,.0f} runs/s)"
    )
    rng = np.random.default_rng(1)
    levers = [c for group in model.info.levers().values() for c in group if not c.dims]
    timings = {}
    for label, choice in (("posterior", post), ("prior", None)):
        original = posterior_module.live_posterior
        posterior_module.live_posterior = lambda m, p=choice: p  # the same draws every move
        try:
            times = []
            for _ in range(args.moves):
                c = levers[rng.integers(len(levers))]
                value = float(rng.uniform(*c.range))
                t = time.perf_counter()
                compute.simulate_live(model, plan.with_overrides({c.name: value}), seed=1)
                times.append(time.perf_counter() - t)
        finally:
            posterior_module.live_posterior = original
        timings[label] = np.median(times) * 1000
        print(f"app band ({label}): median {timings[label]:.0f} ms over {args.moves} moves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
