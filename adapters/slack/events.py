"""Slack events and the adapter's Bolt listeners, translated into the core's types.

This module owns the listener side of the adapter: which Bolt listeners exist and how each
acks (at once: the work goes to a tracked `InFlight` task, so Slack's 3-second deadline
holds whatever the answer costs; a message event is acked only once the core has recorded
it, and not at all if that fails or takes too long, so Slack delivers it again: but for
Slack's last retry, adapters/slack/retries.py), `app_mention` / `message` events as `InboundMessage`,
when the thinking reaction goes up and comes off (adapters/slack/thinking.py says how), and the
last-resort apology when the core failed to answer a message. What a slash command, a button
press or a submitted form becomes is adapters/slack/interactions.py's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.inflight import INDICATOR_AFTER_S, InFlight
from adapters.rate_limited_log import RateLimitedLog
from adapters.slack.channel import SlackChannel
from adapters.slack.client import PLATFORM, ctx, message_id
from adapters.slack.directory import SlackDirectory
from adapters.slack.forms import CALLBACK_ID
from adapters.slack.heard import Heard
from adapters.slack.interactions import (
    SlackInteractions,
    apologise,
    as_object,
    installed_enterprise,
    installed_team,
)
from adapters.slack.mrkdwn import mentions_user, plain_from_slack
from adapters.slack.retries import last_try
from adapters.slack.thinking import THINKING_PER_MINUTE, THINKING_REACTION, ThinkingReaction
from bot.config import Settings
from bot.messages import say
from bot.policy import detect_language
from bot.ports import Core, PostChanged
from bot.types import (
    Author,
    ConversationRef,
    InboundMessage,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)

log = logging.getLogger(__name__)

# how long an event's ack waits for the core to record the message (Slack allows 3 s)
ACCEPT_WITHIN_SECONDS = 2.0

# a channel shared with another organisation (Slack Connect), or no longer: what the bot
# quotes there changes at once (SlackDirectory.forget_channel)
SHARING_EVENTS = ("channel_shared", "channel_unshared")


class UnrecordedEvent(Exception):
    """An event the core did not record in time: it is not acknowledged, so Slack redelivers it."""


class _Receipt:
    """What the event listener learns from the task that hands the message to the core:
    settled (recorded, or nothing to record, or failed to record) and whether it failed."""

    def __init__(self, *, read_back: bool = False, last_try: bool = False) -> None:
        self.settled = asyncio.Event()
        self.failed = False
        self.read_back = read_back  # read back from the history: Slack will not deliver it again
        self.last_try = last_try  # Slack's last retry: acknowledged whatever (adapters/slack/retries.py)

    def settle(self, *, failed: bool = False) -> None:
        if not self.settled.is_set():
            self.failed = failed
            self.settled.set()


def log_bolt_error(error: Exception) -> None:
    """Bolt's error handler: a listener that raised. An UnrecordedEvent was logged where its
    cause is known (one line per delivery, not a traceback from here as well)."""
    if isinstance(error, UnrecordedEvent):
        return
    log.error("Bolt could not handle a request (%s)", type(error).__name__, exc_info=error, extra=ctx())


# Message subtypes that are people writing; every other subtype (joins, topic changes,
# deletions...) is not something to answer or record.
_HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})

EventKind = Literal["mention", "message", "bot", "edit"]
Ack = Callable[..., Awaitable[None]]


def event_kind(event: Mapping[str, Any]) -> EventKind | None:
    """What an event is to the adapter, or None for events it ignores (joins, deletions...)."""
    etype = event.get("type")
    if etype == "app_mention":
        return "mention"
    if etype != "message":
        return None
    subtype = event.get("subtype")
    if subtype == "bot_message":
        return "bot"
    if subtype == "message_changed":
        inner = event.get("message") or {}
        return "edit" if inner.get("subtype") in _HUMAN_SUBTYPES else None
    if subtype in _HUMAN_SUBTYPES:
        return "bot" if event.get("bot_id") else "message"
    return None


def _sent_at(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


class _Answering:
    """The Slack channel while one message is answered: notes when its first reply is posted,
    so the thinking reaction never goes up beside an answer already there."""

    def __init__(self, base: SlackChannel) -> None:
        self.base = base
        self.replied = asyncio.Event()

    async def send(self, reply: Reply) -> Posted:
        posted = await self.base.send(reply)
        self.replied.set()
        return posted

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        return await self.base.edit(posted, reply, on_change)

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        return await self.base.open_thread(message, title)

    async def open_to_workspace(self, where: ConversationRef) -> bool:
        """`bot.ports.KnowsOpenChannels`, for the similar ticket an answer may link."""
        return await self.base.open_to_workspace(where)


class SlackEvents:
    """The adapter's Bolt listeners and what they hand the core, for one connected workspace."""

    def __init__(
        self,
        core: Core,
        settings: Settings,
        directory: SlackDirectory,
        channel: SlackChannel,
        in_flight: InFlight,
        *,
        thinking_reaction: str = THINKING_REACTION,
        thinking_after: float = INDICATOR_AFTER_S,
        thinking_per_minute: float = THINKING_PER_MINUTE,
        heard: Heard | None = None,
    ) -> None:
        self.core = core
        self.settings = settings
        self.directory = directory
        self.channel = channel
        self.heard = heard
        self.thinking = ThinkingReaction(
            channel, name=thinking_reaction, after=thinking_after, per_minute=thinking_per_minute
        )
        self.interactions = SlackInteractions(core, directory, channel)
        self._tasks = in_flight
        # ids of messages being answered right now: a second copy of one (the message event
        # beside app_mention, or a Slack retry) must not add a second thinking reaction
        self._answering: set[str] = set()
        self._unrecorded = RateLimitedLog(
            log, more="%d more message(s) not recorded, last in %s", extra=ctx()
        )

    def register(self, app: AsyncApp) -> None:
        """Add the listeners to Bolt's app (the transport built it and feeds it requests)."""
        app.event("app_mention")(self._on_event)
        app.event("message")(self._on_event)
        app.command(self.settings.slack.slash_command)(self._on_command)
        app.action(re.compile(r"^supportbot:"))(self._on_action)
        app.view(CALLBACK_ID)(self._on_view)  # a form the core asked for (bot.ports.TextInput)
        for shared in SHARING_EVENTS:
            app.event(shared)(self._on_sharing)
        # Bolt leaves a request no listener matched without an ack, and Slack then redelivers
        # it (and disables apps that fail too often): acknowledge everything else, quietly.
        app.event(re.compile(r".*"))(self._on_other)
        app.action(re.compile(r".*"))(self._on_other)
        app.error(self._on_bolt_error)

    # listeners: ack, schedule, return ---------------------------------------------------

    async def _on_event(self, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        event = body.get("event") or {}
        if self.heard is not None:
            self.heard.saw(event)
        kind = event_kind(event)
        if kind is not None:
            # Bolt acks when this returns (process_before_response): wait until the core has
            # the message in its inbox, so a crash after the ack cannot lose it. Bounded well
            # inside Slack's 3 s; past it, or if recording failed, no ack (Bolt answers 500):
            # Slack delivers it again, and the inbox answers it once if this claim lands after
            # all. Slack's last try is acknowledged all the same: it is held either way.
            receipt = _Receipt(last_try=last_try(request.headers))
            self._spawn(self._handle_message_event(body, event, kind, receipt), what="event")
            try:
                async with asyncio.timeout(ACCEPT_WITHIN_SECONDS):  # wait_for may swallow a cancel (3.11)
                    await receipt.settled.wait()
            except TimeoutError:
                self._not_recorded(event, f"not recorded within {ACCEPT_WITHIN_SECONDS:.0f} s", receipt)
                self._left_to_slack(body, event)
                if not receipt.last_try:
                    raise UnrecordedEvent("the message was not recorded in time") from None
            if receipt.failed:
                self._left_to_slack(body, event)
                if not receipt.last_try:
                    raise UnrecordedEvent("the message could not be recorded")

    def _left_to_slack(self, body: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        """Not recorded: Slack delivers it again (unless this was its last try), and a
        read-back from before it is owed should all of that fail (adapters/slack/heard.py)."""
        if self.heard is not None:
            self.heard.hold(event, installed_team(body) or None, installed_enterprise(body))

    def _not_recorded(self, event: Mapping[str, Any], why: str, receipt: _Receipt) -> None:
        """One line per delivery Slack is left to repeat (or a read-back to try again), without
        a traceback (the cause is a store or Slack that is slow or down, and each delivery would
        repeat it), and at most one a second: an outage fails every event."""
        where = f"{event.get('channel') or '?'} (ts {event.get('ts') or '?'})"
        again = (
            "read back, to be tried again"
            if receipt.read_back
            else "Slack's last try, so acknowledged, and read back once it can be"
            if receipt.last_try
            else "not acknowledged, so Slack delivers it again"
        )
        self._unrecorded.write("not recorded", f"a message in {where}: {why}; {again}", last=where)

    def hand_over(self, team_id: str, event: Mapping[str, Any]) -> tuple[asyncio.Task[None], _Receipt] | None:
        """A message read back from Slack's history (adapters/slack/missed.py), answered as its
        live event would be, in flight: its task and whether it was recorded (nothing delivers
        it again: the read-back tries once more if not); None for what is not a person's message."""
        kind = event_kind(event)
        if kind != "message":
            return None
        receipt = _Receipt(read_back=True)
        task = self._spawn(
            self._handle_message_event({"team_id": team_id}, event, kind, receipt), what="event"
        )
        return task, receipt

    async def _on_command(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        self._spawn(self.interactions.handle_command(body), what="command")

    async def _on_action(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        self._spawn(self.interactions.handle_action(body), what="action")

    async def _on_view(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()  # an empty ack closes the modal
        self._spawn(self.interactions.handle_view(body), what="form")

    async def _on_sharing(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event") or {}
        if self.heard is not None:
            self.heard.saw(event)
        self.directory.forget_channel(str(event.get("channel") or ""))

    async def _on_other(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event") or {}
        if self.heard is not None:
            self.heard.saw(event)
        log.debug("ignoring %s", event.get("type") or body.get("type"), extra=ctx())

    async def _on_bolt_error(self, error: Exception, body: dict[str, Any]) -> None:
        log_bolt_error(error)

    def _spawn(self, work: Coroutine[Any, Any, None], *, what: str) -> asyncio.Task[None]:
        return self._tasks.start(self._guard(work, what), name=f"supportbot-slack-{what}")

    @staticmethod
    async def _guard(work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except Exception:
            # the boundary: nothing raises out of a Slack listener
            log.exception("failed to handle a Slack %s", what, extra=ctx(event=what))

    # messages ----------------------------------------------------------------------------

    async def translate(
        self, body: Mapping[str, Any], event: Mapping[str, Any], kind: EventKind
    ) -> InboundMessage | None:
        """A Slack message event as the core's InboundMessage (None if there is nothing to read)."""
        identity = self.directory.identity
        # Slack's fields as they are documented; anything else in their place reads as absent
        source = as_object(event.get("message")) if kind == "edit" else event
        channel = str(event.get("channel") or "")
        ts = str(source.get("ts") or "")
        user = str(source.get("user") or "")
        if not channel or not ts or not (user or kind == "bot"):
            return None
        is_bot = kind == "bot" or bool(source.get("bot_id"))
        raw_text = str(source.get("text") or "")
        thread = source.get("thread_ts")
        thread = str(thread) if thread and thread != ts else None  # a thread root is top-level
        visibility = await self.directory.visibility(
            channel, event.get("channel_type"), ext_shared=body.get("is_ext_shared_channel") is True
        )
        if user:
            author = await self.directory.author(user, is_bot=is_bot)
        else:
            author = Author(
                id=str(source.get("bot_id") or "bot"),
                name=str(source.get("username") or ""),
                is_bot=True,
            )
        ident = message_id(channel, ts)
        original = ident if kind == "edit" else None
        edited_at = None
        if kind == "edit":
            edited = as_object(source.get("edited")).get("ts") or event.get("ts") or ""
            ident = f"{ident}:edited:{edited}"  # an edit must never take its original's inbox slot
            edited_at = _sent_at(str(edited))
        return InboundMessage(
            id=ident,
            conversation=ConversationRef(
                platform=PLATFORM,
                workspace=installed_team(body) or str(event.get("team") or identity.team_id),
                channel=channel,
                thread=thread,
            ),
            author=author,
            text=plain_from_slack(raw_text, identity.bot_user_id),
            addressed=kind == "mention"
            or visibility == Visibility.DIRECT
            or mentions_user(raw_text, identity.bot_user_id),
            visibility=visibility,
            sent_at=_sent_at(ts),
            edited=kind == "edit",
            edit_of=original,
            edited_at=edited_at,
            raw=dict(event),
        )

    async def _handle_message_event(
        self,
        body: Mapping[str, Any],
        event: Mapping[str, Any],
        kind: EventKind,
        receipt: _Receipt | None = None,
    ) -> None:
        receipt = receipt or _Receipt()
        try:
            message = await self.translate(body, event, kind)
        except Exception as exc:
            receipt.settle(failed=True)
            self._not_recorded(event, f"could not read it ({type(exc).__name__}: {exc})", receipt)
            return
        except BaseException:
            receipt.settle(failed=True)
            raise
        if message is None:
            receipt.settle()  # nothing to keep: the listener may ack
            return
        # The app_mention and message copies of one mention (and Slack's retries) share an
        # id: the core's inbox answers it once; here only the first copy shows "thinking".
        first = message.id not in self._answering
        self._answering.add(message.id)
        channel, ts = message.conversation.channel, message.id.split(":")[1]  # "C:ts[:edited:...]"
        thinking = first and message.addressed and not message.author.is_bot and not message.edited
        reacted = False
        answering = _Answering(self.channel)
        try:
            recorded = asyncio.Event()
            outcome_task = asyncio.ensure_future(self.core.on_message(message, answering, accepted=recorded))
            waiter = asyncio.ensure_future(recorded.wait())
            await asyncio.wait({waiter, outcome_task}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            receipt.settle(failed=not recorded.is_set())
            if thinking and recorded.is_set():
                # shown once the question is in the inbox (the ack is not held up by it), and
                # only if the answer is slow to come
                reacted = await self.thinking.show_if_slow(channel, ts, outcome_task, answering.replied)
            outcome = await outcome_task
            # DEBUG, as the posts are: at INFO the core's own line (answered, ticket opened) is the
            # one line a question costs; every line is formatted and scanned for secrets
            log.debug(
                "message %s",
                outcome,
                extra=ctx(channel, thread_ts=message.conversation.thread, message_id=message.id),
            )
        except Exception as exc:
            if receipt.failed:
                # never recorded, never acked (but Slack's last try): delivered again, or held
                self._not_recorded(event, f"could not record it ({type(exc).__name__}: {exc})", receipt)
                return
            # The core reports its own failures to the asker; getting here means even that
            # failed. Someone who addressed the bot still gets a visible outcome.
            log.exception("the core failed on a message", extra=ctx(channel, message_id=message.id))
            if message.addressed and not message.author.is_bot and not message.edited:
                language = detect_language(message.text)
                await apologise(
                    Reply(
                        conversation=message.conversation,
                        text=say("error_no_ticket", language),
                        kind=ReplyKind.ERROR,
                        in_reply_to=message.id,
                    ),
                    self.channel,
                )
        finally:
            if reacted:
                await self.thinking.remove(channel, ts)
            if first:
                self._answering.discard(message.id)
