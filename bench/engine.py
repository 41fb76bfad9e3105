"""Benchmark the fast engine against PySD on one model (figures are printed, never asserted).

    python bench/engine.py [--model PATH] [--skip-pysd] [--max-n 100000] [--million]

Prints PySD's seconds per run, the engine's runs/s at N = 1, 1,000, 10,000, 100,000 with 5
recorded outputs on each execution path (native C when a compiler exists, which is the
default, with glibc's vector maths where available; native-exact, the same C with the C
library's maths; the numpy array code), the ratio to PySD, peak memory, and N = 1,000,000
streamed in chunks (default path). N = 1,000 and 10,000 report the median of 5 repetitions.
The JAX backend on an accelerator: ``bench/jax_gpu.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
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

from urbsim.engine import compile_model  # noqa: E402
from urbsim.engine.compile import SCALAR_MAX_N  # noqa: E402
from urbsim.errors import UrbsimError  # noqa: E402

DRAFT = Path("/work/shared/research/draft_county_town_sd.mdl")


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


def median_ms(fn, reps=200, rounds=7) -> float:
    """Median over ``rounds`` of the mean time of ``reps`` calls, in ms."""
    fn()
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        ts.append((time.perf_counter() - t) / reps * 1e3)
    return float(np.median(ts))


def single_through_model(mdl: Path, outs, pysd_s) -> None:
    """One run (defaults, 5 outputs) through ``urbsim.Model``: arrays and a Dataset."""
    import urbsim

    model = urbsim.load_model(mdl)
    for label, fn in (
        ("Model.simulate", lambda: model.simulate(outputs=outs)),
        ("Model.run", lambda: model.run(outputs=outs)),
    ):
        ms = median_ms(fn)
        line = f"N=1 {label:>14} ({model.engine_path}): {ms:.3f} ms per run (median of 7x200)"
        if pysd_s:
            line += f"  ({pysd_s * 1e3 / ms:,.0f}x PySD)"
        print(line)


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
    a = ap.parse_args(argv)
    mdl = a.model or default_model()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {platform.processor()} "
        f"cpus={os.cpu_count()} python {platform.python_version()} numpy {np.__version__}"
    )
    print(f"model: {mdl}")
    t = time.perf_counter()
    cm = compile_model(mdl)
    print(
        f"compile: {time.perf_counter() - t:.2f} s; {len(cm.variables)} variables, "
        f"{len(cm.time)} saved times"
    )
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

    def n1(outputs, reps=25):
        """Median seconds of one N = 1 run (the machine may be shared: median, not mean)."""
        cm.simulate(n=1, outputs=outputs)  # warm the code caches
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            cm.simulate(n=1, outputs=outputs)
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    for label, outputs in (("5 outputs", outs), ("all outputs", None)):
        for path in [*paths, *(["scalar"] if scalar_ok else []), "numpy"]:
            use(path)
            s1 = n1(outputs)
            line = f"N=1 {path:>12}, {label:<11}: {s1 * 1e3:7.2f} ms per run (median of 25)"
            if pysd_s:
                line += f"  ({pysd_s / s1:,.0f}x PySD)"
            print(line)

    single_through_model(mdl, outs, pysd_s)
    if a.single:
        return
    for path in [*paths, "numpy"]:
        use(path)
        for n in (1_000, 10_000, 100_000):
            if n > a.max_n:
                break
            params = draws(cm, n, rng)
            rss0 = rss_mb()
            reps = 5 if n <= 10_000 else 1  # shared VMs are noisy: median of 5 where cheap
            secs = []
            for _ in range(reps):
                t = time.perf_counter()
                cm.simulate(params, n=n, outputs=outs)
                secs.append(time.perf_counter() - t)
            s = float(np.median(secs))
            rate = n / s
            spread = f" (of {reps}: {n / max(secs):,.0f}-{n / min(secs):,.0f})" if reps > 1 else ""
            line = (
                f"{path:>12} N={n:>7,}: {s:7.2f} s  {rate:>10,.0f} runs/s{spread}  max RSS "
                f"{rss_mb():6.0f} MiB (+{rss_mb() - rss0:.0f})"
            )
            if pysd_s:
                line += f"  {rate * pysd_s:>12,.0f}x PySD"
            print(line)
    use(paths[0] if paths else "numpy")

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
