"""Gateway shards: how many, which set of them this process holds, and which guild is where.

A bot in thousands of guilds must split its gateway into shards (`[discord] shards`, a
number or "auto" for the count Discord recommends on GET /gateway/bot). Discord sends a
guild's events only on shard `(guild_id >> 22) % shards`, and DMs on shard 0.

With workers sharing a PostgreSQL state, the shards are split into sets of
`[discord] shards_per_worker` consecutive shards (0: one set of all). Each set is a gateway
lease of its own (`ShardPlan.lease_name`), so every set has exactly one live holder, a worker
holds one set, and the workers left over stand by for whichever set loses its holder
(adapters/discord/standby.py). One set keeps the lease name of an unsharded bot, so a single
holder and its standbys behave as they did before sharding.

A set is served by one discord.py client: `AutoShardedClient` with the set's `shard_ids`
when there is more than one shard in all, the plain `Client` otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

from adapters.discord.translate import PLATFORM
from bot.config import DiscordSettings
from bot.errors import FatalAdapterError, PlatformError

log = logging.getLogger("adapters.discord")  # the adapter's one logger (see channel.py)

# the lease of the one set of an unsharded bot (or of all shards in one holder)
GATEWAY_LEASE = "discord-gateway"
# how long asking Discord for its recommended shard count may take
RECOMMEND_TIMEOUT = 10.0


@dataclass(frozen=True)
class ShardPlan:
    """The shard count and its sets: `sets[i]` are the shard ids one holder serves."""

    count: int
    sets: tuple[tuple[int, ...], ...]

    @classmethod
    def split(cls, count: int, per_worker: int) -> ShardPlan:
        """`count` shards in sets of `per_worker` (0, or more than there are: one set)."""
        if count < 1:
            raise ValueError(f"a bot has at least one shard, not {count}")
        size = per_worker if 0 < per_worker < count else count
        return cls(count, tuple(tuple(range(i, min(i + size, count))) for i in range(0, count, size)))

    def lease_name(self, index: int) -> str:
        """The lease of set `index`; it names the count, so workers that disagree on it (an
        "auto" count that changed between their starts) never share a name for other guilds."""
        if len(self.sets) == 1:
            return GATEWAY_LEASE
        shards = self.sets[index]
        return f"{GATEWAY_LEASE}/{self.count}/{shards[0]}-{shards[-1]}"

    @property
    def lease_names(self) -> tuple[str, ...]:
        return tuple(self.lease_name(i) for i in range(len(self.sets)))

    def shard_of(self, workspace: str) -> int:
        """The shard a conversation's events arrive on: its guild's, or 0 for a DM."""
        return (int(workspace) >> 22) % self.count if workspace.isdigit() else 0


async def plan_shards(settings: DiscordSettings, api: str, token: str, *, rejected: str) -> ShardPlan:
    """The plan `settings` ask for; "auto" asks Discord at `api` how many shards."""
    count = settings.shards
    if count == "auto":
        count = await recommended_shards(api, token, rejected=rejected)
        log.info("shards recommended by Discord", extra={"platform": PLATFORM, "shards": count})
    return ShardPlan.split(count, settings.shards_per_worker)


async def recommended_shards(api: str, token: str, *, rejected: str) -> int:
    """Discord's recommended shard count for this bot (GET /gateway/bot). `rejected` is the
    fatal error for a token Discord refuses; anything else is a PlatformError to retry."""
    timeout = aiohttp.ClientTimeout(total=RECOMMEND_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{api}/gateway/bot", headers={"Authorization": f"Bot {token}"}) as response,
        ):
            if response.status == 401:
                raise FatalAdapterError(rejected)
            if response.status != 200:
                raise PlatformError(f"GET /gateway/bot answered {response.status}: no shard count")
            body = await response.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PlatformError(f"could not ask Discord for the shard count: {type(exc).__name__}") from exc
    shards = body.get("shards") if isinstance(body, dict) else None
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise PlatformError(f"GET /gateway/bot recommended no usable shard count ({shards!r})")
    return shards
