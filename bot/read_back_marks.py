"""What the core tells an adapter reading back what no connection of it heard (adapters/discord/
missed.py, adapters/slack/missed.py): where the bot talked lately, the newest message recorded,
and the newest mark noted as heard. `SupportBot` has these; they only read and note the state.
"""

from __future__ import annotations

from datetime import timedelta

from bot.ports import Clock
from bot.store import AsyncStore, StateStore
from bot.types import ConversationRef, Shards


class ReadBackMarks:
    store: AsyncStore
    clock: Clock

    async def active_conversations(
        self, platform: str, within: timedelta, shards: Shards | None = None
    ) -> list[tuple[ConversationRef, str | None]]:
        """Where the bot was talking within `within` (on `shards`, if given), with the last
        message recorded in each: a new Discord gateway holder fetches what came after
        (adapters/discord/standby.py)."""
        since = self.clock.now() - within
        return await self.store.run(StateStore.bot_conversations_since, platform, since, shards=shards)

    async def last_heard(self, platform: str, shards: Shards | None = None) -> str | None:
        """The id of the newest message recorded on `platform` (on `shards`), by any process."""
        return await self.store.run(StateStore.last_recorded, platform, shards=shards)

    async def active_channels(self, platform: str, within: timedelta) -> list[tuple[str, str]]:
        """Where the bot took part in a conversation within `within` (adapters/slack/missed.py)."""
        return await self.store.run(StateStore.channels_since, platform, self.clock.now() - within)

    async def note_heard(self, platform: str, mark: str) -> None:
        await self.store.run(StateStore.note_heard, platform, mark)

    async def noted_heard(self, platform: str) -> str | None:
        return await self.store.run(StateStore.noted_heard, platform)

    async def noted_heards(self, prefix: str) -> dict[str, str]:
        return await self.store.run(StateStore.noted_heards, prefix)

    async def owe_read_back(self, platform: str, after: str) -> None:
        await self.store.run(StateStore.owe_read_back, platform, after)

    async def owed_read_back(self, platform: str) -> str | None:
        return await self.store.run(StateStore.owed_read_back, platform)

    async def owed_read_backs(self, prefix: str) -> dict[str, str]:
        return await self.store.run(StateStore.owed_read_backs, prefix)

    async def settle_read_back(self, platform: str, covered_from: str, covered_until: str) -> None:
        await self.store.run(StateStore.settle_read_back, platform, covered_from, covered_until)
