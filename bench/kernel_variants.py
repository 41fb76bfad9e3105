"""Time variants of the native kernel against each other, interleaved in one process.

    python bench/kernel_variants.py [--model PATH] [--n 10000] [--calls 1] [--rounds 5]
                                    [--only NAME ...] [--threads K]

Each variant is the default kernel with one choice changed: 4 instead of 8 lanes, glibc's
vector ``pow`` instead of ``exp(b log a)``, glibc's vector ``exp`` (libmvec) instead of the
kernel's own (``native._PRELUDE``: ``m_exp``; 8 lanes, 4 take libmvec's), glibc's ``log``
instead of the kernel's own (``m_log``), lookups by a load per lane or by vector selections
instead of permutes (a single run's: by masks instead of a scan), divisions by fixed divisors
instead of multiplications by their reciprocals, the C library's maths (exact) with 4 or 8
lanes, the single-run kernel's maths calls one by one instead of packed (``mpack.py``), other
compiler flags. The variants run in turn, round after round (``--calls`` calls of ``simulate``
each), so that a shared machine's load falls on all of them alike; the medians are printed with
the best of the rounds (the least disturbed) and the load average, in wall-clock time and in
the process's CPU time (all threads: what the runs cost the cores, which waiting for a loaded
machine's cores does not inflate; ``--threads 1`` leaves the other core to other work).
``--n 1`` times the 1-lane kernel of single runs (its vector maths are those of the variant's
batch kernel) at the model's defaults. Figures are printed, never asserted. Compiling each
variant once takes 5-60 s (cached per machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from urbsim.engine import cemit, compile_model, native  # noqa: E402

CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
_DIVIDE = "#define VDIV(a, b, rb) ((a) / (b))"
_LIBMVEC_EXP, _LIBMVEC_LOG = "-DURBSIM_LIBMVEC_EXP", "-DURBSIM_LIBMVEC_LOG"  # glibc's maths
# name: (lanes, vector maths, C text edit, lookup points chosen by selections if not default,
#        compiler flags replacing native.CFLAGS' -O2 if not default)
VARIANTS = {
    "default (8 lanes where AVX-512)": (None, True, None, None, None),
    "4 lanes": (4, True, None, None, None),
    "libmvec pow": (None, True, ("#define v_pow m_powel", "#define v_pow m_pow"), None, None),
    "divisions": (None, True, ("#define VDIV(a, b, rb) ((a) * (rb))", _DIVIDE), None, None),
    "libmvec exp/log": (None, True, None, None, ("-O2", _LIBMVEC_EXP, _LIBMVEC_LOG)),
    "libmvec log": (None, True, None, None, ("-O2", _LIBMVEC_LOG)),
    "lookups by loads": (None, True, None, 0, None),
    "lookups by selections": (None, True, ("#define VPERMS 1", "#define VPERMS 0"), None, None),
    "one run's lookups by masks": (None, True, ("#if W == 1\n", "#if 0\n"), None, None),
    "exact maths, 4 lanes": (4, False, None, None, None),
    "exact maths, 8 lanes": (8, False, None, None, None),
    "unpacked maths": (None, True, ("#define VPACK 1", "#define VPACK 0"), None, None),
    "O3": (None, True, None, None, ("-O3",)),
    "sched pressure": (None, True, None, None, ("-O2", "-fschedule-insns", "-fsched-pressure")),
    "no PLT": (None, True, None, None, ("-O2", "-fno-plt", "-fno-semantic-interposition")),
}


def variant(mdl: Path, lanes, vector_math: bool, edit, select, opt):
    """A compiled model whose kernel is built with one choice changed."""
    translate, select0, cflags = native.translate, cemit.SELECT_POINTS, native.CFLAGS

    def edited(*args, **kw):
        text = translate(*args, **kw)
        return text.replace(*edit) if edit else text

    cm = compile_model(mdl)
    cm.native_lanes, cm.native_vector_math = lanes, vector_math
    native.translate = edited
    cemit.SELECT_POINTS = select0 if select is None else select
    if opt is not None:
        native.CFLAGS = (*opt, *(f for f in cflags if f != "-O2"))
    try:
        for n in (16, 1):  # builds (or loads) the batch and the single-run kernels now
            cm.simulate(n=n, outputs=outputs(cm))
    finally:
        native.translate, cemit.SELECT_POINTS, native.CFLAGS = translate, select0, cflags
    return cm


def outputs(cm) -> list[str]:
    stocks = [n for n, v in cm.variables.items() if v.kind == "stateful"]
    aux = [n for n, v in cm.variables.items() if v.kind == "auxiliary"]
    return (stocks[:3] + aux[-2:])[:5]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=ROOT / "model" / "urbsim.mdl")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=1, help="calls of simulate per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", nargs="*", default=None, help="variants to time besides the default")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per call (default: the model's, one per core); 1 keeps the runs off a "
        "core that other work loads",
    )
    a = ap.parse_args(argv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} cpus={os.cpu_count()} load {os.getloadavg()}")
    models = {}
    for k, (name, spec) in enumerate(VARIANTS.items()):
        if k and a.only is not None and name not in a.only:
            continue
        t = time.perf_counter()
        models[name] = variant(a.model, *spec)
        if a.threads:
            models[name].threads = a.threads
        print(f"{name}: {models[name].native_status} ({time.perf_counter() - t:.1f} s)")
    cm0 = next(iter(models.values()))
    rng = np.random.default_rng(1)
    params = {
        k: v * rng.uniform(0.8, 1.2, size=(a.n, *v.shape))
        for k, v in cm0.constants.items()
        if k not in CONTROL
    }
    c = cm0.constants
    steps = round(float((c["FINAL TIME"] - c["INITIAL TIME"]) / c["TIME STEP"]))
    if a.n == 1:  # a single run at the defaults, as bench/engine.py times it
        params = {}
    secs = {name: ([], []) for name in models}  # wall, CPU seconds per round
    for _ in range(a.rounds):
        for name, cm in models.items():
            outs = outputs(cm)
            t, c = time.perf_counter(), time.process_time()
            for _ in range(a.calls):
                cm.simulate(params, n=a.n, outputs=outs)
            secs[name][1].append(time.process_time() - c)
            secs[name][0].append(time.perf_counter() - t)
    runs = a.n * a.calls
    columns = (("wall-clock", "s"), ("CPU time (all threads)", "CPU-s"))
    for col, (what, unit) in enumerate(columns):
        print(
            f"## {what}: median of {a.rounds} rounds of {a.calls} call(s), N = {a.n}, "
            f"{cm0.threads} thread(s)"
        )
        first = secs[next(iter(models))][col]
        base, base_best = runs / np.median(first), runs / min(first)
        for name, pair in secs.items():
            s = pair[col]
            rate, best = runs / np.median(s), runs / min(s)
            print(
                f"{name:<32} {rate:>9,.0f} runs/{unit}  {1e9 / rate / steps:>6,.0f} ns/step-run  "
                f"{rate / base - 1:+.0%} vs default; best of {a.rounds} {best:,.0f} runs/s "
                f"({best / base_best - 1:+.0%}), worst {runs / max(s):,.0f}"
            )
    print(f"# end: load {os.getloadavg()}")


if __name__ == "__main__":
    main()
