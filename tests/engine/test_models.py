"""The real models must compile and equal PySD (translations cached per module)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _compare import compare, pysd_run

from urbsim.engine import compile_model
from urbsim.errors import UrbsimError

ROOT = Path(__file__).resolve().parents[2]
URBSIM = ROOT / "model" / "urbsim.mdl"


@pytest.fixture(scope="module")
def urbsim_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("urbsim")
    mdl = tmp / URBSIM.name
    shutil.copy(URBSIM, mdl)
    try:
        cm = compile_model(mdl)
    except UrbsimError as err:
        pytest.fail(f"model/urbsim.mdl does not compile: {err}")
    return mdl, cm, tmp


@pytest.mark.slow
def test_urbsim_matches_pysd_at_defaults(urbsim_model):
    mdl, cm, tmp = urbsim_model
    compare(cm, cm.simulate(), pysd_run(mdl, tmp))


#: PySD needs ~0.6 s per time step of the full model, so the 25 draws are compared over the first
#: two years (8 steps, every variable at every saved time), two PySD processes at a time.
DRAWS = 25
DRAW_YEARS = 2.0


def _pysd_draw(py_file: str, params: dict, final_time: float):
    import pysd

    from urbsim.pysd_compat import quiet_pysd

    with quiet_pysd():
        return pysd.load(py_file).run(params=params, final_time=final_time)


@pytest.mark.slow
def test_urbsim_matches_pysd_at_25_draws_over_the_documented_ranges(urbsim_model):
    """Every settable constant (levers included) drawn by Latin hypercube over its [min,max]."""
    from concurrent.futures import ProcessPoolExecutor

    import xarray as xr

    from urbsim.ensemble.distributions import range_uncertainty
    from urbsim.ensemble.sampling import sample
    from urbsim.mdlinfo import model_info

    mdl, cm, tmp = urbsim_model
    info = model_info(mdl)
    params = sample(info, None, DRAWS, seed=2025, uncertainty=range_uncertainty(info))
    varied = {k: v for k, v in params.items() if v.ndim > len(info.constants[k].dims)}
    assert len(varied) > 100
    out = cm.simulate(varied, n=DRAWS)

    def as_pysd(name, value):
        dims = info.constants[name].dims
        coords = {d: list(info.subscripts[d]) for d in dims}
        return xr.DataArray(value, coords, list(dims)) if dims else float(value)

    py_file = mdl.with_suffix(".py")
    if not py_file.is_file():
        import pysd

        from urbsim.pysd_compat import quiet_pysd

        with quiet_pysd():
            pysd.read_vensim(str(mdl))
    final = cm.time[0] + DRAW_YEARS
    runs = [{k: as_pysd(k, v[r]) for k, v in varied.items()} for r in range(DRAWS)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        frames = list(pool.map(_pysd_draw, [str(py_file)] * DRAWS, runs, [final] * DRAWS))
    for r, df in enumerate(frames):
        compare(cm, out, df, run=r)
