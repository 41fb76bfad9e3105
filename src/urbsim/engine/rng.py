"""RANDOM UNIFORM, RANDOM 0 1, RANDOM NORMAL and RANDOM EXPONENTIAL for the array code
(numpy and JAX): the RANDOM functions PySD 3.14.3 runs (its others stop the model).

PySD draws from numpy's global generator whenever an equation is evaluated, so its numbers
cannot be reproduced run by run. The engine draws from a counter-based generator instead:
every value is a hash (splitmix64) of the Vensim seed argument, ``cm.random_seed``, the call
site, the element, the run index and the time step. So each run has its own stream,
reproducible by seed, independent of N, of the block size and of the threads; the numbers
are not PySD's, but their distribution is (uniform; NORMAL truncated to [min, max] by the
inverse normal CDF, like PySD's ``truncnorm``; EXPONENTIAL truncated likewise, like its
``truncexpon``). Tested in ``tests/engine/test_random.py``.
Models with RANDOM functions run on the numpy (or JAX) code: the element-level lowering
(lower.py) does not know these helpers.
"""

from __future__ import annotations

import math

# splitmix64's constants and odd multipliers that spread each counter over 64 bits
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_KEYS = (0xD1B54A32D192ED03, 0xABC98388FB8FAC03, 0x8CB92BA72F3D8DD7, 0xDB4F0B9175AE2165)


def helpers(xp, ndtr, ndtri) -> dict:
    """``_runif``, ``_rnorm`` and ``_rexp`` over the array module ``xp`` (numpy or jax.numpy)."""
    u64 = xp.uint64

    def _uniform(seed, site, ridx, k, tail):
        """(*tail, runs) uniform numbers in [0, 1): one per element, run and step."""
        runs = xp.asarray(ridx).reshape(-1).astype(u64)
        elems = xp.arange(math.prod(tail), dtype=u64).reshape((*tail, 1))
        x = u64((int(seed) * _GOLDEN) % 2**64) ^ u64((int(site) * _KEYS[0]) % 2**64)
        x = x ^ (xp.asarray(k).astype(u64) * u64(_KEYS[1]))
        x = x ^ (elems * u64(_KEYS[2])) ^ (runs * u64(_KEYS[3]))
        x = x + u64(_GOLDEN)
        x = (x ^ (x >> u64(30))) * u64(_MIX1)
        x = (x ^ (x >> u64(27))) * u64(_MIX2)
        x = x ^ (x >> u64(31))
        return (x >> u64(11)).astype(xp.float64) * (2.0**-53)

    def _runif(lo, hi, seed, site, ridx, k, tail):
        """RANDOM UNIFORM(lo, hi, seed): uniform on [lo, hi)."""
        return lo + (hi - lo) * _uniform(seed, site, ridx, k, tail)

    def _rnorm(lo, hi, mean, sd, seed, site, ridx, k, tail):
        """RANDOM NORMAL(lo, hi, mean, sd, seed): normal truncated to [lo, hi]."""
        a = ndtr((lo - mean) / sd)
        b = ndtr((hi - mean) / sd)
        p = a + (b - a) * _uniform(seed, site, ridx, k, tail)
        return xp.clip(mean + sd * ndtri(p), lo, hi)

    def _rexp(lo, hi, shift, stretch, seed, site, ridx, k, tail):
        """RANDOM EXPONENTIAL(lo, hi, shift, stretch, seed): PySD's ``truncexpon`` with
        ``loc = max(lo, shift)``, ``scale = stretch``, cut at ``hi`` (inverse CDF)."""
        loc = xp.maximum(lo, shift)
        flat = xp.abs(stretch) < 1e-6  # PySD: XIDZ(hi - loc, stretch, inf)
        b = xp.where(flat, xp.inf, (hi - loc) / xp.where(flat, 1.0, stretch))
        u = _uniform(seed, site, ridx, k, tail)
        return loc + stretch * -xp.log1p(-u * -xp.expm1(-b))

    return {"_runif": _runif, "_rnorm": _rnorm, "_rexp": _rexp}
