"""Where a knowledge file is published: the page URL and heading anchors a citation links to.

This module owns the mapping from "a file in the knowledge folder plus a heading in it" to
the public URL a reader can click, for folders that are the source of a documentation site
built with MkDocs, Sphinx or Docusaurus (or served as plain files). It knows each
generator's rules for turning a source path into a page URL and a heading into an `id`, so
the bot's links land on the same page and section the published site has, without anyone
adding `url:` front matter to every file.

It is pure: nothing here touches the network or the knowledge files. The one exception is
`detect_site`, which reads the generator's small config file (mkdocs.yml, conf.py,
docusaurus.config.*) without ever executing it: YAML through a safe loader that tolerates
MkDocs' custom tags, conf.py through `ast` (literal assignments only), the Docusaurus
config through regular expressions over its string literals.

Heading anchors follow, per style (bot/retrieval/slugs.py builds them):

- MkDocs: Python-Markdown's `toc` extension with its default `slugify` (checked against
  Python-Markdown 3.11) and its `unique` rule (`_1`, `_2`, ...).
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
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from bot.retrieval.slugs import SlugStyle


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
    # Where the config that was used lives, for `supportbot doctor`-style explanations
    config_file: Path | None = field(default=None, compare=False)


# -- detection --------------------------------------------------------------------------------

_MKDOCS_FILES = ("mkdocs.yml", "mkdocs.yaml")
_DOCUSAURUS_FILES = ("docusaurus.config.js", "docusaurus.config.ts", "docusaurus.config.mjs")


def detect_site(folder: Path, *, base_url: str | None = None) -> Site:
    """Find the generator that builds `folder` from its config in `folder` or its parent.

    An explicit `base_url` (the `[knowledge] base_url` setting) replaces whatever base URL
    the config gives, but the generator's other rules still come from the config. With no
    config the site is PLAIN and `page_url` picks a style by file suffix.
    """
    explicit = base_url.strip() if base_url and base_url.strip() else None
    folder = Path(os.path.normpath(folder.absolute()))
    for where in (folder, folder.parent):
        site = _detect_in(where, folder)
        if site is not None:
            if explicit is not None:
                return _replace_base(site, explicit)
            return site
    return Site(generator=Generator.PLAIN, base_url=explicit)


def _replace_base(site: Site, base_url: str) -> Site:
    return Site(
        generator=site.generator,
        base_url=base_url,
        use_directory_urls=site.use_directory_urls,
        trailing_slash=site.trailing_slash,
        link_suffix=site.link_suffix,
        docs_dir=site.docs_dir,
        mount=site.mount,
        config_file=site.config_file,
    )


def _detect_in(where: Path, folder: Path) -> Site | None:
    for name in _MKDOCS_FILES:
        if (where / name).is_file():
            site = _mkdocs(where / name, folder)
            if site is not None:
                return site
    for name in _DOCUSAURUS_FILES:
        if (where / name).is_file():
            site = _docusaurus(where / name, folder)
            if site is not None:
                return site
    # sphinx-quickstart's "separate source and build" layout puts conf.py in source/
    candidates = [where / "conf.py"] + ([where / "source" / "conf.py"] if where == folder else [])
    for conf in candidates:
        if conf.is_file():
            site = _sphinx(conf, folder)
            if site is not None:
                return site
    return None


def _placement(docs_root: Path, folder: Path) -> tuple[str, str] | None:
    """(docs_dir, mount) relating the generator's docs folder to the knowledge folder.

    None when neither contains the other: the config then describes some other folder.
    """
    docs_root = Path(os.path.normpath(docs_root))
    if docs_root == folder:
        return "", ""
    if docs_root.is_relative_to(folder):
        return docs_root.relative_to(folder).as_posix(), ""
    if folder.is_relative_to(docs_root):
        return "", folder.relative_to(docs_root).as_posix()
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


# MkDocs ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _tolerant_loader() -> Any:
    """SafeLoader that reads any unknown tag as plain data instead of failing or running it.

    Real mkdocs.yml files carry `!!python/name:...` (emoji, superfences), `!ENV [VAR,
    default]` and `!relative`; only site_url, docs_dir and use_directory_urls matter here,
    so a tagged node just needs to load as something harmless. Made on first use: PyYAML
    is only imported when a folder has an mkdocs.yml (a cold `ask` has no use for it).
    """
    import yaml

    class TolerantLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type stubs here
        pass

    TolerantLoader.add_multi_constructor("", _construct_unknown)
    return TolerantLoader


def _construct_unknown(loader: Any, tag_suffix: str, node: Any) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        items = loader.construct_sequence(node, deep=True)
        # `!ENV [VAR, ..., default]`: this module does not read the environment (only
        # bot/config.py does), so it takes the written default, which is what a build
        # without the variable would publish.
        if tag_suffix == "!ENV":
            return items[-1] if len(items) > 1 else None
        return items
    value = loader.construct_scalar(node)
    if tag_suffix == "!ENV":
        return None  # `!ENV VAR` has no default
    return value


def _mkdocs(config: Path, folder: Path) -> Site | None:
    text = _read(config)
    if text is None:
        return None
    import yaml

    try:
        data = yaml.load(text, Loader=_tolerant_loader())  # a SafeLoader subclass: safe
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        data = {}
    docs_dir = data.get("docs_dir")
    placement = _placement(config.parent / (docs_dir if isinstance(docs_dir, str) else "docs"), folder)
    if placement is None:
        return None
    site_url = data.get("site_url")
    use_directory_urls = data.get("use_directory_urls", True)
    return Site(
        generator=Generator.MKDOCS,
        base_url=(site_url.strip() or None) if isinstance(site_url, str) else None,
        use_directory_urls=use_directory_urls if isinstance(use_directory_urls, bool) else True,
        docs_dir=placement[0],
        mount=placement[1],
        config_file=config,
    )


# Sphinx ------------------------------------------------------------------------------------


def _sphinx(conf: Path, folder: Path) -> Site | None:
    placement = _placement(conf.parent, folder)
    if placement is None:
        return None
    values = _literal_assignments(_read(conf) or "")
    base = values.get("html_baseurl")
    suffix = values.get("html_link_suffix", values.get("html_file_suffix"))
    return Site(
        generator=Generator.SPHINX,
        base_url=(base.strip() or None) if isinstance(base, str) else None,
        link_suffix=suffix if isinstance(suffix, str) else ".html",
        docs_dir=placement[0],
        mount=placement[1],
        config_file=conf,
    )


def _literal_assignments(source: str) -> dict[str, object]:
    """Top-level `name = <literal>` in a conf.py; the file is parsed, never run."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            # computed (environment look-ups, f-strings, calls): an earlier literal no
            # longer holds, though a later one may still set it
            for target in targets:
                if isinstance(target, ast.Name):
                    values.pop(target.id, None)
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                values[target.id] = literal
    return values


# Docusaurus --------------------------------------------------------------------------------

# A string literal (kept) or a comment (dropped): matching both in one pass keeps the `//`
# of "https://..." inside strings from being taken for a comment.
_JS_STRING_OR_COMMENT = re.compile(
    r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|//[^\n]*|/\*.*?\*/""", re.DOTALL
)


def _js_string(text: str, key: str) -> str | None:
    # the key must stand alone (not `editUrl`, not `foo.url`) and the value be one whole
    # literal: a template with ${...} or an expression is not something we can know
    pattern = re.compile(
        r"(?<![\w$.])(?P<q>['\"]?)" + re.escape(key) + r"(?P=q)\s*:\s*(?P<s>\"[^\"\n]*\"|'[^'\n]*'|`[^`$]*`)"
    )
    match = pattern.search(text)
    return match.group("s")[1:-1] if match else None


def _js_object(text: str, key: str) -> str | None:
    """The `{...}` given to `key:` (first occurrence), by brace balance."""
    match = re.search(r"(?<![\w$.])(['\"]?)" + re.escape(key) + r"\1\s*:\s*\{", text)
    if match is None:
        return None
    depth = 0
    for i in range(match.end() - 1, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[match.end() - 1 : i + 1]
    return None


def _docusaurus(config: Path, folder: Path) -> Site | None:
    raw = _read(config)
    if raw is None:
        return None
    text = _JS_STRING_OR_COMMENT.sub(lambda m: m.group(1) or " ", raw)
    docs = _js_object(text, "docs") or ""
    docs_path = _js_string(docs, "path") or "docs"
    placement = _placement(config.parent / docs_path, folder)
    if placement is None:
        return None
    # the docs options come first so a blog's routeBasePath is never taken for the docs'
    route = _js_string(docs, "routeBasePath")
    route = "docs" if route is None else route
    # the site's own url/baseUrl: searched outside the docs options so nested keys don't win
    outside = text.replace(docs, " ") if docs else text
    url, base_path = _js_string(outside, "url"), _js_string(outside, "baseUrl")
    slash = re.search(r"(?<![\w$.])(['\"]?)trailingSlash\1\s*:\s*(true|false)\b", outside)
    base_url = None
    if url and url.strip():
        base_url = _join(url.strip(), base_path or "/", route, "")
    return Site(
        generator=Generator.DOCUSAURUS,
        base_url=base_url,
        trailing_slash=None if slash is None else slash.group(2) == "true",
        docs_dir=placement[0],
        mount=placement[1],
        config_file=config,
    )


# -- page URLs --------------------------------------------------------------------------------

_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkdn", ".mkd")  # MkDocs' list
_SPHINX_SOURCES = (".rst", ".md", ".markdown", ".txt", ".ipynb")  # reST, MyST, nbsphinx
_DOCUSAURUS_SOURCES = (".md", ".mdx")
_INDEX_STEMS = ("index", "readme")


def page_url(site: Site, relative_path: str) -> str | None:
    """The published URL of a knowledge file (path relative to the folder, `/` separators).

    None when the site has no base URL, or the file is not published as a page or file of
    its own (outside the generator's docs folder, or a kind of file it does not publish).
    """
    if not site.base_url:
        return None
    path = _source_path(site, relative_path)
    if path is None:
        return None
    rules = {
        Generator.MKDOCS: _mkdocs_path,
        Generator.SPHINX: _sphinx_path,
        Generator.DOCUSAURUS: _docusaurus_path,
        Generator.PLAIN: _plain_path,
    }
    published = rules[site.generator](site, path)
    if published is None:
        return None
    return _join(site.base_url, quote(published, safe="/!$&'()*+,;=:@~"))


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


def _docusaurus_path(site: Site, path: PurePosixPath) -> str | None:
    if path.suffix.lower() not in _DOCUSAURUS_SOURCES:
        return None  # Docusaurus publishes static files from static/, not from docs/
    directories = [_strip_number_prefix(part) for part in path.parent.parts]
    folder = "".join(f"{d}/" for d in directories)
    # Docusaurus' category-index convention compares the raw names, prefixes and all:
    # index.md, README.md or a file named like its folder stands for the folder
    own_folder = path.parent.name.lower() if path.parent.parts else None
    if path.stem.lower() in _INDEX_STEMS or path.stem.lower() == own_folder:
        url = folder
        return url.rstrip("/") if site.trailing_slash is False and url else url
    url = f"{folder}{_strip_number_prefix(path.stem)}"
    return f"{url}/" if site.trailing_slash else url


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


def _join(base: str, *parts: str) -> str:
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
    """The anchor style of a file: the generator's own, or by suffix for a PLAIN site."""
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
