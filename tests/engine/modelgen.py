"""Hypothesis strategy for small, well-formed Vensim models (differential tests vs PySD).

Every model has one range ``Dim`` (three elements) with a subrange ``Sub``, scalar and
subscripted constants, a lookup, auxiliaries over random expressions and stocks/statefuls.
Expressions mix every operator (unary minus, ``^`` chains, ``* /``, ``+ -``, comparisons,
``:AND:``/``:OR:``/``:NOT:``) written *without* redundant parentheses, so that precedence and
associativity are exercised as PySD's grammar reads them, and every function the engine
supports. Values stay finite: PySD runs scalar equations on Python floats, which raise where
numpy gives inf/NaN, so the generator keeps arguments inside each function's domain
(``LN(1.0 + ABS(x))``, denominators and ``^`` bases that cannot be zero, bounded exponents,
clipped flows). Numbers are written with a decimal point (PySD keeps integer literals as
integers, which changes SMOOTH's state type; see the engine README).
"""

from __future__ import annotations

from hypothesis import strategies as st

ELEMENTS = ("d1", "d2", "d3")
SUB = ("d1", "d3")
LITERALS = (0.5, 1.0, 1.5, 2.0, 3.0, 0.25, 2.5)
EXPONENTS = (-2.0, -1.5, -0.5, 0.5, 1.5, 2.0)
FUNCTIONS = (
    "MIN", "MAX", "ABS", "EXP", "LN", "SQRT", "ZIDZ", "XIDZ", "STEP", "RAMP", "PULSE",
    "INTEGER", "MODULO", "IF", "LOOKUP", "WITH", "SIN", "COS", "TAN", "ARCSIN", "ARCCOS",
    "ARCTAN", "LOG", "QUANTUM", "POWER", "PULSE TRAIN", "PI", "ELMCOUNT", "GAME", "ACTIVE",
)  # fmt: skip
# PySD functions the engine runs in its array code only (vectors.py, allocation.py): a model
# drawing them runs on the numpy and JAX paths (test_differential.py)
ARRAY_FUNCTIONS = ("SORT ORDER", "RANK", "REORDER", "SELECT", "ALLOCATE")
CMP = ("<", "<=", ">", ">=", "=", "<>")


def lit(x: float) -> str:
    """A literal as Vensim text, always with a decimal point."""
    return repr(float(x))


class _Builder:
    """Draws one model; ``scalars``/``arrays`` are the names an expression may use."""

    def __init__(self, draw, functions):
        self.draw = draw
        self.functions = functions
        self.scalars: list[str] = []
        self.arrays: list[str] = []
        self.lines: list[str] = []
        self.constants: tuple[list[str], list[str]] = ([], [])

    # -- atoms ---------------------------------------------------------------------------
    def number(self, signed=True) -> str:
        x = self.draw(st.sampled_from(LITERALS))
        if signed and self.draw(st.booleans()):
            x = -x
        return lit(x)

    def ref(self, over: bool) -> str:
        """A variable, Time, a number, a selected element, a reduction or ``Dim`` itself."""
        choices = ["num", "time"]
        if self.scalars:
            choices.append("scalar")
        if self.arrays:
            choices += ["elem", "reduce"]
            if over:
                choices += ["array", "array"]
        if over:
            choices.append("dimvalue")
        kind = self.draw(st.sampled_from(choices))
        if kind == "num":
            return self.number()
        if kind == "time":
            return "Time"
        if kind == "scalar":
            return self.draw(st.sampled_from(self.scalars))
        name = self.draw(st.sampled_from(self.arrays)) if self.arrays else ""
        if kind == "elem":
            return f"{name}[{self.draw(st.sampled_from(ELEMENTS))}]"
        if kind == "reduce":
            fn = self.draw(st.sampled_from(("SUM", "VMIN", "VMAX", "PROD")))
            return f"{fn}({name}[Dim!])"
        if kind == "array":
            return f"{name}[Dim]"
        return "Dim"

    def safe(self, over: bool, depth: int) -> str:
        """An operand that is never zero and lies in about [0.5, 5.5] in magnitude."""
        if self.draw(st.booleans()):
            return self.number()
        return f"(1.5 + MIN(ABS({self.expr(over, depth - 1)}), 4.0))"

    def power(self, over: bool, depth: int) -> str:
        """``base ^ e1 ^ e2`` with bounded literal exponents (signed: ``x^-2^0.5``)."""
        text = self.safe(over, depth)
        for _ in range(self.draw(st.integers(0, 2))):
            text += " ^ " + lit(self.draw(st.sampled_from(EXPONENTS)))
        return text

    # -- expressions ---------------------------------------------------------------------
    def term(self, over: bool, depth: int) -> str:
        if depth <= 0:
            return self.ref(over)
        kind = self.draw(st.sampled_from(("ref", "call", "paren", "power", "neg")))
        if kind == "ref":
            return self.ref(over)
        if kind == "call":
            return self.call(over, depth - 1)
        if kind == "paren":
            return f"({self.expr(over, depth - 1)})"
        if kind == "power":
            return self.power(over, depth)
        return "-" + self.draw(st.sampled_from((self.ref(over), self.power(over, depth))))

    def expr(self, over: bool, depth: int = 2) -> str:
        """``t1 op t2 op t3 ...`` over + - * / without parentheses; a divisor is a power."""
        text = self.term(over, depth)
        for _ in range(self.draw(st.integers(0, 3 if depth > 0 else 1))):
            op = self.draw(st.sampled_from(("+", "-", "*", "/")))
            rhs = self.power(over, depth) if op == "/" else self.term(over, depth)
            text += f" {op} {rhs}"
        return text

    def cond(self, over: bool, depth: int) -> str:
        text = f"{self.expr(over, depth)} {self.draw(st.sampled_from(CMP))} {self.expr(over, 0)}"
        if self.draw(st.booleans()):
            text = ":NOT: " + text
        if self.draw(st.booleans()):
            op = self.draw(st.sampled_from((":AND:", ":OR:")))
            text += f" {op} {self.expr(over, 0)} {self.draw(st.sampled_from(CMP))} Time"
        return text

    def call(self, over: bool, depth: int) -> str:
        f = self.draw(st.sampled_from(self.functions))
        e = lambda: self.expr(over, depth)  # noqa: E731
        pos = lambda: lit(self.draw(st.sampled_from(LITERALS)))  # noqa: E731
        # steps (INTEGER, MODULO, QUANTUM) of bounded values: an ulp of difference between
        # two correct computations of 1e15 would move MODULO(x, 0.5) by far more than 1e-9
        small = lambda: f"MIN(MAX({e()}, -100.0), 100.0)"  # noqa: E731
        table = {
            "MIN": lambda: f"MIN({e()}, {e()})",
            "MAX": lambda: f"MAX({e()}, {e()})",
            "ABS": lambda: f"ABS({e()})",
            "EXP": lambda: f"EXP(MIN({e()}, 3.0))",
            "LN": lambda: f"LN(1.0 + ABS({e()}))",
            "SQRT": lambda: f"SQRT(ABS({e()}))",
            "ZIDZ": lambda: f"ZIDZ({e()}, {e()})",
            "XIDZ": lambda: f"XIDZ({e()}, {e()}, {e()})",
            "STEP": lambda: f"STEP({e()}, {pos()})",
            "RAMP": lambda: f"RAMP({e()}, {pos()}, {pos()} + 1.0)",
            "PULSE": lambda: f"PULSE({pos()}, {pos()})",
            "INTEGER": lambda: f"INTEGER({small()})",
            "MODULO": lambda: f"MODULO({small()}, {pos()})",
            "IF": lambda: f"IF THEN ELSE({self.cond(over, depth)}, {e()}, {e()})",
            "LOOKUP": lambda: f"tab({e()})",
            "WITH": lambda: f"WITH LOOKUP({e()}, ([(0,-1)-(4,3)],(0,-1),(1,2),(2.5,0.5),(4,3)))",
            "SIN": lambda: f"SIN({e()})",
            "COS": lambda: f"COS({e()})",
            "TAN": lambda: f"TAN(MIN(ABS({e()}), 1.2))",
            "ARCSIN": lambda: f"ARCSIN(MIN(ABS({e()}), 1.0))",
            "ARCCOS": lambda: f"ARCCOS(MAX(MIN({e()}, 1.0), -1.0))",
            "ARCTAN": lambda: f"ARCTAN({e()})",
            "LOG": lambda: f"LOG(1.0 + ABS({e()}), {lit(self.draw(st.sampled_from((2.0, 10.0))))})",
            "QUANTUM": lambda: f"QUANTUM({small()}, {pos()})",
            "POWER": lambda: f"POWER({self.safe(over, depth)}, {e()} * 0.0 + 1.5)",
            "PULSE TRAIN": lambda: f"PULSE TRAIN({pos()}, {pos()}, {pos()} + 1.0, {pos()} + 3.0)",
            "PI": lambda: f"PI() * {e()}",
            "ELMCOUNT": lambda: f"ELMCOUNT({self.draw(st.sampled_from(('Dim', 'Sub')))})",
            "GAME": lambda: f"GAME({e()})",
            "ACTIVE": lambda: f"ACTIVE INITIAL({e()}, {self.constant_scope(e)})",
        }
        if f in ARRAY_FUNCTIONS:
            return self.array_call(f if over else "SELECT", over, depth)
        return table[f]()

    def array_call(self, f: str, over: bool, depth: int) -> str:
        """A VECTOR or ALLOCATE function over ``Dim`` (VECTOR SELECT, a number, also where
        the equation is not over ``Dim``)."""
        vec = lambda: self.vector(True, self.expr(True, depth))  # noqa: E731
        sign = lit(self.draw(st.sampled_from((1.0, -1.0))))
        if f == "SELECT":
            action = self.draw(st.sampled_from((0, 1, 2, 3, 4, 6, 7, 8, 9, 10)))
            name = self.draw(st.sampled_from(self.arrays)) if self.arrays else "k vec"
            text = f"VECTOR SELECT(k vec[Dim!], {name}[Dim!], {self.number()}, {action}, 0)"
            return text if not over else f"{text} + k vec[Dim]"
        if f == "ALLOCATE":
            text = (
                f"ALLOCATE BY PRIORITY(ABS({vec()}), {vec()}, ELMCOUNT(Dim), "
                f"{lit(self.draw(st.sampled_from((0.5, 1.0, 3.0))))}, ABS({self.expr(False, 0)}))"
            )
        elif f == "REORDER":
            text = f"VECTOR REORDER({vec()}, VECTOR SORT ORDER({vec()}, {sign}))"
        else:
            text = f"VECTOR {f}({vec()}, {sign})"
        return text

    # -- definitions -----------------------------------------------------------------------
    def vector(self, over: bool, text: str) -> str:
        """``text`` made to vary over ``Dim`` when ``over``: PySD 3.14.3 fails on some scalar
        right-hand sides of subscripted equations (a 0-d array wrapped as a DataArray)."""
        return f"{text} + k vec[Dim]" if over else text

    def define(self, name: str, over: bool, rhs: str):
        rhs = self.vector(over, rhs) if name != "k vec" else rhs
        self.lines.append(f"{name}{'[Dim]' if over else ''} = {rhs} ~~|")
        (self.arrays if over else self.scalars).append(name)

    def constant_scope(self, fn):
        """``fn()`` drawn over constants only (no initialisation loops through statefuls)."""
        saved = self.scalars, self.arrays
        self.scalars, self.arrays = self.constants
        try:
            return fn()
        finally:
            self.scalars, self.arrays = saved

    def stateful(self, name: str, over: bool) -> str:
        kind = self.draw(
            st.sampled_from(
                ("INTEG", "INTEG", "SMOOTH", "SMOOTHI", "SMOOTH3", "DELAY1", "DELAY1I", "DELAY3")
                + ("DELAY FIXED", "TREND", "INITIAL", "SMOOTH3I", "DELAY3I", "SMOOTH N")
                + ("DELAY N", "SAMPLE IF TRUE", "FORECAST")
            )
        )
        # forms initialised from their input read constants only; the others anything
        draw_input = lambda: f"MIN(MAX({self.vector(over, self.expr(over))}, -50.0), 50.0)"  # noqa: E731
        explicit = kind.startswith("INTEG") or kind.endswith(("I", " N", " TRUE"))
        explicit = explicit or kind == "DELAY FIXED"
        flow = draw_input() if explicit and kind != "INITIAL" else self.constant_scope(draw_input)
        init = self.constant_scope(lambda: self.vector(over, self.expr(over, 0)))
        delay = lit(self.draw(st.sampled_from((1.0, 1.5, 2.0))))
        order = self.draw(st.integers(1, 4))  # an integer literal, as PySD needs
        cond = f"{self.vector(over, self.expr(over, 1))} > {self.expr(over, 0)}"
        forms = {
            "INTEG": f"INTEG({flow}, {init})",
            "SMOOTH": f"SMOOTH({flow}, {delay})",
            "SMOOTHI": f"SMOOTHI({flow}, {delay}, {init})",
            "SMOOTH3": f"SMOOTH3({flow}, {delay})",
            "SMOOTH3I": f"SMOOTH3I({flow}, {delay}, {init})",
            "DELAY1": f"DELAY1({flow}, {delay})",
            "DELAY1I": f"DELAY1I({flow}, {delay}, {init})",
            "DELAY3": f"DELAY3({flow}, {delay})",
            "DELAY3I": f"DELAY3I({flow}, {delay}, {init})",
            "DELAY FIXED": f"DELAY FIXED({flow}, {delay}, {init})",
            "TREND": f"TREND({flow}, {delay}, 0.1)",
            "INITIAL": f"INITIAL({flow})",
            "SMOOTH N": f"SMOOTH N({flow}, {delay}, {init}, {order})",
            "DELAY N": f"DELAY N({flow}, {delay} + Time / 4.0, {init}, {order})",
            "SAMPLE IF TRUE": f"SAMPLE IF TRUE({cond}, {flow}, {init})",
            "FORECAST": f"FORECAST({flow}, {delay}, {delay})",
        }
        return forms[kind]

    def model(self) -> str:
        dt = self.draw(st.sampled_from((0.25, 0.5, 1.0)))
        self.lines += [
            "{UTF-8}",
            f"Dim : {', '.join(ELEMENTS)} ~~|",
            f"Sub : {', '.join(SUB)} ~~|",
            "tab([(0,0)-(4,4)],(0,0),(1,2),(2,1.5),(4,4)) ~~|",
        ]
        for i in range(self.draw(st.integers(1, 2))):
            self.define(f"c {i}", False, self.number())
        vals = ", ".join(self.number() for _ in ELEMENTS)
        self.define("k vec", True, vals)
        self.constants = (list(self.scalars), list(self.arrays))
        # stocks first (their flows may read later auxiliaries: no algebraic loop through
        # a stock), then auxiliaries, each reading only what is defined before it
        stocks = [
            (f"Level {i}", self.draw(st.booleans())) for i in range(self.draw(st.integers(1, 2)))
        ]
        pending = []
        for name, over in stocks:
            (self.arrays if over else self.scalars).append(name)
            pending.append((name, over))
        for i in range(self.draw(st.integers(1, 4))):
            over = self.draw(st.booleans())
            self.define(f"aux_{i}", over, self.expr(over))
        sub_src = self.draw(st.sampled_from(self.arrays))
        self.lines.append(f"part[Sub] = {sub_src}[Sub] * 2.0 + Sub ~~|")
        self.lines.append(f"elems[d1] = {self.expr(False, 1)} ~~|")
        self.lines.append("elems[d2] = Time ~~|")
        self.lines.append(f"elems[d3] = {self.expr(False, 1)} ~~|")
        for name, over in pending:
            self.lines.append(f"{name}{'[Dim]' if over else ''} = {self.stateful(name, over)} ~~|")
        self.lines += [
            f"FINAL TIME = {lit(self.draw(st.sampled_from((2.0, 3.0))))} ~~|",
            "INITIAL TIME = 0.0 ~~|",
            f"SAVEPER = {'TIME STEP' if self.draw(st.booleans()) else lit(dt * 2)} ~~|",
            f"TIME STEP = {lit(dt)} ~~|",
        ]
        return "\n".join(self.lines) + "\n"


@st.composite
def models(draw, functions: tuple[str, ...] = FUNCTIONS) -> str:
    """The text of a random small Vensim model using ``functions``."""
    return _Builder(draw, functions).model()
