"""PDF through the optional `pdf` extra (pypdf): one section per page with text."""

from __future__ import annotations

import io

from bot.retrieval.formats.common import Parsed
from bot.retrieval.sections import DocumentError, Section


def parse(data: bytes) -> Parsed:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise DocumentError(
            "is a PDF; install the pdf extra to read PDFs (pip install 'supportbot[pdf]')"
        ) from None
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info_title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError) as exc:
        raise DocumentError(f"is not a readable PDF: {exc}") from None
    sections = tuple(
        Section(headings=(f"Page {n}",), text=text.strip())
        for n, text in enumerate(pages, start=1)
        if text.strip()
    )
    return Parsed(sections=sections, title=info_title)
