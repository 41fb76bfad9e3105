"""A real browser: Debian's chromium drives the served app (slider by keyboard, PNG download).

Outside CI the test skips when chromium or playwright is missing; under ``CI=true`` it fails
instead, so a broken browser setup cannot pass silently. Screenshots are kept under
``artifacts/`` (English and Chinese) for people to look at.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from urbsim.app.serve import CHROMIUM, CHROMIUM_ARGS, serve_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    with serve_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    _require(
        Path(CHROMIUM).is_file() or shutil.which("chromium") is not None,
        f"{CHROMIUM} not found (apt-get install chromium)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


def _scorecard_row(page, target_id: str) -> str:
    return page.locator("[data-testid='stTable'] tr", has_text=target_id).first.inner_text()


def _wait_for_app(page) -> None:
    page.locator("[data-testid='stTable']").wait_for(timeout=90_000)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=90_000)
    page.wait_for_function(
        "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000
    )


def test_slider_moves_scorecard_and_png_downloads(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 2600}, accept_downloads=True)
    start = time.monotonic()
    page.goto(f"{server}/?lang=en")
    _wait_for_app(page)
    first_render = time.monotonic() - start
    print(f"time to first render: {first_render:.1f} s")
    page.screenshot(path=str(ARTIFACTS / "app-en.png"), full_page=True)
    assert page.get_by_text("Deploy", exact=True).count() == 0  # minimal toolbar
    before = _scorecard_row(page, "T2")

    page.get_by_test_id("stSidebarUserContent").get_by_text("People", exact=True).click()
    thumb = page.get_by_role("slider").first
    thumb.focus()
    for _ in range(4):
        thumb.press("ArrowLeft")
    page.wait_for_function(
        "(before) => { const rows = [...document.querySelectorAll('[data-testid=stTable] tr')];"
        " const row = rows.find(r => r.innerText.includes('T2'));"
        " return row && row.innerText !== before; }",
        arg=before,
        timeout=60_000,
    )
    assert _scorecard_row(page, "T2") != before
    assert "settlement_openness_policy=" in page.url

    _wait_for_app(page)
    download = None
    for _ in range(3):  # Streamlit drops a click that lands while a rerun replaces the button
        try:
            with page.expect_download(timeout=20_000) as info:
                page.get_by_role("button", name="PNG", exact=True).first.click()
            download = info.value
            break
        except Exception as exc:  # playwright's TimeoutError (playwright is imported lazily)
            if type(exc).__name__ != "TimeoutError":
                raise
            _wait_for_app(page)
    assert download is not None, "the PNG button gave no download in three clicks"
    path = ARTIFACTS / download.suggested_filename
    download.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chinese_page_renders(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 2600})
    page.goto(f"{server}/?lang=zh&type=agr")
    _wait_for_app(page)
    assert page.get_by_text("内蒙古县城城镇化政策实验室").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "app-zh.png"), full_page=True)


HOSTILE = (
    "/?seed=%C2%B2&final_time=2030&time_step=0.125&m2_to_km2=1"
    "&scenario=%5BCLICK%5D(https%3A%2F%2Fexample.org)%20!%5Bi%5D(https%3A%2F%2Fexample.org%2Fi.png)"
)


def test_hostile_url_and_upload_show_plain_one_line_notices(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(server + HOSTILE)
    _wait_for_app(page)
    alerts = page.locator("[data-testid='stAlert']")
    assert alerts.count() == 5
    assert alerts.locator("a, img").count() == 0  # the link and the image stay text
    texts = [t.replace("\u2060", "") for t in alerts.all_inner_texts()]
    assert any("[CLICK](https://example.org) ![i](https" in t for t in texts)
    assert not any(urlparse(u).hostname == "example.org" for u in requested)  # no remote image

    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        {
            "name": "n" * 300 + ".toml",
            "mimeType": "application/toml",
            "buffer": b'name = "x"\n[parameters]\nx = ' + b"[" * 3000 + b"]" * 3000 + b"\n",
        }
    )
    page.get_by_text("nested too deeply").first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "Traceback" not in body and 'File "/' not in body
    page.screenshot(path=str(ARTIFACTS / "app-hostile.png"), full_page=True)


def _choices(page) -> list[str]:
    """The values the sidebar's dropdowns show (they live in their input boxes)."""
    boxes = page.get_by_test_id("stSidebarUserContent").locator("[data-testid='stSelectbox'] input")
    return boxes.evaluate_all("els => els.map(e => e.value)")


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the sidebar dropdown labelled ``label`` as a person would."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_function(
        "(o) => [...document.querySelectorAll('[data-testid=stSelectbox] input')]"
        ".some(e => e.value === o)",
        arg=option,
    )
    _wait_for_app(page)


def _language(page, name: str, label: str) -> None:
    page.get_by_test_id("stSidebarUserContent").get_by_text(name, exact=True).click()
    page.get_by_role("combobox", name=label, exact=True).wait_for()
    _wait_for_app(page)


def test_language_round_trip_keeps_preset_and_reset_works(server, browser):
    """en -> zh -> en -> zh, a preset picked in each language, levers reset: no traceback, the
    dropdowns follow the language, and the preset is kept by name (it was kept by label)."""
    from urbsim.i18n import text
    from urbsim.scenarios import load_scenario

    ARTIFACTS.mkdir(exist_ok=True)
    titles = {n: load_scenario(n).title for n in ("baseline", "plan", "accelerated")}
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(f"{server}/?lang=en")
    _wait_for_app(page)
    steps = [("zh", "中文", "plan"), ("en", "English", "accelerated"), ("zh", "中文", "baseline")]
    for lang, switch, preset in steps:
        _language(page, switch, text(lang, "sidebar.scenario"))
        body = page.inner_text("body")
        assert "Traceback" not in body and "KeyError" not in body
        # both dropdowns follow the language, and keep the preset chosen before
        assert text(lang, "types.all") in _choices(page)
        assert any(t[lang] in _choices(page) for t in titles.values())
        _pick(page, text(lang, "sidebar.scenario"), titles[preset][lang])
        if preset != "plan":  # the plan is the default: a clean link
            page.wait_for_function(f"location.search.includes('scenario={preset}')")
        else:
            assert "scenario=" not in page.url
        page.screenshot(path=str(ARTIFACTS / f"app-round-trip-{lang}-{preset}.png"))
    # move a lever, then reset it to the preset
    page.get_by_test_id("stSidebarUserContent").get_by_text(
        text("zh", "groups.people"), exact=True
    ).click()
    thumb = page.get_by_role("slider").first
    thumb.focus()
    thumb.press("ArrowLeft")
    page.wait_for_function("location.search.includes('settlement_openness_policy')")
    page.get_by_role("button", name=text("zh", "sidebar.reset")).click()
    page.wait_for_function("!location.search.includes('settlement_openness_policy')")
    assert "Traceback" not in page.inner_text("body")


def test_phone_width_keeps_scorecard_headers_on_one_line(server, browser):
    from urbsim.i18n import text

    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{server}/?lang=zh")
    _wait_for_app(page)
    header = page.locator("[data-testid='stTable'] th", has_text=text("zh", "scorecard.met"))
    box = header.first.bounding_box()
    assert box is not None and box["height"] < 2.2 * 16  # one line, not one character per line
    assert "左侧" not in page.inner_text("body")  # the sidebar is not on the left on a phone
    page.screenshot(path=str(ARTIFACTS / "app-phone-zh.png"), full_page=False)


def test_a_failed_upload_clears_the_note_of_the_previous_one(server, browser):
    from urbsim.i18n import text

    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    page.goto(f"{server}/?lang=en")
    _wait_for_app(page)
    dropzone = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    good = b'[parameters]\n"reward per settler" = 4500\n'
    dropzone.set_input_files({"name": "mine.toml", "mimeType": "text/plain", "buffer": good})
    page.get_by_text(text("en", "sidebar.uploaded", name="mine")).wait_for(timeout=60_000)
    bad = b'[parameters]\n"reward per settler" = 99999\n'
    dropzone.set_input_files({"name": "bad.toml", "mimeType": "text/plain", "buffer": bad})
    page.get_by_text("bad.toml:2:").first.wait_for(timeout=60_000)
    _wait_for_app(page)
    assert page.get_by_text(text("en", "sidebar.uploaded", name="mine")).count() == 0


def test_tabs_are_drawn_when_opened_and_kept_across_languages(server, browser):
    """Only the open tab is drawn; a tab picked in English stays open in Chinese; the compare
    tab's chart choice (a fragment) redraws its chart without a page rerun."""
    from urbsim.app.tabs import KEY_CHARTS
    from urbsim.i18n import text

    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    page.goto(f"{server}/?lang=en")
    _wait_for_app(page)
    charts = page.locator("[data-testid='stVegaLiteChart']")
    assert charts.count() == len(KEY_CHARTS)
    page.get_by_role("tab", name=text("en", "tabs.compare")).click()
    page.get_by_text(text("en", "compare.header")).wait_for(timeout=60_000)
    _wait_for_app(page)
    assert charts.count() == 1  # the compare chart only
    title = text("en", "charts.debt_ratio.title")
    page.get_by_role("combobox", name=text("en", "compare.chart"), exact=True).click()
    page.get_by_role("option", name=title, exact=True).click()
    page.locator("[data-testid='stVegaLiteChart']", has_text=title).wait_for(timeout=60_000)
    _language(page, "中文", text("zh", "sidebar.scenario"))
    page.get_by_text(text("zh", "compare.header")).wait_for(timeout=60_000)
    assert page.get_by_role("tab", selected=True).inner_text() == text("zh", "tabs.compare")
    page.screenshot(path=str(ARTIFACTS / "app-compare-zh.png"))
