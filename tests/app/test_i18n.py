"""The two catalogues say the same things: same keys, same placeholders, every name covered."""

from __future__ import annotations

import string

import pytest

from urbsim.charts import CHARTS
from urbsim.i18n import LANGUAGES, catalogue, slug, text, unit
from urbsim.indicators import INDICATORS, TARGETS
from urbsim.mdlinfo import LEVER_GROUPS, model_info


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogues_have_the_same_keys():
    en, zh = catalogue("en"), catalogue("zh")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))


def test_catalogues_have_the_same_placeholders():
    en, zh = catalogue("en"), catalogue("zh")
    mismatched = [k for k in en if _fields(en[k]) != _fields(zh[k])]
    assert not mismatched


def test_no_string_is_empty():
    for lang in LANGUAGES:
        assert all(v.strip() for v in catalogue(lang).values()), lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_model_lever_and_group_has_a_label(lang):
    info = model_info()
    keys = catalogue(lang)
    levers = [c.name for g in info.levers().values() for c in g]
    missing = [name for name in levers if f"levers.{slug(name)}" not in keys]
    assert not missing, f"add labels for {missing} to {lang}.toml"
    assert all(f"groups.{slug(g)}" in keys for g in LEVER_GROUPS)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_indicator_target_and_chart_has_a_name(lang):
    keys = catalogue(lang)
    assert all(f"indicators.{name}" in keys for name in INDICATORS)
    assert all(f"targets.{t}" in keys for t in TARGETS)
    assert all(f"charts.{c}.title" in keys for c in CHARTS)
    assert all(f"series.{s.key}" in keys for c in CHARTS.values() for s in c.series)


def test_chinese_differs_from_english_where_it_must():
    for key in ("app.title", "tabs.charts", "groups.people", "charts.county_gdp.title"):
        assert text("en", key) != text("zh", key)
    assert "万人" in unit("zh", "万人") and unit("en", "万人") != unit("zh", "万人")


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="allowed: en, zh"):
        catalogue("fr")
