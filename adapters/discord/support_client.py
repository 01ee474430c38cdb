"""discord.py's Client as the bot uses it, and what the bot asks Discord for at login.

This module owns the client itself: the four intents the bot needs (guilds, guild messages,
DM messages, message content) and no more, no default pings, its command tree, the guard on
dispatches discord.py cannot read, the paced bucket sweep, and routing each gateway event to
the client's `Events` handler; also what is said when Discord rejects the token or the
Message Content Intent (`doctor` says the same). Connecting, serving shards and closing are
`DiscordAdapter`'s (adapters/discord/client.py), which the client calls back as `ClientOwner`.
"""

from __future__ import annotations

from typing import Any, Protocol

import discord

from adapters.discord.bucket_sweep import pace_bucket_sweeps
from adapters.discord.command_tree import SupportTree
from adapters.discord.dispatch_guard import guard_parsers
from adapters.discord.events import Events
from adapters.discord.heard import Heard
from adapters.discord.missed import Marks
from bot.types import InboundMessage

TOKEN_REJECTED = (
    "the Discord token was rejected (401 Unauthorized). Set DISCORD_TOKEN to the bot token "
    "from the developer portal (your application > Bot > Reset Token); it is not the client "
    "secret or the application id"
)
INTENT_HOW = (
    "Enable it in the developer portal: https://discord.com/developers/applications > your "
    "application > Bot > Privileged Gateway Intents > Message Content Intent, save, then start "
    "the bot again. Without it the bot cannot read the questions people ask"
)
INTENT_MISSING = f"Discord refused the Message Content Intent (gateway close 4014). {INTENT_HOW}"


def support_intents() -> discord.Intents:
    """Exactly what the bot needs: guild structure (channels, threads, roles), guild and
    DM messages, and their content. No members or presences (privileged, not needed)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


# -- the client ---------------------------------------------------------------------------


class ClientOwner(Protocol):
    """What a client calls back at its session's milestones (`DiscordAdapter` in
    adapters/discord/client.py, named here by its shape so this module does not import it)."""

    # messages the store refused that a closed client kept, for the next (adapters/discord/holes.py)
    left_over: list[InboundMessage]
    client: SupportClient | None  # the process's own set's, and the adopted sets' clients
    adopted: list[SupportClient]

    async def setup(self, client: SupportClient) -> None: ...

    async def on_ready(self, client: SupportClient) -> None: ...

    async def on_shard_ready(self, client: SupportClient, shard_id: int) -> None: ...

    async def on_disconnect(self, client: SupportClient, shard: int | None) -> None: ...

    async def on_resumed(self, client: SupportClient, shard: int | None) -> None: ...


class SupportClient(discord.Client):
    """discord.Client with the bot's intents, no default pings, and its command tree."""

    def __init__(self, adapter: ClientOwner, *, guild_ready_timeout: float = 2.0, **sharding: Any) -> None:
        super().__init__(
            intents=support_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
            **sharding,
        )
        self.adapter = adapter
        # a dispatch discord.py cannot read is logged and skipped, not the connection's end
        self.skipped_dispatches = guard_parsers(self)
        pace_bucket_sweeps(self.http)  # a thread per question: discord.py's sweep is quadratic
        self.tree = SupportTree(self)  # out-of-date invocations told so, in one line
        self.events: Events | None = None  # set by the adapter before login
        # whether READY has come once: later ones are fresh sessions after a refused RESUME
        self.readied = False
        # per shard, where a fresh session reads back from (adapters/discord/missed.py), and
        # the newest message heard (adapters/discord/heard.py)
        self.marks = Marks()
        self.heard = Heard(self)

    @property
    def handler(self) -> Events:
        """Where events, slash commands and button presses (`SupportButton`) go."""
        if self.events is None:
            raise RuntimeError("the Discord adapter is not running")
        return self.events

    async def setup_hook(self) -> None:
        await self.adapter.setup(self)
        # an earlier client's, closed with them kept: those on this client's shards
        self.adapter.left_over[:] = self.heard.keep(self.adapter.left_over)

    async def on_connect(self) -> None:
        self.heard.connected(None)  # READY: a fresh session (a RESUMED one is on_resumed)

    async def on_ready(self) -> None:
        await self.adapter.on_ready(self)

    async def on_disconnect(self) -> None:
        await self.adapter.on_disconnect(self, None)

    async def on_resumed(self) -> None:
        await self.adapter.on_resumed(self, None)

    async def on_message(self, message: discord.Message) -> None:
        self.heard.saw(message)  # only the gateway's: a read-back hands its messages to `handler`
        self.handler.on_message(message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        self.handler.on_message_edit(before, after)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        # discord.py fires `on_message_edit` only for a message its cache holds (not one asked
        # before a restart, nor one its 1,000 latest pushed out): those come only as this. A
        # cached one comes as both, and is taken from `on_message_edit` alone
        if payload.cached_message is None:
            self.handler.on_message_edit(None, payload.message)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.handler.on_thread_create(thread)

    async def close(self) -> None:
        await super().close()
        await self.heard.flush()  # what was heard since the last write
        self.heard.holes.give_up(lambda message: pass_on(self.adapter, message))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # commands and buttons are routed by the tree and `SupportButton`; a submitted form
        # (the core's `ask_text`) has no stored handler, so that it survives restarts
        if interaction.type == discord.InteractionType.modal_submit:
            self.handler.on_modal_submit(interaction)


class ShardedSupportClient(SupportClient, discord.AutoShardedClient):
    """The same on some of the bot's shards: `shard_ids` of `shard_count` (discord.py's
    AutoShardedClient connects each, and fires `on_ready` once all of them are; a shard that
    IDENTIFYs again later fires only `on_shard_ready`)."""

    async def on_shard_ready(self, shard_id: int) -> None:
        await self.adapter.on_shard_ready(self, shard_id)

    # discord.py tells a sharded client of each shard's new session, loss and resumption as
    # shard events too: those name the shard, so the client-wide ones are left to them
    async def on_connect(self) -> None:
        return

    async def on_disconnect(self) -> None:
        return

    async def on_resumed(self) -> None:
        return

    async def on_shard_connect(self, shard_id: int) -> None:
        self.heard.connected(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        await self.adapter.on_disconnect(self, shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        await self.adapter.on_resumed(self, shard_id)


def pass_on(owner: ClientOwner, message: InboundMessage) -> None:
    """A message the store refused that a closed client kept: to a live client of this process
    on its shard, or left for the next client set up (`SupportClient.setup_hook`)."""
    for client in (owner.client, *owner.adopted):
        if client is not None and not client.is_closed() and client.heard.holds(message):
            client.heard.keep([message])
            return
    owner.left_over.append(message)
