"""Database URLs: telling a PostgreSQL URL from a file path, and showing one without its password.

A URL is shown as libpq reads it, since libpq is what logs in with it: a password holding a
character a URL reserves (`#`, `?`, `/`, `@`, `[`), written as is rather than percent-encoded,
is read differently by a generic URL parser, which would then show it. libpq ends the user
and password at the first `@` (before any `/`); a person means the last `@` before the host.
When the two disagree, or libpq cannot read the URL at all (another database's URL in
a configuration error, say), only the scheme, user and host are shown. Nothing here raises, whatever the URL.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

SCHEMES = ("postgresql", "postgres")
MASK = "***"

# the fields of libpq's reading that a URL's user and password cannot reach unless libpq
# read them differently from what was meant (an `@` left in one of them)
_PLACE = ("host", "hostaddr", "port", "dbname")
# a parameter holding a secret: `password`, and any other whose name says it holds one
# (libpq's `sslpassword`, the client key's passphrase; whatever a later libpq adds)
_QUERY_PASSWORD = re.compile(r"(?<=[?&])([^&=#]*password[^&=#]*)=([^&]*)", re.IGNORECASE)
_HOST = re.compile(r"[\w.\-:\[\],%]+")
_USER = re.compile(r"[\w.\-+%]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,20}")
_PIECES = re.compile(r"[@/?#:\[\]]+")


def is_database_url(target: object) -> bool:
    """A PostgreSQL URL rather than a file path."""
    return isinstance(target, str) and target.split("://", 1)[0] in SCHEMES


def redact_url(url: str) -> str:
    """The URL with its passwords replaced, fit for messages and logs: the one after the user
    name, and those given as parameters (`?password=`, which libpq takes as well, and any other
    whose name holds "password", as `sslpassword=`). Written as it was; checked by reading the
    result with libpq again."""
    read = _read(url)
    if read is not None:
        shown = _masked(url)
        if _read(shown) == {key: MASK if _secret(key) else value for key, value in read.items()}:
            return shown
    return _scheme_and_host(url)


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error, say) with the URL's passwords replaced, should they appear:
    as libpq read them, as written, and as a person meant them (the text before the last `@`)."""
    secrets = set(_written_passwords(url))
    read = _read(url)
    if read is not None:
        secrets.update(value for key, value in read.items() if _secret(key))
    else:
        # libpq read the URL otherwise than meant: what it reports (a host `secret@db`, a port)
        # may hold pieces of the password
        for secret in list(secrets):
            secrets.update(piece for piece in _PIECES.split(secret) if len(piece) > 1)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def _read(url: str) -> dict[str, str] | None:
    """The URL as libpq reads it; None when it cannot, or when it reads it otherwise than a
    person means it (an `@` left in the host, port or database name)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        read = {key: str(value) for key, value in conninfo_to_dict(url).items()}
    except Exception:  # no driver, or a URL it refuses: shown by its host alone
        return None
    if any("@" in read.get(field, "") for field in _PLACE):
        return None
    return read


def _masked(url: str) -> str:
    """`url` with its passwords replaced, split as libpq splits it."""
    scheme, sep, rest = url.partition("://")
    # libpq: the user and password end at the first `@`, if one comes before any `/`
    userinfo = re.match(r"[^@/]*", rest)
    assert userinfo is not None  # the pattern matches the empty string
    end = userinfo.end()
    user, colon, password = userinfo.group().partition(":")
    if rest[end : end + 1] == "@" and password:
        rest = f"{user}{colon}{MASK}{rest[end:]}"
    path, mark, query = rest.partition("?")
    return scheme + sep + path + _QUERY_PASSWORD.sub(rf"\1={MASK}", mark + query)


def _scheme_and_host(url: str) -> str:
    """The scheme, user and host only, as a person means them (the host after the last `@`),
    each only if it looks like one and is no part of a password: never the password."""
    scheme, _, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    host = re.split(r"[/?#]", hostpart, maxsplit=1)[0]
    secrets = _written_passwords(url)
    if not (host and _HOST.fullmatch(host)) or any(host in secret for secret in secrets):
        host = "..."
    user, _, password = userinfo.partition(":")
    login = ""
    if at and _USER.fullmatch(user) and not any(user in secret for secret in secrets):
        login = f"{user}:{MASK}@" if password else f"{user}@"
    return f"{scheme if _SCHEME.fullmatch(scheme) else '...'}://{login}{host}"


def _written_passwords(url: str) -> list[str]:
    """The passwords a person may have meant in `url`, as written and decoded: after the user
    name up to the last `@`, and each parameter holding one (`password=`, `sslpassword=`)."""
    found: list[str] = []
    rest = url.partition("://")[2]
    if "@" in rest:
        userinfo = rest.rsplit("@", 1)[0]
        found.append(userinfo.partition(":")[2])
        # libpq's reading, which ends at the first `@`
        found.append(re.split(r"[@/]", userinfo, maxsplit=1)[0].partition(":")[2])
    found.extend(value for _, value in _QUERY_PASSWORD.findall(url))
    return [variant for secret in found if secret for variant in (secret, unquote(secret))]


def _secret(key: str) -> bool:
    """Whether libpq's parameter `key` holds a secret (`password`, `sslpassword`)."""
    return "password" in key.lower()
