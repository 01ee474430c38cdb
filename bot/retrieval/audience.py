"""Which audience a knowledge document is for: its `audience:` front matter, or its folder's.

A document declares `audience: [NAME, ...]` in its front matter; a folder declares one for
every document under it with an `_audience.yml` (a YAML list, or `audience: [...]`) or a
`.audience` file (names separated by commas or new lines). The nearest declaration wins: the
document's own, then its folder's, then the parent folders' up to the knowledge folder. A
document with no declaration anywhere is for everyone.

Names are TOML bare keys (letters, digits, `-`, `_`), the names `[audiences.NAME]` gives
them, so no name can collide with EVERYONE, the index's marker for "no audience". A folder
file that cannot be read makes every document under it unreadable (an error for the admin)
rather than public: restricted text must never become visible because a file is broken.
Who belongs to an audience is decided elsewhere (bot/privacy/audiences.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

AUDIENCE_FILES = ("_audience.yml", "_audience.yaml", ".audience")
EVERYONE = "*"  # indexed for a document without an audience; never a valid audience name
RESTRICTED = "!"  # indexed beside the names of a document with an audience: "are there any?"
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class AudienceError(ValueError):
    """A declaration that cannot be used; the message says what to fix."""


def audience_names(raw: object, where: str) -> tuple[str, ...]:
    """The audience names of a declaration (`audience:` front matter or a folder file's
    content): a name, a comma-separated string, or a list of names; sorted, each once."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        items: Iterable[object] = re.split(r"[,\s]+", raw)
    elif isinstance(raw, list | tuple):
        items = raw
    else:
        raise AudienceError(f"{where} must list audience names, like [customers]")
    names = sorted({str(item).strip() for item in items if str(item).strip()})
    bad = [name for name in names if not _NAME.fullmatch(name)]
    if bad:
        raise AudienceError(
            f"{where} names {bad[0]!r}; audience names are letters, digits, - and _, as in [audiences.NAME]"
        )
    return tuple(names)


def read_folder_file(name: str, text: str) -> tuple[str, ...]:
    """The names an `_audience.yml` or `.audience` file declares (AudienceError if unusable)."""
    if name == ".audience":
        lines = [line.split("#", 1)[0] for line in text.splitlines()]
        return audience_names(",".join(lines), name)
    import yaml  # only a folder with an _audience.yml needs PyYAML

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AudienceError(f"{name} is not valid YAML ({exc.__class__.__name__})") from None
    if isinstance(data, dict):
        data = data.get("audience")
    names = audience_names(data, name)
    if not names:
        raise AudienceError(f"{name} declares no audience; list names, or delete the file")
    return names


class FolderAudiences:
    """The folder-level declarations found while walking the knowledge folder.

    `declared` maps a folder (relative, "" for the root) to its names or to the reason its
    file cannot be used."""

    def __init__(self, declared: Mapping[str, tuple[str, ...] | AudienceError]) -> None:
        self.declared = dict(declared)
        self._found: dict[str, tuple[str, ...] | AudienceError] = {}  # by folder: asked per file
        self._keys: dict[str, str] = {}

    def for_file(self, relative: str) -> tuple[str, ...] | AudienceError:
        """The nearest folder declaration above file `relative`; () when there is none."""
        folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
        found = self._found.get(folder)
        if found is None:
            found = self._found[folder] = self._for_folder(folder)
        return found

    def _for_folder(self, folder: str) -> tuple[str, ...] | AudienceError:
        while True:
            found = self.declared.get(folder)
            if found is not None:
                return found
            if not folder:
                return ()
            folder = folder.rsplit("/", 1)[0] if "/" in folder else ""

    def key(self, relative: str) -> str:
        """What the catalog keeps of the folder declaration a file was read under, so that a
        changed `_audience.yml` re-reads the files it covers."""
        folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
        key = self._keys.get(folder)
        if key is None:
            found = self.for_file(relative)
            key = self._keys[folder] = f"!{found}" if isinstance(found, AudienceError) else ",".join(found)
        return key


def read_folder_files(root: Path, files: Sequence[tuple[str, bool]]) -> FolderAudiences:
    """The declarations of the audience `files` under `root`, as (relative path, is a link)."""
    declared: dict[str, tuple[str, ...] | AudienceError] = {}
    for relative, link in sorted(files):
        folder, _, name = relative.rpartition("/")
        names: tuple[str, ...] | AudienceError
        try:
            if link:  # it could point anywhere; restricted text must not follow it out
                raise AudienceError(f"{name} is a symbolic link; make it a plain file")
            names = read_folder_file(name, (root / relative).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            names = AudienceError(f"{name} cannot be read ({type(exc).__name__})")
        except AudienceError as exc:
            names = exc
        if folder in declared:  # two files in one folder: which one counts is not obvious
            names = AudienceError(f"{name} repeats another audience file of the same folder")
        declared[folder] = names
    return FolderAudiences(declared)
