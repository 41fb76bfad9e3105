"""The element-level IR and its emitters: random IR expressions printed by the Python emitter
equal a direct numpy evaluation of the same IR, and the C emitter (exact maths) equals the
Python emitter bit for bit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from _paths import require_compiler
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from urbsim.engine import arrays, ir, lower, mpack, native, scalar

X, Y = ir.Var("v0_0"), ir.Var("v1_0")  # two parameters, one value per run
PARAMS = [ir.Param("const", 0, (X.name,)), ir.Param("const", 1, (Y.name,))]
T = np.array([0.0, 0.5, 1.0])  # time grid of the test programs

_leaves = st.one_of(
    st.sampled_from([X, Y, ir.Special("t"), ir.Special("DT")]),
    st.floats(-4, 4, allow_nan=False).map(ir.Num),
    st.integers(-3, 3).map(ir.Num),
)


def _extend(children, functions):
    return st.one_of(
        st.builds(ir.Bin, st.sampled_from(ir.ARITH), children, children),
        st.builds(ir.Neg, children),
        st.builds(ir.Cmp, st.sampled_from(ir.COMPARE), children, children),
        st.builds(ir.Select, children, children, children),
        st.builds(ir.MinMax, st.sampled_from(["<=", ">="]), children, children),
        st.builds(
            lambda f, a, b: ir.Call(f, (a, b)[: ir.FUNCTIONS[f]]),
            st.sampled_from(functions),
            children,
            children,
        ),
        st.builds(
            lambda op, xs: ir.Logic(op, tuple(ir.Cmp("!=", x, ir.Num(0)) for x in xs)),
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3),
        ),
    )


def expressions(functions):
    return st.recursive(_leaves, lambda c: _extend(c, functions), max_leaves=10)


# correctly rounded in both Python's math and numpy, so the two agree bit for bit
EXACT = ["abs", "sqrt", "trunc"]
ALL = sorted(ir.FUNCTIONS)


def _program(exprs) -> ir.Program:
    aux = [ir.Assign(f"v{2 + j}", e) for j, e in enumerate(exprs)]
    record = [ir.Var(a.target) for a in aux]
    return ir.Program(0.5, PARAMS, [], aux, record, [1] * len(record), [], [], ir.NameTable())


def _python(prog: ir.Program):
    """The Python emitter's function of ``prog``: (x, y) -> rows (saved times x records)."""
    ns = scalar.namespace(SimpleNamespace(dt=prog.dt))
    exec(compile(scalar.emit_python(prog), "<test-ir>", "exec"), ns)  # noqa: S102
    return lambda x, y: ns["_sim1"]([x, y], T.tolist(), [True] * len(T))


def _numpy(e, x, y, t):
    """Direct numpy evaluation of IR expression ``e`` (the array backend's operations)."""

    def ev(e):
        return _numpy(e, x, y, t)

    if isinstance(e, ir.Var):
        return x if e == X else y
    if isinstance(e, ir.Num):
        return np.full_like(x, float(e.value))
    if isinstance(e, ir.Special):
        return np.full_like(x, t if e.name == "t" else 0.5)
    if isinstance(e, ir.Neg):
        return -ev(e.a)
    if isinstance(e, ir.Bin):
        fn = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
        return fn.get(e.op, np.mod)(ev(e.a), ev(e.b))
    if isinstance(e, ir.Cmp):
        fn = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
        fn.update({"==": np.equal, "!=": np.not_equal})
        return fn[e.op](ev(e.a), ev(e.b)).astype(np.float64)
    if isinstance(e, ir.Logic):
        fn = np.logical_and if e.op == "and" else np.logical_or
        out = ev(e.args[0]) != 0
        for a in e.args[1:]:
            out = fn(out, ev(a) != 0)
        return out.astype(np.float64)
    if isinstance(e, ir.Select):
        return np.where(ev(e.cond) != 0, ev(e.a), ev(e.b))
    if isinstance(e, ir.MinMax):
        return (np.minimum if e.op == "<=" else np.maximum)(ev(e.a), ev(e.b))
    assert isinstance(e, ir.Call)
    return {"abs": np.abs, "sqrt": np.sqrt, "trunc": np.trunc}[e.fn](ev(e.args[0]))


VALUES = [-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 2.0, 7.25]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(EXACT))
def test_python_emitter_equals_numpy_on_random_expressions(e):
    fn = _python(_program([e]))
    xs = np.array([a for a in VALUES for _ in VALUES])
    ys = np.array([b for _ in VALUES for b in VALUES])
    with np.errstate(all="ignore"):
        ref = np.stack([_numpy(e, xs, ys, t) for t in T], axis=1)  # (pairs, times)
    checked = 0
    for j, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):
        try:
            rows = fn(x, y)
        except (ArithmeticError, ValueError):
            continue  # Python raises where numpy gives inf/NaN: the engine reruns with numpy
        np.testing.assert_array_equal(np.array(rows)[:, 0], ref[j], err_msg=str(e))
        checked += 1
    assume(checked)  # else Python raised for every pair (numpy's inf/NaN): nothing compared


@pytest.fixture(scope="module")
def _compiler():
    require_compiler()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions(ALL), min_size=20, max_size=30))
def test_c_emitter_equals_python_emitter_bit_for_bit(_compiler, exprs):
    """One kernel per example (a C compile each), 37 runs over 4 lanes with a partial group:
    every run Python can finish equals the C kernel's lane exactly (same libm, same order)."""
    prog = _program(exprs)
    kernel = native.NativeKernel(native.build(native.translate(prog), vector_math=False), str)
    rng = np.random.default_rng(len(exprs))
    n = 37
    x, y = rng.normal(0, 3, n), rng.normal(0, 3, n)
    x[:8], y[:8] = VALUES, VALUES[::-1]
    kernel.bind([(0, np.zeros(1), False), (1, np.zeros(1), False)], T, np.ones(len(T), np.uint8))
    out = [np.zeros((n, len(T), 1)) for _ in exprs]
    kernel.run({0: x, 1: y}, n, out, threads=1)
    got = np.concatenate(out, axis=2)  # (runs, times, records)
    fn = _python(prog)
    for r in range(n):
        try:
            rows = fn(float(x[r]), float(y[r]))
        except (ArithmeticError, ValueError):
            continue
        np.testing.assert_array_equal(got[r], np.array(rows), err_msg=f"run {r}")


def test_nodes_refuse_what_is_not_in_the_whitelist():
    for bad in (
        lambda: ir.Var("system(rm -rf /)"),
        lambda: ir.Var("a */ b"),
        lambda: ir.Num(True),
        lambda: ir.Num("1"),
        lambda: ir.Special("os"),
        lambda: ir.Bin("**", X, Y),
        lambda: ir.Call("system", (X,)),
        lambda: ir.Call("pow", (X,)),
        lambda: ir.Logic("and", (X,)),
        lambda: ir.Assign("x;", X),
        lambda: ir.Neg("x"),
    ):
        with pytest.raises(ir.IRError):
            bad()


def test_name_table_labels_elements():
    names = ir.NameTable()
    names.add("v3_1", "Town Residents", ("agr",))
    names.add("v4", "rate")
    assert names.label("v3_1") == "Town Residents[agr]"
    assert names.label("v4") == "rate" and names.label("v5") is None


def test_array_nodes_refuse_what_is_not_in_the_whitelist():
    for bad in (
        lambda: arrays.Ref("os.system"),
        lambda: arrays.Call("os.system", (arrays.Ref("v1"),)),
        lambda: arrays.Call("xp.abs", ("v1",)),
        lambda: arrays.Number(True),
        lambda: arrays.Lit("rm -rf /"),
        lambda: arrays.Op("@", arrays.T, arrays.T),
        lambda: arrays.Chain(arrays.T, (("+", arrays.T), ("*", arrays.T))),
        lambda: arrays.Index(arrays.T, ("1:2",)),
        lambda: arrays.Assign("x = 1; y", arrays.T),
    ):
        with pytest.raises(arrays.IRError):
            bad()


def test_array_code_prints_and_lowers_the_same_operations():
    """One array statement printed as numpy code and lowered to the element IR: the printed
    code evaluated with numpy equals the Python emitter's function of the lowered IR."""
    a = arrays
    x = a.Ref("v0")
    e = a.where(
        a.Compare(">", a.Chain(x, (("-", a.number(1.5)), ("+", a.T))), a.number(0.0)),
        a.Op("**", x, a.Number(2)),
        a.Neg(a.call("xp.minimum", x, a.number(-0.5))),
    )
    src = a.source(e)
    ns = {"xp": np, "_where": np.where, "t": 0.5, "v0": np.array(VALUES)}
    ref = eval(compile(src, "<test>", "eval"), ns)  # noqa: S307 - generated by the test
    g = lower.Lowering(SimpleNamespace(nodes=[], ranges={}))
    g.env["v0"] = np.array([ir.Var("p")], dtype=object)
    g.env["t"] = np.array(ir.Special("t"), dtype=object)
    (elem,) = g.sym(e).tolist()
    got = []
    for v in VALUES:
        params = [ir.Param("const", 0, ("p",))]
        aux, rec = [ir.Assign("r", elem)], [ir.Var("r")]
        prog = ir.Program(0.5, params, [], aux, rec, [1], [], [], ir.NameTable())
        ns = scalar.namespace(SimpleNamespace(dt=0.5))
        exec(compile(scalar.emit_python(prog), "<test-ir>", "exec"), ns)  # noqa: S102
        got.append(ns["_sim1"]([v], [0.5], [True])[0][0])
    np.testing.assert_array_equal(np.array(got), ref)


def test_array_only_helpers_are_refused_by_the_element_lowering():
    """RANDOM, VECTOR and ALLOCATE helpers are array-IR calls the lowering refuses: such a
    model keeps the numpy path."""
    g = lower.Lowering(SimpleNamespace(nodes=[], ranges={}))
    g.env["v0"] = np.array([ir.Var("p")], dtype=object)
    for fn in ("_vsort", "_allocp", "_runif"):
        e = arrays.Call(fn, (arrays.Ref("v0"), arrays.Ref("v0")))
        with pytest.raises(lower.NotScalar, match=fn):
            g.sym(e)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(expressions(ALL), st.booleans()), min_size=20, max_size=30))
def test_one_lane_kernel_packs_maths_and_keeps_the_batch_kernels_bits(_compiler, items):
    """The 1-lane kernel of single runs packs independent exp/log/pow calls into one call of
    the batch kernel's vector maths (``mpack``); statements that read the one before (``chain``)
    cut the packs. Every run equals its lane of the batch kernel bit for bit."""
    exprs = [
        ir.Bin("*", ir.Var(f"v{1 + j}"), e) if chain and j else e
        for j, (e, chain) in enumerate(items)
    ]
    prog = _program(exprs)
    lanes = native.default_lanes(True)
    maths = native.maths_width(lanes)
    n = 11
    rng = np.random.default_rng(len(exprs))
    x, y = rng.normal(0, 3, n), rng.normal(0, 3, n)
    x[:8], y[:8] = VALUES, VALUES[::-1]
    got = []
    for w in (lanes, 1):
        text = native.translate(prog, w, maths)
        kernel = native.NativeKernel(native.build(text, vector_math=True), str)
        kernel.bind([(0, np.zeros(1), False), (1, np.zeros(1), False)], T, np.ones(len(T), "u1"))
        out = [np.zeros((n, len(T), 1)) for _ in exprs]
        kernel.run({0: x, 1: y}, n, out, threads=1)
        got.append(np.concatenate(out, axis=2))
    np.testing.assert_array_equal(got[0], got[1])
    calls, _ = mpack.hoist(exprs, iter(f"t{j}" for j in range(10**6)).__next__)
    assert ("#if VPACK" in text) == bool(calls)  # the 1-lane kernel's text


def test_packing_groups_assignments_by_dependency_level_and_keeps_barriers():
    a, b, c = ir.Var("a"), ir.Var("b"), ir.Var("c")

    def exp(v):
        return ir.Call("exp", (v,))

    def groups(body):
        return [
            (kind, [s.target if isinstance(s, ir.Assign) else "if" for s in g])
            for kind, g in mpack.windows(body)
        ]

    body = [ir.Assign("a", exp(X)), ir.Assign("b", exp(a)), ir.Assign("c", exp(Y))]
    assert groups(body) == [("pack", ["a", "c"]), ("pack", ["b"])]  # a and c in one call
    cut = ir.If(ir.Cmp(">", X, ir.Num(0)), (ir.Assign("c", exp(b)),))
    assert groups([*body[:2], cut, body[2]]) == [
        ("pack", ["a"]),
        ("pack", ["b"]),
        ("plain", ["if"]),
        ("pack", ["c"]),
    ]
    # a variable read before it is assigned again: the run keeps its order, cut where needed
    war = [ir.Assign("a", exp(c)), ir.Assign("b", exp(X)), ir.Assign("c", exp(a))]
    assert groups(war) == [("pack", ["a", "b"]), ("pack", ["c"])]
    calls, values = mpack.hoist([s.value for s in body], iter(["t1", "t2", "t3"]).__next__)
    assert [call for _, call in calls] == [exp(X), exp(a), exp(Y)]
    assert values == [ir.Var("t1"), ir.Var("t2"), ir.Var("t3")]
