"""Source emitters for stateful elements, replicating PySD 3.14.3's Euler semantics.

Each function returns array-IR statements (:mod:`arrays`: generated identifiers, numbers,
whitelisted functions). ``st`` is a :class:`Stateful` spec: ``py`` the output name, ``sp`` the
state prefix, ``args`` the aligned arguments (array-IR expressions), ``order``, ``tail`` the
state shape before the run axis and ``nid`` its node id (used for error messages).

PySD reference (pysd/py_backend/statefuls.py):

* Integ:      state0 = init;               ddt = flow
* Smooth:     state[k] = init (k stages);  ddt = (roll(state) with input first - state)
                                                 * order / smooth_time;  out = state[-1]
* Delay:      state[k] = init * delay;     outflow = state / delay; inflow = roll(outflow) with
                                            input first; ddt = (inflow - outflow) * order;
                                            out = state[-1] / delay.  At initialisation the order
                                            is lowered while order * TIME STEP > min(delay).
* DelayN:     as Delay, but each stage keeps the delay time it was given: times[k] =
              delay at init; every step times = roll(times) with the current delay first,
              outflow = state / times; out = state[-1] / times[0] (the delay time of the last
              update). With a delay time that does not change this is Delay.
* DelayFixed: order = round(max(delay / TIME STEP, 1) + 1e-6); a pipe of ``order`` slots filled
              with init; each step pipe[ptr] = input, ptr = (ptr + 1) % order, state = pipe[ptr].
* Trend:      state0 = input / (1 + init_trend * avg); out = ZIDZ(input - state,
              avg * |state|); ddt = (input - state) / avg.
* Forecast:   state0 = input / (1 + init_trend); out = input * (1 + ZIDZ(input - state,
              avg * state) * horizon); ddt = (input - state) / avg.
* SampleIfTrue: state0 = init; out = IF cond THEN input ELSE state; the new state is the
              output (PySD's update reads the step's cached condition and input).
* Every step: new_state = state + ddt * TIME STEP, all statefuls from the same old values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .arrays import (
    DT,
    SMALL,
    AExpr,
    Assign,
    Call,
    Compare,
    If,
    K,
    Lit,
    N,
    Number,
    Op,
    Ref,
    call,
    number,
    where,
)


@dataclass
class Stateful:
    stype: str  # integ | smooth | delay | delayn | delayfixed | trend | forecast | initial | sample
    py: str
    sp: str
    nid: int
    order: int = 1
    tail: tuple = ()
    args: dict = field(default_factory=dict)  # name -> aligned array-IR expression
    deps: dict = field(default_factory=dict)  # name -> set of node ids


def output_deps(st: Stateful) -> set:
    if st.stype == "delay":
        return set(st.deps["delay_time"])
    if st.stype == "trend":
        return set(st.deps["input"]) | set(st.deps["average_time"])
    if st.stype == "forecast":
        return set().union(*(st.deps[k] for k in ("input", "average_time", "horizon")))
    if st.stype == "sample":
        return set(st.deps["condition"]) | set(st.deps["input"])
    return set()


def init_deps(st: Stateful) -> set:
    names = {
        "integ": ["initial"],
        "smooth": ["initial"],
        "delay": ["initial", "delay_time"],
        "delayn": ["initial", "delay_time"],
        "delayfixed": ["initial", "delay_time"],
        "trend": ["input", "average_time", "initial_trend"],
        "forecast": ["input", "average_time", "horizon", "initial_trend"],
        "initial": ["initial"],
        "sample": ["initial", "condition", "input"],
    }[st.stype]
    return set().union(*(st.deps[k] for k in names))


def update_deps(st: Stateful) -> set:
    names = {
        "integ": ["flow"],
        "smooth": ["input", "smooth_time"],
        "delay": ["input", "delay_time"],
        "delayn": ["input", "delay_time"],
        "delayfixed": ["input"],
        "trend": ["input", "average_time"],
        "forecast": ["input", "average_time"],
        "initial": [],
        "sample": ["condition", "input"],
    }[st.stype]
    return set().union(set(), *(st.deps[k] for k in names))


def _stages(st):
    return [f"{st.sp}_{j}" for j in range(st.order)]


def _times(st):
    return [f"{st.sp}_t{j}" for j in range(st.order)]


def _state(value: AExpr, st: Stateful) -> Call:
    """``value`` broadcast to the state's shape ``(*tail, runs)`` (a new array)."""
    return call("_state", value, N, Lit(tuple(int(x) for x in st.tail)))


def _euler(state: str, ddt: AExpr) -> AExpr:
    """``state + ddt * DT``: PySD's Euler step."""
    return Op("+", Ref(state), Op("*", ddt, DT))


def _copies(targets, value: str) -> list:
    return [Assign(x, Ref(value)) for x in targets]


def _commits(s: list[str]) -> list:
    return [Assign(x, Ref(f"{x}n")) for x in s]


def _delayn_update(st: Stateful, s: list[str], news: list[str]) -> tuple[list, list]:
    """DELAY N's step: roll the stages' delay times (the current one into the first real
    stage: stage ``order - ko`` when the order was lowered), then DELAY's Euler step."""
    a, sp = st.args, st.sp
    times = _times(st)
    lines = [Assign(f"{sp}_in", a["input"]), Assign(f"{sp}_dt", _state(a["delay_time"], st))]
    branches = []
    for flag, order in ((True, number(st.order)), (False, Ref(f"{sp}_ko"))):
        body = []
        for j in range(st.order):
            if j == 0:
                t_new, inflow = Ref(f"{sp}_dt"), Ref(f"{sp}_in")
            elif flag:
                t_new, inflow = Ref(times[j - 1]), Ref(f"{sp}_o{j - 1}")
            else:
                first = Compare("==", Ref(f"{sp}_ko"), number(st.order - j))
                t_new = where(first, Ref(f"{sp}_dt"), Ref(times[j - 1]))
                inflow = where(first, Ref(f"{sp}_in"), Ref(f"{sp}_o{j - 1}"))
            body.append(Assign(f"{times[j]}n", t_new))
            body.append(Assign(f"{sp}_o{j}", Op("/", Ref(s[j]), Ref(f"{times[j]}n"))))
            ddt = Op("*", Op("-", inflow, Ref(f"{sp}_o{j}")), order)
            body.append(Assign(news[j], _euler(s[j], ddt)))
        branches.append(tuple(body))
    lines.append(If(Ref(f"{sp}_kf"), *branches))
    commits = _commits(s) + [Assign(x, Ref(f"{x}n")) for x in times]
    commits.append(Assign(f"{sp}_tf", Ref(f"{sp}_dt")))
    return lines, commits


def _zidz_of_state(st: Stateful, den: AExpr) -> Call:
    """ZIDZ(input - state, den), as TREND's and FORECAST's outputs compute it."""
    a, s0 = st.args, Ref(_stages(st)[0])
    small = Compare("<", call("xp.abs", den), SMALL)
    return where(small, number(0.0), Op("/", Op("-", a["input"], s0), den))


def emit_output(st: Stateful) -> list:
    """Statements computing the stateful's output from its state (at the start of a step)."""
    s = _stages(st)
    a = st.args
    if st.stype == "integ":
        return [Assign(st.py, Ref(s[0]))]
    if st.stype == "smooth":
        return [Assign(st.py, Ref(s[-1]))]
    if st.stype == "delay":
        return [Assign(st.py, Op("/", Ref(s[-1]), a["delay_time"]))]
    if st.stype == "delayn":
        return [Assign(st.py, Op("/", Ref(s[-1]), Ref(f"{st.sp}_tf")))]
    if st.stype == "delayfixed":
        return [Assign(st.py, Ref(f"{st.sp}_st"))]
    if st.stype == "trend":
        den = Op("*", a["average_time"], call("xp.abs", Ref(s[0])))
        return [Assign(st.py, _zidz_of_state(st, den))]
    if st.stype == "forecast":
        zidz = _zidz_of_state(st, Op("*", a["average_time"], Ref(s[0])))
        growth = Op("+", number(1.0), Op("*", zidz, a["horizon"]))
        return [Assign(st.py, Op("*", a["input"], growth))]
    if st.stype == "sample":
        return [Assign(st.py, where(a["condition"], a["input"], Ref(s[0])))]
    raise AssertionError(st.stype)


def emit_init(st: Stateful) -> list:
    """Statements initialising the state (at INITIAL TIME), then computing the output."""
    s = _stages(st)
    a, sp = st.args, st.sp
    if st.stype == "initial":
        return [Assign(st.py, a["initial"])]
    if st.stype in ("integ", "sample"):
        return [Assign(s[0], _state(a["initial"], st)), *emit_output(st)]
    if st.stype == "smooth":
        lines = [Assign(s[0], _state(a["initial"], st)), *_copies(s[1:], s[0])]
        return lines + emit_output(st)
    if st.stype in ("delay", "delayn"):
        ko = Ref(f"{sp}_ko")
        dorder = call("_dorder", Ref(f"{sp}_dt"), Lit(st.order), Lit(len(st.tail)), Lit(st.nid))
        full = call("xp.all", Compare("==", ko, number(st.order)))
        lines = [
            Assign(f"{sp}_dt", a["delay_time"]),
            Assign(f"{sp}_ko", dorder),
            Assign(f"{sp}_kf", call("bool", full)),
            Assign(s[0], _state(Op("*", a["initial"], Ref(f"{sp}_dt")), st)),
            *_copies(s[1:], s[0]),
        ]
        if st.stype == "delayn":  # every stage's delay time, and the last one given
            lines.append(Assign(f"{sp}_tf", _state(Ref(f"{sp}_dt"), st)))
            lines += _copies(_times(st), f"{sp}_tf")
        return lines + emit_output(st)
    if st.stype == "delayfixed":
        return [
            Assign(f"{sp}_ko", call("_dfo", a["delay_time"], N, Lit(st.nid))),
            Assign(f"{sp}_ar", call("xp.arange", N)),
            Assign(f"{sp}_st", _state(a["initial"], st)),
            Assign(f"{sp}_p", call("_pipe_init", Ref(f"{sp}_st"), Ref(f"{sp}_ko"))),
            *emit_output(st),
        ]
    if st.stype == "trend":
        growth = Op("+", number(1.0), Op("*", a["initial_trend"], a["average_time"]))
        return [Assign(s[0], _state(Op("/", a["input"], growth), st)), *emit_output(st)]
    if st.stype == "forecast":
        growth = Op("+", number(1.0), a["initial_trend"])
        return [Assign(s[0], _state(Op("/", a["input"], growth), st)), *emit_output(st)]
    raise AssertionError(st.stype)


def emit_update(st: Stateful) -> tuple[list, list]:
    """(statements computing the new state into temporaries, statements committing them)."""
    s = _stages(st)
    a, sp = st.args, st.sp
    news = [f"{x}n" for x in s]
    if st.stype == "integ":
        return [Assign(news[0], _euler(s[0], a["flow"]))], _commits(s)
    if st.stype == "smooth":
        k = number(st.order)
        lines = [Assign(f"{sp}_in", a["input"]), Assign(f"{sp}_tm", a["smooth_time"])]
        for j in range(st.order):
            tgt = Ref(f"{sp}_in" if j == 0 else s[j - 1])
            ddt = Op("/", Op("*", Op("-", tgt, Ref(s[j])), k), Ref(f"{sp}_tm"))
            lines.append(Assign(news[j], _euler(s[j], ddt)))
        return lines, _commits(s)
    if st.stype == "delay":
        lines = [Assign(f"{sp}_in", a["input"]), Assign(f"{sp}_dt", a["delay_time"])]
        lines += [
            Assign(f"{sp}_o{j}", Op("/", Ref(s[j]), Ref(f"{sp}_dt"))) for j in range(st.order)
        ]
        branches = []
        for order in (number(st.order), Ref(f"{sp}_ko")):
            body = []
            for j in range(st.order):
                inflow = Ref(f"{sp}_in" if j == 0 else f"{sp}_o{j - 1}")
                if j and isinstance(order, Ref):  # the first real stage takes the input
                    first = Compare("==", order, number(st.order - j))
                    inflow = where(first, Ref(f"{sp}_in"), inflow)
                ddt = Op("*", Op("-", inflow, Ref(f"{sp}_o{j}")), order)
                body.append(Assign(news[j], _euler(s[j], ddt)))
            branches.append(tuple(body))
        return [*lines, If(Ref(f"{sp}_kf"), *branches)], _commits(s)
    if st.stype == "delayn":
        return _delayn_update(st, s, news)
    if st.stype == "delayfixed":
        ko, ar = Ref(f"{sp}_ko"), Ref(f"{sp}_ar")
        write = call("_pipe_write", Ref(f"{sp}_p"), Op("%", K, ko), ar, _state(a["input"], st))
        read = call("_pipe_read", Ref(f"{sp}_pn"), Op("%", Op("+", K, Number(1)), ko), ar)
        lines = [Assign(f"{sp}_pn", write), Assign(f"{sp}_stn", read)]
        return lines, [Assign(f"{sp}_st", Ref(f"{sp}_stn")), Assign(f"{sp}_p", Ref(f"{sp}_pn"))]
    if st.stype in ("trend", "forecast"):
        ddt = Op("/", Op("-", a["input"], Ref(s[0])), a["average_time"])
        return [Assign(news[0], _euler(s[0], ddt))], _commits(s)
    if st.stype == "sample":
        return [Assign(news[0], _state(Ref(st.py), st))], _commits(s)
    raise AssertionError(st.stype)
