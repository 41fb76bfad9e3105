"""The app's brief buttons: the Word or PDF brief of the current sliders (:mod:`urbsim.brief`).

The document is made only when a button is clicked (it runs the ensemble and draws five charts,
a few seconds), from the same scenario, changed levers and seed as the page.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from urbsim.brief import brief_bytes, build_brief
from urbsim.export import cjk_font_path
from urbsim.i18n import text
from urbsim.model import Model
from urbsim.scenarios import Scenario

MIME = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
}


def render(model: Model, scenario: Scenario, changed: dict[str, Any], seed: int, lang: str):
    """Two download buttons (Word, PDF) for the brief of ``scenario`` as the page shows it."""

    def make(suffix: str):
        def build() -> bytes:
            brief = build_brief(scenario, lang, model=model, seed=seed, changed=changed)
            return brief_bytes(brief, suffix)

        return build

    name = f"urbsim-brief-{scenario.name.replace('+', '-')}-{lang}"
    cols = st.columns([1, 1, 2])
    for col, suffix, label in zip(
        cols, (".docx", ".pdf"), ("brief.download", "brief.download_pdf"), strict=False
    ):
        col.download_button(
            text(lang, label),
            make(suffix),
            file_name=name + suffix,
            mime=MIME[suffix],
            key=f"brief{suffix}",
            on_click="ignore",
            disabled=suffix == ".pdf" and cjk_font_path() is None,
            icon=":material/description:",
        )
