"""`Insights`: the proactive-support services the core holds, and the clock work they share.

The core builds one `Insights` and passes its parts where they act: bursts and incidents to
the responder (after each answer), incidents to the buttons, everything to the commands.
`tick` is the insights' share of the core's clock: place new gap questions (and now and
then mark the gaps the docs answer now), post the weekly digest when it is due, and finish
what a worker that died (or a failed post) left undone: burst alerts not posted, threads
not told an incident is over. A failure in one part is logged and retried on the next tick;
it never stops the SLA clock or the replays that share the tick.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.config import Settings
from bot.insights.bursts import BurstWatch
from bot.insights.digest import Digest
from bot.insights.gaps import Gaps
from bot.insights.incidents import Incidents
from bot.insights.similar_tickets import SimilarTickets
from bot.ports import Channel, Clock
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore

log = logging.getLogger(__name__)


class Insights:
    def __init__(
        self, *, settings: Settings, store: AsyncStore, clock: Clock, knowledge: KnowledgeService
    ) -> None:
        self.bursts = BurstWatch(settings=settings, store=store, clock=clock)
        self.incidents = Incidents(store=store, clock=clock, knowledge=knowledge)
        self.gaps = Gaps(settings=settings, store=store, clock=clock, knowledge=knowledge)
        self.similar = SimilarTickets(store=store, clock=clock)
        self.digest = Digest(settings=settings, store=store, clock=clock, gaps=self.gaps)

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Clock work; returns how many messages it posted."""
        posted = 0
        try:
            await self.gaps.tick()  # new gap questions placed; addressed ones marked now and then
        except Exception:  # a boundary: the next tick tries again
            log.exception("placing knowledge-gap questions failed")
        try:
            posted += await self.digest.tick(channels)
        except Exception:  # a boundary: the claim goes stale and a later tick posts it
            log.exception("the weekly digest failed")
        try:
            posted += await self.bursts.tick(channels)
        except Exception:  # a boundary: a later tick posts them
            log.exception("posting burst alerts failed")
        try:
            posted += await self.incidents.tick(channels)
        except Exception:  # a boundary: a later tick tells them
            log.exception("telling threads an incident is over failed")
        return posted
