"""Benchmark the JAX backend on an accelerator (figures are printed, never asserted).

    python bench/jax_gpu.py [--n 1000000] [--reps 3] [--skip-pysd]

Prints the JAX version and devices, the first call at N (XLA compilation included), the
median runs/s of ``--reps`` further calls at N with 5 recorded outputs and every constant
drawn ±20 % per run (``bench/engine.py``'s case), the ratio to PySD on the same machine, and
the largest difference from the numpy code on the first 1,000 runs (the backend must equal
it within 1e-12). All N runs go to the device in one block. The issue's goal on one H200:
≥ 5,000,000 runs/s at N = 1,000,000.

The engine compiles the model through PySD's parser, so a GPU machine without network needs
pysd==3.14.3 and those of its requirements its image lacks, carried as wheels for its Python
(compiling a model here also loads parsimonious, progressbar2, openpyxl, chardet and
defusedxml; ``pip check`` there names anything else). Then one call, with ``PYTHONPATH=src``:
``python bench/jax_gpu.py --n 1000000``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import default_model, draws, pick_outputs, pysd_seconds  # noqa: E402

from urbsim.engine import compile_model  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-pysd", action="store_true")
    a = ap.parse_args(argv)
    import jax

    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} python "
        f"{platform.python_version()} numpy {np.__version__} jax {jax.__version__}"
    )
    print(f"devices: {jax.devices()}")
    mdl = a.model or default_model()
    cm = compile_model(mdl, backend="jax")
    cm.block_size = a.n  # one block: the whole ensemble on the device at once
    outs = pick_outputs(cm)
    params = draws(cm, a.n, np.random.default_rng(1))
    print(f"model: {mdl}; recorded outputs: {outs}")

    t = time.perf_counter()
    got = cm.simulate(params, n=a.n, outputs=outs)
    print(f"first call, N={a.n:,} (XLA compilation included): {time.perf_counter() - t:.1f} s")
    secs = []
    for _ in range(a.reps):
        t = time.perf_counter()
        cm.simulate(params, n=a.n, outputs=outs)
        secs.append(time.perf_counter() - t)
    s = float(np.median(secs))
    line = f"jax N={a.n:,}: {s:.3f} s  {a.n / s:,.0f} runs/s (median of {a.reps})"
    pysd_s = None if a.skip_pysd else pysd_seconds(mdl)
    if pysd_s:
        line += f"  {a.n / s * pysd_s:,.0f}x PySD ({pysd_s:.1f} s per run here)"
    print(line)

    m = min(1_000, a.n)
    ref = compile_model(mdl)
    ref.native, ref.scalar_max_n = False, 0  # the numpy code, the reference
    sub = {k: v[:m] for k, v in params.items()}
    expect = ref.simulate(sub, n=m, outputs=outs)
    worst = 0.0
    for k, v in expect.items():
        diff = np.abs(got[k][:m] - v)
        rel = np.where(diff <= 1e-12, 0.0, diff / np.maximum(np.abs(v), 1e-300))
        worst = max(worst, float(rel.max()))
    print(f"largest relative difference from numpy, first {m:,} runs: {worst:.2e}")


if __name__ == "__main__":
    main()
