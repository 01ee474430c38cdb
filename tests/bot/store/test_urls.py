"""A database URL shown in a message or a log never shows its password, however it is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import StoreError
from bot.store import StateStore
from bot.store.urls import redact_url, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:pw@db.example/support", "postgresql://bot:***@db.example/support"),
        (
            "postgresql://bot@/support?host=/run/pg&password=s3cret",
            "postgresql://bot@/support?host=/run/pg&password=***",
        ),
        (
            "postgresql:///support?password=a%26b&sslmode=require",
            "postgresql:///support?password=***&sslmode=require",
        ),
        ("postgresql://bot:pw@db/support?password=again", "postgresql://bot:***@db/support?password=***"),
        (  # the client key's passphrase
            "postgresql://bot:pw@db/support?sslpassword=p%26ss&sslmode=require",
            "postgresql://bot:***@db/support?sslpassword=***&sslmode=require",
        ),
        (
            "postgresql://db.example/support?sslmode=require",
            "postgresql://db.example/support?sslmode=require",
        ),
    ],
)
def test_a_password_is_never_shown(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # libpq reads these passwords whole and logs in; a generic URL parser cut them short
        ("postgresql://bot:s3#cret@db/support", "postgresql://bot:***@db/support"),
        ("postgresql://bot:s3?cret@db/support", "postgresql://bot:***@db/support"),
        ("postgresql://bot:ab[cd@db/support", "postgresql://bot:***@db/support"),
        # libpq reads these otherwise than meant (a host "secret@db", a port "ab"): the host alone
        ("postgresql://bot:top@secret@db:5432/support", "postgresql://bot:***@db:5432"),
        ("postgresql://bot:ab/cd@db/support", "postgresql://bot:***@db"),
        # libpq refuses it: the host alone, as meant
        ("postgresql://bot:ab[cd@db/support?nonsense=1", "postgresql://bot:***@db"),
        ("postgresql://db/support?password=a@b&nonsense=1", "postgresql://..."),
    ],
)
def test_a_password_with_a_character_urls_reserve_is_never_shown(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_drivers_message_loses_every_piece_of_a_password_libpq_read_otherwise() -> None:
    url = "postgresql://bob:top@secretpart@127.0.0.1:9/sb"
    assert (
        scrub("failed to resolve host 'secretpart@127.0.0.1'", url)
        == "failed to resolve host '***@127.0.0.1'"
    )
    assert scrub(
        'invalid integer value "ab" for connection option "port"', "postgresql://bot:ab/cd@db/x"
    ) == ('invalid integer value "***" for connection option "port"')


def test_a_drivers_message_loses_the_password_decoded_or_as_written() -> None:
    url = "postgresql://bot@/support?host=/run/pg&password=a%26b"
    assert scrub('password authentication failed: "a&b"', url) == 'password authentication failed: "***"'
    assert (
        scrub("in postgresql://bot@/support?password=a%26b", url)
        == "in postgresql://bot@/support?password=***"
    )
    assert scrub('failed for "p@ss"', "postgresql://bot:p%40ss@db/support") == 'failed for "***"'
    assert (
        scrub('bad passphrase "p&ss"', "postgresql://db/support?sslpassword=p%26ss") == 'bad passphrase "***"'
    )


@pytest.mark.parametrize("password", ["s3#cretQ", "s3?cretQ"])
def test_a_password_libpq_reads_whole_is_never_printed_by_migrate(
    pg_url: str, tmp_path: Path, password: str
) -> None:
    secret_url = pg_url.replace("postgres:@", f"postgres:{password}@")  # trust auth: any password logs in
    result = CliRunner().invoke(
        app, ["migrate", "--data", str(tmp_path / "data")], env={"SUPPORTBOT_DATABASE_URL": secret_url}
    )
    assert result.exit_code == 0, result.output  # it logged in with that URL
    assert "postgres:***@" in result.output and "cretQ" not in result.output


def test_a_password_libpq_reads_otherwise_is_not_in_the_connect_error() -> None:
    for url in ("postgresql://bob:ab/cdQ@127.0.0.1:9/sb", "postgresql://bob:top@secretQ@127.0.0.1:9/sb"):
        with pytest.raises(StoreError) as caught:
            StateStore(url)
        assert "cdQ" not in str(caught.value) and "secretQ" not in str(caught.value)
        assert "%40 %2F" in str(caught.value)  # how to write such a password


def test_migrate_prints_the_database_without_a_password_given_as_a_parameter(
    pg_url: str, tmp_path: Path
) -> None:
    # the test server trusts local logins: any password; the key's passphrase is unused
    # without an encrypted key
    secret_url = pg_url + "&password=s3cretQ&sslpassword=KeyPassQ"
    result = CliRunner().invoke(
        app, ["migrate", "--data", str(tmp_path / "data")], env={"SUPPORTBOT_DATABASE_URL": secret_url}
    )
    assert result.exit_code == 0, result.output
    assert "password=***" in result.output and "sslpassword=***" in result.output
    assert "s3cretQ" not in result.output and "KeyPassQ" not in result.output
    store = StateStore(secret_url)
    try:
        assert "s3cretQ" not in str(store.path) and "KeyPassQ" not in str(store.path)
    finally:
        store.close()
