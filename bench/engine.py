"""Benchmark the fast engine against PySD on one model (figures are printed, never asserted).

    python bench/engine.py [--model PATH] [--skip-pysd] [--max-n 100000] [--million]

Prints PySD's seconds per run, the engine's runs/s at N = 1, 1,000, 10,000, 100,000 with 5
recorded outputs on each execution path (native C when a compiler exists, which is the
default, with vector maths where available; native-exact, the same C with the C
library's maths; the numpy array code), the ratio to PySD, peak memory, and N = 1,000,000
streamed in chunks (default path). N = 1,000 and 10,000 report the median of 5 repetitions.
Every time is also given per step-run (ns per run per Euler step), comparable across models
and horizons, and in CPU time next to wall-clock time (the CPU seconds of the run's threads,
which a loaded machine's waiting for a core does not inflate; the goals are judged on
wall-clock time). Then the arithmetic ceiling of the kernel on this machine (``ceiling.py``) and
issue 13's goals, each met or not, with the load average (a shared machine is slower); where
the model has more steps than the 60 the goals were set for, the goals again over the model's
first 60 steps (a copy with FINAL TIME 2025, the plan's horizon; ``--skip-horizon`` leaves it
out). ``--max-n 10000`` takes about 3-4 minutes (one
PySD run, kernels compiled once per machine).
The JAX backend on an accelerator: ``bench/jax_gpu.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import ceiling  # noqa: E402  (bench/ceiling.py, next to this script)

from urbsim.engine import compile_model  # noqa: E402
from urbsim.engine.compile import SCALAR_MAX_N  # noqa: E402
from urbsim.engine.native import default_lanes, maths_width  # noqa: E402
from urbsim.errors import UrbsimError  # noqa: E402

DRAFT = Path("/work/shared/research/draft_county_town_sd.mdl")
GOALS_STEPS = 60  # issue 13's goals were measured on 2020-2035 by 0.25


def default_model() -> Path:
    mdl = ROOT / "model" / "urbsim.mdl"
    if mdl.exists():
        try:
            compile_model(mdl)
            return mdl
        except UrbsimError as err:
            print(f"# model/urbsim.mdl not usable ({err}); using the draft")
    return DRAFT


def pick_outputs(cm, k=5):
    stocks = [n for n, v in cm.variables.items() if v.kind == "stateful"]
    aux = [n for n, v in cm.variables.items() if v.kind == "auxiliary"]
    return (stocks[: k - 2] + aux[-2:])[:k]


def draws(cm, n, rng):
    """±20 % draws of every non-control constant, per run."""
    out = {}
    for k, v in cm.constants.items():
        if k in ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"):
            continue
        out[k] = v * rng.uniform(0.8, 1.2, size=(n, *v.shape))
    return out


def pysd_seconds(mdl: Path) -> float:
    """Seconds of one PySD ``run()`` of ``mdl`` at its defaults (translation not counted)."""
    import pysd

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dst = Path(tmp) / mdl.name
        shutil.copy(mdl, dst)
        model = pysd.read_vensim(str(dst))
        t = time.perf_counter()
        model.run()
        return time.perf_counter() - t


def median_ms(fn, reps: int) -> tuple[float, float]:
    """Medians of ``reps`` calls of ``fn``, each timed alone, in ms: wall-clock time and this
    thread's CPU time (on a shared machine the median of single calls leaves out the calls
    another process interrupted; CPU time leaves out the waiting for a core as well)."""
    fn()  # warm the code caches (and compile a kernel not yet built)
    ts, cs = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        cs.append(time.thread_time() - c)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3, float(np.median(cs)) * 1e3


def single_through_model(mdl: Path, outs, pysd_s, steps: int) -> dict[str, float]:
    """One run (defaults, 5 outputs) through ``urbsim.Model``: arrays and a Dataset (ms)."""
    import urbsim

    model = urbsim.load_model(mdl)
    out = {}
    for label, fn in (
        ("Model.simulate", lambda: model.simulate(outputs=outs)),
        ("Model.run", lambda: model.run(outputs=outs)),
    ):
        ms, cpu = median_ms(fn, 1000)
        out[label] = ms
        line = f"N=1 {label:>14} ({model.engine_path}): {ms:.3f} ms per run (median of 1000)"
        line += f"  {ms * 1e6 / steps:,.0f} ns/step-run; CPU {cpu:.3f} ms"
        if pysd_s:
            line += f"  ({pysd_s * 1e3 / ms:,.0f}x PySD)"
        print(line)
    return out


def loadavg() -> str:
    """The load average (1, 5, 15 min): other work on the machine slows every figure."""
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def euler_steps(cm) -> int:
    c = cm.constants
    return round(float((c["FINAL TIME"] - c["INITIAL TIME"]) / c["TIME STEP"]))


def print_ceiling(cm, outs, steps: int, rate: float | None) -> None:
    """The kernel's operation mix and its arithmetic ceiling on this machine (ceiling.py)."""
    lanes = cm.native_lanes or default_lanes(cm.native_vector_math)
    c = ceiling.ceiling(cm.native_source(outs), len(cm.time), lanes, maths_width(lanes), cm.threads)
    mix = ", ".join(f"{v:,} {k}" for k, v in c["per_run"].items())
    costs = ", ".join(f"{k} {v:.2f}" for k, v in c["ns"].items())
    print(f"operation mix per run ({lanes} lanes): {mix}")
    print(f"measured ns per operation per run: {costs}")
    line = (
        f"arithmetic ceiling on {cm.threads} cores: {c['runs_per_s']:,.0f} runs/s "
        f"({c['run_ns'] / steps:,.0f} ns/step-run per core)"
    )
    if rate:
        line += f"; native N=10,000 reaches {rate / c['runs_per_s']:.0%} of it"
    print(line)


def print_goals(single: dict[str, float], rate: float | None, steps: int) -> None:
    """Issue 13's goals, as stated (ms, runs/s) and per step-run (they were set on a model
    of GOALS_STEPS steps), each met or not."""
    print(f"\ngoals (issue 13 item 5; set for a {GOALS_STEPS}-step model, this one has {steps})")
    head = f"{'goal':<36} {'measured':>14} {'met':>4} | {'ns/step-run: goal':>18}"
    print(f"{head} {'here':>7} {'met':>4}")
    rows = [
        ("N=1 Model.simulate <= 0.07 ms", single.get("Model.simulate"), 0.07, "ms"),
        ("N=1 Model.run <= 0.5 ms", single.get("Model.run"), 0.5, "ms"),
        ("N=10,000 >= 100,000 runs/s", rate, 100_000.0, "runs/s"),
    ]
    for label, got, goal, unit in rows:
        if got is None:
            print(f"{label:<36} {'not measured':>14}")
            continue
        if unit == "ms":
            goal_ns, got_ns, met = goal * 1e6 / GOALS_STEPS, got * 1e6 / steps, got <= goal
            shown = f"{got:.3f} ms"
        else:
            goal_ns, got_ns, met = 1e9 / goal / GOALS_STEPS, 1e9 / got / steps, got >= goal
            shown = f"{got:,.0f}/s"
        met_ns = got_ns <= goal_ns
        print(
            f"{label:<36} {shown:>14} {'yes' if met else 'no':>4} | {goal_ns:>18,.0f} "
            f"{got_ns:>7,.0f} {'yes' if met_ns else 'no':>4}"
        )


def time_runs(cm, params, n: int, outs, reps: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (all threads) of ``reps`` calls of ``simulate``."""
    secs, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        cm.simulate(params, n=n, outputs=outs)
        cpus.append(time.process_time() - c)
        secs.append(time.perf_counter() - t)
    return secs, cpus


def goals_horizon(mdl: Path, outs) -> None:
    """Issue 13's goals over as many steps as they were set for (GOALS_STEPS): the model with
    FINAL TIME 2025 (2010-2025 by 0.25, the plan's horizon; within the constant's documented
    range), its own first 60 steps."""
    text = mdl.read_text(encoding="utf-8")
    text, k = re.subn(r"(?m)^FINAL TIME = [0-9.]+\s*$", "FINAL TIME = 2025", text)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / mdl.name
        copy.write_text(text, encoding="utf-8")
        try:
            cm = compile_model(copy)
        except UrbsimError as err:
            print(f"goals over {GOALS_STEPS} steps: not measured ({err})")
            return
        if k != 1 or euler_steps(cm) != GOALS_STEPS or not cm.native:
            print(f"goals over {GOALS_STEPS} steps: not measured (no FINAL TIME for that)")
            return
        single = single_through_model(copy, outs, None, GOALS_STEPS)
        n = 10_000
        cm.simulate(n=16, outputs=outs)  # compiles the batch kernel
        secs, _ = time_runs(cm, draws(cm, n, np.random.default_rng(1)), n, outs, 5)
        rate = n / float(np.median(secs))
        print(f"N={n:,} (FINAL TIME 2025, median of 5): {rate:,.0f} runs/s")
    print_goals(single, rate, GOALS_STEPS)


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--skip-pysd", action="store_true")
    ap.add_argument("--max-n", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="also stream N = 1,000,000")
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--single", action="store_true", help="only the N = 1 figures")
    ap.add_argument(
        "--skip-horizon", action="store_true", help="not the goals over the first 60 steps"
    )
    a = ap.parse_args(argv)
    mdl = a.model or default_model()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {platform.processor()} "
        f"cpus={os.cpu_count()} python {platform.python_version()} numpy {np.__version__}; "
        f"{loadavg()}"
    )
    print(f"model: {mdl}")
    t = time.perf_counter()
    cm = compile_model(mdl)
    print(
        f"compile: {time.perf_counter() - t:.2f} s; {len(cm.variables)} variables, "
        f"{len(cm.time)} saved times, {euler_steps(cm)} steps"
    )
    steps = euler_steps(cm)
    outs = pick_outputs(cm)
    print(f"recorded outputs: {outs}")
    rng = np.random.default_rng(1)

    pysd_s = None
    if not a.skip_pysd:
        pysd_s = pysd_seconds(mdl)
        print(f"PySD: {pysd_s:.2f} s per run")

    native_default = cm.native

    def use(path: str):
        """Force one execution path: native (C, vector maths where available), native-exact
        (C with the C library's maths), scalar (Python floats) or numpy (arrays)."""
        cm.native = native_default and path.startswith("native")
        cm.native_vector_math = path == "native"
        cm.scalar_max_n = SCALAR_MAX_N if path == "scalar" else 0

    t = time.perf_counter()
    cm.simulate(n=1, outputs=outs)
    print(f"native path: {cm.native_status} (first call {time.perf_counter() - t:.2f} s)")
    paths = ["native", "native-exact"] if cm.native_status.startswith("compiled") else []
    scalar_ok = cm.scalar_source(outs) is not None
    print(f"scalar path: {'yes' if scalar_ok else 'not available for this model'}")

    cases = [(p, "5 outputs", outs) for p in [*paths, *(["scalar"] if scalar_ok else []), "numpy"]]
    cases += [(p, "all outputs", None) for p in paths[:1]]
    for path, label, outputs in cases:
        use(path)
        reps = 1000 if path.startswith("native") else 9
        ms, cpu = median_ms(lambda outputs=outputs: cm.simulate(n=1, outputs=outputs), reps)
        s1 = ms / 1e3
        line = f"N=1 {path:>12}, {label:<11}: {ms:7.3f} ms per run (median of {reps})"
        line += f"  {s1 * 1e9 / steps:>9,.0f} ns/step-run; CPU {cpu:.3f} ms"
        if pysd_s:
            line += f"  ({pysd_s / s1:,.0f}x PySD)"
        print(line)
    use(paths[0] if paths else "numpy")

    single = single_through_model(mdl, outs, pysd_s, steps)
    rate = None
    if a.single:
        print_goals(single, rate, steps)
        return
    for path in [*paths, "numpy"]:
        use(path)
        for n in (1_000, 10_000, 100_000):
            if n > a.max_n or (path != "native" and n != 10_000):
                continue
            params = draws(cm, n, rng)
            rss0 = rss_mb()
            # shared VMs are noisy: median of 5 where cheap; numpy takes seconds per call
            reps = 1 if n > 10_000 or path == "numpy" else 5 if path == "native" else 3
            secs, cpus = time_runs(cm, params, n, outs, reps)
            s, cpu = float(np.median(secs)), float(np.median(cpus))
            spread = f" (of {reps}: {n / max(secs):,.0f}-{n / min(secs):,.0f})" if reps > 1 else ""
            if path == "native" and n == 10_000 or not paths and path == "numpy":
                rate = n / s  # the goal's figure: the default path
            line = (
                f"{path:>12} N={n:>7,}: {s:7.2f} s  {n / s:>10,.0f} runs/s{spread}  "
                f"{s * 1e9 / n / steps:,.0f} ns/step-run (CPU {cpu * 1e9 / n / steps:,.0f}, "
                f"all threads)  max RSS {rss_mb():6.0f} MiB (+{rss_mb() - rss0:.0f})"
            )
            if pysd_s:
                line += f"  {n / s * pysd_s:>12,.0f}x PySD"
            print(line)
    use(paths[0] if paths else "numpy")
    if paths:
        print_ceiling(cm, outs, steps, rate)
    print_goals(single, rate, steps)
    if not a.skip_horizon and steps != GOALS_STEPS:
        print(f"\n# the model's first {GOALS_STEPS} steps (FINAL TIME 2025); {loadavg()}")
        goals_horizon(mdl, outs)
    print(f"# end: {loadavg()}")

    if a.million:
        total, chunk = 1_000_000, a.chunk
        rss0 = rss_mb()
        t = time.perf_counter()
        acc = {o: 0.0 for o in outs}
        for start in range(0, total, chunk):
            m = min(chunk, total - start)
            res = cm.simulate(draws(cm, m, rng), n=m, outputs=outs)
            for o in outs:  # streaming reduction: keep only the sum of the final values
                acc[o] = acc[o] + res[o][:, -1].sum(axis=0)
            del res
        s = time.perf_counter() - t
        print(
            f"N=1,000,000 in chunks of {chunk:,}: {s:.1f} s  {total / s:,.0f} runs/s  "
            f"max RSS {rss_mb():.0f} MiB (+{rss_mb() - rss0:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
