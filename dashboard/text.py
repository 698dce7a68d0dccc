"""Text a person typed, shown literally: the one escape every page uses (also as ``widgets.escape``)."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^])")
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)(?=\w)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def escape(text) -> str:
    """Text a person typed (a dataset, label, layer, result or user name) shown literally inside markdown.

    Every markdown, HTML and Streamlit construct is defused: images and links (``![``, ``](``),
    emphasis, code, math (``$``), HTML tags and entities (``<``, ``&``), ``:material/icons:`` and
    ``:red[colours]`` get a backslash. Bare ``https://``, ``www.`` and e-mail addresses, which the
    browser's markdown turns into links after escapes are resolved, get an invisible word
    joiner (U+2060) after ``:``, before ``.`` and after ``@``. Line breaks become spaces, so a
    name cannot start a heading or a list.
    """
    text = _AUTOLINK.sub(WORD_JOINER, " ".join(str(text).splitlines()))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
