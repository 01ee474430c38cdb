"""The two OAuth pages of multi-workspace HTTP mode: `/slack/install` and `/slack/oauth_redirect`.

Both are GET pages anyone may load, without a signature: this module owns what stands
between them and Bolt's OAuth flow. The request's body is never read (a GET's body means
nothing to either page, and one that is not text must not become an error); the install
page, which leaves a one-time state in the store, is limited per client address
(`InstallLimit`, keyed by `client_key`) on top of the store's bound on installs under way
(`installations.MAX_LIVE_STATES`), and each refusal is one rate-limited WARNING line. A
state the store cannot keep gets Bolt's failure page, as an install it cannot keep does.
The address is the TCP peer's: behind a reverse proxy every visitor shares the proxy's
(X-Forwarded-For is not trusted, as anyone can send it); see knowledge/deployment.md.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncFailureArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.rate_limited_log import RateLimitedLog
from adapters.slack.client import ctx
from adapters.slack.installations import INSTALL_PATH, STATE_SECONDS, TooManyInstalls

log = logging.getLogger(__name__)

PAGES_PER_WINDOW = 10  # install pages one address may open per window: a person needs one or two
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000  # addresses counted per window: what the counts may take in memory


def client_key(remote: str | None) -> str:
    """Who an install page is counted against: an IPv4 address, or an IPv6 address's /64 (one
    host or home network is usually given a whole /64: counting each address would let one
    visitor take as many turns as it has addresses)."""
    if not remote:
        return "an unknown address"
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote  # not an IP (a Unix socket's peer): counted as given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)  # an IPv4 visitor on a dual-stack socket
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class InstallLimit:
    """At most `per_window` install pages per client address in each `window` seconds.

    One visitor opening the page in a loop could otherwise fill the store's bound on
    installs under way and keep everyone else from starting one. The count is this
    process's (each worker keeps its own) and starts afresh each window, so the memory it
    takes is bounded by `max_clients`; past that, new addresses wait for the next window."""

    def __init__(
        self,
        *,
        per_window: int = PAGES_PER_WINDOW,
        window: float = WINDOW_SECONDS,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self._counts: dict[str, int] = {}
        self._window_ends = float("-inf")

    def allow(self, client: str) -> bool:
        now = self.clock()
        if now >= self._window_ends:
            self._counts.clear()
            self._window_ends = now + self.window
        seen = self._counts.get(client, 0)
        if seen >= self.per_window or (seen == 0 and len(self._counts) >= self.max_clients):
            return False
        self._counts[client] = seen + 1
        return True

    def retry_after(self) -> int:
        """Seconds until the window ends (what a refused client is told to wait)."""
        return max(1, int(self._window_ends - self.clock()) + 1)


class InstallPages:
    """The aiohttp handler of both pages, over Bolt's OAuth flow (which checks the state
    against the browser's cookie and consumes it in the store, once)."""

    def __init__(self, flow: AsyncOAuthFlow, *, limit: InstallLimit | None = None) -> None:
        self.flow = flow
        self.limit = limit or InstallLimit()
        self.refusals = RateLimitedLog(
            log, more="refused %d more install page request(s), last: %s", extra=ctx()
        )

    async def handle(self, request: web.Request) -> web.Response:
        # the query and the cookie are all either page reads: the body is left unread
        bolt_request = AsyncBoltRequest(
            body="",
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # as Bolt's aiohttp adapter passes them
        )
        if request.path != INSTALL_PATH:
            return await to_aiohttp_response(await self.flow.handle_callback(bolt_request))
        client = client_key(request.remote)
        if not self.limit.allow(client):
            return self._refuse(
                429, "too many install pages from one address", client, self.limit.retry_after()
            )
        try:
            response = await self.flow.handle_installation(bolt_request)
        except TooManyInstalls:
            # refusing the newcomer cancels nobody's install; states free up as they expire
            return self._refuse(503, "too many installs under way", client, STATE_SECONDS // 10)
        except BoltError as exc:
            # the state could not be kept (installations.py logged why): Bolt's failure page,
            # as for an install whose token could not be kept, with its link to start again
            failed = AsyncFailureArgs(
                request=bolt_request,
                reason="storage_error",
                error=exc,
                suggested_status_code=500,
                settings=self.flow.settings,
                default=self.flow.default_callback_options,
            )
            response = await self.flow.failure_handler(failed)
        return await to_aiohttp_response(response)

    def _refuse(self, status: int, reason: str, client: str, retry_after: int) -> web.Response:
        what = f"{reason} (HTTP {status})"
        self.refusals.write(str(status), f"refused an install page to {client}: {what}", last=what)
        return web.Response(
            status=status,
            text=f"{reason}; try again in a minute or two",
            headers={"Retry-After": str(retry_after)},
        )
