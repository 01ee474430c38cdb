"""A database URL shown in a message or a log never shows its password, however it is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
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
        (
            "postgresql://db.example/support?sslmode=require",
            "postgresql://db.example/support?sslmode=require",
        ),
    ],
)
def test_a_password_is_never_shown(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_drivers_message_loses_the_password_decoded_or_as_written() -> None:
    url = "postgresql://bot@/support?host=/run/pg&password=a%26b"
    assert scrub('password authentication failed: "a&b"', url) == 'password authentication failed: "***"'
    assert (
        scrub("in postgresql://bot@/support?password=a%26b", url)
        == "in postgresql://bot@/support?password=***"
    )
    assert scrub('failed for "p@ss"', "postgresql://bot:p%40ss@db/support") == 'failed for "***"'


def test_migrate_prints_the_database_without_a_password_given_as_a_parameter(
    pg_url: str, tmp_path: Path
) -> None:
    secret_url = pg_url + "&password=s3cretQ"  # the test server trusts local logins: any password
    result = CliRunner().invoke(
        app, ["migrate", "--data", str(tmp_path / "data")], env={"SUPPORTBOT_DATABASE_URL": secret_url}
    )
    assert result.exit_code == 0, result.output
    assert "password=***" in result.output and "s3cretQ" not in result.output
