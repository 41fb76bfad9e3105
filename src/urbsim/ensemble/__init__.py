"""Ensembles: uncertainty, sampling, Monte Carlo, time-resolved sensitivity and Dask scale-out.

See ``src/urbsim/ensemble/README.md`` for the file formats, the resume protocol and benchmarks.
"""

from urbsim.ensemble.distributions import Distribution, default_uncertainty, parse_uncertainty
from urbsim.ensemble.montecarlo import run_montecarlo
from urbsim.ensemble.sampling import SAMPLERS, sample
from urbsim.ensemble.sensitivity import morris_indices, sobol_indices

__all__ = [
    "SAMPLERS",
    "Distribution",
    "default_uncertainty",
    "morris_indices",
    "parse_uncertainty",
    "run_montecarlo",
    "sample",
    "sobol_indices",
]
