"""The burst watch's view of a place's recent questions: what one observation reads (`Look`,
`Observed`), the window those reads keep up to date (`Window`: the newest RECENT_LIMIT
questions, added to and aged incrementally, so a busy hour costs each answer what changed,
not a pass over all of it) and who asked what in it (`AskerIndex`: whether a question can
have enough askers to be a burst, without a pass over the window). bot/insights/bursts.py
clusters what the window holds.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.insights.similarity import Signature, index_keys, similar
from bot.store import StateStore
from bot.store.incident_statements import burst_ids_statement, recent_statement
from bot.store.incidents import RecentQuestion, recent_of
from bot.store.rows import read_together

Place = tuple[str, str]  # a platform and a workspace on it: bursts never span two workspaces

# the newest questions of the window a new one is compared with: a burst shows among them, and
# a busy hour costs a bounded comparison per answer, not one that grows with the traffic
RECENT_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Look:
    """What one observation reads: the place, the times that bound the reads, and where the
    place's window stopped reading (taken under the watch's lock, once the answer's event is
    finished: `BurstWatch.look`)."""

    place: Place
    now: datetime
    since: datetime  # the window's start
    cooldown: datetime  # bursts announced since then are not announced again
    # where the read starts: the largest answer id the place's window held when the look was
    # taken, or 0 for the window's newest rows by time (`Window.read_from`)
    seen: int

    def statements(self) -> list[tuple[str, list[Any]]]:
        """The bursts announced in the place since `cooldown`, and the window's questions
        (since `since`) recorded after answer `seen`, a few rows per answer."""
        platform, workspace = self.place
        return [
            burst_ids_statement(platform, self.cooldown, workspace),
            recent_statement(platform, self.since, RECENT_LIMIT, self.seen, workspace),
        ]

    def read(self, ids: Sequence[Sequence[Any]], fresh: Sequence[Sequence[Any]]) -> Observed:
        """What `statements` gave, read."""
        return Observed(self, [row[0] for row in ids], recent_of(fresh))


@dataclass(frozen=True, slots=True)
class Observed:
    """What an observation reads (`Look.statements`)."""

    look: Look
    bursts: list[int]  # the bursts announced within the cooldown, newest first
    fresh: list[RecentQuestion]  # the window's questions recorded after the ones kept in memory


def observed(store: StateStore, look: Look) -> Observed:
    """An observation's reads: one trip to the store's thread, and on PostgreSQL one round trip."""
    ids, fresh = read_together(store.db, look.statements())
    return look.read(ids, fresh)


class Window:
    """One place's newest questions of the window (at most RECENT_LIMIT), newest first, kept up
    to date as observations come: each adds the rows recorded since the last (`seen`) and drops
    what aged out or fell past the limit, and the count of askers follows. An answer in a busy
    hour then costs what changed, not a pass over the whole window (three of them per answer
    before: a tenth of the event loop's time at 8 events in flight, bench/event_throughput.py).

    Rows come newest first; one another process committed out of order can sit behind an
    older one, so it may outstay the window by a little: `current` filters by time exactly,
    for the clustering, which alone can lead to an alert, and such a row is never what keeps a
    live one out. `seen` only grows: a row committed with a lower id after a higher one was
    read is not read (it costs a burst one ask, never an alert)."""

    def __init__(self) -> None:
        self.questions: deque[RecentQuestion] = deque()
        self.seen = 0  # the largest answer id read so far
        self._askers: Counter[str] = Counter()
        # rows that came in out of time order can age in the middle, where popping the oldest
        # end does not reach them: the earliest such row's time (None: none), and the latest
        # time added, which tells them (a row older than one already in is out of order)
        self._strays_from: datetime | None = None
        self._latest: datetime | None = None

    def update(self, fresh: Sequence[RecentQuestion], since: datetime) -> list[RecentQuestion]:
        """Add `fresh` (newest first), drop the aged and the surplus; what was dropped. Rows
        at or below `seen` are skipped: the window has read them already (a read brings only
        rows after `seen`; this keeps a row from being counted twice if one ever did)."""
        known = self.seen
        for q in reversed(fresh):
            if q.answer_id <= known:
                continue
            self.questions.appendleft(q)
            self.seen = max(self.seen, q.answer_id)
            if q.asker_id:
                self._askers[q.asker_id] += 1
            if self._latest is None or q.at >= self._latest:
                self._latest = q.at
            elif self._strays_from is None or q.at < self._strays_from:
                self._strays_from = q.at
        dropped: list[RecentQuestion] = []
        if len(self.questions) > RECENT_LIMIT and self._strays_from is not None and self._strays_from < since:
            # the rare row that outstayed its time in the middle must not keep a live one out.
            # Only such a row makes a pass over the window: an aged row in time order has only
            # aged rows behind it, and the oldest end is popped below
            kept = [q for q in self.questions if q.at >= since]
            dropped = [q for q in self.questions if q.at < since]
            self.questions = deque(kept)
            for gone in dropped:
                self._forget(gone)
            self._strays_from = _strays_from(kept)
        while self.questions and (len(self.questions) > RECENT_LIMIT or self.questions[-1].at < since):
            gone = self.questions.pop()
            dropped.append(gone)
            self._forget(gone)
        if not self.questions:  # nothing left out of order: `current` needs no pass again
            self._strays_from = self._latest = None
        return dropped

    def remove(self, answer_ids: Collection[int]) -> list[RecentQuestion]:
        """Drop the questions `answer_ids` (blanked in the store since they were read: never
        read again, as `seen` is past them); what was dropped."""
        gone = [q for q in self.questions if q.answer_id in answer_ids]
        if gone:
            self.questions = deque(q for q in self.questions if q.answer_id not in answer_ids)
            for q in gone:
                self._forget(q)
            if not self.questions:
                self._strays_from = self._latest = None
        return gone

    def _forget(self, gone: RecentQuestion) -> None:
        if gone.asker_id:
            self._askers[gone.asker_id] -= 1
            if not self._askers[gone.asker_id]:
                del self._askers[gone.asker_id]

    def read_from(self, since: datetime) -> int:
        """Where the next read starts: `seen` while the window holds a question asked since
        `since` (what was recorded after it is then a few rows), else 0: a first look, or a
        window gone quiet, reads the window's newest rows by time instead of every place's
        rows recorded since (bot/store/incident_statements.py `recent_statement`)."""
        return self.seen if self.questions and self.questions[0].at >= since else 0

    @property
    def askers(self) -> int:
        """How many different people asked in the window (at least: see the class)."""
        return len(self._askers)

    def current(self, since: datetime) -> list[RecentQuestion]:
        """The questions asked since `since`, newest first. In time order the aged ones are at
        the oldest end, where `update` pops them: only a row out of order can be left in the
        middle, so without one the window is all current, with no pass over its times (a
        twentieth of a busy worker's time went to that pass)."""
        no_strays_aged = self._strays_from is None or self._strays_from >= since
        if no_strays_aged and (not self.questions or self.questions[-1].at >= since):
            return list(self.questions)
        return [q for q in self.questions if q.at >= since]


def _strays_from(questions: Sequence[RecentQuestion]) -> datetime | None:
    """The earliest time among `questions` (newest first) of a row older than one behind it."""
    latest: datetime | None = None
    earliest: datetime | None = None
    for q in reversed(questions):
        if latest is None or q.at >= latest:
            latest = q.at
        elif earliest is None or q.at < earliest:
            earliest = q.at
    return earliest


def advance(
    window: Window, index: AskerIndex, fresh: Sequence[RecentQuestion], since: datetime
) -> list[RecentQuestion]:
    """`window.update(fresh, since)`, with `index` following what the window took in and let
    go; what was dropped."""
    known = window.seen
    dropped = window.update(fresh, since)
    index.add(q for q in fresh if q.answer_id > known)  # as the window takes rows in
    index.drop(dropped)
    return dropped


def withdraw(window: Window, index: AskerIndex, answer_ids: Collection[int]) -> list[RecentQuestion]:
    """`window.remove(answer_ids)`, with `index` letting them go too; what was dropped."""
    dropped = window.remove(answer_ids)
    index.drop(dropped)
    return dropped


class AskerIndex:
    """Who asked each distinct question of a window (equal signatures are one object: bursts.py
    `one_of`), filed under the terms and passages it has (`index_keys`). Whether a question can
    have `enough` different askers among the questions similar to it is then a look at the few
    distinct questions sharing a key with it, not at every question of the window: the common
    answer, no, cost a busy worker a sixth of its time as a pass (bench/cluster_throughput.py).
    It follows the window's changes (`add`, `drop`: a few rows per answer) and analyses a
    question only once a look needs it, so a quiet window costs nothing.

    It counts every question the window holds, aged rows out of time order too, and people
    whose id was erased as one: never fewer askers than the clustering (bursts.py `cluster_of`)
    counts over the window's current questions, so a no here is that clustering's no."""

    def __init__(self) -> None:
        self._waiting: dict[int, RecentQuestion] = {}  # added, not analysed yet
        self._rows: dict[int, tuple[Signature, str]] = {}  # answer id -> its signature, who asked
        self._askers: dict[int, tuple[Signature, Counter[str]]] = {}  # by signature identity
        self._postings: defaultdict[str, set[int]] = defaultdict(set)  # key -> signature identities

    def __len__(self) -> int:
        """How many questions it holds."""
        return len(self._waiting) + len(self._rows)

    def add(self, questions: Iterable[RecentQuestion]) -> None:
        for q in questions:
            self._waiting[q.answer_id] = q

    def drop(self, questions: Iterable[RecentQuestion]) -> None:
        for q in questions:
            if self._waiting.pop(q.answer_id, None) is None and q.answer_id in self._rows:
                self._drop(q.answer_id)

    def may_reach(
        self, target: Signature, asker: str, enough: int, sign: Callable[[RecentQuestion], Signature]
    ) -> bool:
        """False when fewer than `enough` different people, `asker` with them, asked questions
        similar to `target` (True may still be fewer, as the class says). `sign` makes a
        question's signature."""
        while self._waiting:
            answer_id, q = next(iter(self._waiting.items()))
            self._add(answer_id, sign(q), q.asker_id)  # if analysing one fails, it stays waiting
            del self._waiting[answer_id]
        askers = {asker}
        if len(askers) >= enough:
            return True
        shared: set[int] = set()
        for key in index_keys(target):
            shared.update(self._postings.get(key, ()))
        for identity in shared:
            sig, who = self._askers[identity]
            if who.keys() <= askers or not similar(target, sig):
                continue
            askers.update(who)
            if len(askers) >= enough:
                return True
        return False

    def _add(self, answer_id: int, sig: Signature, asker: str) -> None:
        self._rows[answer_id] = (sig, asker)
        identity = id(sig)
        entry = self._askers.get(identity)
        if entry is None:
            entry = self._askers[identity] = (sig, Counter())
            for key in index_keys(sig):
                self._postings[key].add(identity)
        entry[1][asker] += 1

    def _drop(self, answer_id: int) -> None:
        sig, asker = self._rows.pop(answer_id)
        identity = id(sig)
        who = self._askers[identity][1]
        who[asker] -= 1
        if who[asker] <= 0:
            del who[asker]
        if not who:
            del self._askers[identity]
            for key in index_keys(sig):
                filed = self._postings[key]
                filed.discard(identity)
                if not filed:
                    del self._postings[key]
