"""The unit checker: unit parsing, each inference rule on small models, and the real model."""

from __future__ import annotations

from fractions import Fraction

import pytest

from urbsim.units import DMNL, Unit, UnitSyntaxError, check_units, parse_unit

CONTROL = """
INITIAL TIME = 2020
	~	year [2020,2020]
	~	Source: definition.
	|
FINAL TIME = 2025
	~	year [2025,2025]
	~	Source: definition.
	|
TIME STEP = 1
	~	year [1,1]
	~	Source: definition.
	|
SAVEPER = 1
	~	year [1,1]
	~	Source: definition.
	|
"""

# Shared constants; each test appends one or two equations after them.
BASE = """{UTF-8}
pop = 10
	~	wperson [0,100]
	~	Source: test.
	|
rate = 0.1
	~	1/year [0,1]
	~	Source: test.
	|
share = 0.5
	~	dmnl [0,1]
	~	Source: test.
	|
delay time = 2
	~	year [1,5]
	~	Source: test.
	|
f shape([(0,0)-(10,10)],(0,1),(10,2))
	~	dmnl
	~	Source: test.
	|
"""


def write_model(tmp_path, equations: str):
    """A small model: BASE constants, then ``equations`` (first equation on line 22)."""
    path = tmp_path / "probe.mdl"
    path.write_text(BASE + equations + CONTROL, encoding="utf-8")
    return path


def equation(name: str, rhs: str, units: str) -> str:
    return f"{name} = {rhs}\n\t~\t{units}\n\t~\t\n\t|\n"


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("yiyuan/(wjob*year)", "yiyuan/wjob/year"),
        ("1/(year*year)", "year^-2"),
        ("km2*person/(wperson*m2)", "person*km2/m2/wperson"),
        ("dmnl", "Dmnl"),
        ("dmnl", "1"),
        ("wperson/year*year", "wperson"),
    ],
)
def test_equal_units_parse_equal(a, b):
    assert parse_unit(a) == parse_unit(b)


def test_percent_is_its_own_unit_and_dmnl_is_empty():
    assert parse_unit("percent") != DMNL
    assert parse_unit("dmnl").dimensionless
    assert parse_unit("yuan/person/year") != parse_unit("yuan/person")


@pytest.mark.parametrize(
    "text, shown",
    [
        ("wperson/year", "wperson/year"),
        ("yiyuan/(wjob*year)", "yiyuan/(wjob*year)"),
        ("1/(year*year)", "1/year^2"),
        ("dmnl", "dmnl"),
        ("m2^2/m2", "m2"),
    ],
)
def test_units_display_compactly(text, shown):
    assert str(parse_unit(text)) == shown


def test_powers_and_fractional_exponents():
    area = parse_unit("m2")
    assert area**2 == parse_unit("m2*m2")
    assert str((area**2) ** Fraction(1, 2)) == "m2"
    assert Unit((("m", Fraction(1, 2)),)) ** 2 == parse_unit("m")


@pytest.mark.parametrize("text", ["wperson/", "(year", "year^", "2/year", "year^x", "wperson&"])
def test_malformed_units_raise(text):
    with pytest.raises(UnitSyntaxError):
        parse_unit(text)


# -- inference on small models ----------------------------------------------------------------


CONSISTENT = [
    equation("flow", "pop * rate", "wperson/year"),
    equation("stock", "INTEG(flow - pop / delay time, pop)", "wperson"),
    equation("smoothed", "SMOOTH(pop, delay time) + SMOOTHI(pop, delay time, 3)", "wperson"),
    equation("delayed", "DELAY1(flow, delay time) + DELAY FIXED(flow, 1, 0)", "wperson/year"),
    equation(
        "mixed", "MIN(pop, 3) + MAX(0, pop - 1) + IF THEN ELSE(Time > 2021, pop, 0)", "wperson"
    ),
    equation("looked up", "f shape(pop / pop * 3) * share", "dmnl"),
    equation("growth", "EXP(rate * (Time - 2020)) + LN(share) + (pop / pop) ^ share", "dmnl"),
    equation("root", "SQRT(pop * pop) + ABS(-pop) + STEP(pop, 2022)", "wperson"),
    equation("ratio", "XIDZ(pop, pop, 1) + ZIDZ(flow, pop) * delay time", "dmnl"),
    equation("squared", "pop ^ 2 / pop", "wperson"),
    equation("initial pop", "INITIAL(pop)", "wperson"),
    equation("no unit declared", "pop * 7", ""),
    equation("uses undeclared", "no unit declared / year", "wperson"),
]


def test_consistent_model_has_no_problems(tmp_path):
    assert check_units(write_model(tmp_path, "".join(CONSISTENT))) == []


INCONSISTENT = [
    # (equation, fragments of the one expected message)
    (
        equation("bad", "pop * rate", "wperson"),
        ["left side is wperson but right side is wperson/year"],
    ),
    (equation("bad", "pop + rate", "wperson"), ["'+' mixes wperson and 1/year"]),
    (
        equation("bad", "INTEG(pop, pop)", "wperson"),
        ["its flow must be wperson/year", "flow is wperson"],
    ),
    (equation("bad", "INTEG(rate * pop, rate)", "wperson"), ["initial value is 1/year"]),
    (equation("bad", "EXP(delay time)", "dmnl"), ["argument of EXP is year but must be dmnl"]),
    (equation("bad", "share ^ rate", "dmnl"), ["exponent of '^' is 1/year"]),
    (equation("bad", "pop ^ share", "dmnl"), ["base of '^'", "wperson"]),
    (equation("bad", "MIN(pop, delay time)", "wperson"), ["MIN mixes wperson and year"]),
    (
        equation("bad", "IF THEN ELSE(share > 0, pop, rate)", "wperson"),
        ["IF THEN ELSE branches mix"],
    ),
    (
        equation("bad", "IF THEN ELSE(pop > rate, 1, 0)", "dmnl"),
        ["comparison '>' mixes wperson and 1/year"],
    ),
    (equation("bad", "SMOOTH(pop, share)", "wperson"), ["time of SMOOTH is dmnl but must be year"]),
    (equation("bad", "STEP(pop, share)", "wperson"), ["time of STEP is dmnl but must be year"]),
    (equation("bad", "f shape(pop)", "wperson"), ["left side is wperson but right side is dmnl"]),
    (equation("bad", "XIDZ(pop, rate, 1)", "wperson"), ["right side is wperson*year"]),
    (
        equation("bad", "XIDZ(pop, pop, rate)", "dmnl"),
        ["XIDZ's ratio and its fallback value mixes"],
    ),
]


@pytest.mark.parametrize(
    "text, fragments",
    INCONSISTENT,
    ids=[e[0].split("=", 1)[1].split("\n")[0] for e in INCONSISTENT],
)
def test_each_inconsistency_is_reported_with_file_line_and_name(tmp_path, text, fragments):
    problems = check_units(write_model(tmp_path, text))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'probe.mdl'}:22: 'bad': ")
    for fragment in fragments:
        assert fragment in problems[0]


def test_unreadable_unit_is_reported(tmp_path):
    problems = check_units(write_model(tmp_path, equation("bad", "pop", "wperson//year")))
    assert len(problems) == 1 and ":22: 'bad': " in problems[0] and "wperson//year" in problems[0]


def test_subscripted_sum_and_prod(tmp_path):
    text = (
        "Type: a, b, c\n\t~\t\n\t~\t\n\t|\n"
        + equation("per type[Type]", "1, 2, 3", "m [0,5]").replace(
            "\t~\t\n\t|", "\t~\tSource: t.\n\t|"
        )
        + equation("total", "SUM(per type[Type!])", "m")
        + equation("volume", "PROD(per type[Type!])", "m^3")
        + equation("wrong volume", "PROD(per type[Type!])", "m^2")
    )
    problems = check_units(write_model(tmp_path, text))
    assert (
        len(problems) == 1
        and "'wrong volume': left side is m^2 but right side is m^3" in problems[0]
    )


# -- the project's model ----------------------------------------------------------------------


def test_project_model_is_dimensionally_consistent():
    problems = check_units()
    assert problems == [], "unit errors in the model:\n" + "\n".join(problems)
