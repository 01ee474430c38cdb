"""Database URLs: telling a PostgreSQL URL from a file path, and showing one without its password."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")


def is_database_url(target: object) -> bool:
    """A PostgreSQL URL rather than a file path."""
    return isinstance(target, str) and target.split("://", 1)[0] in SCHEMES


def redact_url(url: str) -> str:
    """The URL with its password replaced, fit for messages and logs: the one after the user
    name, and one given as a parameter (`?password=`, which libpq takes as well)."""
    parts = urlsplit(url)
    shown = url
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        shown = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    if _query_passwords(parts.query):
        # the query alone is rebuilt: urlunsplit would drop the `//` of a URL with no host
        # (`postgresql:///db?host=/run/postgresql&password=...`)
        base, mark, rest = shown.partition("?")
        query, hash_mark, fragment = rest.partition("#")
        pairs = [(key, "***" if key == "password" else value) for key, value in parse_qsl(query, True)]
        shown = base + mark + urlencode(pairs, safe="*/:") + hash_mark + fragment
    return shown


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error, say) with the URL's passwords replaced, should they appear."""
    parts = urlsplit(url)
    # as written in the URL and as the driver decoded it (`p%40ss` is `p@ss` to libpq)
    for password in {parts.password or "", unquote(parts.password or ""), *_query_passwords(parts.query)}:
        if password:
            text = text.replace(password, "***")
    return text


def _query_passwords(query: str) -> list[str]:
    """Each `password=` parameter of `query`, decoded and as written."""
    found = [value for key, value in parse_qsl(query, keep_blank_values=True) if key == "password"]
    written = [raw.split("=", 1)[1] for raw in query.split("&") if raw.startswith("password=")]
    return [*found, *written]
