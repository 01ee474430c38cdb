"""The real clock: what `bot.ports.Clock` reads in a running bot (tests pass a fake one).

Apart from bot/ports/, which holds only protocols, so what builds a bot does not load every
port to get the time."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
