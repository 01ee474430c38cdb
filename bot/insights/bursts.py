"""Burst detection: many different people asking the same thing right now, told to the team once.

After each question is recorded, the questions asked on the same platform within
`[insights] burst_window_minutes` that are similar to it (bot/insights/similarity.py) form
its cluster. When `burst_min_askers` *different* people are in it, one alert goes to the
platform's triage channel, with the representative question, how many asked, where, links
to the threads and an *Open incident* button. The same cluster raises no second alert
within `burst_cooldown_minutes`. One person asking ten times is not a burst. The window is kept
in memory; a cluster about to be announced reads its questions back first, so one blanked since
(forget-me, here or on another worker) is never quoted, linked or counted.

"Was this cluster announced already?" and recording the new burst are one step (`claim_burst`,
on the store's thread): in this process an asyncio lock keeps two questions finishing together
apart, and across processes on PostgreSQL the step runs under the cluster-wide lock of the
platform's bursts, so of two workers seeing the same burst one alerts. The alert is posted
under a claim with a lease (bot/store/jobs.py `claim_post`) and marked posted after: a burst whose alert a
dead worker never posted, or whose post failed, is posted by a later clock tick (`tick`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot import policy
from bot.config import Settings
from bot.insights.burst_window import AskerIndex, Look, Place, Window, advance, observed, withdraw
from bot.insights.similarity import (
    Asked,
    Signature,
    best_match,
    signature,
    similar,
    similarity,
)
from bot.ports import Channel, Clock, Store
from bot.privacy.redaction import quoted
from bot.store import AsyncStore, StateStore
from bot.store.incidents import BurstRecord, PostKind, RecentQuestion
from bot.store.jobs import POST_LEASE
from bot.store.state import settle
from bot.types import ActionKind, Button, ButtonStyle, ConversationRef, Reply, ReplyKind

log = logging.getLogger(__name__)

CENTRAL_SAMPLE = 12
MAX_LINKED_THREADS = 5  # an alert links this many threads, newest first; the count says the rest


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """The questions of a burst, representative first."""

    members: tuple[RecentQuestion, ...]
    signatures: tuple[Signature, ...]

    @property
    def askers(self) -> int:
        return len({m.asker_id for m in self.members})

    @property
    def representative(self) -> str:
        return self.members[0].question

    @property
    def channels(self) -> tuple[str, ...]:
        keys = (ConversationRef.from_key(m.conversation).channel for m in self.members)
        return tuple(dict.fromkeys(keys))

    @property
    def threads(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(m.conversation for m in sorted(self.members, key=lambda m: m.at, reverse=True))
        )


def signatures_json(signatures: Sequence[Signature]) -> str:
    return "[" + ",".join(s.to_json() for s in signatures) + "]"


def signatures_from_json(text: str) -> list[Signature]:
    return [Signature.from_data(item) for item in json.loads(text or "[]")]


def distinct(signatures: Sequence[Signature]) -> list[Signature]:
    """`signatures` without repeats, in order. A burst is many people asking one thing, often
    in the same words: their signatures are equal, and comparing a question with each copy
    gives the same answer every time."""
    return list(dict.fromkeys(signatures))


# keyed by the fields, not the signature: a weak table holds its keys strongly, and a key that
# is the signature would keep every signature ever seen alive. With the fields as the key, an
# entry goes once no window, cache or burst holds its signature
_ONE: weakref.WeakValueDictionary[tuple[object, ...], Signature] = weakref.WeakValueDictionary()


def one_of(sig: Signature) -> Signature:
    """The one object for signatures equal to `sig`: what `cluster_of`'s identity test needs
    of every signature in its cache."""
    return _ONE.setdefault((sig.terms, sig.neighbours, sig.weights), sig)


def signature_of(q: RecentQuestion, cache: dict[int, Signature]) -> Signature:
    """`q`'s signature, made once (by `one_of`) and kept in `cache` by answer id."""
    found = cache.get(q.answer_id)
    if found is None:
        found = cache[q.answer_id] = one_of(signature(q.question, q.neighbours, scores=q.scores))
    return found


def cluster_of(
    newest: RecentQuestion,
    recent: Sequence[RecentQuestion],
    cache: dict[int, Signature],
    min_askers: int = 1,
    index: AskerIndex | None = None,
) -> Cluster | None:
    """The recent questions similar to `newest`, the most central one first (the one most
    similar to the rest says best what the cluster is about); None when fewer than
    `min_askers` different people asked them, which is most clusters of a busy window, and
    then their centrality is never computed. `cache`: signatures by answer id, each made
    by `one_of`; `index`: the window's askers (holding `recent` at least), which tells that
    usual no without a pass over `recent`."""

    def sig(q: RecentQuestion) -> Signature:
        return signature_of(q, cache)

    target = sig(newest)
    if index is not None and not index.may_reach(target, newest.asker_id, min_askers, sig):
        return None
    # `similar` skips the costly part for most pairs: two questions sharing no word and no
    # passage fail a set test, and neighbourhoods far apart fail before the words are compared.
    # Equal signatures (the same question in the same words: most of a burst) are one object
    # (`one_of`), compared once: `alike` is keyed by identity, as hashing a signature and
    # comparing it field by field for each of the window's rows was most of a busy window's
    # cost (bench/cluster_throughput.py: a third of a worker's CPU)
    alike: dict[int, bool] = {}

    def joins(q: RecentQuestion) -> bool:
        if q.answer_id == newest.answer_id:
            return True
        other = sig(q)
        found = alike.get(id(other))
        if found is None:
            found = alike[id(other)] = similar(target, other)
        return found

    # first whether enough people asked it: once one of a person's questions is in, their
    # others cannot change the count (one person asking ten times is not a burst)
    askers = {newest.asker_id}
    for q in recent:
        if q.asker_id not in askers and joins(q):
            askers.add(q.asker_id)
    if len(askers) < min_askers:
        return None
    members = [q for q in recent if joins(q)]
    if all(m.answer_id != newest.answer_id for m in members):
        members.append(newest)
    sigs = [sig(m) for m in members]
    # centrality within the newest CENTRAL_SAMPLE members: a big burst's representative is as
    # clear from a dozen of its questions as from all, at a bounded cost per answer
    sample = sigs[:CENTRAL_SAMPLE]
    summed: dict[Signature, float] = {}  # equal signatures have equal centrality: summed once
    for s in sigs:
        if s not in summed:
            summed[s] = sum(similarity(s, other) for other in sample)
    centrality = [summed[s] for s in sigs]
    order = sorted(range(len(members)), key=lambda i: (-centrality[i], members[i].at))
    return Cluster(members=tuple(members[i] for i in order), signatures=tuple(sigs[i] for i in order))


def claim_burst(
    store: Store, place: Place, cluster: Cluster, now: datetime, cooldown: datetime
) -> BurstRecord | None:
    """Record `cluster` as a new burst of `place` (a platform and a workspace on it), unless one
    like it was recorded since `cooldown`: checked and written alone cluster-wide, so one burst
    is announced once."""
    platform, workspace = place
    with store.exclusive(f"bursts:{platform}:{workspace}"):
        for earlier in store.bursts_since(platform, cooldown, workspace):
            members = distinct(signatures_from_json(earlier.signatures))
            if best_match(cluster.signatures[0], members) is not None:
                return None
        return store.record_burst(
            platform=platform,
            representative=cluster.representative,
            signatures=signatures_json(distinct(cluster.signatures)),  # read back for every claim
            askers=cluster.askers,
            channels=cluster.channels,
            threads=cluster.threads,
            at=now,
            workspace=workspace,
        )


class BurstWatch:
    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._signatures: dict[int, Signature] = {}  # by answer id: questions are analysed once
        self._bursts: dict[int, list[Signature]] = {}  # by burst id: an alert's questions, parsed once
        # per platform and workspace: a burst is one workspace's, with several installed one's
        # questions must never show in another's alert
        self._windows: dict[Place, Window] = {}
        self._askers: dict[Place, AskerIndex] = {}  # who asked what in each window
        self._lock = asyncio.Lock()  # two questions finishing together must not both alert

    def look(self, where: ConversationRef) -> Look:
        """The reads an observation of a question asked in `where` makes, fixed now."""
        s = self.settings.insights
        place: Place = (where.platform, where.workspace)
        now = self.clock.now()
        since = now - timedelta(minutes=s.burst_window_minutes)
        window = self._windows.get(place)
        return Look(
            place=place,
            now=now,
            since=since,
            cooldown=now - timedelta(minutes=s.burst_cooldown_minutes),
            seen=window.read_from(since) if window is not None else 0,
        )

    async def observe(
        self, answer_id: int, where: ConversationRef, channel: Channel, asked: Asked
    ) -> BurstRecord | None:
        """Look at the question just recorded as `answer_id` (asked in `where`, with what
        retrieval found for it in `asked`); alert if it completes a burst of that workspace."""
        async with self._lock:
            # read under the lock, once the answer's event is finished: looks taken earlier (in
            # the answer's own record, tried) ran before other workers' rows with lower ids had
            # committed, and a window that has read past an id never reads it
            read = await self.store.run(observed, self.look(where))
            look = read.look
            place, now, since, cooldown = look.place, look.now, look.since, look.cooldown
            platform, s = place[0], self.settings.insights
            window = self._windows.setdefault(place, Window())
            index = self._askers.setdefault(place, AskerIndex())
            # the window's newest RECENT_LIMIT questions, kept in memory and brought up to date
            # on every observation: each reads only the rows recorded since the last. Questions
            # another process records are read too; one it commits out of id order can be
            # missed, which costs a burst one ask, never an alert
            for gone in advance(window, index, read.fresh, since):
                self._signatures.pop(gone.answer_id, None)
            # a cluster is drawn from the window: with too few people in all of it, none can be a
            # burst (the usual case, a quiet window: no analysis)
            if window.askers < s.burst_min_askers:
                return None
            # the signatures of a burst not parsed yet: a trip of its own, once per burst
            announced: list[tuple[int, str | None]] = [(burst_id, None) for burst_id in read.bursts]
            if any(burst_id not in self._bursts for burst_id in read.bursts):
                announced = await self.store.run(
                    StateStore.burst_signatures, read.bursts, frozenset(self._bursts)
                )
            if self._announced(answer_id, asked, announced):
                return None  # during a burst already told, each further question costs one check
            recent = window.current(since)
            newest = next((q for q in recent if q.answer_id == answer_id), None)
            if newest is None or not newest.asker_id:
                return None
            cluster = cluster_of(newest, recent, self._signatures, s.burst_min_askers, index)
            live = sum(len(w.questions) for w in self._windows.values())
            if len(self._signatures) > live:  # some for questions no window holds any more
                self._forget_old({q.answer_id for w in self._windows.values() for q in w.questions})
            if cluster is None:
                return None
            cluster = await self._still_asked(cluster, newest, window, index, since)
            if cluster is None:
                return None
            burst = await self.store.run(claim_burst, place, cluster, now, cooldown)
            if burst is None:
                return None  # this cluster was already announced
        log.info("burst detected", extra={"platform": platform, "burst_id": burst.id, "askers": burst.askers})
        if self._triage(burst) is None:
            log.warning(
                "a burst was detected but no triage channel is set to tell",
                extra={"platform": burst.platform, "burst_id": burst.id},
            )
        await self._alert(burst, channel)
        return burst

    async def tick(self, channels: Mapping[str, Channel]) -> int:
        """Post the alerts of this cooldown's bursts that were recorded but not posted (the
        worker that recorded one died first, or the post failed); how many were posted."""
        # at least the lease's span: a short cooldown must not drop a failed alert before its retry
        cooldown = timedelta(minutes=self.settings.insights.burst_cooldown_minutes)
        since = self.clock.now() - max(cooldown, 2 * POST_LEASE)
        posted = 0
        for platform, channel in channels.items():
            for burst in await self.store.run(StateStore.unposted_bursts, platform, since):
                posted += await self._alert(burst, channel)
        return posted

    def _announced(self, answer_id: int, question: Asked, announced: list[tuple[int, str | None]]) -> bool:
        """Whether the question `answer_id` is like one of the bursts `announced` (within the
        cooldown: `Look`; claim_burst checks again cluster-wide, this spares the
        clustering)."""
        asked = question.signature()
        for gone in self._bursts.keys() - {burst_id for burst_id, _ in announced}:
            del self._bursts[gone]  # past its cooldown: never compared again
        for burst_id, text in announced:
            members = self._bursts.get(burst_id)
            if members is None:  # read only for a burst not parsed yet
                members = self._bursts[burst_id] = distinct(signatures_from_json(text or "[]"))
            # one alike member is enough: no need to find the most alike
            if any(similar(asked, member) for member in members):
                return True
        # the clustering comes next and needs this question's signature: analysed once (kept
        # only now, as `_forget_old` runs only after a clustering)
        self._signatures[answer_id] = one_of(asked)
        return False

    async def _still_asked(
        self, cluster: Cluster, newest: RecentQuestion, window: Window, index: AskerIndex, since: datetime
    ) -> Cluster | None:
        """`cluster` once its questions blanked in the store since the window read them are let
        go: a person who ran forget-me minutes ago (in this process or another worker's, which
        the window cannot see) must not be quoted, linked or counted in an alert, and retention
        may have blanked one too. Read back only for a cluster about to be announced, a trip per
        burst; None when too few askers are left."""
        blanked = await self.store.run(StateStore.blanked_questions, [m.answer_id for m in cluster.members])
        if not blanked:
            return cluster
        for gone in withdraw(window, index, blanked):
            self._signatures.pop(gone.answer_id, None)
        if newest.answer_id in blanked:
            return None
        min_askers = self.settings.insights.burst_min_askers
        return cluster_of(newest, window.current(since), self._signatures, min_askers, index)

    def _forget_old(self, live: set[int]) -> None:
        for answer_id in [a for a in self._signatures if a not in live]:
            del self._signatures[answer_id]

    def _triage(self, burst: BurstRecord) -> ConversationRef | None:
        """Where `burst`'s alert goes: its workspace's triage channel, if one is set."""
        first = ConversationRef.from_key(burst.threads[0])
        ps = policy.platform_settings(self.settings, burst.platform, first.workspace)
        if ps is None or not ps.triage_channel:
            return None
        return ConversationRef(platform=burst.platform, workspace=first.workspace, channel=ps.triage_channel)

    async def _alert(self, burst: BurstRecord, channel: Channel) -> bool:
        """Post `burst`'s alert unless another worker is posting it or has; whether this did."""
        where = self._triage(burst)
        if where is None:
            return False
        if not await self.store.run(StateStore.claim_post, PostKind.BURST_ALERT, burst.id, self.clock.now()):
            return False
        try:
            posted = await channel.send(alert(burst, where, self.settings.insights.burst_window_minutes))
        except Exception:
            log.exception("could not post a burst alert", extra={"burst_id": burst.id})
            # tried again by a tick a minute from now (the claim left alone lapses with the lease)
            with contextlib.suppress(Exception):
                await self.store.run(StateStore.retry_post, PostKind.BURST_ALERT, burst.id, self.clock.now())
            return False
        try:  # posted: no tick posts it again
            await settle(
                self.store,
                POST_LEASE,
                StateStore.set_burst_post,
                burst.id,
                posted.message_id,
                posted.conversation,
            )
        except Exception:
            log.exception(
                "a burst alert was posted but could not be marked so; it is posted again when its "
                "claim lapses",
                extra={"burst_id": burst.id},
            )
        return True


def alert(burst: BurstRecord, where: ConversationRef, window: int) -> Reply:
    """The alert as staff see it in the triage channel."""
    shown = burst.threads[:MAX_LINKED_THREADS]
    more = f" (and {len(burst.threads) - len(shown)} more)" if len(burst.threads) > len(shown) else ""
    text = (
        f"**{burst.askers} people asked about the same thing in the last {window} minutes.**\n"
        f"> {quoted(burst.representative, 200)}\n"  # one line: a line break would end the quote
        f"Threads: {len(burst.threads)}{more}.\n"
        "If something is broken, open an incident: answers to these questions will then say so."
    )
    return Reply(
        conversation=where,
        text=text,
        kind=ReplyKind.TICKET,
        buttons=(
            Button(
                action=ActionKind.OPEN_INCIDENT,
                label="Open incident",
                value=str(burst.id),
                style=ButtonStyle.DANGER,
            ),
        ),
        refers_to=ConversationRef.from_key(shown[0]),
        links=tuple(ConversationRef.from_key(t) for t in shown),
        channels=tuple(replace(where, channel=c) for c in burst.channels),
    )
