"""Socket Mode's connection: the first URL asked for with SLACK_APP_TOKEN, and Bolt's handler.

slack_sdk's `connect()` asks for a URL (apps.connections.open) inside a loop that logs each
failure with a traceback and tries again for ever: a refused app-level token would leave the
adapter starting for good. So the adapter asks for the first URL itself, once, and a refusal
that retrying cannot cure stops it (`FatalAdapterError`, saying what to check); the handler
is then built with that URL, so its `connect()` opens the socket straight away. Reconnects
after that are slack_sdk's own, but a refusal there (the token revoked while connected) is
handed to the adapter (`on_refused`), which stops: retrying it would leave the bot deaf for
good, logging an error every ping interval.

`Outages` watches the reconnects: Slack tries an event again for about five minutes while no
connection acknowledges it, so a connection that stays down longer (the network, not the
process) loses what was said meanwhile. When a new connection is greeted after such a gap,
the adapter reads back from the moment the old one was last known to be alive
(adapters/slack/missed.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import FATAL_AUTH_ERRORS, SlackCallError, slack_error
from bot.errors import FatalAdapterError

# what Slack answers apps.connections.open when the token, not the moment, is wrong
FATAL_APP_TOKEN_ERRORS = FATAL_AUTH_ERRORS | {"missing_scope"}
APP_TOKEN_HELP = (
    "SLACK_APP_TOKEN must be the app-level token (xapp-...) with the connections:write scope, "
    "made under Basic Information > App-Level Tokens, and Socket Mode must be on in the app's "
    "settings; see knowledge/slack-setup.md"
)


async def first_url(client: AsyncWebClient, app_token: str) -> str:
    """A Socket Mode URL from apps.connections.open, asked for once (slack_sdk's retry
    handlers still wait out a 429 or a 5xx); a refused token is a FatalAdapterError."""
    try:
        response = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        code = slack_error(exc)
        if code in FATAL_APP_TOKEN_ERRORS:
            raise refusal(code) from None
        raise SlackCallError("apps.connections.open", code) from exc
    return str(response["url"])


def refusal(code: str) -> FatalAdapterError:
    return FatalAdapterError(f"Slack refused SLACK_APP_TOKEN ({code}): {APP_TOKEN_HELP}")


# slack_sdk calls a connection stale once no pong came for 4 ping intervals, and checks once an
# interval: a stale one was last alive up to this many intervals before it noticed
STALE_INTERVALS = 5


class Outages:
    """The Socket Mode connection's losses, as slack_sdk reconnects: since when nothing may
    have been heard, and, once a new connection is greeted after a gap of `read_back_after`
    seconds or more, `on_back(alive)` with the epoch time the old one was last known alive."""

    def __init__(
        self,
        on_back: Callable[[float], None],
        ping_interval: float,
        *,
        read_back_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_back = on_back
        self.ping_interval = ping_interval
        self.read_back_after = read_back_after
        self.clock = clock
        self._alive: float | None = None  # during an outage: when the lost connection was last alive

    def lost(self, stale: bool) -> None:
        """slack_sdk asks for a new connection's URL (only a reconnect does): the first ask of
        an outage marks it; a reconnect that fails and asks again is the same outage."""
        if self._alive is None:
            lag = STALE_INTERVALS if stale else 1
            self._alive = self.clock() - lag * self.ping_interval

    def greeted(self) -> None:
        """A connection said hello: an outage, if there was one, is over."""
        alive, self._alive = self._alive, None
        if alive is not None and self.clock() - alive >= self.read_back_after:
            self.on_back(alive)

    async def listen(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        """slack_sdk's message listener: every message of every connection, hello included."""
        if message.get("type") == "hello":
            self.greeted()


def socket_handler(
    app: AsyncApp,
    client: AsyncWebClient,
    app_token: str,
    url: str,
    *,
    ping_interval: float,
    on_refused: Callable[[FatalAdapterError], None],
    on_back: Callable[[float], None] | None = None,
    read_back_after: float = 60.0,
) -> AsyncSocketModeHandler:
    """Bolt's Socket Mode handler, set to connect to `url` (from `first_url`); a reconnect's
    URL that Slack refuses for the token is passed to `on_refused`, and the end of an outage
    of `read_back_after` seconds or more to `on_back` (`Outages`)."""
    outages = None if on_back is None else Outages(on_back, ping_interval, read_back_after=read_back_after)
    handler = AsyncSocketModeHandler(app, app_token=app_token, web_client=client, ping_interval=ping_interval)
    socket = handler.client
    # connect() asks for a URL only when it has none; reconnects replace it with a new one
    socket.wss_uri = url
    ask = socket.issue_new_wss_url
    if outages is not None:
        listeners: list[Callable[..., Awaitable[None]]] = socket.message_listeners
        listeners.append(outages.listen)

    async def issue_new_wss_url() -> str:
        if outages is not None:
            outages.lost(bool(socket.stale))
        try:
            return await ask()
        except SlackApiError as exc:
            code = slack_error(exc)
            if code in FATAL_APP_TOKEN_ERRORS:
                on_refused(refusal(code))
            raise

    socket.issue_new_wss_url = issue_new_wss_url  # type: ignore[method-assign]
    return handler
