"""The native path (the element-level IR printed as C) must reproduce the scalar code exactly,
equal the numpy code, and fall back cleanly where it cannot be built."""

from __future__ import annotations

import logging
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _paths import (
    MODELS,
    PROBES,
    URBSIM,
    assert_same,
    assert_taken_division_by_zero_as_numpy,
    model,
    per_run_params,
    require_compiler,
    run,
)

from urbsim.engine import cemit, compile_model, ir, native
from urbsim.errors import ModelError

pytestmark = pytest.mark.usefixtures("_compiler")
_PATHS = ("numpy", "scalar", "native", "native-exact")


@pytest.fixture
def _compiler():
    require_compiler()


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_native_reproduces_the_scalar_code_and_equals_numpy(path):
    cm = model(path)
    params = per_run_params(cm, n=5)
    exact = run(cm, "native-exact", params=params, n=5)
    # same operations in the same order, same C library: bit for bit
    assert_same(run(cm, "scalar", params=params, n=5), exact, rtol=0.0)
    ref = run(cm, "numpy", params=params, n=5)
    assert_same(ref, exact)
    assert_same(ref, run(cm, "native", params=params, n=5))  # vector maths: within 1e-12
    if any(not np.array_equal(v[0], v[1]) for v in params.values()):
        assert any(not np.array_equal(v[0], v[1]) for v in exact.values())


def _has_avx2() -> bool:
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def test_vector_maths_are_used_on_x86_64_linux_and_stay_within_1e_12():
    """The default build has vector exp/log/pow on x86-64 Linux with AVX2 (CI's machines:
    the kernel's own and glibc's libmvec); every run, every variable stays within 1e-12 of
    the exact build."""
    cm = model(URBSIM)
    params = per_run_params(cm, n=37)  # not a multiple of the 4 lanes
    got = run(cm, "native", params=params, n=37)
    vector = "vector maths" in cm.native_status
    if sys.platform.startswith("linux") and platform.machine() == "x86_64" and _has_avx2():
        assert vector, cm.native_status
    exact = run(cm, "native-exact", params=params, n=37)
    assert "C library maths" in cm.native_status
    assert_same(exact, got)
    if vector:  # the two builds differ (else this test would compare a build with itself)
        assert any(not np.array_equal(exact[k], got[k]) for k in got)


def test_threads_and_run_counts_do_not_change_results():
    cm = compile_model(MODELS[-1])
    params = per_run_params(cm, n=131)
    one = run(cm, "native", params=params, n=131)
    cm.threads = 3  # uneven thread slices
    assert_same(one, run(cm, "native", params=params, n=131), rtol=0.0)
    # each run is computed alone: the first 7 runs as an ensemble of 7 give the same numbers
    seven = run(cm, "native", params={k: v[:7] for k, v in params.items()}, n=7)
    assert_same({k: v[:7] for k, v in one.items()}, seven, rtol=0.0)


def test_per_run_values_in_any_memory_layout_give_the_same_numbers():
    """Per-run values ``(runs, *dims)`` are read in place by the kernel (element and run
    strides, no transposing copy); a Fortran-ordered or strided array of the same values is
    copied and gives the same numbers bit for bit, on the native and the numpy path."""
    cm = model(URBSIM)
    params = per_run_params(cm, n=19, lookups=False)
    subscripted = [k for k, v in params.items() if v.ndim > 1]
    assert subscripted  # the model has subscripted constants, so the layouts differ
    base = run(cm, "native", params=params, n=19)
    wide = {k: np.repeat(v, 2, axis=0)[::2] for k, v in params.items()}  # strided, not C-ordered
    fortran = {k: np.asfortranarray(v) for k, v in params.items()}
    for other in (wide, fortran):
        assert not all(other[k].flags.c_contiguous for k in subscripted)
        assert_same(base, run(cm, "native", params=other, n=19), rtol=0.0)
    numpy_ = run(cm, "numpy", params=params, n=19)
    assert_same(numpy_, run(cm, "numpy", params=fortran, n=19), rtol=0.0)
    assert_same(base, numpy_)


@pytest.mark.parametrize("lanes", [1, 8])
def test_other_lane_counts_give_the_same_numbers(lanes):
    """1 lane (single runs) and 8 lanes (AVX-512's vector maths where the CPU has them), with
    a per-run constant feeding ``^`` chains: exact maths bit for bit the scalar code, vector
    maths within 1e-12; 11 runs are not a multiple of 8."""
    cm = compile_model(PROBES / "precedence.mdl")
    params = per_run_params(cm, n=11)
    ref = run(cm, "scalar", params=params, n=11)
    cm.native_lanes = lanes
    assert_same(ref, run(cm, "native-exact", params=params, n=11), rtol=0.0)
    assert_same(ref, run(cm, "native", params=params, n=11))
    assert cm._native_kernel(list(cm._output_plan(None)[1])).lanes == lanes


@pytest.mark.parametrize("path", [PROBES / "precedence.mdl", URBSIM], ids=lambda p: p.name)
def test_a_single_run_takes_the_one_lane_kernel_with_the_batch_kernels_numbers(path):
    """N = 1 runs through a 1-lane kernel whose exp/log/pow are the batch kernel's vector
    maths with the run in every lane: each run alone equals the same run inside batches of
    4 and 10 bit for bit, with the exact maths and with vector maths."""
    cm = compile_model(path)
    params = per_run_params(cm, n=10)
    for maths in ("native", "native-exact"):
        ten = run(cm, maths, params=params, n=10)
        four = run(cm, maths, params={k: v[3:7] for k, v in params.items()}, n=4)
        for r in (0, 3, 6, 9):
            one = run(cm, maths, params={k: v[r] for k, v in params.items()}, n=1)
            assert cm.last_path == {"native": "native-vector"}.get(maths, maths)
            assert_same({k: v[r : r + 1] for k, v in ten.items()}, one, rtol=0.0)
            if 3 <= r < 7:
                assert_same({k: v[r - 3 : r - 2] for k, v in four.items()}, one, rtol=0.0)
    ids = list(cm._output_plan(None)[1])
    assert cm._native_kernel(ids, single=True).lanes == 1
    assert cm._native_kernel(ids).lanes > 1


@pytest.mark.parametrize(
    ("path", "spread"), [(PROBES / "lookups.mdl", 3.0), (URBSIM, 1.0)], ids=["lookups", "urbsim"]
)
def test_lookups_shared_by_every_run_reproduce_the_scalar_code(path, spread):
    """Tables whose y values every run shares take the kernel's selections instead of a load
    per lane; per-run constants (scaled by 0 to ``spread`` in the probe: x over every segment
    and past both ends) give bit for bit the scalar code's numbers, and those of per-run
    copies of the same tables (a load per lane)."""
    cm = compile_model(path)
    n = 11
    params = per_run_params(cm, n=n, lookups=False)
    if spread != 1.0:
        scale = np.linspace(0.0, spread, n)
        params = {k: v * scale.reshape(-1, *[1] * (v.ndim - 1)) for k, v in params.items()}
    shared = run(cm, "native-exact", params=params, n=n)
    assert_same(run(cm, "scalar", params=params, n=n), shared, rtol=0.0)
    assert cm.last_path == "scalar"  # every run computed by the scalar code itself
    lookups = [k for k, meta in cm.variables.items() if meta.kind == "lookup"]
    assert lookups
    copies = {**params}
    for k in lookups:
        y = cm._node(k, "lookup").y[..., 0, :]
        copies[k] = np.broadcast_to(y, (n, *y.shape)).copy()
    assert_same(shared, run(cm, "native-exact", params=copies, n=n), rtol=0.0)
    assert_same(
        run(cm, "native", params=params, n=n), run(cm, "native", params=copies, n=n), rtol=0.0
    )


def test_default_lanes_follow_the_maths_and_the_cpu():
    """8 runs per value with vector maths where the CPU has AVX-512 (glibc's 8-run maths on
    x86-64 Linux), else 4; the C library's maths (lane by lane) always 4."""
    avx512 = sys.platform.startswith("linux") and platform.machine() == "x86_64"
    avx512 = avx512 and " avx512f" in Path("/proc/cpuinfo").read_text()
    avx512 = avx512 and native.ctypes.util.find_library("mvec") is not None
    cm = compile_model(PROBES / "smooth.mdl")
    ids = list(cm._output_plan(None)[1])
    for maths, lanes in (("native", 8 if avx512 else 4), ("native-exact", 4)):
        run(cm, maths, n=9)
        cm.native_vector_math = maths == "native"
        assert cm._native_kernel(ids).lanes == lanes, maths
    cm.native_lanes = 2  # set by the user: whatever the maths
    assert cm._native_kernel(ids).lanes == 2


def test_pow_lanes_that_exp_log_cannot_take_get_pow(tmp_path):
    """``a^b`` is ``exp(b log a)`` only in lanes with a positive, finite base and a moderate
    exponent; in one group of lanes, negative bases (integer and fractional exponents), zero,
    overflow, underflow and huge exponents take ``pow``: numpy's numbers (inf, NaN, signs)."""
    mdl = tmp_path / "pow.mdl"
    mdl.write_text(
        "{UTF-8}\nbase = 2 ~~|\nexpo = 2 ~~|\n"
        "Power = (base + Time * 0) ^ expo ~~|\n"
        "FINAL TIME = 1 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 0.5 ~~|\nTIME STEP = 0.5 ~~|\n",
        encoding="utf-8",
    )
    pairs = [(-2, 2), (-2, 3), (-2, 0.5), (0, 2), (0, -1), (0.5, 300), (2, 0.5), (1e300, 2)]
    pairs += [(3, -2.5), (1, 1e6), (7, 1.5), (10, -400)]
    base, expo = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
    cm = compile_model(mdl)
    params = {"base": base, "expo": expo}
    with np.errstate(all="ignore"):
        want = np.power(base, expo)
    for path in ("native", "numpy"):
        got = run(cm, path, params=params, n=len(pairs), outputs=["Power"])["Power"]
        np.testing.assert_allclose(got, np.repeat(want[:, None], 3, axis=1), rtol=1e-12)
        assert got[0, 0] == 4 and got[1, 0] == -8 and np.isnan(got[2, 0]), path
        assert got[4, 0] == np.inf and got[7, 0] == np.inf and got[11, 0] == 0.0, path


def test_divisions_by_values_fixed_for_the_run_take_reciprocals(tmp_path):
    """A division by a parameter, a literal or a value set at initialisation (and by nothing
    a time step changes) is ``VDIV``: a multiplication by its reciprocal in the vector-maths
    build. Zero, tiny and huge divisors keep numpy's numbers (inf, NaN) within 1e-12; one
    whose reciprocal is not a normal number (subnormal, or beyond 2^1022) makes the kernel
    refuse the runs, which numpy's code then computes; the exact build keeps the divisions
    (the scalar code bit for bit)."""
    mdl = tmp_path / "div.mdl"
    mdl.write_text(
        "{UTF-8}\nk = 3 ~~|\nS = INTEG(S / k, 1) ~~|\nK0 = INITIAL(S * k) ~~|\n"
        "R = Time / k + S / K0 + k / S + Time / 3 + Time / 4 + Time * 1e-300 / 1e-310 ~~|\n"
        "FINAL TIME = 2 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 0.5 ~~|\nTIME STEP = 0.5 ~~|\n",
        encoding="utf-8",
    )
    cm = compile_model(mdl)
    prog = cm._scalar_function([cm._node("R", "output").id])[-1]
    fixed = {prog.names.label(x) for x in cemit.fixed_divisors(prog)}
    assert fixed == {"k", "K0"}  # not the stock S, which every step changes
    text = native.translate(prog, 4)
    steps = text[text.index("for (k = 0; k < nT; k++)") :]
    # S/k, Time/k, S/K0 and Time/3 (a literal): not k/S, Time/4 (a power of two: exact) nor
    # x/1e-310 (whose reciprocal would overflow)
    assert steps.count("VDIV(") == 4 and steps.count(" / ") == 3, steps
    assert "VB(0x1.5555555555555p-2)" in steps  # 1/3, the literal's reciprocal
    k = np.array([3.0, 0.0, 1e-300, -7.0, 1e300, 0.1])
    with np.errstate(all="ignore"):
        want = run(cm, "numpy", params={"k": k}, n=len(k), outputs=["R", "S"])
    for path in ("native", "native-exact"):
        got = run(cm, path, params={"k": k}, n=len(k), outputs=["R", "S"])
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-12, err_msg=path)
    for edge in (1e-310, -1e-320, 2.0**1022 * 1.5):  # no normal reciprocal
        k2 = np.array([3.0, edge])
        with np.errstate(all="ignore"):
            want = run(cm, "numpy", params={"k": k2}, n=2, outputs=["R"])["R"]
        got = run(cm, "native", params={"k": k2}, n=2, outputs=["R"])["R"]
        vector = "vector maths" in cm.native_status
        assert cm.last_path == ("numpy" if vector else "native-exact"), edge
        np.testing.assert_array_equal(got, want)
    scalar = run(cm, "scalar", params={"k": k[[0, 3, 5]]}, n=3, outputs=["R"])
    exact = run(cm, "native-exact", params={"k": k[[0, 3, 5]]}, n=3, outputs=["R"])
    np.testing.assert_array_equal(exact["R"], scalar["R"])


def test_maths_of_numbers_are_computed_once_as_the_c_library_computes_them(tmp_path):
    """``LN(2)``, ``EXP(1)``, ``SQRT(2)`` and ``2 ^ 0.5`` become numbers when the program is
    lowered (Python's math module: the C library's functions), so no step calls them and
    ``LN(x) / LN(2)`` divides by a literal; ``LN(0)`` stays a call; the exact build still
    equals the scalar code bit for bit, and both equal numpy within 1e-12."""
    mdl = tmp_path / "fold.mdl"
    mdl.write_text(
        "{UTF-8}\nx = 3 ~~|\nz = 0 ~~|\n"
        "R = LN(x + Time) / LN(2) + EXP(1) * Time + SQRT(2) + 2 ^ 0.5 + (x + Time) ^ 0.5 ~~|\n"
        "Q = IF THEN ELSE(Time > 5, LN(0), 1) ~~|\n"
        "FINAL TIME = 2 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 0.5 ~~|\nTIME STEP = 0.5 ~~|\n",
        encoding="utf-8",
    )
    cm = compile_model(mdl)
    ids = [cm._node(v, "output").id for v in ("R", "Q")]
    prog = cm._scalar_function(ids)[-1]
    calls = [
        (x.fn, tuple(type(a).__name__ for a in x.args))
        for st in prog.aux
        for x in ir.walk(st.value)
        if isinstance(x, ir.Call)
    ]
    assert sorted(calls) == [("log", ("Bin",)), ("log", ("Num",)), ("pow", ("Bin", "Num"))]
    x = np.array([3.0, 0.5, 7.0])
    got = {p: run(cm, p, params={"x": x}, n=3, outputs=["R", "Q"]) for p in _PATHS}
    np.testing.assert_array_equal(got["native-exact"]["R"], got["scalar"]["R"])
    for p in _PATHS:
        assert_same(got["numpy"], got[p])


def test_taken_division_by_zero_gives_numpys_inf(tmp_path):
    assert_taken_division_by_zero_as_numpy(tmp_path, "native")


def test_delay_shorter_than_time_step_is_the_same_model_error(tmp_path):
    shutil.copy(PROBES / "delay.mdl", tmp_path / "delay.mdl")
    cm = compile_model(tmp_path / "delay.mdl")
    params = {"short delay": [1.0, 0.001]}  # the second run has no admissible order
    msgs = []
    for path in ("numpy", "native"):
        with pytest.raises(ModelError) as info:
            run(cm, path, params=params, n=2)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1] and "delay time shorter than TIME STEP" in msgs[1]


def test_library_is_cached_by_content(monkeypatch, tmp_path):
    monkeypatch.setenv("URBSIM_CACHE_DIR", str(tmp_path))  # empty: the first build compiles
    cm = compile_model(PROBES / "smooth.mdl")
    run(cm, "native", n=2)
    first = cm.native_status

    def no_compiler(*a, **k):
        raise AssertionError("the cached library must be reused")

    monkeypatch.setattr(subprocess, "run", no_compiler)
    cm2 = compile_model(PROBES / "smooth.mdl")
    run(cm2, "native", n=2)
    assert cm2.native_status == first


def test_a_new_output_sets_first_call_says_that_it_compiles(monkeypatch, tmp_path, caplog):
    """The pause of a kernel's compilation is announced on the ``urbsim`` logger (the command
    line prints it): once per set of outputs and kernel, not when the kernel is cached."""
    monkeypatch.setenv("URBSIM_CACHE_DIR", str(tmp_path))  # empty: the first call compiles
    stocks = [
        k for k, v in compile_model(PROBES / "smooth.mdl").variables.items() if v.kind == "stateful"
    ]

    def notices(cm, **kw):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="urbsim"):
            cm.simulate(**kw)
        assert cm.last_path.startswith("native")
        return [r for r in caplog.records if "compiling the model kernel" in r.getMessage()]

    cm = compile_model(PROBES / "smooth.mdl")
    assert len(notices(cm, n=1, outputs=stocks[:1])) == 1  # the single-run kernel
    assert notices(cm, n=1, outputs=stocks[:1]) == []
    assert len(notices(cm, n=3, outputs=stocks[:1])) == 1  # the batch kernel
    assert len(notices(cm, n=3, outputs=stocks[1:])) == 1  # another set of outputs
    again = compile_model(PROBES / "smooth.mdl")  # as in a new process: the disk cache
    assert notices(again, n=1, outputs=stocks[:1]) == notices(again, n=3, outputs=stocks[1:]) == []


def assert_numpy_takes_over(*status_parts: str):
    """Where the native build fails, the status says why (every part) and the numbers are the
    numpy code's."""
    cm = compile_model(PROBES / "subscripts.mdl")
    out = cm.simulate(n=20)
    assert all(part in cm.native_status for part in status_parts), cm.native_status
    cm.native = False
    assert_same(cm.simulate(n=20), out)


def test_without_a_compiler_the_numpy_code_runs(monkeypatch):
    monkeypatch.setattr(native, "compiler", lambda: None)
    assert_numpy_takes_over("no C compiler")


def test_a_failing_compiler_is_reported_and_the_numpy_code_runs(monkeypatch, tmp_path):
    bad = tmp_path / "badcc"
    bad.write_text("#!/bin/sh\necho 'cc: fatal error: out of licences' >&2\nexit 1\n")
    bad.chmod(0o755)
    monkeypatch.setenv("CC", str(bad))
    assert_numpy_takes_over("C compiler failed", "out of licences")


def test_a_missing_compiler_binary_is_reported_and_the_numpy_code_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("URBSIM_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert_numpy_takes_over("cannot be run", "no-such-cc")


def test_without_libmvec_the_c_library_maths_build_runs(monkeypatch, tmp_path):
    """A C library without vector maths (musl, macOS), or a link that fails on ``-lmvec``:
    the kernel is built with the C library's maths and reproduces the scalar code exactly."""
    cc = native.compiler()
    wrapper = tmp_path / "cc-without-libmvec"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        '  [ "$a" = -lmvec ] && { echo "ld: cannot find -lmvec" >&2; exit 1; }\n'
        "done\n"
        f'exec {" ".join(cc)} "$@"\n'
    )
    wrapper.chmod(0o755)
    cases = {"no libmvec found": None, "the link fails": str(wrapper)}
    for case, cc_env in cases.items():
        monkeypatch.setenv("URBSIM_CACHE_DIR", str(tmp_path / case))  # empty: builds afresh
        with monkeypatch.context() as m:
            if cc_env:
                m.setenv("CC", cc_env)
            else:
                m.setattr(native.ctypes.util, "find_library", lambda name: None)
            cm = compile_model(PROBES / "functions.mdl")
            got = run(cm, "native", n=3)
        assert "C library maths" in cm.native_status, (case, cm.native_status)
        assert_same(run(cm, "scalar", n=3), got, rtol=0.0)


_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _c_source(cm) -> str:
    """The C code of every default output of ``cm``."""
    ids = list(cm._output_plan(None)[1])
    return native.translate(cm._scalar_function(ids)[-1])


def test_c_code_does_not_depend_on_the_models_names(tmp_path):
    """No text from the model file reaches the C code: renaming every variable of a model
    leaves the C text outside comments identical (identifiers are generated, numbers are hex
    literals); the names appear only in comments, one per assigned element."""
    text = (
        "{UTF-8}\n"
        'rate = 0.1 ~~|\n"system(rm -rf /)" = rate * 2 * "f(x)"(Time) ~~|\n'
        '"f(x)"([(0,0)-(2,2)],(0,1),(1,1.5),(2,1)) ~~|\n'
        'Stock = INTEG("system(rm -rf /)", 1) ~~|\n'
        "FINAL TIME = 2 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 1 ~~|\nTIME STEP = 0.5 ~~|\n"
    )
    renamed = {"rate": "alpha", '"system(rm -rf /)"': "beta", '"f(x)"': "gee", "Stock": "Level"}
    sources = []
    for k, body in enumerate((text, text)):
        if k:
            for a, b in renamed.items():
                body = body.replace(a, b)
        mdl = tmp_path / f"m{k}.mdl"
        mdl.write_text(body, encoding="utf-8")
        cm = compile_model(mdl)
        sources.append(_c_source(cm))
        assert_same(run(cm, "numpy"), run(cm, "native"))
    code = [_COMMENT.sub("", s) for s in sources]
    assert "system" not in code[0] and "rm -rf" not in code[0]
    assert "rate" not in code[0] and "Stock" not in code[0]
    assert code[0] == code[1]
    assert '/* "system(rm -rf /)" */' in sources[0] and "/* beta */" in sources[1]
    assert "/* Stock */" in sources[0] and "/* Level */" in sources[1]


def test_a_hostile_name_cannot_end_its_comment(tmp_path):
    """A Vensim name holding ``*/`` and a backslash stays inside its comment: the C code is
    the same as with a plain name, and the kernel computes numpy's numbers."""
    hostile = '"x */ int evil = 1; /* \\ y"'
    text = (
        "{UTF-8}\nSide: a, b ~~|\nrate = 0.1 ~~|\nNAME = rate * 2 ~~|\n"
        "Stock[Side] = INTEG(NAME, 1) ~~|\n"
        "FINAL TIME = 2 ~~|\nINITIAL TIME = 0 ~~|\nSAVEPER = 1 ~~|\nTIME STEP = 0.5 ~~|\n"
    )
    sources = []
    for k, name in enumerate(("plain", hostile)):
        body = text.replace("NAME", name)
        mdl = tmp_path / f"m{k}.mdl"
        mdl.write_text(body, encoding="utf-8")
        cm = compile_model(mdl)
        sources.append(_c_source(cm))
        assert_same(run(cm, "numpy"), run(cm, "native"))
    assert "evil" in sources[1]
    code = [_COMMENT.sub("", s) for s in sources]
    assert code[0] == code[1] and "evil" not in code[1]
    for line in sources[1].splitlines():
        if "evil" in line:
            assert line.count("/*") == 1 and line.rstrip().endswith("*/"), line
            assert "\\" not in line and "??" not in line, line


def test_comment_text_removes_what_could_end_a_comment():
    assert ir.comment_text("a */ b /* c \\ d ??/ e\nf\x00") == "a   b   c   d  / e?f?"
    for text in ("*/", "**//", "*/*/", "?\\?/"):
        assert "*/" not in ir.comment_text(text) and "\\" not in ir.comment_text(text)


def test_unknown_construct_raises_not_native():
    with pytest.raises(native.NotNative, match="statement"):
        cemit.CEmitter({}, ir.NameTable()).stmts([object()])
