"""The two backends the store tests run on: SQLite in a temp dir, and a real PostgreSQL.

One PostgreSQL server serves the whole session (pgserver starts it from its wheel in about a
second, or SUPPORTBOT_TEST_DATABASE_URL names one); each test gets a schema of its own, so
tests never see each other's rows and no database has to be created or dropped per test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this session. pgserver is part of the test extra:
    missing, the tests fail rather than skip. Its files live in a folder of their own, not
    pytest's temp root, which another pytest session may close to others (pgserver runs the
    server as its own user) while this one runs."""
    given = os.environ.get("SUPPORTBOT_TEST_DATABASE_URL")
    if given:
        yield given
        return
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="supportbot-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def in_schema(url: str, schema: str) -> str:
    """`url` with `schema` as the search path: tables are created and found there."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose (fresh, empty) schema belongs to this test alone."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
    yield in_schema(pg_server, schema)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"drop schema {schema} cascade")


@pytest.fixture(params=["sqlite", "postgres"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's StateStore keeps state: each test runs once on each backend."""
    if request.param == "sqlite":
        return tmp_path / "state.db"
    url: str = request.getfixturevalue("pg_url")
    return url
