"""Plain text (.txt, .text): the whole file is one section, as written."""

from __future__ import annotations

from bot.retrieval.formats.common import Parsed
from bot.retrieval.sections import Section


def parse(text: str) -> Parsed:
    body = text.strip()
    return Parsed(sections=(Section(headings=(), text=body),) if body else ())
