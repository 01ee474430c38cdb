"""Socket Mode's connection: the first URL asked for with SLACK_APP_TOKEN, and Bolt's handler.

slack_sdk's `connect()` asks for a URL (apps.connections.open) inside a loop that logs each
failure with a traceback and tries again for ever: a refused app-level token would leave the
adapter starting for good. So the adapter asks for the first URL itself, once, and a refusal
that retrying cannot cure stops it (`FatalAdapterError`, saying what to check); the handler
is then built with that URL, so its `connect()` opens the socket straight away. Reconnects
after that are slack_sdk's own, but a refusal there (the token revoked while connected) is
handed to the adapter (`on_refused`), which stops: retrying it would leave the bot deaf for
good, logging an error every ping interval.
"""

from __future__ import annotations

from collections.abc import Callable

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


def socket_handler(
    app: AsyncApp,
    client: AsyncWebClient,
    app_token: str,
    url: str,
    *,
    ping_interval: float,
    on_refused: Callable[[FatalAdapterError], None],
) -> AsyncSocketModeHandler:
    """Bolt's Socket Mode handler, set to connect to `url` (from `first_url`); a reconnect's
    URL that Slack refuses for the token is passed to `on_refused`."""
    handler = AsyncSocketModeHandler(app, app_token=app_token, web_client=client, ping_interval=ping_interval)
    socket = handler.client
    # connect() asks for a URL only when it has none; reconnects replace it with a new one
    socket.wss_uri = url
    ask = socket.issue_new_wss_url

    async def issue_new_wss_url() -> str:
        try:
            return await ask()
        except SlackApiError as exc:
            code = slack_error(exc)
            if code in FATAL_APP_TOKEN_ERRORS:
                on_refused(refusal(code))
            raise

    socket.issue_new_wss_url = issue_new_wss_url  # type: ignore[method-assign]
    return handler
