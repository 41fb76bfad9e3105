"""Dropdowns and tabs whose choice survives a language switch.

Streamlit remembers a selectbox (and a tab) by its displayed label, and the labels change with
the language (``Baseline: pre-plan trends`` becomes ``基准情景：延续方案前趋势``), which lost the
choice or raised ``KeyError``. So the choice is kept by id (a preset's name, a type's code, a
tab's id) under its own session key, and each language draws its own widget
(:func:`widget_key`) initialised from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import streamlit as st


def widget_key(key: str, lang: str) -> str:
    """Session key of the dropdown that shows the choice stored under ``key`` in ``lang``."""
    return f"{key}@{lang}"


def keep_choice(key: str, lang: str) -> None:
    """Callback of a language-keyed dropdown: store its choice by id under ``key``."""
    st.session_state[key] = st.session_state[widget_key(key, lang)]


def select(
    container: Any,
    key: str,
    lang: str,
    label: str,
    options: list[str],
    names: Mapping[str, str],
    *,
    default: str | None = None,
    on_change: Callable[..., None] | None = None,
    args: tuple = (),
    kind: Literal["selectbox", "radio"] = "selectbox",
    **kwargs: Any,
) -> str:
    """A dropdown (or radio buttons) for the choice stored by id under ``key``; returns that id.

    Parameters
    ----------
    names : displayed label of each option, in ``lang``.
    default : the choice when none is stored yet (default: the first option).
    on_change : called after the choice is stored, with ``args``.
    """
    wkey = _prepare(key, lang, options, default)
    st.session_state[wkey] = st.session_state[key]

    def changed() -> None:
        keep_choice(key, lang)
        if on_change is not None:
            on_change(*args)

    getattr(container, kind)(
        label, options, key=wkey, format_func=names.__getitem__, on_change=changed, **kwargs
    )
    return st.session_state[key]


def choose_many(
    container: Any,
    key: str,
    lang: str,
    label: str,
    options: list[str],
    names: Mapping[str, str],
    default: list[str],
    **kwargs: Any,
) -> list[str]:
    """Toggle buttons (pills) for a set of ids stored under ``key`` (``default`` until the
    visitor toggles one); returns the chosen ids in the order of ``options``."""
    if key not in st.session_state:
        st.session_state[key] = list(default)
    wkey = widget_key(key, lang)
    st.session_state[wkey] = [o for o in options if o in st.session_state[key]]
    container.pills(
        label,
        options,
        selection_mode="multi",
        key=wkey,
        format_func=names.__getitem__,
        on_change=keep_choice,
        args=(key, lang),
        **kwargs,
    )
    return [o for o in options if o in st.session_state[key]]


def _prepare(key: str, lang: str, options: list[str], default: str | None) -> str:
    """Store a valid choice under ``key`` (``default``, else the first option, when none is
    stored or the stored one is no longer offered); returns the language's widget key."""
    if key not in st.session_state or st.session_state[key] not in options:
        st.session_state[key] = options[0] if default is None else default
    return widget_key(key, lang)


def tabs(key: str, lang: str, ids: list[str], names: Mapping[str, str]) -> tuple[str, list[Any]]:
    """Tabs whose open tab is stored by id under ``key``; only that tab needs content.

    Switching tabs reruns the page, so the caller draws the open tab alone: the hidden ones
    cost neither server time nor a browser redraw on a slider move.

    Parameters
    ----------
    ids : tab ids, in order.
    names : displayed label of each id, in ``lang`` (unique).

    Returns
    -------
    (open id, the tab containers in the order of ``ids``)
    """
    wkey = _prepare(key, lang, ids, None)
    st.session_state[wkey] = names[st.session_state[key]]
    by_label = {names[i]: i for i in ids}

    def changed() -> None:
        st.session_state[key] = by_label[st.session_state[wkey]]

    containers = st.tabs([names[i] for i in ids], key=wkey, on_change=changed)
    return st.session_state[key], list(containers)
