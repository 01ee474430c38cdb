"""The knowledge index's catalog: what the index holds, file by file, and cached vectors.

It is a cache, kept in its own file (catalog.db) apart from state: it can be deleted and
rebuilt from the knowledge folder at any time, so a damaged catalog is thrown away rather
than refused, which state never is. It owns indexed files (hash, size, chunk count, parse
error, the files their includes read), index metadata, and the chunk text hashes and
embedding vectors of hybrid retrieval.

A file's row is written only once the search index holds what it describes (record_sync,
after the index's commit), so the catalog never claims text the index lacks. The other way
round, a crash between the two commits would leave the index with a new file the catalog
does not know, which no later sync would look for; so the paths of new files are written to
`unrecorded` before the index's commit (mark_unrecorded), and cleared by the record_sync that
follows: a sync that finds any walks the folder and removes those no longer there.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.errors import StoreError
from bot.store.migrations import CATALOG_MIGRATIONS, pending
from bot.store.sqlite_file import advice, close_quietly, connect
from bot.store.values import iso


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    chunks: int
    error: str | None = None
    folder_audience: str = ""  # the folder declaration it was read under (FolderAudiences.key)
    includes: str = ""  # the files its includes read, as they were (bot/retrieval/folder.py)


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    """One file a sync wrote to the index, as its catalog rows record it (Catalog.record_sync)."""

    record: FileRecord
    title: str = ""
    url: str | None = None
    visibility: str = "public"
    tags: Sequence[str] = ()
    audience: Sequence[str] = ()
    hashes: Sequence[tuple[str, str]] | None = None  # (chunk id, text hash), with embeddings on


# every column of `files`: a row is written whole, so an upsert leaves nothing of the old one
_FILE_COLUMNS = (
    "path", "sha256", "size", "mtime_ns", "title", "url", "visibility", "tags", "chunks", "error",
    "indexed_at", "audience", "folder_audience", "includes",
)  # fmt: skip
_UPSERT_FILE = (
    f"insert into files ({', '.join(_FILE_COLUMNS)}) values ({', '.join('?' * len(_FILE_COLUMNS))}) "
    "on conflict(path) do update set " + ", ".join(f"{c} = excluded.{c}" for c in _FILE_COLUMNS[1:])
)


def _file_row(entry: FileEntry, when: str) -> tuple[object, ...]:
    """`entry` as the values of _FILE_COLUMNS, in order."""
    record = entry.record
    return (
        record.path,
        record.sha256,
        record.size,
        record.mtime_ns,
        entry.title,
        entry.url,
        entry.visibility,
        json.dumps(list(entry.tags), ensure_ascii=False),
        record.chunks,
        record.error,
        when,
        json.dumps(list(entry.audience), ensure_ascii=False),
        record.folder_audience,
        record.includes or None,
    )


@dataclass(frozen=True, kw_only=True)
class IndexedFile:
    """One file as the index holds it, for people to read (the dashboard's knowledge page)."""

    path: str
    title: str
    url: str | None
    visibility: str
    audience: tuple[str, ...]
    chunks: int
    error: str | None
    indexed_at: str


def _open(path: Path) -> sqlite3.Connection:
    """The catalog's connection, migrated. sqlite-utils (which the migrations are written with)
    is imported only when one has to run: it is a tenth of a cold `supportbot ask`."""
    conn = connect(path)
    try:
        with advice(path):
            if not pending(conn, CATALOG_MIGRATIONS):
                return conn
    except BaseException:
        close_quietly(conn)
        raise
    conn.close()
    from bot.store.store import open_database

    return open_database(path, CATALOG_MIGRATIONS).conn


class Catalog:
    """What the knowledge index holds, file by file: a rebuildable cache. Each write is a
    transaction of its own; `record_sync` writes all of a sync's rows in one."""

    conn: sqlite3.Connection

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = _open(path)
        except StoreError as exc:
            if "locked" in str(exc):
                raise  # another process is using it: never delete a cache someone is writing
            # a damaged cache may be thrown away: start it afresh rather than refuse to run
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            except OSError as stuck:  # a folder in its place, a read-only data directory
                raise StoreError(
                    f"{exc} It could not be removed to start afresh either ({stuck.strerror}): "
                    "move it aside, or give this bot another data directory with --data DIR."
                ) from None
            self.conn = _open(path)

    def close(self) -> None:
        self.conn.close()

    def files(self) -> dict[str, FileRecord]:
        rows = self.conn.execute(
            "select path, sha256, size, mtime_ns, chunks, error, folder_audience, includes from files"
        )
        return {
            row[0]: FileRecord(
                path=row[0],
                sha256=row[1],
                size=row[2],
                mtime_ns=row[3],
                chunks=row[4] or 0,
                error=row[5],
                folder_audience=row[6] or "",
                includes=row[7] or "",
            )
            for row in rows
        }

    def put_file(
        self,
        record: FileRecord,
        *,
        title: str = "",
        url: str | None = None,
        visibility: str = "public",
        tags: Iterable[str] = (),
        audience: Iterable[str] = (),
        at: datetime,
    ) -> None:
        entry = FileEntry(
            record=record,
            title=title,
            url=url,
            visibility=visibility,
            tags=tuple(tags),
            audience=tuple(audience),
        )
        with self.conn:
            self.conn.execute(_UPSERT_FILE, _file_row(entry, iso(at)))

    def record_sync(
        self,
        written: Sequence[FileEntry],
        *,
        touched: Sequence[tuple[str, int]] = (),
        removed: Sequence[str] = (),
        at: datetime,
    ) -> None:
        """What a sync changed, in one transaction: the files written (and, given hashes,
        their chunk rows, replacing the old ones), the files saved again without changes
        (new mtime), the files gone. The same rows put_file, put_chunks, touch_file and
        remove_files write one call each, but one statement per table: 150 us a file less."""
        if not (written or touched or removed):
            return  # a sync that changed nothing (most of them) does not open a transaction
        when = iso(at)
        files = [_file_row(e, when) for e in written]
        hashed = [e for e in written if e.hashes is not None]
        chunks = [(chunk_id, e.record.path, digest) for e in hashed for chunk_id, digest in e.hashes or ()]
        conn = self.conn
        with conn:
            conn.executemany(_UPSERT_FILE, files)
            conn.executemany("delete from chunks where path = ?", [(e.record.path,) for e in hashed])
            conn.executemany(
                "insert or replace into chunks (chunk_id, path, text_hash) values (?, ?, ?)", chunks
            )
            conn.executemany("update files set mtime_ns = ? where path = ?", [(m, p) for p, m in touched])
            conn.executemany("delete from files where path = ?", [(p,) for p in removed])
            conn.executemany("delete from chunks where path = ?", [(p,) for p in removed])
            conn.execute("delete from unrecorded")  # each is recorded or removed now

    def mark_unrecorded(self, paths: Sequence[str]) -> None:
        """Note `paths`, new files about to be committed to the search index, until record_sync
        records them: if the process dies in between, the next sync knows the index has them."""
        with self.conn:
            self.conn.executemany("insert or ignore into unrecorded (path) values (?)", [(p,) for p in paths])

    def unrecorded(self) -> set[str]:
        """The paths mark_unrecorded noted that no record_sync has recorded since."""
        return {row[0] for row in self.conn.execute("select path from unrecorded")}

    def touch_file(self, path: str, mtime_ns: int) -> None:
        with self.conn:
            self.conn.execute("update files set mtime_ns = ? where path = ?", [mtime_ns, path])

    def audiences(self) -> dict[str, tuple[str, ...]]:
        """The audiences of every indexed file that has any, by path."""
        rows = self.conn.execute("select path, audience from files where audience like '[\"%'")
        return {row[0]: tuple(json.loads(row[1])) for row in rows}

    def remove_files(self, paths: Iterable[str]) -> None:
        removed = [(path,) for path in paths]
        with self.conn:
            self.conn.executemany("delete from files where path = ?", removed)
            self.conn.executemany("delete from chunks where path = ?", removed)

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("insert or replace into meta (key, value) values (?, ?)", [key, value])

    def delete_meta(self, key: str) -> None:
        with self.conn:
            self.conn.execute("delete from meta where key = ?", [key])

    def clear(self) -> None:
        """Forget what the index holds. Cached vectors stay: they are keyed by text, so a
        rebuild finds them again for every passage whose text did not change."""
        with self.conn:
            self.conn.execute("delete from files")
            self.conn.execute("delete from meta")
            self.conn.execute("delete from chunks")
            self.conn.execute("delete from unrecorded")  # the index was cleared first

    def summary(self) -> tuple[int, int, int]:
        row = self.conn.execute(
            "select count(*), coalesce(sum(chunks), 0), sum(error is not null) from files"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2] or 0)

    def indexed_files(self) -> list[IndexedFile]:
        """Every file in the index, by path: what it is called, who it is for, its passages."""
        rows = self.conn.execute(
            "select path, title, url, visibility, audience, chunks, error, indexed_at from files order by path"
        )
        return [
            IndexedFile(
                path=row[0],
                title=row[1] or "",
                url=row[2],
                visibility=row[3] or "public",
                audience=tuple(json.loads(row[4])) if row[4] else (),
                chunks=int(row[5] or 0),
                error=row[6],
                indexed_at=row[7],
            )
            for row in rows
        ]

    def errors(self) -> Iterator[tuple[str, str]]:
        for row in self.conn.execute("select path, error from files where error is not null order by path"):
            yield row[0], row[1]

    # -- embeddings: chunk text hashes and cached vectors (see bot/retrieval/embeddings.py) ----

    def put_chunks(self, path: str, chunks: Iterable[tuple[str, str]]) -> None:
        """Record the (chunk id, text hash) of every chunk of `path`, replacing the old ones."""
        with self.conn:
            self.conn.execute("delete from chunks where path = ?", [path])
            self.conn.executemany(
                "insert or replace into chunks (chunk_id, path, text_hash) values (?, ?, ?)",
                [(chunk_id, path, digest) for chunk_id, digest in chunks],
            )

    def clear_chunks(self) -> None:
        with self.conn:
            self.conn.execute("delete from chunks")

    def prune_embeddings(self, keep_model: str | None = None) -> int:
        """Delete vectors no chunk refers to any more (and, given `keep_model`, every other
        model's); return how many went."""
        with self.conn:
            cursor = self.conn.execute(
                "delete from embeddings where text_hash not in (select text_hash from chunks)"
                + (" or model != ?" if keep_model is not None else ""),
                [keep_model] if keep_model is not None else [],
            )
        return int(cursor.rowcount)

    def missing_vectors(self, model: str, after: str, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (text hash, one chunk id with that text) with no vector for `model`,
        in hash order after `after`: a cursor that moves on even past texts that fail."""
        rows = self.conn.execute(
            "select c.text_hash, min(c.chunk_id) from chunks c where c.text_hash > ? and not exists "
            "(select 1 from embeddings e where e.model = ? and e.text_hash = c.text_hash) "
            "group by c.text_hash order by c.text_hash limit ?",
            [after, model, limit],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def put_vectors(self, model: str, vectors: Iterable[tuple[str, int, bytes]]) -> int:
        """Store (text hash, dimensions, float32 bytes) for `model`, skipping texts that no chunk
        holds any more (the folder changed while they were being embedded)."""
        with self.conn:
            cursor = self.conn.executemany(
                "insert or replace into embeddings (model, text_hash, dim, vector) select ?, ?, ?, ? "
                "where exists (select 1 from chunks where text_hash = ?)",
                [(model, digest, dim, blob, digest) for digest, dim, blob in vectors],
            )
        return int(cursor.rowcount)

    def vectors_for_chunks(self, model: str, chunk_ids: Sequence[str]) -> dict[str, bytes]:
        """The cached vector of each of `chunk_ids` that has one."""
        if not chunk_ids:
            return {}
        marks = ", ".join("?" * len(chunk_ids))
        # CROSS JOIN fixes the loop order (chunk ids first): without statistics SQLite would
        # otherwise walk every vector of the model, 3 ms at 5,000 chunks instead of 0.2 ms
        rows = self.conn.execute(
            "select c.chunk_id, e.vector from chunks c cross join embeddings e "
            f"on e.text_hash = c.text_hash and e.model = ? where c.chunk_id in ({marks})",
            [model, *chunk_ids],
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def embedding_counts(self, model: str) -> tuple[int, int]:
        """(distinct chunk texts, how many of them have a vector for `model`)."""
        row = self.conn.execute(
            "select count(distinct c.text_hash), count(distinct e.text_hash) from chunks c "
            "left join embeddings e on e.text_hash = c.text_hash and e.model = ?",
            [model],
        ).fetchone()
        return int(row[0]), int(row[1])
