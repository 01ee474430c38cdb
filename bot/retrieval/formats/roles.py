"""What a Sphinx role shows, whether written in reStructuredText (`:class:`~flask.Flask``) or
in MyST Markdown ({class}`~flask.Flask`): the cross-referenced name as code, a `:ref:` or
`:doc:` link as its title or as words, a PEP as "PEP 8". Pure, so the Markdown reader can use
it without loading docutils (bot/retrieval/formats/rst.py registers it with docutils, and gives
a `:ref:` to a label of the same page its section's title, which only the doctree knows).
"""

from __future__ import annotations

import re
from collections.abc import Callable

CODE_ROLES = (  # noqa: SIM905
    "meth func class data attr exc mod obj const any envvar option file command kbd samp "
    "program makevar mailheader regexp keyword token type member macro var enum struct"
).split()
TEXT_ROLES = tuple("ref doc term numref download abbr dfn guilabel menuselection".split())  # noqa: SIM905
_SHOW_TARGET = frozenset({"ref", "doc", "numref", "term", "any"})
_EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]*)>$", re.S)


def split_target(text: str) -> tuple[str | None, str]:
    """`Title <target>` -> (Title, target); a bare target -> (None, target)."""
    explicit = _EXPLICIT.match(text)
    if explicit and explicit.group(1).strip():
        return explicit.group(1).strip(), explicit.group(2).strip()
    return None, text.strip()


def humane(target: str) -> str:
    """A label or document name as words: `proxy_fix` -> "proxy fix", `deploying/index` -> "deploying"."""
    parts = [p for p in target.split("/") if p]
    if len(parts) > 1 and parts[-1] == "index":
        parts.pop()
    return re.sub(r"[-_]+", " ", parts[-1]) if parts else target


def local_label(name: str, text: str) -> str | None:
    """The label a `ref` role written with no title of its own names in this project (which
    Sphinx shows as the title of the labelled section); None for any other role."""
    title, target = split_target(text.replace("\x00", ""))
    if name.rsplit(":", 1)[-1] != "ref" or title is not None or ":" in target:
        return None
    return target


def role_display(
    name: str, text: str, doc_title: Callable[[str], str | None] | None = None
) -> tuple[str, bool]:
    """(what role `name` (`py:func`, `ref`...) applied to `text` shows, whether as code).
    `doc_title` finds the title of a local document a `doc` role names."""
    kind = name.rsplit(":", 1)[-1]
    title, target = split_target(text.replace("\x00", ""))
    if kind in {"pep", "rfc"}:
        return f"{kind.upper()} {title or target}", False
    if kind in {"ref", "doc"} and title is None:
        # `project:target` points into another project's inventory (intersphinx), and
        # autosectionlabel's labels are `document:Section`: the part before is no name to show
        local = ":" not in target
        target = target.rsplit(":", 1)[-1]
        if kind == "doc":
            found = doc_title(target) if local and doc_title is not None else None
            title = found or humane(target)
    if kind in _SHOW_TARGET or kind in TEXT_ROLES:
        shown = title or (humane(target) if kind == "ref" else target)
        return shown.lstrip("~!/"), False
    if title is None:
        target = target.lstrip("!")
        target = target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target.lstrip(".")
    return title or target, True
