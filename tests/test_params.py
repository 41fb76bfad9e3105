"""Parameter validation (urbsim.params): names, shapes, elements and documented ranges."""

from __future__ import annotations

import numpy as np
import pytest

from urbsim.errors import ParameterError
from urbsim.params import changed_params, coerce_params, resolve_name

SCALAR = "reward per settler"  # yuan/person/year [0, 10000]
TABLE = "park investment policy"  # [Type], yiyuan/year [0, 60]


def test_names_resolve_in_any_spelling(info):
    assert resolve_name(info, "Reward_Per_Settler").name == SCALAR
    assert resolve_name(info, "  reward   per settler ").name == SCALAR


def test_unknown_name_suggests_the_closest(info):
    with pytest.raises(
        ParameterError,
        match=r"at x: unknown variable 'reward per setler'.*"
        r"Did you mean 'reward per settler'",
    ):
        resolve_name(info, "reward per setler", where="at x")


def test_computed_variables_cannot_be_set(info):
    with pytest.raises(ParameterError, match="computed by an equation"):
        coerce_params(info, {"Total Population": 1})


def test_scalar_table_and_per_run_shapes(info):
    default = info.constants[TABLE].default
    out = coerce_params(info, {SCALAR: 5000, TABLE: {"agr": 30}}, n=1)
    assert out[SCALAR].shape == () and out[SCALAR] == 5000
    np.testing.assert_array_equal(out[TABLE], [default[0], 30, default[2]])

    per_run = coerce_params(info, {SCALAR: [0, 100, 200], TABLE: [1, 2, 3]}, n=3)
    assert per_run[SCALAR].shape == (3,)
    # (n,) for a subscripted constant with n == len(dims) is read as the element values
    np.testing.assert_array_equal(per_run[TABLE], [1, 2, 3])

    grid = coerce_params(info, {TABLE: np.full((4, 3), 10.0)}, n=4)
    assert grid[TABLE].shape == (4, 3)
    spread = coerce_params(info, {TABLE: [1, 2, 3, 4]}, n=4)
    assert spread[TABLE].shape == (4, 3) and np.all(spread[TABLE][:, 0] == [1, 2, 3, 4])


@pytest.mark.parametrize(
    "params, fragment",
    [
        (
            {SCALAR: 20000},
            "'reward per settler' = 20000 is outside its documented range [0, 10000]",
        ),
        ({SCALAR: -1}, "is outside its documented range"),
        ({TABLE: {"urb": 61}}, "'park investment policy' = 61 is outside"),
        ({TABLE: {"city": 3}}, "has no element 'city'; allowed: urb, agr, eco"),
        ({TABLE: {"urb": "many"}}, "element values must be numbers"),
        ({TABLE: {"urb": True}}, "element values must be numbers"),
        ({SCALAR: {"urb": 1}}, "is not subscripted"),
        ({SCALAR: "lots"}, "must be a number or an array"),
        ({SCALAR: [1, 2]}, "got shape (2,)"),
        ({SCALAR: float("nan")}, "must be a finite number"),
    ],
)
def test_bad_values_are_explained(info, params, fragment):
    with pytest.raises(ParameterError) as caught:
        coerce_params(info, params, n=1, where="file.toml:3")
    message = str(caught.value)
    assert message.startswith("file.toml:3: ") and fragment in message and "\n" not in message


def test_changed_params_reports_only_differences(info):
    arrays = coerce_params(info, {SCALAR: info.constants[SCALAR].default, TABLE: {"urb": 25}})
    changed = changed_params(info, arrays)
    assert SCALAR not in changed
    assert changed[TABLE][0] == 25
