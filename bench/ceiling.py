"""The arithmetic ceiling of the native kernel, measured on this machine (used by engine.py).

What a run would cost if the CPU did nothing but the kernel's float operations, each at the
throughput this machine shows for it in the kernel's vector width: additions and
multiplications in registers (independent chains), divisions, the kernel's vector exp and
log (``native._PRELUDE``: ``m_exp``, ``m_log``; glibc's with 4 lanes), the kernel's pow
(``exp(b log a)``), and one 5-point table lookup. The operation mix is counted
in the kernel's C text (call sites and operators as written: a call the compiler computes once,
such as ``log(2)``, is counted each time, and a division by a power of two, which it turns into
a multiplication, as a division), once for initialisation and once per time step. Loads,
stores, spills, branches and Python are what the ceiling leaves out; what it counts as written
but the compiler saves makes it an estimate, not a strict bound (a kernel can beat it).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from urbsim.engine import cemit, native  # noqa: E402

OPS = ("arith", "div", "exp", "log", "pow", "lookup")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_PATTERNS = {
    "exp": r"\bv_exp\(",
    "log": r"\bv_log\(",
    "pow": r"\bv_pow\(",
    "lookup": r"\bv_lkf?_\w+\(",
    "div": r" / ",
    "arith": r" [-+*&|] | [<>]=? | [=!]= |\(-|\(~|\bvsel\(|\bvbool\(",
}

_BENCH = r"""
#include <time.h>
#define NB 64
static vd A[NB], B[NB], R[NB];
static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec;
}
/* seconds for reps x NB vector operations of kind op (arith: 16 per step, see below) */
double urbsim_bench(int op, long reps) {
    static const double y[5] = {1.0, 2.0, 1.5, 3.0, 2.0};
    const double *ys[W];
    for (int l = 0; l < W; l++) ys[l] = y;
    for (int i = 0; i < NB; i++)
        for (int l = 0; l < W; l++) {
            A[i][l] = 0.5 + (double)((i * W + l) % 97) / 64.0;  /* 0.5 .. 2 */
            B[i][l] = -1.0 + (double)((i * 7 + l) % 89) / 44.0; /* -1 .. 1 */
        }
    vd x[8];
    for (int j = 0; j < 8; j++) x[j] = A[j];
    double t0 = now();
    for (long r = 0; r < reps; r++) {
        for (int i = 0; i < NB; i++) {
            switch (op) {
            case 0: for (int j = 0; j < 8; j++) x[j] = x[j] * VB(0.999) + VB(0.001); break;
            case 1: for (int j = 0; j < 8; j++) x[j] = A[j] / x[j]; break;
            case 2: R[i] = v_exp(B[i]); break;
            case 3: R[i] = v_log(A[i]); break;
            case 4: R[i] = v_pow(A[i], B[i]); break;
            default: R[i] = v_lk_b(A[i], ys);
            }
        }
        __asm__ volatile("" ::: "memory");
    }
    double s = now() - t0;
    for (int j = 0; j < 8; j++) R[j] += x[j];
    return s;
}
"""


def op_counts(csrc: str) -> tuple[dict[str, int], dict[str, int]]:
    """Operations of the kernel's C text: (initialisation, one time step)."""
    body = csrc[csrc.index("long urbsim_run(") :]
    loop = body.index("for (k = 0; k < nT; k++)")
    end = body.index("for (long j = 0; j < nown")

    def count(text: str) -> dict[str, int]:
        text = _COMMENT.sub("", text)  # Vensim names in comments are not operations
        lines = [x for x in text.splitlines() if "OUT[" not in x and "o[" not in x]
        text = "\n".join(lines)
        return {op: len(re.findall(_PATTERNS[op], text)) for op in OPS}

    return count(body[:loop]), count(body[loop:end])


def per_lane_ns(lanes: int, maths: int, defines: tuple[str, ...] = ()) -> dict[str, float]:
    """Nanoseconds per operation per run (lane) on this machine, vector maths as the kernel
    (``defines``: macros set before the prelude, such as ``URBSIM_LIBMVEC_EXP``)."""
    head = [f"#define {d}" for d in defines]
    head += [f"#define W {lanes}", f"#define MW {maths}", "#define DT 0.25"]
    head.append("#define VB(c) ((vd){" + ", ".join(["(c)"] * lanes) + "})")
    lookup = cemit.lookup_function("_lk", "b", [0.0, 0.5, 1.0, 1.5, 2.0])
    lib = ctypes.CDLL(str(native.build("\n".join([*head, native._PRELUDE, lookup, _BENCH]))))
    f = lib.urbsim_bench
    f.restype, f.argtypes = ctypes.c_double, [ctypes.c_int, ctypes.c_long]
    out = {}
    for k, op in enumerate(OPS):
        reps, per_step = (20_000, 16 if op == "arith" else 8) if k < 2 else (2_000, 1)
        reps //= 4  # short tries, the least disturbed of 9 (other work on shared machines)
        f(k, reps)  # warm
        secs = min(f(k, reps) for _ in range(9))
        out[op] = secs * 1e9 / (reps * 64 * per_step * lanes)
    return out


def ceiling(csrc: str, steps: int, lanes: int, maths: int, threads: int) -> dict:
    """Runs/s on ``threads`` cores if only the operations counted in ``csrc`` took time;
    ``steps`` loop iterations per run."""
    init, step = op_counts(csrc)
    ns = per_lane_ns(lanes, maths)
    per_run = {op: init[op] + steps * step[op] for op in OPS}
    run_ns = sum(per_run[op] * ns[op] for op in OPS)
    return {"per_run": per_run, "ns": ns, "runs_per_s": threads * 1e9 / run_ns, "run_ns": run_ns}


def main(argv=None) -> None:
    """Print the per-operation figures of the kernel's vector maths, of glibc's libmvec exp
    and log instead of the kernel's (``-DURBSIM_LIBMVEC_EXP -DURBSIM_LIBMVEC_LOG``; pow as
    exp(b log a) over them) and of libmvec's log alone (``-DURBSIM_LIBMVEC_LOG``), measured
    in turn, the best of ``--rounds`` for each."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} cpus={os.cpu_count()} load {os.getloadavg()}")
    kinds = {
        "kernel": (),
        "libmvec exp/log": ("URBSIM_LIBMVEC_EXP", "URBSIM_LIBMVEC_LOG"),
        "libmvec log": ("URBSIM_LIBMVEC_LOG",),
    }
    for lanes in sorted({native.default_lanes(True), native.LANES}, reverse=True):
        maths = native.maths_width(lanes)
        best: dict = {k: {} for k in kinds}
        for _ in range(a.rounds):
            for kind, defines in kinds.items():
                for op, ns in per_lane_ns(lanes, maths, defines).items():
                    best[kind][op] = min(ns, best[kind].get(op, ns))
        for kind, ns in best.items():
            row = "  ".join(f"{op} {ns[op]:.3f}" for op in OPS)
            print(f"{lanes} lanes, {kind:<16} ns per run: {row}")
    print(f"# end: load {os.getloadavg()}")


if __name__ == "__main__":
    main()
