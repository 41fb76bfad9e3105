"""The two catalogues say the same things: same keys, same placeholders, every name covered."""

from __future__ import annotations

import re
import string

import pytest

from urbsim.charts import CHARTS
from urbsim.i18n import LANGUAGES, article, catalogue, slug, text, unit
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


_CJK = r"[\u3000-\u9fff\uff00-\uffef“”]"


def half_width_next_to_chinese(value: str) -> list[str]:
    """Half-width , ; : ( ) beside Chinese text (placeholders and `code` are left alone)."""
    import re

    plain = re.sub(r"\{[^}]*\}|`[^`]*`", "x", value)
    bad = re.findall(rf"{_CJK}[,;:()]|[,;:()]{_CJK}", plain)
    return bad


def test_english_strings_carry_no_chinese_words():
    """An English reader meets no Chinese unit or word (10k persons, 100M yuan; the language
    switch alone names both languages)."""
    han = re.compile(r"[\u4e00-\u9fff]")
    offenders = {
        k: v for k, v in catalogue("en").items() if han.search(v) and k != "sidebar.language"
    }
    assert not offenders


@pytest.mark.parametrize(
    ("numeral", "number"), [("三", 3), ("十", 10), ("十七", 17), ("二十", 20), ("三十二", 32)]
)
def test_plan_articles_read_as_numbers_in_english(numeral, number):
    assert article("en", f"({numeral})") == f"art. {number}"
    assert article("zh", f"({numeral})") == f"({numeral})"


def test_every_target_article_has_an_english_citation():
    for t in TARGETS.values():
        assert re.fullmatch(r"art\. \d+", article("en", t.article)), t.article


def test_chinese_strings_use_full_width_punctuation():
    from urbsim.i18n import constants_catalogue

    strings = dict(catalogue("zh"))
    for key, entry in constants_catalogue().items():
        strings.update({f"constants.{key}.{k}": v for k, v in entry.items() if k != "unit_en"})
    offenders = {k: half_width_next_to_chinese(v) for k, v in strings.items()}
    assert not {k: v for k, v in offenders.items() if v}


def test_every_lever_and_assumption_is_documented_in_chinese():
    """Lists what is missing (the model may gain constants; add them to constants.toml)."""
    from urbsim.i18n import constants_catalogue

    info = model_info()
    entries = constants_catalogue()
    wanted = [c for group in info.levers().values() for c in group] + info.uncertain()
    missing = sorted(c.name for c in wanted if not entries.get(slug(c.name), {}).get("zh"))
    assert not missing, f"no Chinese documentation in constants.toml for: {missing}"
    unnamed = sorted(
        c.name
        for c in info.uncertain()
        if not c.lever and not entries.get(slug(c.name), {}).get("name")
    )
    assert not unnamed, f"no Chinese name in constants.toml for: {unnamed}"


def test_no_lever_reads_as_a_generic_index():
    from urbsim.i18n import constant_unit

    info = model_info()
    for group in info.levers().values():
        for c in group:
            for lang in LANGUAGES:
                assert constant_unit(lang, c.name, c.units) != unit(lang, "dmnl"), c.name


def test_a_constant_without_chinese_falls_back_visibly():
    from urbsim.i18n import constant_doc, constant_name

    doc = constant_doc("zh", "a constant the model adds tomorrow", "English text.")
    assert doc.startswith("English text.") and text("zh", "app.doc_note") in doc
    assert constant_name("zh", "a constant the model adds tomorrow") == (
        "a constant the model adds tomorrow"
    )
    assert constant_doc("en", "reward per settler", "From the model.") == "From the model."


def test_export_stamp_names_levers_in_the_reader_language():
    from urbsim.export import Stamp

    stamp = Stamp(scenario="plan+custom", changed={"settlement openness policy": 0.8})
    assert text("zh", "levers.settlement_openness_policy") in " ".join(stamp.lines("zh"))
    assert "settlement openness policy" not in " ".join(stamp.lines("zh"))


def test_model_documentation_table_speaks_chinese_where_catalogued():
    from urbsim.app.tabs import variables_table
    from urbsim.i18n import constants_catalogue

    table = variables_table(model_info(), "zh", "reward per settler")
    row = table.iloc[0]
    assert row[text("zh", "model.name")].startswith(text("zh", "levers.reward_per_settler"))
    assert "reward per settler" in row[text("zh", "model.name")]  # the name --set uses
    assert row[text("zh", "model.doc")] == constants_catalogue()["reward_per_settler"]["zh"]


@pytest.mark.parametrize(
    ("lang", "words"), [("en", "is outside its documented range"), ("zh", "超出模型记载的取值范围")]
)
def test_cli_errors_follow_lang(tmp_path, capsys, lang, words):
    """A scenario error is one line in the command's --lang (exit 2)."""
    from urbsim.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[parameters]\n"reward per settler" = 99999\n', encoding="utf-8")
    assert main(["run", "--scenario", str(bad), "--lang", lang]) == 2
    err = capsys.readouterr().err
    assert words in err and "bad.toml:2" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "content",
    [
        b'[uncertainty]\n"rural migration scale" = {dist = "uniform", min = 0.9, max = 0.8}\n',
        b'[uncertainty]\n"park investment policy" = {town = {dist = "uniform", min = 1, max = 2}}'
        b"\n",
        b'[uncertainty]\n"rural migration scale" = {dist = "normal", mean = 1, sd = -1}\n',
    ],
)
def test_uncertainty_errors_are_worded_in_chinese(content):
    """[uncertainty] errors: the English line unchanged, a Chinese sentence in Chinese."""
    import re

    from urbsim.errors import ScenarioError
    from urbsim.i18n import error_text
    from urbsim.scenarios import parse_scenario

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(content, "u.toml", model_info())
    assert raised.value.key.startswith("uncertainty.")
    assert error_text("en", raised.value) == str(raised.value)
    zh = error_text("zh", raised.value)
    assert zh.startswith("u.toml:2：[uncertainty]") and re.search(r"[\u4e00-\u9fff]", zh)
    assert not re.search(r"\b(must|is|has|give|got|allowed|below)\b", zh), zh
