"""Gateway dispatches discord.py cannot read: one log line and skipped, never the connection's end.

discord.py 2.x hands each gateway dispatch (op 0) to `ConnectionState.parsers[event](data)`
inside `DiscordWebSocket.received_message`, which `poll_event` awaits in the loop of
`Client.connect`. Nothing on that path catches what a parser raises: one MESSAGE_CREATE
without an `author`, or with an `id` that is not a snowflake, raises KeyError or ValueError
out of `connect()` (which reconnects only on network and close errors), so
`DiscordAdapter.run` fails and the supervisor in `bot/supervisor.py` restarts the whole adapter:
a second of back-off, a new IDENTIFY, and whatever Discord sent meanwhile lost.

discord.py has no public hook for this: `on_error` covers only the event handlers a parser
schedules, and `on_socket_raw_receive` sees a payload without being able to stop it. So
`guard_parsers` wraps each entry of the client's `ConnectionState.parsers`, the dict the
websocket reads (`ws._discord_parsers` is that same object, built once in
`ConnectionState.__init__` from the `parse_*` methods): a parser that raises writes one
WARNING line (the event, the exception's type and where it was raised; never the payload,
never a traceback), at most one a second (`adapters/rate_limited_log.py`), and the dispatch
is skipped. Well-formed dispatches go through unchanged. READY is left unguarded: a session
whose READY cannot be read has no user, no guilds and never becomes ready, and starting
over is the right answer to that.

Checked against discord.py 2.0.0, 2.4.0 and 2.7.1 (state.py `ConnectionState.__init__`,
gateway.py `DiscordWebSocket.from_client` and `received_message`: the same in all three).
If a later version drops the `parsers` dict, the client still runs, unguarded, and says so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import discord

from adapters.discord.translate import PLATFORM
from adapters.rate_limited_log import RateLimitedLog

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

UNGUARDED = frozenset({"READY"})
_GUARDED = "__supportbot_guarded__"  # set on a wrapper, so a parser is never wrapped twice

Parser = Callable[[Any], None]


def guard_parsers(client: discord.Client, skipped: RateLimitedLog | None = None) -> RateLimitedLog:
    """Make every gateway parser of `client` (but READY's) log and skip a dispatch it cannot
    read, rather than end the connection. Call once the client exists, before it connects.
    Returns the limiter its lines go through (its `suppressed` counts the held-back ones)."""
    skipped = skipped or RateLimitedLog(
        log, more="skipped %d more gateway dispatch(es), last: %s", extra={"platform": PLATFORM}
    )
    parsers = getattr(getattr(client, "_connection", None), "parsers", None)
    if not isinstance(parsers, dict):
        log.warning(
            "discord.py %s has no ConnectionState.parsers: a malformed gateway dispatch will "
            "restart the adapter",
            discord.__version__,
            extra={"platform": PLATFORM},
        )
        return skipped
    for event, parse in list(parsers.items()):
        if event not in UNGUARDED and not getattr(parse, _GUARDED, False):
            parsers[event] = _guarded(event, parse, skipped)
    return skipped


def _guarded(event: str, parse: Parser, skipped: RateLimitedLog) -> Parser:
    @functools.wraps(parse)
    def parse_or_skip(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:  # what Discord sent is this one dispatch's problem
            kind = f"{event} {type(exc).__name__}"
            skipped.write(
                kind,
                f"skipped a {event} gateway dispatch discord.py could not read "
                f"({type(exc).__name__} in {_raised_at(exc)})",
                last=kind,
            )

    setattr(parse_or_skip, _GUARDED, True)
    return parse_or_skip


def _raised_at(exc: BaseException) -> str:
    """`module:line` of the innermost frame: enough to find the field, without a traceback
    (and without reading source files, as `traceback` would)."""
    tb = exc.__traceback__
    if tb is None:
        return "an unknown place"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_globals.get('__name__', '?')}:{tb.tb_lineno}"
