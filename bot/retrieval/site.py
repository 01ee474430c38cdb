"""Where a knowledge file is published: the page URL and heading anchors a citation links to.

This module owns the mapping from "a file in the knowledge folder plus a heading in it" to
the public URL a reader can click, for folders that are the source of a documentation site
built with MkDocs, Sphinx or Docusaurus (or served as plain files). It knows each
generator's rules for turning a source path into a page URL and a heading into an `id`, so
the bot's links land on the same page and section the published site has, without anyone
adding `url:` front matter to every file.

It is pure: nothing here touches the network or the knowledge files. The `Site` it works
from is read from the generator's config by `detect_site` (bot/retrieval/site_config.py).

Heading anchors follow, per style (bot/retrieval/slugs.py builds them). Every heading of
the page counts, in document order: the title, and a heading with no text of its own (a
parent directly followed by its first child), because each takes an id and so moves the
number of every later duplicate. An explicit id (`{#id}`, a reST label) follows each tool's
own rule (`slugs.heading_ids`):

- MkDocs: Python-Markdown's `toc` extension with the `slugify` and `separator` mkdocs.yml
  gives it (its own by default; `slugify_unicode` and `pymdownx.slugs.slugify` are known too,
  the settings sites in other scripts use: `slugs.TocSlugify`), checked against
  Python-Markdown 3.11, and its `unique` rule (`_1`, `_2`, ...).
- Sphinx: docutils' `nodes.make_id` (called directly) with the docutils/Sphinx rule for a
  title whose id is taken or empty: the next free `id1`, `id2`, ... from a per-document
  counter (checked against Sphinx 9.0 with docutils 0.22).
- GitHub / Docusaurus: github-slugger 2.0.0 (the version Docusaurus 3 uses): lower-case,
  drop the Unicode punctuation/symbol/control/separator classes its generated regex drops
  (but keep letters, marks, digits, `_`, `-` and spaces), each space becomes `-`, and a
  repeat gets `-1`, `-2`, ... The classes are computed from Python's `unicodedata`
  (Unicode 14+), while github-slugger 2.0.0 froze Unicode 13: characters assigned after 13
  are kept here where the JS library drops them as unassigned.

Anchors are percent-encoded (UTF-8) in `anchored`, Hangul included: see there why.

A Docusaurus page may move its own URL with front matter (`Route`): `slug:` replaces it
(relative to the page's folder, or from the docs root when it starts with `/`), `id:` the
file-name part, as Docusaurus' getSlug does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from bot.retrieval.slugs import SlugStyle, TocSlugify


class Generator(StrEnum):
    MKDOCS = "mkdocs"
    SPHINX = "sphinx"
    DOCUSAURUS = "docusaurus"
    PLAIN = "plain"


@dataclass(frozen=True, kw_only=True)
class Site:
    """What the URL and anchor rules need to know about the site a knowledge folder builds.

    `base_url` is the URL at which the knowledge folder's own root is published (for
    Docusaurus that already includes the docs route, e.g. `https://x.dev/docs/`).
    """

    generator: Generator
    base_url: str | None
    # MkDocs: `a/b.md` -> `a/b/` (True, the default) or `a/b.html` (False)
    use_directory_urls: bool = True
    # Docusaurus `trailingSlash`: None leaves its permalinks as they are
    trailing_slash: bool | None = None
    # Sphinx `html_link_suffix` (defaults to `html_file_suffix`, then `.html`)
    link_suffix: str = ".html"
    # The generator's docs folder relative to the knowledge folder, when the knowledge folder
    # is the repo root that holds it ("" when the knowledge folder IS the docs folder); files
    # outside it are not published.
    docs_dir: str = ""
    # Where the knowledge folder sits inside the generator's source folder, when it is a
    # sub-folder of it (Sphinx with conf.py one level up).
    mount: str = ""
    # MkDocs: how its `toc` extension makes heading ids (mkdocs.yml markdown_extensions)
    toc: TocSlugify = field(default_factory=TocSlugify)
    # Where the config that was used lives, for `supportbot doctor`-style explanations
    config_file: Path | None = field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Route:
    """What a page's own front matter says about its URL: Docusaurus' `slug` and `id` (other
    generators ignore them)."""

    slug: str | None = None
    id: str | None = None


_NO_ROUTE = Route()


# -- page URLs --------------------------------------------------------------------------------

_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkdn", ".mkd")  # MkDocs' list
_SPHINX_SOURCES = (".rst", ".md", ".markdown", ".txt", ".ipynb")  # reST, MyST, nbsphinx
_DOCUSAURUS_SOURCES = (".md", ".mdx")
_INDEX_STEMS = ("index", "readme")


def page_url(site: Site, relative_path: str, route: Route = _NO_ROUTE) -> str | None:
    """The published URL of a knowledge file (path relative to the folder, `/` separators),
    which its front matter may have moved (`route`).

    None when the site has no base URL, or the file is not published as a page or file of
    its own (outside the generator's docs folder, or a kind of file it does not publish).
    """
    if not site.base_url:
        return None
    path = _source_path(site, relative_path)
    if path is None:
        return None
    if site.generator is Generator.DOCUSAURUS:
        published = _docusaurus_path(site, path, route)
    else:
        rules = {Generator.MKDOCS: _mkdocs_path, Generator.SPHINX: _sphinx_path, Generator.PLAIN: _plain_path}
        published = rules[site.generator](site, path)
    if published is None:
        return None
    return join(site.base_url, quote(published, safe="/!$&'()*+,;=:@~"))


def _source_path(site: Site, relative_path: str) -> PurePosixPath | None:
    """The path as the generator sees it, relative to its own docs folder."""
    parts = [p for p in relative_path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    path = PurePosixPath(*parts)
    if site.docs_dir:
        if not path.is_relative_to(site.docs_dir):
            return None
        path = path.relative_to(site.docs_dir)
    if site.mount:
        path = PurePosixPath(site.mount) / path
    return path


def _parent(path: PurePosixPath) -> str:
    """The folder part as a URL prefix: "" at the root, "a/b/" below it."""
    return "" if str(path.parent) == "." else f"{path.parent.as_posix()}/"


def _mkdocs_path(site: Site, path: PurePosixPath) -> str:
    if path.suffix.lower() not in _MARKDOWN_SUFFIXES:
        return path.as_posix()  # images, PDFs, raw .html: copied through as they are
    folder = _parent(path)
    # MkDocs makes README.md the folder's index (unless an index.md is there too)
    if path.stem.lower() in _INDEX_STEMS:
        return folder if site.use_directory_urls else f"{folder}index.html"
    return f"{folder}{path.stem}/" if site.use_directory_urls else f"{folder}{path.stem}.html"


def _sphinx_path(site: Site, path: PurePosixPath) -> str | None:
    if path.suffix.lower() not in _SPHINX_SOURCES:
        return None  # not a source: html_static_path/html_extra_path put it elsewhere
    # the html builder keeps index.rst as index.html: only dirhtml would make it "a/"
    return f"{_parent(path)}{path.stem}{site.link_suffix}"


def _docusaurus_path(site: Site, path: PurePosixPath, route: Route) -> str | None:
    if path.suffix.lower() not in _DOCUSAURUS_SOURCES:
        return None  # Docusaurus publishes static files from static/, not from docs/
    directories = [_strip_number_prefix(part) for part in path.parent.parts]
    folder = "".join(f"{d}/" for d in directories)
    # Docusaurus' getSlug: an absolute `slug:` is the path from the docs root; with none, the
    # category-index convention (on the raw names, prefixes and all: index.md, README.md or
    # a file named like its folder) makes the page its folder's; else `slug:`, or the page's
    # id (`id:`, or the file name unprefixed), is resolved against the folder like a link
    own_folder = path.parent.name.lower() if path.parent.parts else None
    if route.slug is not None and route.slug.startswith("/"):
        url = route.slug.lstrip("/")
    elif route.slug is None and (path.stem.lower() in _INDEX_STEMS or path.stem.lower() == own_folder):
        url = folder
    else:
        relative = route.slug if route.slug is not None else route.id or _strip_number_prefix(path.stem)
        url = _resolve(folder, relative)
    if site.trailing_slash is None or not url:
        return url
    return f"{url.rstrip('/')}/" if site.trailing_slash else url.rstrip("/")


def _resolve(folder: str, relative: str) -> str:
    """`relative` resolved against the folder path `folder` ("" or "a/b/") as a relative
    link is (the resolve-pathname package Docusaurus uses): `.` and `..` taken out, a
    trailing slash kept."""
    segments = [*folder.split("/")[:-1], *relative.split("/")]
    resolved: list[str] = []
    for segment in segments:
        if segment == "..":
            resolved = resolved[:-1]
        elif segment != ".":
            resolved.append(segment)
    ends_in_folder = segments[-1] in (".", "..") and bool(resolved)
    return "/".join(resolved) + ("/" if ends_in_folder else "")


# Docusaurus leaves names that look like dates or versions alone (2021-05-10-notes, 1.2-x)
_DATE_OR_VERSION = re.compile(r"^(?:(?:\d{2}|\d{4})[-_.]\d{2}(?:[-_.](?:\d{2}|\d{4}))?|\d+[-_.]\d+)")
_NUMBER_PREFIX = re.compile(r"^\d+\s*[-_.]+\s*(?P<rest>.*)$", re.DOTALL)


def _strip_number_prefix(name: str) -> str:
    if _DATE_OR_VERSION.match(name):
        return name
    match = _NUMBER_PREFIX.match(name)
    return match.group("rest") if match else name


def _plain_path(site: Site, path: PurePosixPath) -> str:
    suffix = path.suffix.lower()
    if suffix == ".rst":
        return f"{_parent(path)}{path.stem}.html"
    if suffix in (*_MARKDOWN_SUFFIXES, ".mdx"):
        # the pretty URL most Markdown site builders and static hosts give a page
        if path.stem.lower() in _INDEX_STEMS:
            return _parent(path)
        return f"{_parent(path)}{path.stem}"
    return path.as_posix()  # .html, .txt, .pdf are served as the files they are


def join(base: str, *parts: str) -> str:
    """Join URL pieces with exactly one slash between them, keeping a trailing slash."""
    url = base
    for part in parts:
        if not part:
            if not url.endswith("/"):
                url += "/"
            continue
        url = f"{url.rstrip('/')}/{part.lstrip('/')}"
    return url


# -- anchors ----------------------------------------------------------------------------------


def slug_style(site: Site, relative_path: str) -> SlugStyle:
    """The anchor style of a file: the generator's own, or by suffix for a PLAIN site (an
    MkDocs site's `toc` settings refine its style: `Site.toc`)."""
    if site.generator is Generator.MKDOCS:
        return SlugStyle.PYTHON_MARKDOWN
    if site.generator is Generator.SPHINX:
        return SlugStyle.DOCUTILS
    if site.generator is Generator.DOCUSAURUS:
        return SlugStyle.GITHUB
    return SlugStyle.DOCUTILS if relative_path.lower().endswith(".rst") else SlugStyle.GITHUB


_FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~"


def anchored(url: str, anchor: str | None) -> str:
    """`url#anchor`, replacing any fragment `url` had; `url` as is for no anchor.

    The anchor is percent-encoded as UTF-8 always, so `#상태를-업데이트하기` goes out as
    `#%EC%83%81...`. Browsers decode the fragment before looking up the id (and show it
    decoded in the address bar), so the link works the same, while a link target that is
    pure ASCII cannot be cut or re-encoded differently by a chat client's auto-linker or a
    log viewer; one form also lets citations be compared and de-duplicated as strings.
    """
    base = url.split("#", 1)[0]
    if not anchor:
        return base
    return f"{base}#{quote(anchor, safe=_FRAGMENT_SAFE)}"
