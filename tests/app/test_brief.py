"""``urbsim brief``: a Word or PDF briefing with a real table, the key charts and Chinese text."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from docx import Document
from pypdf import PdfReader

import urbsim
from urbsim import cli
from urbsim.brief import BRIEF_CHARTS, build_brief, lever_differences, pdf_bytes
from urbsim.export import cjk_font_path
from urbsim.i18n import text
from urbsim.indicators import TARGETS

CJK = re.compile(r"[\u4e00-\u9fff]")


def _brief(capsys, tmp_path, *argv: str):
    out = tmp_path / argv[-1]
    code = cli.main(["brief", "--n", "16", *argv[:-1], "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_word_brief_in_chinese_has_table_images_and_chinese(capsys, tmp_path):
    out = _brief(capsys, tmp_path, "--lang", "zh", "--set", "reward per settler=2000", "b.docx")
    doc = Document(out)
    assert len(doc.inline_shapes) == len(BRIEF_CHARTS) >= 3
    scorecard = doc.tables[0]
    assert len(scorecard.rows) == len(TARGETS) + 1
    assert scorecard.cell(0, 0).text == text("zh", "scorecard.target")
    # P(met) with its interval, e.g. "12%［8–18%］"
    assert all(re.search(r"\d+%［\d+–\d+%］", r.cells[-1].text) for r in scorecard.rows[1:])
    words = "\n".join(p.text for p in doc.paragraphs)
    assert CJK.search(words) and "16" in words  # the ensemble size is named
    assert "2025年县城人口占比" in words and "较基准" in words  # the headline sentence
    levers = doc.tables[1]
    assert any(text("zh", "levers.reward_per_settler") in c.text for c in levers.columns[0].cells)


def test_pdf_brief_embeds_chinese_text(capsys, tmp_path):
    if cjk_font_path() is None:
        pytest.skip("no CJK font installed (install fonts-noto-cjk)")
    out = _brief(capsys, tmp_path, "--lang", "zh", "--scenario", "baseline", "b.pdf")
    reader = PdfReader(out)
    if shutil.which("pdftotext"):  # poppler maps the embedded subset back to text exactly
        words = subprocess.run(
            ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert text("zh", "brief.scorecard") in words and re.search(r"T2\s", words)
        assert text("zh", "brief.levers") in words
    else:
        words = "".join(page.extract_text() for page in reader.pages)
    assert len(CJK.findall(words)) > 100
    raw = out.read_bytes()
    # embedded (a font file stream in the PDF), not left to a viewer's Asian font pack
    assert b"NotoSansCJK" in raw and re.search(rb"/FontFile[23]?", raw)


def test_english_brief_has_no_chinese_in_its_table(model):
    brief = build_brief(urbsim.load_scenario("plan"), "en", model=model, n=8, seed=1)
    assert not any(CJK.search(c) for row in brief.scorecard for c in row[2:])
    assert brief.levers == []  # the plan differs from itself nowhere
    assert len(brief.charts) == len(BRIEF_CHARTS)
    assert pdf_bytes(brief)[:5] == b"%PDF-"


def test_lever_differences_name_the_changed_lever(model):
    scenario = urbsim.load_scenario("plan").with_overrides({"reward per settler": 1234})
    rows = lever_differences(model, scenario, "en")
    assert [r[1] for r in rows] == ["1,234"] and rows[0][0] == text(
        "en", "levers.reward_per_settler"
    )
    assert np.isfinite(float(rows[0][2].replace(",", "")))


def test_brief_refuses_bad_format_and_existing_file(capsys, tmp_path):
    code = cli.main(["brief", "--out", str(tmp_path / "b.txt")])
    assert code == 2 and "allowed: .docx, .pdf" in capsys.readouterr().err
    (tmp_path / "b.docx").write_text("keep")
    code = cli.main(["brief", "--out", str(tmp_path / "b.docx")])
    assert code == 2 and "--force" in capsys.readouterr().err
    assert (tmp_path / "b.docx").read_text() == "keep"
