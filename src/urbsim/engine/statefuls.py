"""Source emitters for stateful elements, replicating PySD 3.14.3's Euler semantics.

Each function returns lines of Python source (built only from generated identifiers and
``repr(float)`` numbers, see ``expressions.py``). ``st`` is a :class:`Stateful` spec: ``py`` the
output name, ``sp`` the state prefix, ``args`` the aligned argument sources, ``order``, ``tail``
the state shape after the run axis and ``nid`` its node id (used for error messages).

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

from .expressions import num


@dataclass
class Stateful:
    stype: str  # integ | smooth | delay | delayn | delayfixed | trend | forecast | initial | sample
    py: str
    sp: str
    nid: int
    order: int = 1
    tail: tuple = ()
    args: dict = field(default_factory=dict)  # name -> aligned source
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


def _delayn_update(st: Stateful, s: list[str], news: list[str]) -> tuple[list[str], list[str]]:
    """DELAY N's step: roll the stages' delay times (the current one into the first real
    stage: stage ``order - ko`` when the order was lowered), then DELAY's Euler step."""
    a, sp, k = st.args, st.sp, num(st.order)
    tail = repr(tuple(int(x) for x in st.tail))
    times = _times(st)
    lines = [f"{sp}_in = {a['input']}", f"{sp}_dt = _state({a['delay_time']}, n, {tail})"]
    for flag, order in ((True, k), (False, f"{sp}_ko")):
        lines.append(f"if {sp}_kf:" if flag else "else:")
        for j in range(st.order):
            if j == 0:
                t_new, inflow = f"{sp}_dt", f"{sp}_in"
            elif flag:
                t_new, inflow = times[j - 1], f"{sp}_o{j - 1}"
            else:
                first = f"{sp}_ko == {num(st.order - j)}"
                t_new = f"_where({first}, {sp}_dt, {times[j - 1]})"
                inflow = f"_where({first}, {sp}_in, {sp}_o{j - 1})"
            lines.append(f"    {times[j]}n = {t_new}")
            lines.append(f"    {sp}_o{j} = {s[j]} / {times[j]}n")
            lines.append(f"    {news[j]} = {s[j]} + (({inflow} - {sp}_o{j}) * {order}) * DT")
    commits = [f"{x} = {y}" for x, y in zip(s, news, strict=True)]
    commits += [f"{x} = {x}n" for x in times] + [f"{sp}_tf = {sp}_dt"]
    return lines, commits


def emit_output(st: Stateful) -> list[str]:
    """Lines computing the stateful's output from its state (at the start of a step)."""
    s = _stages(st)
    a = st.args
    if st.stype == "integ":
        return [f"{st.py} = {s[0]}"]
    if st.stype == "smooth":
        return [f"{st.py} = {s[-1]}"]
    if st.stype == "delay":
        return [f"{st.py} = {s[-1]} / {a['delay_time']}"]
    if st.stype == "delayn":
        return [f"{st.py} = {s[-1]} / {st.sp}_tf"]
    if st.stype == "delayfixed":
        return [f"{st.py} = {st.sp}_st"]
    if st.stype == "trend":
        den = f"({a['average_time']} * xp.abs({s[0]}))"
        return [f"{st.py} = _where(xp.abs({den}) < _SMALL, 0.0, ({a['input']} - {s[0]}) / {den})"]
    if st.stype == "forecast":
        den = f"({a['average_time']} * {s[0]})"
        zidz = f"_where(xp.abs({den}) < _SMALL, 0.0, ({a['input']} - {s[0]}) / {den})"
        return [f"{st.py} = {a['input']} * (1.0 + {zidz} * {a['horizon']})"]
    if st.stype == "sample":
        return [f"{st.py} = _where({a['condition']}, {a['input']}, {s[0]})"]
    raise AssertionError(st.stype)


def emit_init(st: Stateful) -> list[str]:
    """Lines initialising the state (at INITIAL TIME), then computing the output."""
    s = _stages(st)
    a = st.args
    tail = repr(tuple(int(x) for x in st.tail))
    if st.stype == "initial":
        return [f"{st.py} = {a['initial']}"]
    if st.stype in ("integ", "sample"):
        return [f"{s[0]} = _state({a['initial']}, n, {tail})", *emit_output(st)]
    if st.stype == "smooth":
        lines = [f"{s[0]} = _state({a['initial']}, n, {tail})"]
        lines += [f"{x} = {s[0]}" for x in s[1:]]
        return lines + emit_output(st)
    if st.stype in ("delay", "delayn"):
        lines = [
            f"{st.sp}_dt = {a['delay_time']}",
            f"{st.sp}_ko = _dorder({st.sp}_dt, {st.order}, {len(st.tail)}, {st.nid})",
            f"{st.sp}_kf = bool(xp.all({st.sp}_ko == {num(st.order)}))",
            f"{s[0]} = _state({a['initial']} * {st.sp}_dt, n, {tail})",
        ]
        lines += [f"{x} = {s[0]}" for x in s[1:]]
        if st.stype == "delayn":  # every stage's delay time, and the last one given
            lines.append(f"{st.sp}_tf = _state({st.sp}_dt, n, {tail})")
            lines += [f"{x} = {st.sp}_tf" for x in _times(st)]
        return lines + emit_output(st)
    if st.stype == "delayfixed":
        return [
            f"{st.sp}_ko = _dfo({a['delay_time']}, n, {st.nid})",
            f"{st.sp}_ar = xp.arange(n)",
            f"{st.sp}_st = _state({a['initial']}, n, {tail})",
            f"{st.sp}_p = _pipe_init({st.sp}_st, {st.sp}_ko)",
            *emit_output(st),
        ]
    if st.stype == "trend":
        lines = [
            f"{s[0]} = _state({a['input']} / (1.0 + {a['initial_trend']} * "
            f"{a['average_time']}), n, {tail})"
        ]
        return lines + emit_output(st)
    if st.stype == "forecast":
        lines = [f"{s[0]} = _state({a['input']} / (1.0 + {a['initial_trend']}), n, {tail})"]
        return lines + emit_output(st)
    raise AssertionError(st.stype)


def emit_update(st: Stateful) -> tuple[list[str], list[str]]:
    """(lines computing the new state into temporaries, lines committing them)."""
    s = _stages(st)
    a = st.args
    news = [f"{x}n" for x in s]
    dt = "DT"
    if st.stype == "integ":
        return [f"{news[0]} = {s[0]} + ({a['flow']}) * {dt}"], [f"{s[0]} = {news[0]}"]
    if st.stype == "smooth":
        k = num(st.order)
        lines = [f"{st.sp}_in = {a['input']}", f"{st.sp}_tm = {a['smooth_time']}"]
        for j in range(st.order):
            tgt = f"{st.sp}_in" if j == 0 else s[j - 1]
            lines.append(f"{news[j]} = {s[j]} + ((({tgt} - {s[j]}) * {k}) / {st.sp}_tm) * {dt}")
        return lines, [f"{x} = {y}" for x, y in zip(s, news, strict=True)]
    if st.stype == "delay":
        k = num(st.order)
        lines = [f"{st.sp}_in = {a['input']}", f"{st.sp}_dt = {a['delay_time']}"]
        lines += [f"{st.sp}_o{j} = {s[j]} / {st.sp}_dt" for j in range(st.order)]
        lines.append(f"if {st.sp}_kf:")
        for j in range(st.order):
            inflow = f"{st.sp}_in" if j == 0 else f"{st.sp}_o{j - 1}"
            lines.append(f"    {news[j]} = {s[j]} + (({inflow} - {st.sp}_o{j}) * {k}) * {dt}")
        lines.append("else:")
        for j in range(st.order):
            if j == 0:
                inflow = f"{st.sp}_in"
            else:
                inflow = f"_where({st.sp}_ko == {num(st.order - j)}, {st.sp}_in, {st.sp}_o{j - 1})"
            lines.append(
                f"    {news[j]} = {s[j]} + (({inflow} - {st.sp}_o{j}) * {st.sp}_ko) * {dt}"
            )
        return lines, [f"{x} = {y}" for x, y in zip(s, news, strict=True)]
    if st.stype == "delayn":
        return _delayn_update(st, s, news)
    if st.stype == "delayfixed":
        tail = repr(tuple(int(x) for x in st.tail))
        lines = [
            f"{st.sp}_pn = _pipe_write({st.sp}_p, k % {st.sp}_ko, {st.sp}_ar, "
            f"_state({a['input']}, n, {tail}))",
            f"{st.sp}_stn = _pipe_read({st.sp}_pn, (k + 1) % {st.sp}_ko, {st.sp}_ar)",
        ]
        return lines, [f"{st.sp}_st = {st.sp}_stn", f"{st.sp}_p = {st.sp}_pn"]
    if st.stype in ("trend", "forecast"):
        return (
            [f"{news[0]} = {s[0]} + (({a['input']} - {s[0]}) / {a['average_time']}) * {dt}"],
            [f"{s[0]} = {news[0]}"],
        )
    if st.stype == "sample":
        tail = repr(tuple(int(x) for x in st.tail))
        return [f"{news[0]} = _state({st.py}, n, {tail})"], [f"{s[0]} = {news[0]}"]
    raise AssertionError(st.stype)
