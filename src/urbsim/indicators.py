"""Standard indicators and the plan's targets (T1-T19).

Every indicator is a variable of ``model/urbsim.mdl`` (so its equation lives in the model, once);
this module gives each one a fixed snake_case name and the unit of ``model/data/observed.csv``,
and maps each of the plan's quantified targets to the indicator that measures it.

Example
-------
>>> TARGETS["T2"].indicator
'county_town_share'
>>> TARGETS["T2"].is_met(29.6)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Indicator:
    """A standard indicator: a regional total over time.

    Attributes
    ----------
    name : fixed snake_case name used in results, files and the app.
    variable : the Vensim variable that computes it.
    units : unit as written in ``observed.csv`` (万人, %, 亿元 ...).
    """

    name: str
    variable: str
    units: str


INDICATORS: dict[str, Indicator] = {
    i.name: i
    for i in (
        Indicator("total_population", "Total Population", "万人"),
        Indicator("urban_population", "Urban Population", "万人"),
        Indicator("rural_population", "Rural Population Total", "万人"),
        Indicator("urbanization_rate", "Urbanization Rate", "%"),
        Indicator("registered_urbanization_rate", "Registered Urbanization Rate", "%"),
        Indicator("county_town_population", "County Town Population", "万人"),
        Indicator("county_town_share", "County Town Share", "%"),
        Indicator(
            "county_town_population_incl_temporary", "County Town Population incl Temporary", "万人"
        ),
        Indicator("county_town_share_incl_temporary", "County Town Share incl Temporary", "%"),
        Indicator("county_town_share_incl_cities", "County Town Share incl Cities", "%"),
        Indicator("county_gdp", "County Domain GDP", "亿元"),
        Indicator("regional_gdp", "Regional GDP", "亿元"),
        Indicator("citizenized_migrants", "Citizenized Migrants", "万人"),
        Indicator("land_quota_earned", "Land Quota Earned", "万亩"),
        Indicator("land_quota_used", "Land Quota Used", "万亩"),
        Indicator("transfers_received", "Total Transfers Received", "亿元"),
        Indicator("debt_ratio", "Regional Debt Ratio", "ratio"),
        Indicator("land_fulfilment", "Regional Land Fulfilment", "%"),
        Indicator("funding_ratio", "Regional Funding Ratio", "%"),
        Indicator("plan_public_cost", "Plan Public Cost", "亿元"),
        Indicator("new_energy_capacity", "New Energy Capacity", "GW"),
        Indicator("output_per_land_index", "Output per Land Index", "2020=1"),
        Indicator("central_heating_coverage", "Central Heating Coverage", "%"),
        Indicator("old_community_renovation_share", "Old Community Renovation Share", "%"),
        Indicator("shanty_units_rebuilt", "Shanty Units Rebuilt", "万套"),
        Indicator("childcare_places_per_1000", "Childcare Places per Thousand", "places/1000"),
        Indicator("garbage_treatment_rate", "Garbage Treatment Rate", "%"),
        Indicator("sewage_treatment_rate", "Sewage Treatment Rate", "%"),
        Indicator("idle_land_stock", "Idle Land Stock Region", "万亩"),
        Indicator("idle_land_revitalized", "Idle Land Revitalized", "万亩"),
        Indicator("citizenized_share", "Citizenized Share", "%"),
    )
}


@dataclass(frozen=True)
class Target:
    """One quantified target of the plan.

    Attributes
    ----------
    id : ``"T1"`` ... ``"T19"`` as in ``targets.md``.
    article : the plan's article number.
    indicator : name of the :data:`INDICATORS` entry that measures it.
    value : target value, in the indicator's unit.
    comparison : ``">="`` (at least) or ``"~"`` (about: met within ``tolerance`` below).
    year : the year the target applies to.
    tolerance : how far below ``value`` an "about" target still counts as met.
    """

    id: str
    article: str
    indicator: str
    value: float
    comparison: str
    year: int
    tolerance: float = 0.0

    @property
    def threshold(self) -> float:
        """Lowest value that meets the target."""
        return self.value - self.tolerance

    def is_met(self, value):
        """Whether ``value`` (scalar, array or DataArray) meets the target."""
        return (
            np.asarray(value) >= self.threshold
            if not isinstance(value, xr.DataArray)
            else (value >= self.threshold)
        )


TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target("T1", "(三)", "county_gdp", 12000.0, ">=", 2025),
        Target("T2", "(三)", "county_town_share", 30.0, "~", 2025, tolerance=0.5),
        Target("T2b", "(三)", "county_town_share_incl_temporary", 30.0, "~", 2025, tolerance=0.5),
        Target("T2c", "(三)", "county_town_share_incl_cities", 30.0, "~", 2025, tolerance=0.5),
        Target("T3", "(七)", "new_energy_capacity", 135.0, ">=", 2025),
        Target("T4", "(八)", "output_per_land_index", 1.2, ">=", 2025),
        Target("T6", "(十六)", "central_heating_coverage", 93.0, ">=", 2025),
        Target("T7", "(十七)", "old_community_renovation_share", 100.0, "~", 2025, tolerance=5.0),
        Target("T8", "(十七)", "shanty_units_rebuilt", 3.0, ">=", 2025),
        Target("T14", "(二十一)", "childcare_places_per_1000", 4.5, ">=", 2025),
        Target("T16", "(二十七)", "garbage_treatment_rate", 100.0, "~", 2025, tolerance=0.05),
        Target("T17", "(二十八)", "sewage_treatment_rate", 95.0, ">=", 2025),
        Target("T18", "(三十四)", "idle_land_revitalized", 67.94, "~", 2025, tolerance=0.05),
    )
}

#: Targets of ``targets.md`` that the model does not represent, with the reason.
UNREPRESENTED: dict[str, str] = {
    "T5": "the age structure of heating pipes is not modelled (heating coverage is, as T6)",
    "T9": "digital infrastructure (5G, gigabit fibre) is outside the model's boundary",
    "T10": "the national balanced-education review is an administrative assessment",
    "T11": "high-school enrolment needs an age structure the model does not have",
    "T12": "the ownership mix of kindergartens is not modelled",
    "T13": "the nursing-type share of elderly-care beds is not modelled (only bed capacity)",
    "T15": "building standards (green building) are outside the model's boundary",
    "T19": "green-space access is outside the model's boundary",
}


def indicator_variables(variables: Mapping[str, xr.Variable]) -> dict[str, xr.Variable]:
    """Every standard indicator whose model variable is in ``variables``, under its
    snake_case name: the same data (not copied), with the indicator's ``units`` and
    ``variable`` attrs."""
    out = {}
    for ind in INDICATORS.values():
        v = variables.get(ind.variable)
        if v is not None:
            out[ind.name] = xr.Variable(
                v.dims, v.data, {"units": ind.units, "variable": ind.variable}
            )
    return out


def value_at(da: xr.DataArray, year: float) -> xr.DataArray:
    """The value of a time series at ``year`` (end of that year in model time): the saved
    time nearest ``year`` (positional, much cheaper than a label lookup on every slider move).
    """
    time = da["time"].values
    return da.isel(time=int(np.argmin(np.abs(time - float(year)))))
