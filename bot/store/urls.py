"""Database URLs: telling a PostgreSQL URL from a file path, and showing one without its password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")


def is_database_url(target: object) -> bool:
    """A PostgreSQL URL rather than a file path."""
    return isinstance(target, str) and target.split("://", 1)[0] in SCHEMES


def redact_url(url: str) -> str:
    """The URL with its password replaced, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error, say) with the URL's password replaced, should it appear."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
