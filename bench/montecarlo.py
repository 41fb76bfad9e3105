"""Benchmark Monte Carlo, Sobol sensitivity and Dask overhead; prints figures, asserts nothing.

Usage: python bench/montecarlo.py [--n 100000] [--sobol-n 4096] [--skip-pysd SECONDS_PER_RUN]
       python bench/montecarlo.py --memory 50000,200000,1000000

``--memory`` runs one Monte Carlo per size in a fresh process and prints its peak resident
memory (the goal: flat in n, 10^6 runs under 2 GiB) and the disk its chunks used.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time

import urbsim
from urbsim.ensemble.montecarlo import run_montecarlo
from urbsim.ensemble.sensitivity import sobol_indices


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=100_000, help="Monte Carlo runs")
    p.add_argument("--sobol-n", type=int, default=4096, help="Sobol base samples")
    p.add_argument("--chunk", type=int, default=2048)
    p.add_argument("--skip-pysd", type=float, metavar="S", help="reuse S seconds per PySD run")
    p.add_argument("--memory", metavar="N1,N2,...", help="peak memory of Monte Carlos of size n")
    a = p.parse_args()
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"date {time.strftime('%Y-%m-%d')}"
    )
    if a.memory:
        for n in (int(x) for x in a.memory.split(",")):
            memory(n, a.chunk)
        return
    if a.skip_pysd is None:
        pysd = urbsim.load_model(engine="pysd")
        t = time.perf_counter()
        pysd.run(outputs=["county_town_share"])
        pysd_s = time.perf_counter() - t
    else:
        pysd_s = a.skip_pysd
    print(f"PySD: {pysd_s:.1f} s per run")

    model = urbsim.load_model()
    t = time.perf_counter()
    # compile once (cached on disk), outside the timings: each set of outputs has its kernel
    run_montecarlo(n=64, seed=1, model=model)
    sobol_indices(n=8, seed=1, model=model, outputs=["county_town_share"])
    print(
        f"first ensemble calls (code generation, native compile unless cached): "
        f"{time.perf_counter() - t:.1f} s; native path: {model.native_status}"
    )
    t = time.perf_counter()
    run_montecarlo(n=a.n, seed=1, model=model, chunk=a.chunk)
    mc = time.perf_counter() - t
    print(f"mc: {a.n} runs in {mc:.1f} s = {a.n / mc:.0f} runs/s ({pysd_s * a.n / mc:.0f}x PySD)")

    t = time.perf_counter()
    ds = sobol_indices(n=a.sobol_n, seed=1, model=model, outputs=["county_town_share"])
    so = time.perf_counter() - t
    print(
        f"sobol: N={a.sobol_n}, {ds.sizes['factor']} factors, {ds.attrs['runs']} runs, "
        f"{ds.sizes['year']} years of county_town_share in {so:.1f} s "
        f"(PySD would need {pysd_s * ds.attrs['runs'] / 3600:.0f} h)"
    )

    n, chunk = 8 * a.chunk, a.chunk
    t = time.perf_counter()
    run_montecarlo(n=n, seed=1, model=model, chunk=chunk)
    local = time.perf_counter() - t
    t = time.perf_counter()
    run_montecarlo(n=n, seed=1, model=model, chunk=chunk, workers=2)
    dask = time.perf_counter() - t
    print(
        f"dask: {n // chunk} chunks of {chunk}: local {local:.1f} s, LocalCluster(2) "
        f"{dask:.1f} s incl. start-up and per-worker compile; "
        f"overhead {(dask - local) / (n // chunk):+.2f} s per chunk"
    )


_ONE = """
import resource, sys, time, urbsim
from urbsim.ensemble.montecarlo import run_montecarlo
model = urbsim.load_model()
t = time.perf_counter()
run_montecarlo(n=int(sys.argv[1]), seed=1, model=model, chunk=int(sys.argv[2]), progress=True)
print(f"{time.perf_counter() - t:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def memory(n: int, chunk: int) -> None:
    """One Monte Carlo of ``n`` runs in a fresh process: its peak RSS and wall time."""
    proc = subprocess.run(
        [sys.executable, "-c", _ONE, str(n), str(chunk)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak = proc.stdout.split()[-2:]  # peak RSS of that process, KiB (Linux)
    disk = next((x for x in proc.stderr.splitlines() if x.startswith("Monte Carlo:")), "")
    print(f"mc memory: n={n:,}: peak RSS {int(peak) / 2**20:.2f} GiB, {seconds} s; {disk}")


if __name__ == "__main__":
    main()
