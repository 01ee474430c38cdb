"""What of a knowledge folder is read: the rules that leave a file or folder out, and why.

Build output, generator configuration, hidden files, `[knowledge] exclude` globs, and links
that lead out of the folder are skipped; each reason is reported to the admin by the sync.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

# build output, generator configuration and vendored packages: never documentation to answer from
_SKIPPED_FOLDERS = frozenset({"_templates", "_build", "site", "node_modules", "__pycache__"})
_SKIPPED_FILES = frozenset({"conf.py", "mkdocs.yml", "mkdocs.yaml"})


def skip_reason(relative: str, is_dir: bool, globs: tuple[str, ...] = ()) -> str | None:
    """Why the file or folder at `relative` is not indexed, or None to index it."""
    name = relative.rsplit("/", 1)[-1]
    if name.startswith("."):
        return "hidden"
    if is_dir and name in _SKIPPED_FOLDERS:
        return "build output or templates, not documentation"
    if not is_dir and name in _SKIPPED_FILES:
        return "documentation generator configuration"
    target = relative + "/" if is_dir else relative  # "drafts/**" leaves out the folder itself
    for pattern in globs:
        if _glob_match(target, pattern):
            return f"matches [knowledge] exclude {pattern!r}"
    return None


def link_reason(target: Path, is_dir: bool, roots: Sequence[Path], follow: bool) -> str | None:
    """Why a symbolic link whose real path is `target` is not indexed, or None to index it.

    A link is a way out of the folder the bot was told to read: one to ~/.ssh or /etc would
    put that file's text into answers. So a link counts only if what it points to is inside
    `roots` (the knowledge folder, resolved; with follow_symlinks also [knowledge] include_root).
    A link to a folder is walked only with follow_symlinks on."""
    if not any(target.is_relative_to(root) for root in roots):
        return "links outside the knowledge folder"
    if is_dir and not follow:
        return "links to a folder ([knowledge] follow_symlinks is off)"
    return None


def _glob_match(relative: str, pattern: str) -> bool:
    """`**` matches any number of folders, `*` anything within one name (fnmatch's `*`
    would cross folders, and PurePath.full_match needs Python 3.13)."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    if "/" not in pattern:
        regex = "(?:.*/)?" + regex  # "*.txt" excludes text files in every folder
    return re.fullmatch(regex, relative) is not None
