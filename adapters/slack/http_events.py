"""Slack's HTTP events endpoint: each request checked, handed to Bolt, and watched for what
Slack could not deliver.

Every request passes `adapters.slack.http_guard` first (size, timestamp and signature on the
raw bytes, then parsing: 413, 401 or 400 and one rate-limited log line, never a 5xx), then
Bolt. Two ways an event can be lost on this path are closed here, and Slack's last try of
an event is answered 200 within `LAST_TRY_WITHIN` seconds whatever happens to it (its
handling goes on if slower; a message among them held: adapters/slack/retries.py says why):

- **The install could not be read.** With installs (OAuth), Bolt looks the workspace's up
  before any listener runs, and takes a lookup that raised (the state store down) for "not
  installed": it answers 200 with a note, Slack counts the event delivered, and the question
  is gone. Such an event is answered 503 instead, for Slack to deliver again, and a message
  is held (`Heard.hold`: a read-back from before it is owed, should every worker stay down
  past Slack's retries). A command or a button press, which Slack sends once, gets Bolt's
  note, which the transport sets to an apology (not "install this app").
- **Slack could not reach the endpoint** (a proxy, TLS, DNS, the network) while the process
  ran: Socket Mode sees its connection drop (`adapters.slack.socket_mode.Outages`); HTTP mode
  sees only silence, which is as often a quiet workspace. `Silences` tells them apart by
  Slack's own evidence: an event delivered as a retry (`X-Slack-Retry-Num`, for a reason other
  than our slowness) that was first sent during a silence of `read_back_after` seconds or more
  was sent while Slack could not reach us, and what was sent early in that silence may have
  run out of retries: the adapter reads back from the silence's start, at once (the
  read-back is owed in the state from its start until it ends, so a restart meanwhile reads
  it again). An outage after which nothing is retried (nothing said in its last five
  minutes) leaves no evidence.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from adapters.rate_limited_log import RateLimitedLog
from adapters.slack import http_guard
from adapters.slack.client import ctx
from adapters.slack.heard import Heard
from adapters.slack.http_guard import Refusal, SlackRequestGuard
from adapters.slack.installations import watching_lookups
from adapters.slack.interactions import installed_enterprise, installed_team
from adapters.slack.retries import LAST_TRY_WITHIN, last_try, retry_reason

log = logging.getLogger(__name__)

# Slack tries an event again at once, after a minute and after five; an event first sent during
# a silence can come as a retry this long after the silence ended
RETRY_SPAN = 6 * 60.0
# shorter gaps between requests are not silences, whatever read_back_after_seconds says ("0:
# always read back" is for starts; here it would make every request a silence)
SILENT_AT_LEAST = 1.0
# an event sent this close before the request that ended a silence may have been that request,
# or on its way with it: its retry says nothing about whether Slack could reach us
DELIVERY_LAG = 3.0
# a retry for this reason means Slack reached us and we were slow: no evidence of an outage
REACHED = frozenset({"http_timeout"})


class Silences:
    """Stretches of `read_back_after` seconds or more in which no signed request arrived, kept
    for `RETRY_SPAN` after they end; `on_back(start, team)` when a retried event shows one was
    an outage (first sent in it, for a reason other than our slowness), once a silence."""

    def __init__(
        self,
        on_back: Callable[[float, str | None], None],
        *,
        read_back_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_back = on_back
        self.silent_after = max(read_back_after, SILENT_AT_LEAST)
        self.clock = clock
        self._last = clock()  # what came before serving began, the start's read-back covers
        self._silences: deque[tuple[float, float]] = deque()  # (last arrival before, first after)

    def arrived(self, retry: str | None, sent_at: float | None, team: str | None = None) -> None:
        """A signed request arrived; `retry` is Slack's reason if it sent it before, `sent_at`
        the epoch time its event was first sent (the envelope's `event_time`), if it is one."""
        now = self.clock()
        if now - self._last >= self.silent_after:
            self._silences.append((self._last, now))
        self._last = max(self._last, now)
        while self._silences and now - self._silences[0][1] > RETRY_SPAN:
            self._silences.popleft()
        if retry is None or retry in REACHED or sent_at is None:
            return
        # event_time is whole seconds, the arrivals are not: a second's leeway at the start
        outage = next((s for s in self._silences if s[0] - 1 <= sent_at < s[1] - DELIVERY_LAG), None)
        if outage is not None:
            self._silences.remove(outage)
            log.warning(
                "Slack could not reach this endpoint for %.0f s; reading back what was said meanwhile",
                outage[1] - outage[0],
                extra=ctx(workspace=team) if team else ctx(),
            )
            self.on_back(outage[0], team)


class HttpEvents:
    """`POST /slack/events`: the guard, Bolt, and what Bolt's answer would lose."""

    def __init__(
        self,
        app: AsyncApp,
        guard: SlackRequestGuard,
        refusals: http_guard.RateLimitedLog,
        heard: Heard,
        silences: Silences | None,
    ) -> None:
        self.app = app
        self.guard = guard
        self.refusals = refusals
        self.heard = heard
        self.silences = silences
        # a store outage fails every request: one line a second
        self._unread = RateLimitedLog(
            log, more="%d more event(s) not handled, the last of workspace %s", extra=ctx()
        )

    async def handle(self, request: web.Request) -> web.Response:
        # size, timestamp and signature on the raw bytes, then parsing; Bolt sees only what
        # passed (and checks the signature and timestamp once more before any listener runs)
        checked = await self.guard.check(request)
        if isinstance(checked, Refusal):
            self.refusals.refused(checked, request.remote)
            return checked.response()
        body: Mapping[str, Any] = checked.body if isinstance(checked.body, Mapping) else {}
        if self.silences is not None:
            self.silences.arrived(retry_reason(checked.headers), _sent_at(body), installed_team(body) or None)
        is_event = body.get("type") == "event_callback"
        last = is_event and last_try(checked.headers)
        with watching_lookups() as lookup:
            if last:
                response = await self._in_time(checked)
                if response is None:
                    return self._unhandled(body, f"not handled within {LAST_TRY_WITHIN:g} s", last=True)
            else:
                response = await self.app.async_dispatch(checked)
        if lookup.failed and is_event:
            return self._unhandled(body, "its install could not be read", last=last)
        if last and response.status >= 500:  # a listener that failed: no other try will come
            return self._unhandled(body, f"Bolt answered {response.status}", last=True)
        return await to_aiohttp_response(response)

    async def _in_time(self, checked: AsyncBoltRequest) -> BoltResponse | None:
        """Bolt's answer to Slack's last try of an event if it comes within `LAST_TRY_WITHIN`
        (a slow store: the install's lookup, the message's claim), else None; the handling
        goes on meanwhile, in flight (an uninstall still deletes the install once the store
        is free; a message left unrecorded is the hold's)."""
        answered: list[BoltResponse] = []

        async def dispatch() -> None:
            answered.append(await self.app.async_dispatch(checked))

        task = self.heard.in_flight.start(dispatch(), name="supportbot-slack-last-try")
        await asyncio.wait({task}, timeout=LAST_TRY_WITHIN)
        return answered[0] if answered else None

    def _unhandled(self, body: Mapping[str, Any], why: str, *, last: bool) -> web.Response:
        """An event no listener handled (its install unread), or not in time, or that failed:
        a message is held, and it is answered 503, for Slack to send it again, unless this was
        Slack's `last` try (200: adapters/slack/retries.py)."""
        team = installed_team(body) or "?"
        event = body.get("event")
        held = isinstance(event, Mapping) and self.heard.hold(
            event, team if team != "?" else None, installed_enterprise(body)
        )
        then = "Slack sends it again"
        if last:
            then = "Slack's last try, acknowledged" + (": read back if not recorded" if held else "")
        self._unread.write("unhandled", f"an event of workspace {team}: {why}; {then}", last=team)
        if last:
            return web.Response(status=200)
        return web.Response(status=503, text="the state store is unavailable")


def _sent_at(body: Mapping[str, Any]) -> float | None:
    sent = body.get("event_time")
    if not isinstance(sent, int | float) or isinstance(sent, bool):
        return None
    try:
        when = float(sent)
    except OverflowError:  # an integer past any float: no time
        return None
    return when if math.isfinite(when) else None
