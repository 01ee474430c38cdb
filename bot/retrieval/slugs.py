"""Heading anchors built the way each documentation generator builds them.

Python-Markdown's `toc` slugify (MkDocs; or the one its `slugify` setting names: `TocSlugify`),
docutils' `make_id` with Sphinx's duplicate rule, and github-slugger (GitHub, Docusaurus,
react.dev). A Slugger is stateful, one per document, because every tool numbers duplicate
headings. The outputs were checked against the real tools; the tests hold those values
literally.

`heading_ids` gives the ids of all of a page's headings at once, with each tool's rule for
an id the source gives explicitly (`{#id}`, a reST label):

- Python-Markdown: `toc` first collects every id already in the page, then slugs only the
  headings without one, so an explicit id is reserved up front and its heading's text
  takes no slug.
- docutils: a label is a target that takes its id (`make_id` of the label, or the next
  `idN`) where it stands, just before its section, which then takes its own id as well;
  the label's id is the one Sphinx's `:ref:` links to.
- github-slugger (Docusaurus): an explicit id is used as written and never seen by the
  slugger, so it neither takes a slug nor reserves one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from urllib.parse import quote


class SlugStyle(StrEnum):
    """How a heading becomes an anchor `id`."""

    PYTHON_MARKDOWN = "python-markdown"  # MkDocs' toc extension, with its `slugify` (TocSlugify)
    DOCUTILS = "docutils"  # Sphinx (reStructuredText and MyST Markdown alike)
    GITHUB = "github"  # github-slugger: GitHub, Docusaurus, react.dev


NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]  # what unicodedata.normalize takes


class TocFunction(StrEnum):
    """The `slugify` functions a `toc` setting may name whose ids are known here."""

    PYTHON_MARKDOWN = "markdown.extensions.toc.slugify"  # the default: ASCII only
    PYTHON_MARKDOWN_UNICODE = "markdown.extensions.toc.slugify_unicode"  # letters of any script
    PYMDOWNX = "pymdownx.slugs.slugify"  # Material's advice; its keyword arguments below


@dataclass(frozen=True, kw_only=True)
class TocSlugify:
    """How the `toc` extension of an MkDocs site makes a heading's id: its `slugify` and
    `separator` settings (mkdocs.yml `markdown_extensions`). The default is Python-Markdown's
    own slugify, which drops every non-ASCII letter (`## 설치 방법` becomes `_1`), hence the
    setting sites in other scripts use. `case`, `normalize` and `percent_encode` are the
    keyword arguments of `pymdownx.slugs.slugify(...)`, with its defaults."""

    function: TocFunction = TocFunction.PYTHON_MARKDOWN
    separator: str = "-"
    case: str = "none"  # none, lower, lower-ascii (A-Z only) or fold
    normalize: NormalForm = "NFC"
    percent_encode: bool = False

    def slug(self, text: str) -> str:
        """The id of a heading with this text, without the uniqueness step."""
        if self.function is TocFunction.PYMDOWNX:
            return self._pymdownx(text)
        unicode = self.function is TocFunction.PYTHON_MARKDOWN_UNICODE
        return python_markdown_slug(text, self.separator, unicode=unicode)

    def _pymdownx(self, text: str) -> str:
        # pymdownx.slugs._uslugify (checked against pymdown-extensions 11.0): unlike
        # Python-Markdown it keeps case unless told, and turns EACH space into the separator
        slug = _PYMDOWNX_TAG.sub("", unicodedata.normalize(self.normalize, text)).strip()
        if self.case == "lower":
            slug = slug.lower()
        elif self.case == "lower-ascii":
            slug = re.sub("[A-Z]", lambda m: m.group(0).lower(), slug)
        elif self.case == "fold":
            slug = slug.casefold()
        slug = _PYMDOWNX_DROPPED.sub("", slug).replace(" ", self.separator)
        # such an id holds `%XX` literally: `anchored` encodes its `%` as %25 and the browser,
        # which decodes a fragment before matching ids, finds it
        return quote(slug.encode("utf-8")) if self.percent_encode else slug


_PYMDOWNX_TAG = re.compile(r"</?[^>]*>")
_PYMDOWNX_DROPPED = re.compile(r"[^\w\- ]")
_DEFAULT_TOC = TocSlugify()


class Slugger:
    """Anchors for the headings of ONE document, in document order.

    Stateful because every generator makes a repeated heading unique by what came before
    it; feed it every heading of the page (the page title too), not only the cited one.
    """

    def __init__(self, style: SlugStyle, toc: TocSlugify = _DEFAULT_TOC) -> None:
        self.style = style
        self.toc = toc  # the PYTHON_MARKDOWN style's slugify
        self._used: set[str] = set()
        self._github_counts: dict[str, int] = {}
        self._docutils_counter = 1

    def reserve(self, explicit: str) -> None:
        """Mark an id the page gives explicitly as taken (Python-Markdown does this for all
        of them before slugging any heading)."""
        self._used.add(explicit)

    def heading(self, title: str, explicit: str | None) -> str:
        """The id of the next heading, which may carry an explicit id of its own."""
        if explicit is None:
            return self.slug(title)
        if self.style is SlugStyle.DOCUTILS:
            label = self._docutils(explicit)
            self._docutils(title)  # the section keeps an id of its own, after its label's
            return label
        return explicit  # taken as written: Python-Markdown reserved it, GitHub ignores it

    def slug(self, heading: str) -> str:
        if self.style is SlugStyle.PYTHON_MARKDOWN:
            return self._python_markdown(heading)
        if self.style is SlugStyle.DOCUTILS:
            return self._docutils(heading)
        return self._github(heading)

    def _python_markdown(self, heading: str) -> str:
        candidate = self.toc.slug(heading)
        # toc's unique(): an empty or taken id gets `_1`, and an id already ending in `_N`
        # counts on from N rather than growing a second suffix
        if candidate in self._used or not candidate:
            match = _PM_COUNT.match(candidate)
            base, count = (match.group(1), int(match.group(2))) if match else (candidate, 0)
            count += 1
            while f"{base}_{count}" in self._used:
                count += 1
            candidate = f"{base}_{count}"
        self._used.add(candidate)
        return candidate

    def _docutils(self, heading: str) -> str:
        from docutils.nodes import make_id

        candidate = str(make_id(heading))
        # docutils' set_id(): a title whose id is empty (all non-ASCII) or already taken
        # gets the next free "id<counter>", the counter being shared by the whole page
        while not candidate or candidate in self._used:
            candidate = f"id{self._docutils_counter}"
            self._docutils_counter += 1
        self._used.add(candidate)
        return candidate

    def _github(self, heading: str) -> str:
        original = github_slug(heading)
        candidate = original
        # github-slugger bumps the counter of the ORIGINAL slug until the result is free,
        # so "a", "a", "a-1" gives a, a-1, a-1-1
        while candidate in self._github_counts:
            self._github_counts[original] += 1
            candidate = f"{original}-{self._github_counts[original]}"
        self._github_counts[candidate] = 0
        return candidate


_PM_COUNT = re.compile(r"^(.*)_([0-9]+)$")


def heading_ids(
    style: SlugStyle, headings: Sequence[tuple[str, str | None]], *, toc: TocSlugify = _DEFAULT_TOC
) -> tuple[str, ...]:
    """The id of each heading of ONE page, given as (title, explicit id or None) pairs.

    Pass every heading in document order, the title and those with no text under them
    too: each takes its number, and leaving one out shifts every later duplicate. `toc`:
    the MkDocs site's slugify, for the PYTHON_MARKDOWN style.
    """
    slugger = Slugger(style, toc)
    if style is SlugStyle.PYTHON_MARKDOWN:
        for _, explicit in headings:
            if explicit is not None:
                slugger.reserve(explicit)
    return tuple(slugger.heading(title, explicit) for title, explicit in headings)


def python_markdown_slug(text: str, separator: str = "-", *, unicode: bool = False) -> str:
    """Python-Markdown toc's `slugify` (`slugify_unicode` with `unicode`), without the
    uniqueness step (checked against markdown/extensions/toc.py of Python-Markdown 3.10). It
    puts the separator into its pattern unescaped; escaped here, the same for any separator
    but a regex metacharacter, which no site uses."""
    if not unicode:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    kept = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(rf"[{re.escape(separator)}\s]+", separator, kept)


# The Unicode general categories github-slugger 2.0.0 strips (its script/generate-regex.js):
# other numbers, all punctuation but connectors, symbols, controls, private use, format,
# unassigned and separators. It then spares ' ' and '-' and every Alphabetic character.
_GITHUB_DROPPED = frozenset({"No", "Pe", "Pf", "Pi", "Ps", "Po", "Pd", "Sm", "Sc", "Sk", "So"}) | frozenset(
    {"Cc", "Co", "Cf", "Cn", "Zs", "Zl", "Zp"}
)
# Other_Alphabetic characters that are symbols (So): circled and squared Latin letters.
# Other Alphabetic code points are letters, marks or letter numbers, which are kept anyway.
_ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))


def _github_keeps(char: str) -> bool:
    if char in " -":
        return True
    if unicodedata.category(char) not in _GITHUB_DROPPED:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _ALPHABETIC_SYMBOLS)


def github_slug(text: str) -> str:
    """github-slugger's `slug()` (lower-cased), without the uniqueness step."""
    return "".join(c for c in text.lower() if _github_keeps(c)).replace(" ", "-")


# RFC 3986 lets a fragment hold these as they are; everything else, UTF-8 included, is
# percent-encoded.
