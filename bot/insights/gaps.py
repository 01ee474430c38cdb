"""Knowledge gaps a team can work through: clusters of the questions the docs do not answer.

Questions the bot abstained on (hard gaps) and questions it answered that were then rated
not helpful, marked still stuck or escalated (soft gaps) are assigned, once each and in
asking order, to the most similar gap of the same kind (bot/insights/similarity.py), or
start a new one. A gap is *open*; *addressed* once a search of its representative question
is confident (for a soft gap: confident on another passage than the one that did not help),
which is what a reindex after writing the missing page does; the search sees what its askers
could (public documents only if any of them could see no more); or *dismissed* by staff,
hidden until `[insights] gap_reopen_asks` new asks. An addressed gap asked again reopens.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import Settings
from bot.insights.similarity import Signature, best_match, signature
from bot.ports import Clock, Store
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore, StateStore
from bot.store.gaps import GapKind, GapRecord, GapStatus
from bot.types import DocVisibility

log = logging.getLogger(__name__)

ALL = (GapStatus.OPEN, GapStatus.ADDRESSED, GapStatus.DISMISSED)
KNOWN_GAPS = 1000  # clusters a new question is compared with, most asked first
# how often the clock searches the docs for each open gap's question: a reindex is rare, and
# each check is one search per open gap (at most 200 of them)
ADDRESSED_EVERY = timedelta(minutes=10)


class Gaps:
    def __init__(
        self, *, settings: Settings, store: AsyncStore, clock: Clock, knowledge: KnowledgeService
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.knowledge = knowledge
        self._checked_at: datetime | None = None  # when the clock last looked for addressed gaps

    async def sync(self) -> int:
        """Put every new gap question in its cluster. Returns how many were placed."""
        return await self.store.run(place, self.settings.insights.gap_reopen_asks, self.clock.now())

    async def tick(self) -> int:
        """The clock's share: place new gap questions (the dashboard's gaps page shows what is
        placed, "as of" then), and every ADDRESSED_EVERY mark the open gaps the documentation
        now answers, on every platform: the page does neither, so it stays fast."""
        placed = await self.sync()
        now = self.clock.now()
        if self._checked_at is None or now - self._checked_at >= ADDRESSED_EVERY:
            self._checked_at = now
            await self._mark_addressed(None)
        return placed

    async def refresh(self, platform: str, workspaces: frozenset[str] | None = None) -> list[GapRecord]:
        """Sync, mark the open gaps (of the platform, or of some of its `workspaces`) the
        documentation now answers as addressed, and return the open ones, most asked first."""
        await self.sync()
        return await self._mark_addressed(platform, workspaces)

    async def _mark_addressed(
        self, platform: str | None, workspaces: frozenset[str] | None = None
    ) -> list[GapRecord]:
        """Mark the open gaps (of one platform or workspace, or all) a confident search now
        answers; the ones still open, most asked first."""
        still_open: list[GapRecord] = []
        gaps = await self.store.run(StateStore.gaps, platform, (GapStatus.OPEN,), 200, workspaces)
        public = await self.store.run(StateStore.public_gaps, [g.id for g in gaps])
        for gap in gaps:
            # what its askers could be answered from: a page only staff see answers no customer
            scope = DocVisibility.PUBLIC if gap.id in public else DocVisibility.INTERNAL
            if await self._answered_now(gap, scope):
                await self.store.run(StateStore.set_gap_status, gap.id, GapStatus.ADDRESSED, self.clock.now())
                log.info(
                    "a knowledge gap is now addressed", extra={"gap_id": gap.id, "platform": gap.platform}
                )
            else:
                still_open.append(gap)
        return still_open

    async def _answered_now(self, gap: GapRecord, scope: DocVisibility) -> bool:
        found = await self.knowledge.search(gap.representative, scope, k=1)
        if not found.passages or found.confidence < self.settings.answer.confidence_threshold:
            return False
        if gap.kind == GapKind.HARD:
            return True
        # an answer was given and did not help: only a different passage is news
        was = Signature.from_json(gap.signature).neighbours
        return not was or found.passages[0].chunk_id != was[0]

    async def dismiss(self, gap_id: int) -> bool:
        return await self.store.run(StateStore.set_gap_status, gap_id, GapStatus.DISMISSED, self.clock.now())


def place(store: Store, reopen_after: int, now: datetime) -> int:
    """Put every gap question not yet in a cluster into the most similar gap of its kind in
    its workspace, or a new one; in asking order, so a cluster's first question stays its
    representative. Runs on the store's thread (one writer) and, with several processes on
    PostgreSQL, under the cluster-wide `gaps` lock: two processes placing the same new
    question at once would otherwise each start a cluster for it. When another process holds
    it, it is placing them: this one skips (0), rather than hold up its store's thread, and
    every question behind it, waiting (the next tick places what is left). Returns how many
    were placed."""
    with store.exclusive("gaps", wait=False) as mine:
        return _place(store, reopen_after, now) if mine else 0


def _place(store: Store, reopen_after: int, now: datetime) -> int:
    placed = 0
    while batch := store.unassigned_gap_questions(500):
        known: dict[tuple[str, str, GapKind], tuple[list[int], list[Signature]]] = {}
        for candidate in batch:
            key = (candidate.platform, candidate.workspace, candidate.kind)
            if key not in known:
                gaps = [
                    g
                    for g in store.gaps(candidate.platform, ALL, KNOWN_GAPS, frozenset({candidate.workspace}))
                    if g.kind == candidate.kind
                ]
                known[key] = ([g.id for g in gaps], [Signature.from_json(g.signature) for g in gaps])
            ids, sigs = known[key]
            sig = signature(candidate.question, candidate.neighbours, scores=candidate.scores)
            match = best_match(sig, sigs)
            if match is not None:
                store.add_to_gap(ids[match], candidate, reopen_after, now)
            else:
                ids.append(store.create_gap(candidate, sig.to_json(), now).id)
                sigs.append(sig)
            placed += 1
    store.record_gap_placement(now)
    return placed
