"""What of a knowledge folder is read: the walk, and the rules that leave a file or folder out.

Build output, generator configuration, hidden files, `[knowledge] exclude` globs, and links
that lead out of the folder or nowhere (a loop, a missing target) are skipped; each reason is
reported to the admin by the sync. One bad entry never stops the walk of the rest.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

from bot.errors import KnowledgeError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
from bot.retrieval.audience import AUDIENCE_FILES
from bot.retrieval.sections import IncludedFile

log = logging.getLogger(__name__)

# build output, generator configuration and vendored packages: never documentation to answer from
_SKIPPED_FOLDERS = frozenset({"_templates", "_build", "node_modules", "__pycache__"})
_MKDOCS_CONFIGS = ("mkdocs.yml", "mkdocs.yaml")
_SKIPPED_FILES = frozenset({"conf.py", *_MKDOCS_CONFIGS})
OUTSIDE = "links outside the knowledge folder"
NOWHERE = "a link that loops or is broken"


def skip_reason(
    relative: str, is_dir: bool, globs: tuple[str, ...] = (), *, root: Path | None = None
) -> str | None:
    """Why the file or folder at `relative` (inside `root`) is not indexed, or None to index it."""
    name = relative.rsplit("/", 1)[-1]
    if name.startswith("."):
        return "hidden"
    if is_dir and (name in _SKIPPED_FOLDERS or _is_mkdocs_site(root, relative)):
        return "build output or templates, not documentation"
    if not is_dir and name in _SKIPPED_FILES:
        return "documentation generator configuration"
    target = relative + "/" if is_dir else relative  # "drafts/**" leaves out the folder itself
    for pattern in globs:
        if _glob_match(target, pattern):
            return f"matches [knowledge] exclude {pattern!r}"
    return None


def _is_mkdocs_site(root: Path | None, relative: str) -> bool:
    """Whether the folder `relative` is MkDocs' build output: `site` (its default site_dir)
    beside an mkdocs.yml. Any other folder so named is documentation (a CMS's site settings,
    a hosting guide); the name alone left it out wherever it was."""
    parent, _, name = relative.rpartition("/")
    if name != "site" or root is None:
        return False
    return any((root / parent / config).is_file() for config in _MKDOCS_CONFIGS)


def link_reason(target: Path, is_dir: bool, roots: Sequence[Path], follow: bool) -> str | None:
    """Why a symbolic link whose real path is `target` is not indexed, or None to index it.

    A link is a way out of the folder the bot was told to read: one to ~/.ssh or /etc would
    put that file's text into answers. So a link counts only if what it points to is inside
    `roots` (the knowledge folder, resolved; with follow_symlinks also [knowledge] include_root).
    A link to a folder is walked only with follow_symlinks on."""
    if not any(target.is_relative_to(root) for root in roots):
        return OUTSIDE
    if is_dir and not follow:
        return "links to a folder ([knowledge] follow_symlinks is off)"
    return None


def _glob_match(relative: str, pattern: str) -> bool:
    return _glob_regex(pattern).fullmatch(relative) is not None


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`**` matches any number of folders, `*` anything within one name (fnmatch's `*`
    would cross folders, and PurePath.full_match needs Python 3.13). Compiled once per
    pattern: the walk tests every file against every pattern."""
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
    return re.compile(regex)


def link_roots(folder: Path, include_root: Path | None, follow_symlinks: bool) -> tuple[Path, ...]:
    """Where a link may lead, resolved: the knowledge folder, and with follow_symlinks on also
    [knowledge] include_root."""
    if follow_symlinks and include_root is not None:
        return folder.resolve(), include_root.resolve()
    return (folder.resolve(),)


def walk(
    folder: Path,
    *,
    suffixes: tuple[str, ...],
    exclude: frozenset[str],
    globs: tuple[str, ...],
    include_root: Path | None,
    follow_symlinks: bool,
    skipped: list[tuple[str, str]],
    audience_files: list[tuple[str, bool]],
) -> Iterator[tuple[str, os.stat_result]]:
    """The files of `folder` to index (with one of `suffixes`, lower-case, each with its one
    dot), as (relative path, stat). What is left out on purpose goes to `skipped` with why;
    folder audience files to `audience_files` (with: is a link)."""
    if not folder.exists():
        raise KnowledgeError(
            f"the knowledge folder {folder} does not exist. Create it and put Markdown "
            "files in it, or point to another one with --knowledge DIR or [knowledge] path "
            "in supportbot.toml."
        )
    if not folder.is_dir():
        raise KnowledgeError(f"{folder} is a file, not a folder; --knowledge needs a folder")
    roots = link_roots(folder, include_root, follow_symlinks)
    root = roots[0]
    walked = {root}  # real paths of the folders walked: a link back to one is not walked again
    # (folder, its path relative to the knowledge folder + "/"): paths are joined as strings,
    # as building a Path for each of 10,000 files was most of the time of a no-change sync
    stack = [(str(folder), "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except PermissionError:
            log.warning("cannot list %s: permission denied", current)
            continue
        for entry in entries:
            relative = prefix + entry.name
            link = entry.is_symlink()
            is_dir = _is_dir(entry, link)
            real = Path(os.path.realpath(entry.path)) if link or is_dir else None
            if entry.name in AUDIENCE_FILES and not is_dir:
                # read by _folder_audiences, which refuses a link (one leading nowhere too), so
                # such a folder is closed to everyone rather than left open to everyone
                audience_files.append((relative, link))
                continue
            reason = skip_reason(relative, bool(is_dir), globs, root=folder)
            if reason is None and link and real is not None:
                reason = link_reason(real, bool(is_dir), roots, follow_symlinks)
                if reason is None and is_dir and real in walked:
                    reason = "links to a folder that is indexed already"
            if reason is None and is_dir is None:
                reason = NOWHERE
            if reason is not None:
                if not entry.name.startswith("."):  # .git and our own data folder: not news
                    skipped.append((relative + ("/" if is_dir else ""), reason))
            elif is_dir and real is not None:
                walked.add(real)
                stack.append((entry.path, relative + "/"))
            elif (
                entry.is_file()
                # as splitext's suffix for a name not starting with a dot (hidden: skipped above)
                and entry.name.lower().endswith(suffixes)
                and relative not in exclude
            ):
                stat = _stat(entry, relative, skipped)
                if stat is not None:
                    yield relative, stat


def _is_dir(entry: os.DirEntry[str], link: bool) -> bool | None:
    """Whether `entry` is a folder (a link: whether what it points to is one); None for a link
    that leads nowhere: to itself, round a cycle of links (ELOOP), or to nothing. Such a link
    is one bad entry, reported as skipped; raising here would stop the whole walk, and with
    it the bot's start, /support reindex and the periodic walk."""
    try:
        if entry.is_dir(follow_symlinks=link):
            return True
        if link:
            entry.stat()  # is_dir says False for a link to nothing; stat says why (and is cached)
    except OSError:
        return None
    return False


def _stat(entry: os.DirEntry[str], relative: str, skipped: list[tuple[str, str]]) -> os.stat_result | None:
    """The stat of a file the walk is about to yield; None for one removed since the folder
    was listed (gone from the index, as if never seen) or that cannot be looked at (reported)."""
    try:
        return entry.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        skipped.append((relative, NOWHERE if entry.is_symlink() else f"cannot be read ({exc.strerror})"))
        return None


def look_up(
    folder: Path,
    relatives: Iterable[str],
    *,
    suffixes: tuple[str, ...],
    exclude: frozenset[str],
    globs: tuple[str, ...],
) -> dict[str, os.stat_result] | None:
    """The files among `relatives` (paths inside `folder`, as a watcher reports them) that the
    walk would index, with their stat, without walking the rest of the folder; those absent or
    left out are not in the result. None when a full walk is needed to know: a folder, an
    audience file, a link or anything outside the folder changed."""
    found: dict[str, os.stat_result] = {}
    for relative in relatives:
        parts = relative.split("/")
        if not relative or relative.startswith("/") or ".." in parts or "" in parts:
            return None
        if parts[-1] in AUDIENCE_FILES:
            return None  # who may read a whole folder changed
        try:
            stat = os.lstat(folder / relative)
        except FileNotFoundError:
            continue  # gone: removed from the index if it was in it
        except OSError:
            return None
        if not S_ISREG(stat.st_mode):
            return None  # a folder or a link: the walk knows what it means
        ancestors = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if any(os.path.islink(folder / a) for a in ancestors):
            return None
        if skip_reason(relative, False, globs) or any(
            skip_reason(a, True, globs, root=folder) for a in ancestors
        ):
            continue
        if parts[-1].lower().endswith(suffixes) and relative not in exclude:
            found[relative] = stat
    return found


def read_confined(file: Path, roots: Sequence[Path], limit: int) -> bytes:
    """The bytes of `file` (at most `limit`; more raises `FileTooLarge`), if the file actually
    opened lies inside one of `roots` (resolved): the walk judged the path, but the file may
    be swapped for a link out of the folder (or a folder on its way for one) before it is
    read, so what is checked is the open file itself, not its name. `LinkedOutside` if not."""
    with open(file, "rb") as handle:
        if not any(_opened_path(handle.fileno(), file).is_relative_to(root) for root in roots):
            raise LinkedOutside(OUTSIDE)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(len(data))
    return data


def stamp(path: Path, root: Path) -> IncludedFile:
    """`path` (resolved) as it is now, named relative to `root` (the resolved knowledge folder,
    so the catalog holds no absolute path and a folder moved with its include root still
    matches); size -1 when it is not a file."""
    try:
        name = Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive (Windows): no relative name
        name = path.as_posix()
    size, mtime_ns = _size_and_time(os.fspath(path))
    return IncludedFile(path=name, size=size, mtime_ns=mtime_ns)


def _size_and_time(path: str) -> tuple[int, int]:
    """(size, modification time) of the file at `path`, (-1, 0) if there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return -1, 0
    return (info.st_size, info.st_mtime_ns) if S_ISREG(info.st_mode) else (-1, 0)


def includes_key(includes: Iterable[IncludedFile]) -> str:
    """`includes` as the catalog keeps them (FileRecord.includes): "" for a page without any,
    most pages, whose check then costs nothing."""
    rows = sorted({(i.path, i.size, i.mtime_ns) for i in includes})
    return json.dumps(rows, ensure_ascii=False) if rows else ""


def included_names(key: str) -> set[str]:
    """The paths `key` (includes_key) names, relative to the knowledge folder."""
    return {name for name, _, _ in json.loads(key)} if key else set()


def includes_changed(root: Path, key: str) -> bool:
    """Whether a file `key` (includes_key) names is not as it was: edited, removed, or there
    now where it was looked for in vain. `root`: the resolved knowledge folder. One stat each."""
    if not key:
        return False
    base = os.fspath(root)  # plain strings: this runs for every such page on every sync
    return any(
        _size_and_time(os.path.join(base, name)) != (size, mtime_ns)
        for name, size, mtime_ns in json.loads(key)
    )


class LinkedOutside(OSError):
    """The file opened is outside the knowledge folder (a link swapped in since the walk)."""


class FileTooLarge(OSError):
    """The file grew past the size limit since the walk measured it."""


def _opened_path(fd: int, file: Path) -> Path:
    """The real path of the file open as `fd`: the kernel's, where it says (Linux's /proc,
    macOS's F_GETPATH); elsewhere the name resolved now, which a swap can still race."""
    with contextlib.suppress(OSError):
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    get_path = getattr(fcntl, "F_GETPATH", None) if fcntl is not None else None
    if get_path is not None:
        with contextlib.suppress(OSError):
            raw = fcntl.fcntl(fd, get_path, bytes(1024))
            return Path(os.fsdecode(raw.split(b"\0", 1)[0]))
    return Path(os.path.realpath(file))
