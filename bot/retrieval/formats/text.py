"""Plain text (.txt, .text): the whole file is one section, as written."""

from __future__ import annotations

from bot.retrieval.documents import Section
from bot.retrieval.formats.common import Parsed


def parse(text: str) -> Parsed:
    body = text.strip()
    return Parsed(sections=(Section(headings=(), text=body),) if body else ())
