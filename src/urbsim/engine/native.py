"""Native path: the element-level IR printed as C with SIMD over runs, compiled once.

The numpy backend pays for ~730 array operations per time step (temporaries, call overhead);
the scalar backend pays Python's interpreter per float operation. Both are the same program:
:mod:`lower` unrolls every array statement into the element-level IR (:mod:`ir`), one
variable per element. :func:`translate` prints that IR (through :mod:`cemit`) as a C function
``urbsim_run`` in which every variable is a vector of several runs (GCC/Clang vector
extensions: 8 runs, one AVX-512 register of float64, where the CPU has AVX-512, else 4; 1
for a single run), compiles it with the machine's C compiler
(``$CC``, else ``cc``, ``gcc``, ``clang``, else the ``ziglang`` package) and calls it with
``ctypes``, which releases the GIL, on several threads. The shared library is cached under
:func:`urbsim.cache.subdir` keyed by the sha256 of the C text, the compiler, the flags and
the CPU, so each model and set of outputs is compiled once per machine; its content hash is
checked before each load (:mod:`urbsim.cache`).

Numerics: element-wise IEEE operations are exact in SIMD; branches evaluate both sides and
select per lane; no fused multiply-add, no fast-math. ``exp``/``log``/``pow`` are, by default
on x86-64 Linux with AVX2, vector maths over 4 or 8 runs at a time, each lane computed from its
own argument alone: with 8 (AVX-512) the kernel's own ``exp`` and ``log``, inlined (at most
1 ulp from the C library's measured, 2 tested; the C library's numbers beyond their fast
ranges), else glibc's (libmvec, a few ulp); ``pow`` as ``exp(b log a)`` where the base is positive,
else glibc's vector ``pow``. They halve the maths' cost; a single run's 1-lane kernel calls the
same functions, several independent calls packed into one (:mod:`mpack`, each in its own lane),
so it gets the batch's numbers. The results stay within 1e-12 of the scalar code's (tested on
every probe and the model).
The same build multiplies by reciprocals where the program divides by a value fixed for
the run (parameters, initial values, literals, lookup segment widths: ``VDIV``, each product
within 1.5 ulp of the division), refusing runs whose divisors have no normal reciprocal
(:data:`RCP_REFUSED`: numpy's code computes them).
Elsewhere, or with ``vector_math=False``, they are the C library's, called per lane as
Python's :mod:`math` calls them, and every lane reproduces the scalar backend's numbers bit
for bit (tested). Where Python raises (x/0, ``log(0)``), C yields inf/NaN as numpy does.
Python's float ``%`` (floor modulo) and ``np.round`` (half to even) are replicated by
``u_mod`` and ``nearbyint``.

Safety: the C text is printed from the IR, whose nodes hold only generated identifiers
(prefixed ``u_`` here, so they cannot collide with C or libm names), numbers (emitted as exact
hexadecimal float literals) and whitelisted operators and functions; anything else raises
:class:`NotNative` and the model keeps the numpy/scalar backends. The model's names appear
only in comments, with anything that could end a comment removed (:func:`ir.comment_text`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from urbsim import cache
from urbsim.errors import ModelError

from . import ir
from .cemit import CEmitter, NotNative, clit, fixed_divisors, lookup_function

# -ffp-contract=off: no fused multiply-add, so every operation rounds as in Python/numpy;
# -fno-math-errno lets the compiler treat exp/log/pow as pure (same results, no errno writes)
# -fno-builtin-*: a call of the C library's maths with constant arguments is computed at run
# time by the C library, never folded by the compiler (GCC folds correctly rounded, which
# can differ from the C library's in the last bit: sinh(2) did, between the 1-lane and the
# batch kernel, and against Python's math module)
CFLAGS = ("-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno", "-w")
CFLAGS += tuple(f"-fno-builtin-{f}" for f in ("exp", "log", "pow", "sin", "cos", "tan"))
CFLAGS += tuple(f"-fno-builtin-{f}" for f in ("asin", "acos", "atan", "sinh", "cosh", "tanh"))
# tuned for this CPU where the compiler supports it; the library's key includes the CPU
# (``_host``), so a cache shared between different machines never loads a foreign build
NATIVE_ARCH = ("-march=native",)
COMPILE_TIMEOUT_S = 600  # a compiler that hangs must not hang the run: numpy takes over
# urbsim_run's answer where a divisor fixed for the run has no normal reciprocal
# (``v_rcp_bad``): the vector-maths kernel refuses those runs and the numpy code takes them
RCP_REFUSED = -1
LANES = 4  # runs per SIMD value where the CPU has no AVX-512: 4 x float64 = one AVX2 register

_PRELUDE = r"""
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* one value per lane (run); comparisons give masks (all bits set = true) */
typedef double vd __attribute__((vector_size(8 * W)));
typedef long long vm __attribute__((vector_size(8 * W)));

static inline vd vsel(vm m, vd a, vd b) { return (vd)((m & (vm)a) | (~m & (vm)b)); }
static inline vd vbool(vm m) { return vsel(m, VB(1.0), VB(0.0)); }
/* const: pure functions of their arguments, so repeated calls are computed once */
#define LANEWISE1(name, f) static inline __attribute__((const)) vd name(vd a) \
    { vd r; for (int l = 0; l < W; l++) r[l] = f(a[l]); return r; }
#define LANEWISE2(name, f) static inline __attribute__((const)) vd name(vd a, vd b) \
    { vd r; for (int l = 0; l < W; l++) r[l] = f(a[l], b[l]); return r; }

/* exp, log, pow over MW runs at a time (4 with AVX2, 8 with AVX-512) where the build asks for
   vector maths (-DURBSIM_MVEC, linked with glibc's libmvec) and the CPU has them; else the C
   library run by run, as Python's math module calls it (bit for bit the scalar code's
   numbers). Each lane's result depends on its own arguments alone, so a kernel with fewer
   lanes than MW (single runs) packs independent calls into one (mpack.py) and every run gets
   the same numbers whatever the kernel's lanes (tested). */
#if defined(URBSIM_MVEC) && ((MW == 4 && defined(__AVX2__)) || (MW == 8 && defined(__AVX512F__)))
#include <immintrin.h>
typedef double vdm __attribute__((vector_size(8 * MW)));
typedef long long vmm __attribute__((vector_size(8 * MW)));
typedef unsigned long long vum __attribute__((vector_size(8 * MW)));
/* glibc's vector maths: pow for m_powel's other lanes, and exp and log with 4 lanes or
   where the build defines URBSIM_LIBMVEC_EXP or URBSIM_LIBMVEC_LOG
   (bench/kernel_variants.py times these choices against each other) */
#if MW == 4
vdm _ZGVdN4v_exp(vdm) __attribute__((const));
vdm _ZGVdN4v_log(vdm) __attribute__((const));
vdm _ZGVdN4vv_pow(vdm, vdm) __attribute__((const));
#define mv_exp _ZGVdN4v_exp
#define mv_log _ZGVdN4v_log
#define m_pow _ZGVdN4vv_pow
#else
vdm _ZGVeN8v_exp(vdm) __attribute__((const));
vdm _ZGVeN8v_log(vdm) __attribute__((const));
vdm _ZGVeN8vv_pow(vdm, vdm) __attribute__((const));
#define mv_exp _ZGVeN8v_exp
#define mv_log _ZGVeN8v_log
#define m_pow _ZGVeN8vv_pow
#endif
/* whether every lane of x lies in [lo, hi] (NaN does not): two comparisons and a mask test,
   where a reduction of the comparisons' vector took ten instructions */
static inline int m_within(vdm x, double lo, double hi) {
#if MW == 8
    return (_mm512_cmp_pd_mask((__m512d)x, _mm512_set1_pd(lo), _CMP_GE_OQ)
            & _mm512_cmp_pd_mask((__m512d)x, _mm512_set1_pd(hi), _CMP_LE_OQ)) == 0xff;
#else
    return _mm256_movemask_pd((__m256d)((x >= lo) & (x <= hi))) == 0xf;
#endif
}

/* m_exp and m_log over 8 lanes (AVX-512): the fast
   path in vector registers, inlined into the kernel (a call of libmvec spills every live
   vector register, and its exp looks its table up by a gather, slow on AMD's Zen 4), without
   fused multiply-add; at most 1 ulp from the C library's in 1.5 x 10^6 arguments each
   (tested: at most 2). Lanes outside the fast path (rare: a branch) take the C library's
   function lane by lane, so NaN, inf, 0, negative, overflow, underflow, subnormal results and
   arguments are exactly the C library's (libmvec's own differ from it by up to 3 ulp near
   overflow). With 4 lanes (AVX2) libmvec's stay: the same code in 4 lanes was 5 % slower on
   the whole kernel than libmvec's on Zen 4. m_log makes the batch kernel 2-3 % faster than
   libmvec's log and a single run's 1-lane kernel 1-5 % slower (its packed calls wait on the
   log's division): the batch is the binding goal (engine README, Benchmarks). */
#define EXP_FAST 708.0  /* |x| <= this: 2^(n/8) and the result are normal numbers */
#define LOG_LO 0x1p-1022 /* the smallest normal number: log's fast path is [LOG_LO, max] */
#if MW == 8 && !defined(URBSIM_LIBMVEC_EXP)
/* exp(x) = 2^(n/8) exp(r), n = round(8 x / ln 2), r = x - n ln2 / 8 in [-ln2/16, ln2/16]
   (Cody and Waite: n ln2_hi is exact, ln2_hi having 32 significant bits, so r carries
   ln2_lo's error alone). 2^(j/8) = H_j (1 + T_j) for j = n mod 8, from a table of 8 values
   held in one vector and picked by a permutation (vpermpd), not a gather; H_j's bits less
   j 2^49, plus n 2^49, are 2^(n/8)'s high part (a normal number for |x| <= EXP_FAST).
   exp(r) - 1 = r + r^2 q(r), q a degree-5 Chebyshev fit (0.09 ulp), evaluated by Estrin's
   scheme (independent products). For |x| <= EXP_FAST (m_exp checks, m_powel checks its own
   range) */
static const vum EXP_H = {0x3ff0000000000000ULL, 0x3fef72b83c7d517bULL, 0x3fef06fe0a31b715ULL,
    0x3feebfdad5362a27ULL, 0x3feea09e667f3bcdULL, 0x3feeace5422aa0dbULL, 0x3feee89f995ad3adULL,
    0x3fef5818dcfba487ULL};
static const vdm EXP_T = {0x0.0p+0, -0x1.01b15eaa59348p-55, 0x1.34d754db0abb6p-55,
    0x1.690cebb7aafb0p-56, -0x1.3b3efbf5e2228p-54, 0x1.db72fc1f0eab4p-55, 0x1.c1a7792cb3387p-55,
    0x1.4a385a63d07a7p-56};
static inline __attribute__((const, always_inline)) vdm m_exp_fast(vdm x) {
    const double shift = 0x1.8p52; /* 8 x / ln 2 + shift rounds to an integer in the low bits */
    vdm t = x * 0x1.71547652b82fep3 + shift;
    vdm n = t - shift;
    vdm r = (x - n * 0x1.62e42fee00000p-4) - n * 0x1.a39ef35793c76p-36;
    vdm r2 = r * r, r4 = r2 * r2;
    vdm q = (0x1.000000000002ep-1 + r * 0x1.555555555556ap-3)
        + r2 * (0x1.5555554e8d709p-5 + r * 0x1.1111110e0d900p-7)
        + r4 * (0x1.6c1b735ab0459p-10 + r * 0x1.a01e2e013e538p-13);
    /* j = n mod 8: the low bits of t, which the permutation reads alone (an intrinsic, not
       GCC's __builtin_shuffle, so that Clang compiles it too); n 2^49: t's bits shifted, the
       shift's own bits leaving the word */
    __m512i j = (__m512i)t;
    vdm s = (vdm)((vum)_mm512_permutexvar_epi64(j, (__m512i)EXP_H) + ((vum)t << 49));
    vdm tail = (vdm)_mm512_permutexvar_pd(j, (__m512d)EXP_T);
    return s + s * ((tail + r) + r2 * q);
}
static __attribute__((noinline, cold)) vdm m_exp_rare(vdm x, vdm y) {
    for (int l = 0; l < MW; l++) if (!(x[l] >= -EXP_FAST && x[l] <= EXP_FAST)) y[l] = exp(x[l]);
    return y;
}
static inline __attribute__((const, always_inline)) vdm m_exp(vdm x) {
    vdm y = m_exp_fast(x);
    if (__builtin_expect(!m_within(x, -EXP_FAST, EXP_FAST), 0)) y = m_exp_rare(x, y);
    return y;
}
#else
#define m_exp mv_exp
#define m_exp_fast mv_exp
#endif
#if MW == 8 && !defined(URBSIM_LIBMVEC_LOG)
/* fdlibm's log (as musl's, without its branches; < 1 ulp): x = 2^k (1 + f), 1 + f in
   [sqrt(2)/2, sqrt(2)), s = f / (2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), R of
   degree 14 (Remez; 2^-58.45) evaluated by Estrin's scheme (a shorter chain of dependent
   operations: pow waits for its log), k ln 2 in two parts; one division (a reciprocal by
   vrcp14pd and its correction cost more, in the kernel too). k becomes a double by the
   shift's bits; for x in [LOG_LO, max] */
static inline __attribute__((const, always_inline)) vdm m_log_fast(vdm x) {
    vum ix = (vum)x + (0x3ff0000000000000ULL - 0x3fe6a09e00000000ULL);
    vdm dk = (vdm)((ix >> 52) - 0x3ff + 0x4338000000000000ULL) - 0x1.8p52;
    vdm f = (vdm)((ix & 0x000fffffffffffffULL) + 0x3fe6a09e00000000ULL) - 1.0;
    vdm hfsq = 0.5 * f * f;
    vdm s = f / (2.0 + f);
    vdm z = s * s, w = z * z;
    vdm R = z * ((0x1.5555555555593p-1 + z * 0x1.999999997fa04p-2)
                 + w * (0x1.2492494229359p-2 + z * 0x1.c71c51d8e78afp-3)
                 + (w * w) * ((0x1.7466496cb03dep-3 + z * 0x1.39a09d078c69fp-3)
                              + w * 0x1.2f112df3e5244p-3));
    return s * (hfsq + R) + dk * 0x1.a39ef35793c76p-33 - hfsq + f
           + dk * 0x1.62e42fee00000p-1;
}
static __attribute__((noinline, cold)) vdm m_log_rare(vdm x, vdm y) {
    for (int l = 0; l < MW; l++) if (!(x[l] >= LOG_LO && x[l] <= __DBL_MAX__)) y[l] = log(x[l]);
    return y;
}
static inline __attribute__((const, always_inline)) vdm m_log(vdm x) {
    vdm y = m_log_fast(x);
    if (__builtin_expect(!m_within(x, LOG_LO, __DBL_MAX__), 0)) y = m_log_rare(x, y);
    return y;
}
#else
#define m_log mv_log
#define m_log_fast mv_log
#endif
/* a^b as exp(b log a) where the base is a normal positive number and |b log a| <= 128: one
   exp and one log cost less than libmvec's pow, and the result stays within about
   |b log a| x 2.5 ulp + 2 ulp (7e-14 relative at most) of pow's (tested); other lanes
   (negative bases with integer exponents, zero, subnormal, inf, NaN, large exponents) take
   pow. The fast paths' own range checks are left to this one. */
static inline __attribute__((const, always_inline)) vdm m_powel(vdm a, vdm b) {
    vdm y = b * m_log_fast(a);
    vdm r = m_exp_fast(y);
    if (__builtin_expect(!(m_within(a, LOG_LO, __DBL_MAX__) && m_within(y, -128.0, 128.0)), 0)) {
        vmm ok = (a >= LOG_LO) & (a <= __DBL_MAX__) & (y >= -128.0) & (y <= 128.0);
        vdm p = m_pow(a, b);
        r = (vdm)((ok & (vmm)r) | (~ok & (vmm)p));
    }
    return r;
}
#if W == MW
#define v_exp m_exp
#define v_log m_log
#define v_pow m_powel
#else
/* W lanes through MW-lane calls: lane l of a call takes run (c + l) % W */
#define MATHS1(name, f) static inline __attribute__((const)) vd name(vd a) { vd r; \
    for (int c = 0; c < W; c += MW) { vdm x; \
        for (int l = 0; l < MW; l++) x[l] = a[(c + l) % W]; \
        vdm y = f(x); for (int l = 0; l < MW && c + l < W; l++) r[c + l] = y[l]; } \
    return r; }
#define MATHS2(name, f) static inline __attribute__((const)) vd name(vd a, vd b) { vd r; \
    for (int c = 0; c < W; c += MW) { vdm x, z; \
        for (int l = 0; l < MW; l++) { x[l] = a[(c + l) % W]; z[l] = b[(c + l) % W]; } \
        vdm y = f(x, z); for (int l = 0; l < MW && c + l < W; l++) r[c + l] = y[l]; } \
    return r; }
MATHS1(v_exp, m_exp) MATHS1(v_log, m_log) MATHS2(v_pow, m_powel)
#endif
int urbsim_vector_math(void) { return 1; }
/* a kernel narrower than the vector maths packs independent calls into one (mpack.py) */
#define VPACK 1
#define VPACK_RESULT vdm _y;
/* a / b where b holds one value through the run (cemit.fixed_divisors, a literal, a lookup
   segment's width): a times rb, b's reciprocal computed once (within 1.5 ulp of the
   division, which costs ~20x a multiplication) */
#define VDIV(a, b, rb) ((a) * (rb))
/* whether a lane's divisor has no normal reciprocal (0 < |b| < 2^-1022, or finite and
   |b| > 2^1022): there the product could differ from the division by more than 1.5 ulp, so
   the kernel refuses the runs (urbsim_run returns native.RCP_REFUSED) */
static inline int v_rcp_bad(vd b) {
    int bad = 0;
    for (int l = 0; l < W; l++) {
        double a = fabs(b[l]);
        bad |= (a > 0.0 && a < 0x1p-1022) || (a > 0x1p1022 && a < INFINITY);
    }
    return bad;
}
#else
#define VPACK 0
#define VPACK_RESULT
#define VDIV(a, b, rb) ((a) / (b))
#define v_rcp_bad(b) 0
LANEWISE1(v_exp, exp) LANEWISE1(v_log, log) LANEWISE2(v_pow, pow)
int urbsim_vector_math(void) { return 0; }
#endif

/* lane l of VPERM(t, i): element i[l] of the 2W values t[0], t[1] (GCC: vpermt2pd) */
#if defined(__GNUC__) && !defined(__clang__) && W == 8 && defined(__AVX512F__)
#include <immintrin.h>
#define VPERMS 1
#define VPERM(t, i) __builtin_shuffle((t)[0], (t)[1], (i))
/* the first m <= 16 values at p into two vectors, without reading past them */
#define VLOAD2(t, p, m) do { \
    (t)[0] = (vd)_mm512_maskz_loadu_pd((__mmask8)((1u << ((m) < 8 ? (m) : 8)) - 1), (p)); \
    (t)[1] = (vd)_mm512_maskz_loadu_pd((__mmask8)((1u << ((m) > 8 ? (m) - 8 : 0)) - 1), (p) + 8); \
} while (0)
#else
#define VPERMS 0
#endif

/* Python's float %: the result takes the sign of the divisor */
static double u_mod(double a, double b) {
    double r = fmod(a, b);
    if (r != 0.0) { if ((b < 0.0) != (r < 0.0)) r += b; }
    else r = copysign(0.0, b);
    return r;
}
/* DELAY FIXED pipe length (scalar._dfo1): np.round is half to even, as nearbyint */
static double u_dfo(double d) {
    double a = d / DT;
    return nearbyint((a > 1.0 ? a : 1.0) + 1e-6);
}
LANEWISE1(v_fabs, fabs) LANEWISE1(v_sqrt, sqrt) LANEWISE1(v_trunc, trunc)
LANEWISE1(v_sin, sin) LANEWISE1(v_cos, cos) LANEWISE1(v_tan, tan)
LANEWISE1(v_asin, asin) LANEWISE1(v_acos, acos) LANEWISE1(v_atan, atan)
LANEWISE1(v_sinh, sinh) LANEWISE1(v_cosh, cosh) LANEWISE1(v_tanh, tanh)
LANEWISE1(v_dfo, u_dfo) LANEWISE2(v_mod, u_mod)

/* PySD's delay order lowering (scalar._dorder1), per lane; *err = nid + 1 if none fits */
static vd v_dorder(long *err, long nid, long k, long nd, const vd *dts) {
    vd r;
    for (int l = 0; l < W; l++) {
        double m = dts[0][l];
        for (long j = 1; j < nd; j++) { double d = dts[j][l]; if (d < m || d != d) m = d; }
        long o = k;
        for (long j = 0; j < k; j++) if (o * DT > m) o -= 1;
        if (o <= 0 && !*err) *err = nid + 1;
        r[l] = o <= 0 ? 1.0 : (double)o;
    }
    return r;
}
static inline vd v_pread(double *const *p, vd i) {
    vd r;
    for (int l = 0; l < W; l++) r[l] = p[l][(long)i[l]];
    return r;
}
static inline void v_pwrite(double **p, vd i, vd v) {
    for (int l = 0; l < W; l++) p[l][(long)i[l]] = v[l];
}
static void v_pipe(double **p, double **owned, long *nown, vd v, vd len) {
    for (int l = 0; l < W; l++) {
        long m = (long)len[l];
        p[l] = (double *)malloc(sizeof(double) * (m > 0 ? m : 1));
        for (long j = 0; j < m; j++) p[l][j] = v[l];
        owned[(*nown)++] = p[l];
    }
}
"""


def default_lanes(vector_math: bool = True) -> int:
    """Runs per SIMD value by default: 8 with vector maths where the CPU has AVX-512 and glibc
    its 8-run vector maths (x86-64 Linux), else :data:`LANES`. AVX-512's vector maths cost
    less per run than AVX2's (``bench/ceiling.py``); on the whole kernel at N = 10,000 the
    gain was within a loaded VM's noise, while with the C library's maths (called lane by
    lane) 8 lanes were 20-40 % slower in every comparison; in CPU time 4 lanes cost 11-14 %
    more per run at N = 10,000 and made a single run ~10 % faster (engine README,
    Benchmarks). A run's numbers then follow the machine's vector width, never N."""
    return 8 if vector_math and _avx512_mvec() else LANES


@functools.cache
def _avx512_mvec() -> bool:
    """Whether glibc's 8-run (AVX-512) vector maths can be used on this machine."""
    if platform.machine() != "x86_64" or not ctypes.util.find_library("mvec"):
        return False
    return " avx512f" in _host()


def maths_width(lanes: int) -> int:
    """Runs per call of the vector maths for a batch kernel of ``lanes``: 8 (AVX-512) for 8
    lanes, else 4 (AVX2). A single-run kernel takes its batch kernel's width, so that both
    give a run the same numbers."""
    return 8 if lanes == 8 else 4


def translate(prog: ir.Program, lanes: int = LANES, maths: int | None = None) -> str:
    """C source of ``urbsim_run`` for the IR program ``prog`` (:mod:`lower`).

    Parameter ``j`` of ``prog.params`` arrives as ``PV[j]``, the engine's own array of it,
    element ``e`` of run ``r`` at ``e * PS[2j] + r * PS[2j + 1]`` (times the points, for a
    lookup): a constant's values, ``(*dims, runs)`` (strides ``runs, 1``), ``(runs, *dims)``
    (``1, elements``) or shared by every run (``1, 0``), or a lookup's y values
    ``(*dims, runs, points)`` (its x points are fixed by the model and compiled in). Output
    ``q`` is written straight into ``OUT[q]``, a C-ordered
    ``(runs, saved times, prog.widths[q])`` array. ``urbsim_run`` advances ``lanes`` runs at
    a time (``urbsim_lanes()`` says how many); a last, partial group repeats its last run in
    the spare lanes and records only the real ones. ``maths`` is the vector maths' width
    (runs per call, default :func:`maths_width` of ``lanes``).
    """
    if lanes not in (1, 2, 4, 8):
        raise NotNative(f"{lanes} lanes (1, 2, 4 or 8)")
    maths = maths_width(lanes) if maths is None else maths
    if maths not in (4, 8):
        raise NotNative(f"vector maths over {maths} runs (4 or 8)")
    tables: dict[str, int] = {}
    xpoints: dict[str, tuple] = {}  # x-points identifier -> x points
    decl: list[str] = []
    unpack: list[str] = []
    for j, p in enumerate(prog.params):
        if p.kind == "lookup":
            m = len(p.xs)
            tables[p.table] = m
            xpoints[p.table] = p.xs
            for e, nm in enumerate(p.names):
                tables[nm] = m
                decl.append(f"    const double *u_{nm}[W];")
                unpack.append(f"        u_{nm}[l] = PV[{j}] + AT({j}, {e}) * {m};")
        else:
            for e, nm in enumerate(p.names):
                decl.append(f"    vd u_{nm};")
                unpack.append(f"        u_{nm}[l] = PV[{j}][AT({j}, {e})];")
    tr = CEmitter(tables, prog.names, lanes, maths)
    tr.stmts(prog.init)
    fixed = fixed_divisors(prog)
    for x in fixed:  # the reciprocals of VDIV (used where the build has the vector maths)
        tr.emit(f"q_{x} = VB(1.0) / {tr.name(x)};")
        tr.emit(f"if (v_rcp_bad({tr.name(x)})) {{ err = {RCP_REFUSED}; goto group_end; }}")
    tr.fixed = frozenset(fixed)  # from here on, the time steps
    tr.emit("for (k = 0; k < nT; k++) {")
    tr.ind += "    "
    tr.emit("t = T[k]; vt = VB(t); vk = VB((double)k);")
    tr.stmts(prog.aux)
    tr.record(prog.record, prog.widths)
    tr.emit("if (k == nT - 1) break;")
    tr.stmts(prog.upd)
    tr.stmts(prog.commits)
    tr.ind = tr.ind[:-4]
    tr.emit("}")
    params = {nm for p in prog.params for nm in p.names}
    decl_d = sorted(tr.doubles - params)
    decl_p = sorted(tr.pipes)
    out = [f"#define W {int(lanes)}", f"#define MW {int(maths)}", f"#define DT {clit(prog.dt)}"]
    out.append("#define VB(c) ((vd){" + ", ".join(["(c)"] * int(lanes)) + "})")
    out.append(_PRELUDE)
    out.append("int urbsim_lanes(void) { return W; }")
    out.extend(lookup_function(kind, xn, xpoints[xn]) for kind, xn in sorted(tr.used_lookups))
    out.append(
        "long urbsim_run(long r0, long r1, const double *const *PV, const long *PS, long nT,\n"
        "                const double *T, const unsigned char *REC, long nrec, double **OUT)\n{"
    )
    out.append("    long err = 0;")
    out.append(f"    vd _rec[{max(1, len(prog.record))}], _pv, _pn, _pi;")
    out.append("    VPACK_RESULT")
    out.extend(f"    vm _c{j + 1};" for j in range(tr.conds))
    out.extend(decl)
    for i in range(0, len(decl_d), 16):  # zeroed: a lane never reads an indeterminate value
        out.append("    vd " + ", ".join(f"u_{x} = {{0}}" for x in decl_d[i : i + 16]) + ";")
    for i in range(0, len(fixed), 16):
        out.append("    vd " + ", ".join(f"q_{x}" for x in fixed[i : i + 16]) + ";")
    for x in decl_p:
        out.append(f"    double *u_{x}[W];")
    out.append("    for (long r = r0; r < r1; r += W) {")
    out.append("    const long nl = r1 - r < W ? r1 - r : W;  /* real runs in this group */")
    out.append("    double *o; long irec = 0, l;")
    out.append(f"    double *owned[W * {max(1, len(decl_p))}]; long nown = 0;")
    out.append("    long k = 0; double t = T[0]; vd vt = VB(t), vk = VB(0.0);")
    out.append("    for (l = 0; l < W; l++) {")
    out.append("        const long rl = r + (l < nl ? l : nl - 1);  /* this lane's run */")
    out.append("        /* element e of parameter j for run rl (a shared value for every run) */")
    out.append("        #define AT(j, e) ((e) * PS[2 * (j)] + rl * PS[2 * (j) + 1])")
    out.extend(unpack)
    out.append("        #undef AT")
    out.append("    }")
    out.extend(tr.lines)
    out.append("    group_end:")
    out.append("    for (long j = 0; j < nown; j++) free(owned[j]);")
    out.append("    if (err) return err;")
    out.append("    }")
    out.append("    return 0;")
    out.append("}")
    return "\n".join(out) + "\n"


def compiler() -> list[str] | None:
    """The C compiler command: ``$CC``, else cc/gcc/clang on PATH, else ``ziglang``."""
    cc = os.environ.get("CC")
    if cc:
        return shlex.split(cc)
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    try:
        import ziglang  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ziglang", "cc"]


def availability() -> str:
    """One line for ``urbsim check``: whether runs will take the native path."""
    if os.environ.get("URBSIM_NATIVE", "1") == "0":
        return "URBSIM_NATIVE=0: runs use the numpy code (about 10x slower than native)"
    cc = compiler()
    if cc is None:
        return (
            "no C compiler found: runs use the numpy code (about 10x slower); install gcc "
            "(Debian: apt install gcc) or set $CC"
        )
    return f"C compiler {' '.join(cc)}: runs use the native path (compiled once per machine)"


def _attempts(vector_math: bool) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(flags, libraries) to try in turn: vector maths where glibc may provide them, tuned
    for this CPU, then a generic build for a compiler without ``-march=native``."""
    tuned = [(NATIVE_ARCH, ("-lm",)), ((), ("-lm",))]
    if vector_math and platform.machine() == "x86_64" and ctypes.util.find_library("mvec"):
        # libmvec ships with glibc on x86-64 (not with musl, macOS or Windows); should the
        # link still fail, the next attempt builds with the C library's scalar maths
        tuned.insert(0, ((*NATIVE_ARCH, "-DURBSIM_MVEC"), ("-lmvec", "-lm")))
    return tuned


def build(csrc: str, vector_math: bool = True) -> Path:
    """Compile ``csrc`` to a shared library (cached by content); raise NotNative on failure.

    ``vector_math`` links glibc's vector ``exp``/``log``/``pow`` where available (see the
    engine README: within 1e-12 of the scalar code, not bit for bit, and ~1.8x faster).
    """
    cc = compiler()
    if cc is None:
        raise NotNative("no C compiler found (set $CC, or install gcc or the ziglang package)")
    attempts = _attempts(vector_math)
    flags = [f for a in attempts for part in a for f in part]
    key = hashlib.sha256("\0".join([*cc, *CFLAGS, *flags, _host(), csrc]).encode()).hexdigest()
    try:
        lib = cache.subdir("native") / f"urbsim_{key[:24]}.so"
    except cache.CacheUnavailable as err:
        raise NotNative(str(err)) from None
    if cache.verified(lib, key):  # a swapped, truncated or altered kernel is rebuilt
        return lib
    # A progress line for people (the command line shows urbsim's INFO records on stderr).
    logging.getLogger("urbsim").info(
        "compiling the model kernel for these outputs (once per machine, a few seconds)"
    )
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        c = Path(tmp) / "kernel.c"
        c.write_text(csrc, encoding="utf-8")
        so = Path(tmp) / "kernel.so"
        for arch, libs in attempts:
            try:
                proc = subprocess.run(
                    [*cc, *CFLAGS, *arch, "-o", str(so), str(c), *libs],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=COMPILE_TIMEOUT_S,
                )
            except (OSError, subprocess.TimeoutExpired) as err:
                raise NotNative(f"C compiler {' '.join(cc)!r} cannot be run: {err}") from None
            if proc.returncode == 0 and so.exists():
                break
        else:
            raise NotNative(f"C compiler failed: {proc.stderr.strip()[-500:]}")
        os.replace(so, lib)  # atomic: concurrent builders never see a partial library
        cache.seal(lib, key, mode=0o700)
    return lib


def _strides(a: np.ndarray, lookup: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """``a`` as the kernel reads it, and its element and run strides (in values: see
    :func:`translate`). A constant's ``(*dims, runs)`` array is read in place when C-ordered,
    or when it is the runs-last view of a C-ordered ``(runs, *dims)`` array (what
    ``CompiledModel`` makes of per-run values, so they are not copied); anything else, and a
    lookup's y values, is copied C-ordered."""
    runs = a.shape[-2 if lookup else -1]
    if not lookup and runs > 1 and a.dtype == np.float64:
        first = np.moveaxis(a, -1, 0)
        if first.flags.c_contiguous and not a.flags.c_contiguous:
            return first, (1, a.size // runs)
    a = np.ascontiguousarray(a, dtype=np.float64)
    return a, ((runs, 1) if runs > 1 else (1, 0))


def address(a: np.ndarray) -> int:
    """The address of a writable, C-contiguous, non-empty array's data."""
    return ctypes.addressof(ctypes.c_char.from_buffer(a))


def _host() -> str:
    """What ``-march=native`` depends on: the CPU's model and feature flags."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        info = []
    keep = [x for x in info if x.startswith(("model name", "flags", "Features"))][:2]
    return "|".join([platform.machine(), platform.processor(), *keep])


class NativeKernel:
    """A compiled ``urbsim_run``; :meth:`run` fills the output arrays in place."""

    def __init__(self, lib: Path, error_message):
        self._lib = ctypes.CDLL(str(lib))
        f = self._lib.urbsim_run
        f.restype = ctypes.c_long
        f.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        f.argtypes += [ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
        f.argtypes += [ctypes.c_void_p]
        self._f = f
        self.vector_math = bool(self._lib.urbsim_vector_math())
        self.lanes = int(self._lib.urbsim_lanes())
        self._error = error_message

    def bind(self, defaults, T: np.ndarray, REC: np.ndarray) -> None:
        """Keep the pointer table of the default parameter arrays and the time grid.

        ``defaults`` are ``(node id, array, is_lookup)`` in the layout's order (see
        :func:`translate`): a constant's ``(*dims, runs)`` values or a lookup's
        ``(*dims, runs, points)`` y values. Building the table costs a ``ctypes`` look-up per
        array (most of a single run's time when it was rebuilt on every call); :meth:`run`
        copies it and replaces only what the caller sets.
        """
        # each array as the kernel reads it, with its element and run strides (see translate)
        read = [_strides(a, lk) for _, a, lk in defaults]
        self._arrays = [a for a, _ in read]
        size = max(1, len(self._arrays))
        self._pv = (ctypes.c_void_p * size)(*[a.ctypes.data for a in self._arrays])
        # node id -> (position in the table, axis of the runs: -2 for lookups, else -1)
        self._slots = {i: (pos, -2 if lk else -1) for pos, (i, _, lk) in enumerate(defaults)}
        self._strides = np.array([st for _, st in read] or [(1, 0)], dtype=np.int64)
        self._T = np.ascontiguousarray(T, dtype=np.float64)
        self._REC = np.ascontiguousarray(REC, dtype=np.uint8)
        # the fixed arguments of every call, pointers included (arrays kept alive above)
        self._grid = (len(self._T), self._T.ctypes.data, self._REC.ctypes.data)
        self._grid += (int(self._REC.sum()),)
        self._strides_ptr = self._strides.ctypes.data

    def run(self, values, n: int, outs, threads: int, addrs: list[int] | None = None):
        """Simulate ``n`` runs with the bound defaults, ``values`` replacing some.

        ``values`` maps a node id to its array (a constant's ``(*dims, runs)``, a lookup's
        ``(*dims, runs, points)``, ``runs`` being ``n`` or 1 when shared by every run; a
        constant's may be the runs-last view of a C-ordered ``(runs, *dims)`` array, read in
        place); ids the kernel does not read are ignored. ``outs`` are C-contiguous float64 arrays
        ``(n, saved times, *dims)``, one per output, written in place (``addrs``: their
        addresses where the caller has them, which it then vouches for). Returns False where the
        vector-maths kernel refuses the values (a divisor fixed for the run without a normal
        reciprocal, ``v_rcp_bad``: the caller must compute the runs another way), else True.
        Raises ModelError where the model cannot run.
        """
        PV, strides_ptr = self._pv, self._strides_ptr
        keep = []  # the converted arrays must outlive the call
        slots = [(self._slots[i], a) for i, a in values.items() if i in self._slots]
        if slots:
            PV = type(PV).from_buffer_copy(PV)
            strides = self._strides.copy()
            strides_ptr = strides.ctypes.data
            for (pos, axis), a in slots:
                if a.shape[axis] not in (1, n):
                    raise ValueError(f"parameter arrays must hold 1 or {n} runs")
                a, strides[pos] = _strides(a, axis == -2)
                keep.append(a)
                PV[pos] = a.ctypes.data
        if addrs is None:
            if not all(o.flags.c_contiguous and o.dtype == np.float64 for o in outs):
                raise ValueError("outputs must be C-contiguous float64 arrays")
            # the arrays' addresses through the buffer protocol: a third of
            # ``o.ctypes.data``'s cost (~0.45 against ~1 µs an output; it refuses 0 bytes)
            addrs = [address(o) if o.nbytes else o.ctypes.data for o in outs]
        ptrs = (ctypes.c_void_p * max(1, len(addrs)))(*addrs)
        nt, t_ptr, rec_ptr, nrec = self._grid

        def part(bounds):
            return self._f(bounds[0], bounds[1], PV, strides_ptr, nt, t_ptr, rec_ptr, nrec, ptrs)

        groups = -(-n // self.lanes)
        k = max(1, min(threads, groups // 16 or 1))
        if k == 1:
            errs = [part((0, n))]
        else:
            edges = np.minimum(np.linspace(0, groups, k + 1).astype(int) * self.lanes, n)
            edges = edges.tolist()
            parts = list(zip(edges[:-1], edges[1:], strict=True))
            with ThreadPoolExecutor(k) as pool:
                errs = list(pool.map(part, parts))
        if any(e == RCP_REFUSED for e in errs):
            return False
        bad = next((e for e in errs if e), 0)
        if bad:
            raise ModelError(self._error(bad - 1))
        return True
