"""What the core asks of a platform and what a platform asks of the core: Core, Adapter,
Channel and the looks a channel may offer, the lease a role is held by, the clock.

Narrow on purpose: the core can post, edit and open a thread, and nothing else of a
platform; rendering (Block Kit, embeds, mention escaping, splitting long text) is the
adapter's job.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from bot.config import Settings
from bot.types import (
    ActionEvent,
    ActionKind,
    Button,
    Command,
    ConversationRef,
    InboundMessage,
    Outcome,
    Posted,
    Reply,
    Shards,
)

if typing.TYPE_CHECKING:
    # what a message means to the core, as delivery hands it over (MessageHandler)
    from bot.inbox import Finish
    from bot.policy import Situation


class Core(Protocol):
    """What an adapter may ask of the conversation core: hand it events, replay what a dead
    process left. Adapters depend on this, never on the concrete SupportBot."""

    settings: Settings

    async def on_message(
        self, message: InboundMessage, channel: Channel, *, accepted: asyncio.Event | None = None
    ) -> Outcome: ...

    async def on_command(self, command: Command, channel: Channel) -> Outcome: ...

    async def on_action(self, event: ActionEvent, channel: Channel) -> Outcome: ...

    async def replay_pending(self, platform: str, channel: Channel) -> int: ...

    async def give_back(self, platform: str) -> int:
        """Hand this worker's unfinished events of `platform` to whichever worker serves it now
        (its gateway lease was lost): how many. Nothing on a store no other process shares."""
        ...

    async def active_conversations(
        self, platform: str, within: timedelta, shards: Shards | None = None
    ) -> list[tuple[ConversationRef, str | None]]:
        """Conversations the bot took part in within `within` (with `shards`, on those shards
        only), newest first, each with the platform id of the last message recorded in it:
        where a new gateway holder catches up."""
        ...

    async def last_heard(self, platform: str, shards: Shards | None = None) -> str | None:
        """The platform id of the newest message recorded on `platform` (with `shards`, on those
        shards only), or None: after it, a gateway connection that was lost may have missed
        new questions."""
        ...

    async def active_channels(self, platform: str, within: timedelta) -> list[tuple[str, str]]:
        """Each (workspace, channel) where the bot took part in a conversation within `within`,
        however many conversations that was: where a read-back looks for new questions."""
        ...

    async def note_heard(self, platform: str, mark: str) -> None:
        """Keep `mark` (the platform's own order, such as Slack's ts) as heard on `platform`,
        unless a later one is kept: heard, if not recorded (chatter)."""
        ...

    async def noted_heard(self, platform: str) -> str | None:
        """The latest mark `note_heard` kept for `platform`, by any worker, or None."""
        ...

    async def noted_heards(self, prefix: str) -> dict[str, str]:
        """Each place beginning with `prefix` a mark was noted as heard on, with that mark."""
        ...

    async def owe_read_back(self, platform: str, after: str) -> None:
        """A read-back of `platform` from the mark `after` is owed (starting, or something was
        left unrecorded): it stands until one covering it ends; the earliest owed counts."""
        ...

    async def owed_read_back(self, platform: str) -> str | None: ...

    async def owed_read_backs(self, prefix: str) -> dict[str, str]:
        """Each place beginning with `prefix` a read-back is owed on (a Slack workspace's), with
        its earliest point owed."""
        ...

    async def settle_read_back(self, platform: str, covered_from: str, covered_until: str) -> None:
        """A read-back ended having read everything said from `covered_from` until
        `covered_until`: what was owed from points between them is owed no more."""
        ...


class Lease(Protocol):
    """A role one process holds at a time among the workers sharing the state (the Discord
    gateway): bot/store/leases.py. Lost when the holder releases it or dies; `check` tells a
    holder whether it still has it. With state in SQLite there is none: one process holds all."""

    @property
    def held(self) -> bool: ...

    async def try_acquire(self, name: str) -> bool: ...

    async def check(self) -> bool: ...

    async def release(self) -> None: ...


class Adapter(Protocol):
    """One platform's connection: run it, reach its Channel, close it."""

    name: str  # the platform it serves: the key for its Channel

    @property
    def channel(self) -> Channel:
        """The adapter's Channel; raises RuntimeError until it is connected."""
        ...

    async def run(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class SharesHttp(Protocol):
    """An adapter that serves HTTP itself (Slack in HTTP mode): the dashboard lives on its port,
    under /admin, so one address serves both."""

    def share_http(self, make_app: Callable[[], Awaitable[Any]]) -> bool:
        """Serve the routes of the aiohttp application `make_app` builds (anew at each start)
        beside the adapter's own; False when this adapter serves no HTTP (Socket Mode)."""
        ...


# Told by an edit, as it goes, of the post as it now is (`Channel.edit`'s `on_change`).
PostChanged = Callable[[Posted], Awaitable[None]]


@runtime_checkable
class Channel(Protocol):
    """One platform's way of putting the core's replies in front of people."""

    async def send(self, reply: Reply) -> Posted:
        """Post a reply; raise on failure (the core decides what the user then sees)."""
        ...

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        """Replace a posted reply (streamed answers, ticket cards, thinking indicators) and
        return it as it now is: on a platform that shows a long reply in several messages
        (Discord), the messages it now takes, which may be more or fewer than before (a
        partial answer, ReplyKind.THINKING, keeps the post's messages as they are).

        `on_change` is awaited with the post as it now is each time the edit changes its
        messages (a part posted, the surplus deleted), before it goes on: whoever keeps the
        post (the inbox's note, an answer's record) names every message that exists, even when
        the edit stops half way (a crash, a refusal). An edit that fails takes back the
        messages it added; one that finds a message of the post deleted (MessageGone) deletes
        the rest: a post is shown whole or not at all."""
        ...

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        """Make (or find) the thread that replies to `message` go in and return its address.

        A message already in a thread returns that thread; a platform without threads
        returns the message's own conversation.
        """
        ...


@runtime_checkable
class FindsReplies(Protocol):
    """An optional Channel capability: find what the bot already posted in answer to a message.
    A process killed after its post went out but before the inbox noted it leaves the replay
    no post to resume; a channel that can look (Slack reads the thread; Discord the thread
    started from the message, or the history after it, where a reply that references the
    message is taken whoever spoke first) lets it edit that post instead of posting a second
    answer (bot/delivery.py)."""

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        """The bot's first message in `message`'s thread after it, when nobody else spoke in
        between (a later bot message would answer them), with the messages that continue it
        when it was too long for one (Discord); None when there is none, or it
        cannot tell. It raises, rather than return None, when the platform refused to let it
        look (Slack: a revoked token): the replay then fails and is taken again later, instead
        of answering a second time."""
        ...


@runtime_checkable
class FindsPosts(Protocol):
    """An optional Channel capability: find a message the bot posted in a channel by a button
    it shows. A process killed after a ticket's card went out but before the store noted it
    leaves a claim that lapses; the claim that takes it over asks first, and edits the card it
    finds instead of posting a second (bot/escalation/cards.py)."""

    async def find_post(self, where: ConversationRef, after: datetime, button: Button) -> Posted | None:
        """The bot's earliest message in `where` itself (not its threads) posted after `after`
        that shows `button` (the same action and value); None when there is none, or the bot
        may not read `where`. It raises when the platform failed to answer (the card is then
        tried again later, rather than posted twice)."""
        ...


@runtime_checkable
class KnowsOpenChannels(Protocol):
    """An optional Channel capability: whether everyone of the workspace may open a channel.
    A ticket's document scope does not say so: a guest's is public wherever they asked (a
    private channel, a group DM), and so is a Slack Connect channel's, which people of another
    organisation read, one customer's channel being no place to send another. An answer links
    someone else's similar resolved ticket only in a channel open to the whole workspace
    (bot/insights/similar_tickets.py). Without it, every channel but a DM counts as open."""

    async def open_to_workspace(self, where: ConversationRef) -> bool:
        """Whether everyone of `where`'s workspace may open its channel: False for a private
        channel, a group DM, a DM, a channel shared with another organisation, and when the
        platform cannot tell (a failed lookup): no link is better than a wrong one."""
        ...


@runtime_checkable
class TextInput(Protocol):
    """An optional Channel capability: ask the person who pressed a button to type some text
    (a Slack modal, a Discord modal). Check with `isinstance(channel, TextInput)`; a Channel
    without it (the console) cannot ask, and the core says so.

    The form must open as the answer to the press itself (Slack's trigger_id and Discord's
    interaction both expire in 3 seconds), so the core asks at once, before any slow work.
    What the person submits comes back later through `Core.on_action` as an ActionEvent with
    the same `action`, `value`, `conversation` and `message_id` as `event`, and `text` set."""

    async def ask_text(self, event: ActionEvent, *, title: str, label: str, initial: str) -> bool:
        """Open the form for `event`'s presser; False when the platform cannot now (the
        press is too old, or was not a button), and nothing was shown."""
        ...


# Buttons whose press may open a form: an adapter whose platform needs the form as the first
# answer to the press (Discord's modal) leaves such a press unacknowledged until the core has
# decided (acknowledging it anyway before the platform's deadline).
FORM_ACTIONS = frozenset({ActionKind.EDIT_DRAFT})


class Clock(Protocol):
    def now(self) -> datetime: ...


class MessageHandler(Protocol):
    """What a message means: the core's decision and the work it does (bot/core.py's
    SupportBot), as delivery hands a claimed message over (bot/delivery.py)."""

    def situation(self, message: InboundMessage) -> Situation: ...

    async def handle(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        resume: Posted | None,
        finish: Finish | None = None,
    ) -> Outcome: ...

    async def apologise(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        replacing: Posted | None = None,
        *,
        unsure: bool = False,
    ) -> None:
        """Hand `message` to people, saying something failed; `unsure`: whether it was answered
        is not known (a replay that could not look for its predecessor's post gave up)."""
        ...
