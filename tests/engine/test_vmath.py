"""The native kernel's own vector exp and log (``native._PRELUDE``: ``m_exp``, ``m_log`` and
``m_powel`` over them) against the C library's scalar functions: at most 2 ulp apart over
millions of arguments spanning every binade, the C library's numbers exactly where the fast
path does not reach (NaN, inf, 0, negative, overflow, underflow, subnormal results and
arguments), and each lane's result a
function of its own argument alone.

A small C harness is compiled with the kernel's prelude, as ``bench/ceiling.py`` does, and
called through ``ctypes``. Skipped where there is no C compiler (outside CI), where the C
library has no libmvec (the kernel takes the C library's maths lane by lane there, which the
scalar-equality tests of ``test_native.py`` hold bit for bit) and where the CPU has no AVX-512
(its 4-lane kernels keep glibc's libmvec exp and log, measured faster there on Zen 4).
"""

from __future__ import annotations

import ctypes
import platform
import sys
from pathlib import Path

import numpy as np
import pytest
from _paths import require_compiler

from urbsim.engine import native

EXP, LOG, POW = 0, 1, 2
_HARNESS = r"""
/* fn: EXP, LOG or POW (x^b); vec: the kernel's vector maths over MW lanes at a time (n a
   multiple of MW), else the C library's functions one by one; -1 where the build has no
   vector maths */
int urbsim_maths(int fn, int vec, const double *x, const double *b, double *y, long n) {
#if VPACK
    if (vec) {
        for (long i = 0; i < n; i += MW) {
            vdm a, c, r;
            memcpy(&a, x + i, sizeof a);
            memcpy(&c, b + i, sizeof c);
            r = fn == 0 ? m_exp(a) : fn == 1 ? m_log(a) : m_powel(a, c);
            memcpy(y + i, &r, sizeof r);
        }
        return 0;
    }
#endif
    if (vec) return -1;
    for (long i = 0; i < n; i++) y[i] = fn == 0 ? exp(x[i]) : fn == 1 ? log(x[i]) : pow(x[i], b[i]);
    return 0;
}
"""
# exp: both ends of the fast path, overflow's threshold (709.78), the smallest normal result
# (-708.40), the subnormal results down to the last one (-745.13) and beyond
EXP_EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-300, -1e-300, 5e-324, -5e-324]
EXP_EDGES += [708.0, -708.0, np.nextafter(708.0, 709.0), np.nextafter(-708.0, -709.0), 709.0]
EXP_EDGES += [709.782712893384, 709.7827128933841, 710.0, -708.3964185322641, -708.4, -709.0]
EXP_EDGES += [-744.44, -745.1332191019411, -745.1332191019412, -745.2, -746.0, 1e308, -1e308]
# log: 0, negative, subnormal, the smallest normal, 1 and its neighbours, the reduction's seams
# (sqrt(2)/2 and sqrt(2)), the largest finite number, inf and NaN
LOG_EDGES = [0.0, -0.0, -1.0, -1e-300, -np.inf, np.inf, np.nan, 5e-324, 1e-310]
LOG_EDGES += [2.2250738585072014e-308, 2.225073858507201e-308, 1.0, np.nextafter(1.0, 2.0)]
LOG_EDGES += [np.nextafter(1.0, 0.0), 0.7071067690849304, 0.70710676908493, 1.4142135381698608]
LOG_EDGES += [1.4142135381698606, 2.0, 0.5, 1.7976931348623157e308]


@pytest.fixture(scope="module")
def maths():
    """``f(fn, x, b=None, vec=True)``: the harness's results for the arguments ``x``."""
    require_compiler()
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        pytest.skip("not x86-64 Linux: the kernel's maths are the C library's")
    if " avx512f" not in flags:
        pytest.skip("no AVX-512: the kernel's 4-lane exp is glibc's libmvec")
    mw = 8
    head = [f"#define W {mw}", f"#define MW {mw}", "#define DT 1.0"]
    head.append("#define VB(c) ((vd){" + ", ".join(["(c)"] * mw) + "})")
    lib = ctypes.CDLL(str(native.build("\n".join([*head, native._PRELUDE, _HARNESS]))))
    if not lib.urbsim_vector_math():
        pytest.skip("no libmvec: the kernel's maths are the C library's")
    f = lib.urbsim_maths
    f.restype = ctypes.c_int
    f.argtypes = [ctypes.c_int, ctypes.c_int, *[ctypes.c_void_p] * 3, ctypes.c_long]

    def call(fn: int, x, b=None, vec: bool = True) -> np.ndarray:
        n = len(x)
        pad = -n % mw  # whole vectors; the padding's lanes are dropped
        x = np.concatenate([np.asarray(x, dtype=np.float64), np.ones(pad)])
        b = np.ones_like(x) if b is None else np.concatenate([b, np.ones(pad)])
        y = np.empty_like(x)
        assert f(fn, int(vec), x.ctypes.data, b.ctypes.data, y.ctypes.data, len(x)) == 0
        return y[:n]

    return call


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Units in the last place between finite or infinite doubles (0 and -0 are 0 apart)."""
    ia, ib = a.view(np.int64), b.view(np.int64)
    # a monotonic map of the doubles onto the integers: negatives mirrored below 0
    oa = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)
    ob = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    return np.abs(oa - ob)


def _check(maths, fn: int, x: np.ndarray, exact) -> None:
    """``maths``' ``fn`` over ``x`` against the C library's: NaN where it gives NaN, at most
    2 ulp apart, bit for bit where ``exact(x)``, and each result a function of its own
    argument alone."""
    got, want = maths(fn, x), maths(fn, x, vec=False)
    m = exact(x)
    assert m.sum() > 1000
    np.testing.assert_array_equal(got[m].view(np.int64), want[m].view(np.int64))
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    assert _ulps(got[~nan], want[~nan]).max() <= 2
    # the edges spread among ordinary arguments, so that some groups take the rare branch and
    # others not: shuffled, every argument keeps its result
    mixed = np.concatenate([x[:4000], x[m][:500]])
    order = np.random.default_rng(fn).permutation(len(mixed))
    once, shuffled = maths(fn, mixed), maths(fn, mixed[order])
    np.testing.assert_array_equal(once[order].view(np.int64), shuffled.view(np.int64))


def test_exp_is_within_2_ulp_of_the_c_librarys_and_equals_it_at_the_edges(maths):
    rng = np.random.default_rng(13)
    x = np.concatenate(
        [
            rng.uniform(-746.0, 710.0, 1_000_000),  # every result's binade, both ends past
            rng.uniform(-1.0, 2.0, 300_000),  # the model's arguments
            rng.uniform(-1e-8, 1e-8, 100_000),
            np.ldexp(rng.uniform(-1.0, 1.0, 100_000), rng.integers(-1074, 10, 100_000)),
            EXP_EDGES,
        ]
    )
    assert (maths(EXP, np.array([0.0, -0.0])) == 1.0).all()
    # outside the fast path's |x| <= 708 (EXP_FAST in native._PRELUDE): NaN, inf, overflow,
    # underflow and subnormal results, and 708 < x < 709.78, the C library's
    _check(maths, EXP, x, lambda v: ~((v >= -708.0) & (v <= 708.0)))


def test_log_is_within_2_ulp_of_the_c_librarys_and_equals_it_at_the_edges(maths):
    rng = np.random.default_rng(5)
    # every positive double's bit pattern (subnormals included), every binade
    bits = rng.integers(0, 0x7FF0_0000_0000_0000, 1_000_000, dtype=np.int64)
    x = np.concatenate(
        [
            bits.view(np.float64),
            rng.uniform(0.35, 2.2, 300_000),  # the model's arguments
            1.0 + rng.uniform(-1e-6, 1e-6, 100_000),  # results near 0
            rng.uniform(-2.0, 0.0, 10_000),  # NaN
            LOG_EDGES,
        ]
    )
    assert maths(LOG, np.array([1.0])).view(np.int64)[0] == 0  # +0
    # 0, negative, subnormal, inf, NaN: the C library's
    _check(maths, LOG, x, lambda v: ~((v >= 2.2250738585072014e-308) & (v < np.inf)))


def test_pow_as_exp_of_b_log_a_stays_within_its_documented_bound(maths):
    """``a^b`` is ``exp(b log a)`` where the base is positive and ``|b log a| <= 128``: within
    ``|b log a| x 2.5 + 2`` ulp of the C library's ``pow`` (``native._PRELUDE``: the logs
    measured at most 2 ulp off, the product half an ulp, exp 1 of 2)."""
    rng = np.random.default_rng(30)
    a = np.exp(rng.uniform(-30.0, 30.0, 400_000))
    b = rng.uniform(-4.0, 4.0, 400_000)
    y = np.abs(b * np.log(a))
    got, want = maths(POW, a, b), maths(POW, a, b, vec=False)
    rel = np.abs(got / want - 1.0) / 2.0**-52
    assert (rel <= 2.5 * y + 2.0).all(), (rel - 2.5 * y).max()
