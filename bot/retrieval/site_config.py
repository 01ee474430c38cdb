"""Which generator builds a knowledge folder: `detect_site` reads its config into a `Site`.

This module owns finding the generator's small config file (mkdocs.yml, conf.py,
docusaurus.config.*) in the knowledge folder or its parent and reading it without ever
executing it: YAML through a safe loader that tolerates MkDocs' custom tags, conf.py through
`ast` (literal assignments only), the Docusaurus config through regular expressions over its
string literals. What the resulting `Site` means for page URLs and anchors is
bot/retrieval/site.py's.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.retrieval.site import Generator, Site, join
from bot.retrieval.slugs import NormalForm, TocFunction, TocSlugify

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
    return replace(site, base_url=base_url)


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

    Real mkdocs.yml files carry `!!python/name:...` (emoji, superfences, toc's slugify),
    `!ENV [VAR, default]` and `!relative`; a tagged node just needs to load as something
    harmless, and a Python one as the name it gives (`PythonName`), never imported. Made on
    first use: PyYAML is only imported when a folder has an mkdocs.yml (a cold `ask` has no
    use for it).
    """
    import yaml

    class TolerantLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type stubs here
        pass

    TolerantLoader.add_multi_constructor("", _construct_unknown)
    return TolerantLoader


@dataclass(frozen=True, eq=False)  # hashable as an object: a YAML key may be one
class PythonName:
    """A `!!python/name:X` or `!!python/object/apply:X {kwds: {...}}` node: the callable it
    names (or calls with `kwds`), as text. PyYAML's unsafe loaders would import it."""

    name: str
    kwds: dict[str, Any] = field(default_factory=dict)


_PYTHON_TAG = "tag:yaml.org,2002:python/"


def _construct_unknown(loader: Any, tag_suffix: str, node: Any) -> Any:
    import yaml

    if tag_suffix.startswith(_PYTHON_TAG):
        kind, _, name = tag_suffix.removeprefix(_PYTHON_TAG).partition(":")
        value = loader.construct_mapping(node, deep=True) if isinstance(node, yaml.MappingNode) else None
        kwds = value.get("kwds") if kind == "object/apply" and value is not None else None
        return PythonName(name, kwds if isinstance(kwds, dict) else {})
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
        toc=_toc_slugify(data.get("markdown_extensions")),
        config_file=config,
    )


_TOC_NAMES = ("toc", "markdown.extensions.toc")
# pymdown-extensions' older fixed slugifies: the keyword arguments of slugify(...) they stand for
_PYMDOWNX_FIXED: dict[str, dict[str, Any]] = {
    "pymdownx.slugs.uslugify": {"case": "lower"},
    "pymdownx.slugs.uslugify_encoded": {"case": "lower", "percent_encode": True},
    "pymdownx.slugs.uslugify_cased": {},
    "pymdownx.slugs.uslugify_cased_encoded": {"percent_encode": True},
    "pymdownx.slugs.gfm": {"case": "lower-ascii"},
    "pymdownx.slugs.gfm_encoded": {"case": "lower-ascii", "percent_encode": True},
}
_NORMAL_FORMS: tuple[NormalForm, ...] = ("NFC", "NFD", "NFKC", "NFKD")


def _toc_slugify(extensions: object) -> TocSlugify:
    """The `toc` extension's `slugify` and `separator` from mkdocs.yml's `markdown_extensions`
    (a list of names and one-key mappings, or one mapping; the last `toc` entry wins, as in
    MkDocs). A slugify this module does not know keeps Python-Markdown's: a wrong anchor
    still opens the right page."""
    entries = list(extensions.items()) if isinstance(extensions, dict) else []
    if isinstance(extensions, list):
        entries = [next(iter(e.items())) for e in extensions if isinstance(e, dict) and len(e) == 1]
    options: dict[str, Any] = {}
    for name, config in entries:
        if name in _TOC_NAMES and isinstance(config, dict):
            options = config
    separator = options.get("separator")
    separator = separator if isinstance(separator, str) else "-"
    slugify = options.get("slugify")
    if not isinstance(slugify, PythonName):
        return TocSlugify(separator=separator)
    if slugify.name == TocFunction.PYTHON_MARKDOWN_UNICODE:
        return TocSlugify(function=TocFunction.PYTHON_MARKDOWN_UNICODE, separator=separator)
    if slugify.name == TocFunction.PYMDOWNX:
        kwds = slugify.kwds  # `!!python/object/apply:`: slugify(...) returns the function
    elif slugify.name in _PYMDOWNX_FIXED:
        kwds = _PYMDOWNX_FIXED[slugify.name]
    else:
        return TocSlugify(separator=separator)
    case = kwds.get("case")
    return TocSlugify(
        function=TocFunction.PYMDOWNX,
        separator=separator,
        case=case if isinstance(case, str) else "none",
        normalize=next((form for form in _NORMAL_FORMS if form == kwds.get("normalize")), "NFC"),
        percent_encode=kwds.get("percent_encode") is True,
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
        base_url = join(url.strip(), base_path or "/", route, "")
    return Site(
        generator=Generator.DOCUSAURUS,
        base_url=base_url,
        trailing_slash=None if slash is None else slash.group(2) == "true",
        docs_dir=placement[0],
        mount=placement[1],
        config_file=config,
    )
