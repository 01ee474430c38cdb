"""Where a Discord message was written (adapters/discord/translate.py), through real discord.py
and the fake Discord: a guild this client has not cached is still that guild, never a DM."""

from __future__ import annotations

from adapters.discord import DiscordAdapter
from bot.app import Runtime
from bot.channel_types import DM_WORKSPACE
from tests.adapters.test_discord_adapter import MESSAGES, adapter, fake, runtime
from tests.fakes.discord_server import FakeDiscord

__all__ = ["adapter", "fake", "runtime"]  # the fixtures, imported from test_discord_adapter

UNCACHED_GUILD = "999999999999999999"  # a guild no GUILD_CREATE told the client about


async def test_a_message_from_a_guild_the_client_has_not_cached_belongs_to_that_guild(
    fake: FakeDiscord, adapter: DiscordAdapter, runtime: Runtime
) -> None:
    # discord.py gives such a message no guild, and a partial channel carrying the guild's id
    payload = fake.build_message_create("talk to a person please", mention_bot=True)
    payload["guild_id"] = UNCACHED_GUILD
    start = len(fake.requests)
    await fake.dispatch("MESSAGE_CREATE", payload)
    await fake.wait_for_request("POST", MESSAGES, after=start)
    await adapter.drain(5)

    [ticket] = runtime.state.tickets()
    assert ticket.conversation.workspace == UNCACHED_GUILD != DM_WORKSPACE
    assert ticket.conversation.channel == payload["channel_id"]
