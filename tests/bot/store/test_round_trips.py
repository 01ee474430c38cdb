"""Fewer trips to PostgreSQL per answered question, with the same behaviour on both backends.

The event path's two multi-statement transactions (a message kept with its conversation's
activity; an event's finish with the answer it posted) are sent to PostgreSQL in one round
trip each (`one_trip`), and stay all-or-nothing on both backends. The round trips are
counted from libpq's own protocol trace (tests/bot/store/round_trips.py).
"""

from __future__ import annotations

import io
import itertools
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from bot.answering.trips import HISTORY_TURNS, Kept, history_and_memory, record_answer
from bot.app import Runtime
from bot.core import Outcome
from bot.insights.burst_window import RECENT_LIMIT, Look, observed
from bot.insights.incidents import open_incidents
from bot.insights.similar_tickets import recently_resolved
from bot.store import StateStore
from bot.store.answers import answer_statement
from bot.store.conversations import history_statement, history_turns, one_trip
from bot.store.followups import FollowupClaim
from bot.store.people import memory_of, memory_statement
from bot.store.queue import Reach, TicketQuery
from bot.store.rows import Reads, read_together, together
from bot.types import (
    Author,
    Completion,
    ConversationRef,
    EscalationReason,
    InboundMessage,
    Posted,
    Visibility,
)
from tests.bot.store.answer_fields import answer_fields
from tests.bot.store.round_trips import RoundTrips
from tests.bot.test_asker_replies import DISCORD, NoThreads
from tests.bot.test_escalation import CONFIG, STAFF, msg
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
NO_FLUSH = "set local synchronous_commit to off"
ASKER = Author(id="U1", name="Ann")


def _thread(n: int) -> ConversationRef:
    return ConversationRef(platform="slack", workspace="T1", channel="C1", thread=f"{n}.1")


def _answer(store: StateStore, ref: ConversationRef, asker: str = ASKER.id) -> int:
    return store.record_answer(**answer_fields(ref, NOW, asker))


def _done(answer_id: int, ref: ConversationRef, due: datetime | None, post: str = "p1") -> Completion:
    return Completion(
        answer_id=answer_id,
        posted=Posted(message_id=post, conversation=ref),
        text="Five to seven business days.",
        at=NOW,
        followup_due=due,
    )


def _inbox(store: StateStore) -> list[tuple[str, str]]:
    return [
        (row[0], row[1]) for row in store.db.execute("select key, status from inbox order by key").fetchall()
    ]


# -- the same behaviour on both backends ----------------------------------------------------


def test_a_finish_with_its_answer_writes_every_part_and_schedules_the_follow_up(state: Path | str) -> None:
    store = StateStore(state)
    ref = _thread(1)
    store.claim_event("slack:1", "slack", "{}", NOW)
    answer_id = _answer(store, ref)  # the conversation row does not exist yet: the upsert inserts it
    store.finish_event("slack:1", NOW, "answered", _done(answer_id, ref, NOW + timedelta(hours=24)))
    assert _inbox(store) == [("slack:1", "answered")]
    record = store.answer(answer_id)
    assert record is not None
    assert store.answer_to_message(ref.thread or "") == (record, "p1")
    assert [(t.role, t.text) for t in store.history(ref)] == [("bot", "Five to seven business days.")]
    conversation = store.conversation(ref.key)
    assert conversation is not None and conversation.bot_participating and not conversation.human_takeover
    assert store.followup_state(ref.key) == (NOW + timedelta(hours=24), answer_id, None)
    store.close()


def test_a_later_answer_moves_a_pending_follow_up_and_none_leaves_it(state: Path | str) -> None:
    store = StateStore(state)
    ref = _thread(2)
    store.record_message(
        ref, role="user", text="q", at=NOW, now=NOW, author=ASKER, platform_id="2.1", asker_id="U1"
    )
    first = _answer(store, ref)
    store.complete_answer(_done(first, ref, NOW + timedelta(hours=1)))
    second = _answer(store, ref)
    store.complete_answer(_done(second, ref, NOW + timedelta(hours=2), post="p2"))
    assert store.followup_state(ref.key) == (NOW + timedelta(hours=2), second, None)
    store.complete_answer(_done(_answer(store, ref), ref, None, post="p3"))  # no follow-up: unchanged
    assert store.followup_state(ref.key) == (NOW + timedelta(hours=2), second, None)
    conversation = store.conversation(ref.key)
    assert conversation is not None and conversation.asker_id == "U1"  # the asker is kept
    store.close()


def test_a_follow_up_once_sent_is_never_scheduled_again(state: Path | str) -> None:
    store = StateStore(state)
    ref = _thread(3)
    first = _answer(store, ref)
    store.complete_answer(_done(first, ref, NOW))
    assert store.claim_followup(ref.key, first, NOW) == FollowupClaim.CLAIMED  # sent
    store.complete_answer(_done(_answer(store, ref), ref, NOW + timedelta(hours=24), post="p2"))
    assert store.followup_state(ref.key) == (None, first, NOW)  # a thread is asked once
    store.close()


def _refuse_finishing(store: StateStore, key: str) -> None:
    """A trigger that refuses the inbox update finishing `key`: the last write of a finish."""
    if store.shared:
        store.db.execute(
            "create function refuse_finish() returns trigger language plpgsql as $$ begin "
            f"if new.key = '{key}' then raise exception 'refused' using errcode = 'check_violation'; "
            "end if; return new; end $$"
        )
        store.db.execute(
            "create trigger refuse_finish before update on inbox for each row execute function refuse_finish()"
        )
    else:
        store.db.execute(
            "create trigger refuse_finish before update on inbox "
            f"when new.key = '{key}' begin select raise(abort, 'refused'); end"
        )


def test_an_answer_is_never_recorded_without_its_event_finished(state: Path | str) -> None:
    """bot/inbox.py rule 3: the finish and the answer's record are one transaction. On SQLite
    too: sqlite-utils commits each write that finds no transaction open, so a plain
    `with db.conn:` around them was not one."""
    store = StateStore(state)
    ref = _thread(9)
    store.claim_event("slack:9", "slack", "{}", NOW)
    store.record_message(ref, role="user", text="q", at=NOW, now=NOW, author=ASKER, platform_id="9.1")
    answer_id = _answer(store, ref)
    _refuse_finishing(store, "slack:9")
    with pytest.raises(sqlite3.IntegrityError):
        store.finish_event("slack:9", NOW, "answered", _done(answer_id, ref, NOW + timedelta(hours=24)))
    assert _inbox(store) == [("slack:9", "pending")]
    assert store.answer_to_message(ref.thread or "") is None  # its post is not noted
    assert [t.role for t in store.history(ref)] == ["user"]  # nor the bot's message kept
    conversation = store.conversation(ref.key)
    assert conversation is not None and not conversation.bot_participating
    assert store.followup_state(ref.key) == (None, None, None)
    store.close()


def test_one_trip_is_all_or_nothing_when_a_statement_is_refused(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("slack:taken", "slack", "{}", NOW)
    insert = "insert into inbox (key, platform, received_at, status) values (?, 'slack', ?, 'pending')"
    with pytest.raises(sqlite3.IntegrityError), one_trip(store.db):
        store.db.execute(insert, ["slack:new", NOW.isoformat()])
        store.db.execute(insert, ["slack:taken", NOW.isoformat()])  # the key exists: refused
        store.db.execute("update inbox set status = 'done' where key = ?", ["slack:taken"])
    assert _inbox(store) == [("slack:taken", "pending")]  # neither the first insert nor the update
    store.claim_event("slack:after", "slack", "{}", NOW)  # and the connection is usable again
    assert _inbox(store) == [("slack:after", "pending"), ("slack:taken", "pending")]
    store.close()


def test_one_trip_writes_nothing_when_the_block_raises(state: Path | str) -> None:
    store = StateStore(state)
    ref = _thread(4)
    with pytest.raises(ValueError, match="in the middle"), one_trip(store.db):
        store._touch(ref, NOW, "U1")
        store._finish("slack:none", NOW, "done")
        raise ValueError("in the middle")
    assert store.conversation(ref.key) is None
    store.record_message(ref, role="user", text="q", at=NOW, now=NOW, author=ASKER, platform_id="4.1")
    assert [t.text for t in store.history(ref)] == ["q"]
    store.close()


def test_one_trip_inside_a_transaction_is_part_of_it(pg_url: str) -> None:
    """On PostgreSQL, where `with db.conn:` is one transaction (on SQLite, around sqlite-utils'
    writes, it is not: see the test above)."""
    store = StateStore(pg_url)
    first, second = _thread(5), _thread(6)
    with pytest.raises(ValueError), store.db.conn:
        store._touch(first, NOW, None)
        with one_trip(store.db):
            store._touch(second, NOW, None)
        raise ValueError("the outer transaction fails after the inner block")
    assert store.conversation(first.key) is None and store.conversation(second.key) is None
    with store.db.conn:
        store._touch(first, NOW, None)
        with one_trip(store.db):
            store._touch(second, NOW, None)
    assert store.conversation(first.key) is not None and store.conversation(second.key) is not None
    store.close()


# -- PostgreSQL: the round trips ------------------------------------------------------------


def test_keeping_a_message_and_finishing_with_an_answer_take_one_round_trip_each(pg_url: str) -> None:
    store = StateStore(pg_url)
    ref = _thread(7)
    store.claim_event("slack:7", "slack", "{}", NOW)
    answer_id = _answer(store, ref)
    with RoundTrips(store.db.connection) as kept:
        store.record_message(ref, role="user", text="q", at=NOW, now=NOW, author=ASKER, platform_id="7.1")
    with RoundTrips(store.db.connection) as finished:
        store.finish_event("slack:7", NOW, "answered", _done(answer_id, ref, NOW + timedelta(hours=24)))
    # begin, no waiting for the log flush, the upsert, the message, commit
    assert kept.trips == 1 and kept.total == 5 and kept.statements[NO_FLUSH] == 1
    # begin, answer, upsert, message, inbox, commit: the finish waits for the flush, as before
    assert finished.trips == 1 and finished.total == 6 and finished.statements[NO_FLUSH] == 0
    assert [t.role for t in store.history(ref)] == ["user", "bot"]
    assert _inbox(store) == [("slack:7", "answered")]
    store.close()


def test_reading_a_result_inside_one_trip_is_refused_and_nothing_is_written(pg_url: str) -> None:
    store = StateStore(pg_url)
    with pytest.raises(RuntimeError, match="no result"), one_trip(store.db):
        store.claim_event("slack:8", "slack", "{}", NOW)  # reads its rowcount: would sync midway
    assert _inbox(store) == []
    with pytest.raises(RuntimeError, match="transaction block"), one_trip(store.db), store.db.conn:
        pass
    assert store.claim_event("slack:8", "slack", "{}", NOW)
    store.close()


def _question(n: int, clock: FakeClock) -> InboundMessage:
    return InboundMessage(
        id=f"q{n}",
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1", thread=f"{n}.0"),
        author=Author(id=f"U{n % 3}", name="Ann"),
        text="How long does a refund take to arrive?",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )


async def test_an_answered_question_opens_no_transaction_with_a_round_trip_of_its_own(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock
) -> None:
    """The whole event path through the real core: every transaction on it travels as one
    pipeline (psycopg's own BEGIN, one trip by itself, is never sent), so it takes fewer
    round trips than statements. `pytest -s` prints the statements by kind."""
    rt = make_runtime(env={"SUPPORTBOT_DATABASE_URL": pg_url})
    channel = ConsoleChannel(io.StringIO())
    asked = 4
    for n in range(6):  # warm: psycopg prepares a statement on its fifth run, a trip of its own
        assert await rt.bot.on_message(_question(n, clock), channel) == Outcome.ANSWERED
    with RoundTrips(rt.state.db.connection) as trace:
        for n in range(10, 10 + asked):
            assert await rt.bot.on_message(_question(n, clock), channel) == Outcome.ANSWERED
    print(f"\nper answered question: {trace.trips / asked} round trips, {trace.total / asked} statements")
    for sql, count in trace.statements.most_common():
        print(f"{count / asked:5.2f}  {sql}")
    assert trace.statements["BEGIN"] == 0 and trace.statements["begin"] == 2 * asked
    assert trace.statements[NO_FLUSH] == asked  # the question kept; every other commit is flushed
    # one trip each: the question kept with the answer's history and the asker's memory read
    # after it (7 statements), the answer's record with the open incidents (2: the resolved
    # tickets it is compared with were read by the first question and are kept while fresh,
    # bot/insights/similar_tickets.py), the finish (6), the burst watch's bursts and window (2:
    # read after the finish, under the watch's lock, so other workers' rows have committed);
    # the claim and the conversation read are one statement each; the post is noted in the
    # finish's own update (a whole answer's note is left to the finish: bot/delivery.py)
    assert trace.trips == trace.total - (6 + 1 + 5 + 1) * asked
    assert trace.trips == 6 * asked


def test_the_history_and_the_memory_an_answer_starts_with_are_one_round_trip(pg_url: str) -> None:
    store = StateStore(pg_url)
    ref = _thread(9)
    store.record_message(ref, role="user", text="first", at=NOW, now=NOW, author=ASKER, platform_id="9.1")
    store.record_message(ref, role="user", text="second", at=NOW, now=NOW, author=ASKER, platform_id="9.2")
    store.set_memory_enabled("slack", ASKER.id, True, NOW)
    with RoundTrips(store.db.connection) as read:
        history, memory = history_and_memory(store, ref, None, ASKER.id)
    assert read.trips == 1 and read.total == 2
    assert [t.text for t in history] == ["first", "second"] and memory == store.memory("slack", ASKER.id)
    assert history == store.history(ref, HISTORY_TURNS)
    store.close()


def test_reads_sent_together_give_what_each_gives_alone(state: Path | str) -> None:
    """read_together on both backends: a pipeline on PostgreSQL, one after another on SQLite."""
    store = StateStore(state)
    ref = _thread(10)
    store.record_message(ref, role="user", text="hello", at=NOW, now=NOW, author=ASKER, platform_id="10.1")
    history, memory, none = read_together(
        store.db,
        [
            history_statement(ref, 5, None),
            memory_statement("slack", ASKER.id),
            ("select key from inbox where key = ?", ["nothing"]),
        ],
    )
    assert history_turns(history) == store.history(ref, 5)
    assert memory_of(memory) == store.memory("slack", ASKER.id) == (False, [])
    assert none == []
    store.close()


def _answer_statement(ref: ConversationRef) -> tuple[str, list[object]]:
    return answer_statement(**answer_fields(ref, NOW, ASKER.id))


def test_an_answer_is_recorded_with_what_it_is_compared_with(state: Path | str) -> None:
    """trips.record_answer on both backends: the record and the two reads that follow it give
    what each gives alone."""
    store = StateStore(state)
    ref = _thread(11)
    store.open_incident(
        platform="slack", text="Refunds are down", signatures="[]", by="U9", at=NOW, workspace="T1"
    )
    recorded = record_answer(store, _answer_statement(ref), ref, ref)
    record = store.answer(recorded.answer_id)
    assert record is not None and record.question == "How long does a refund take?"
    assert recorded.open_incidents == open_incidents(store, ref) and len(recorded.open_incidents) == 1
    assert recorded.resolved == recently_resolved(store, ref) == []
    alone = record_answer(store, _answer_statement(ref), None, None)
    assert alone.answer_id > recorded.answer_id and alone.open_incidents == [] and alone.resolved is None
    store.close()


def test_statements_sent_together_are_kept_whole_or_not_at_all(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("slack:taken", "slack", "{}", NOW)
    insert = "insert into inbox (key, platform, received_at, status) values (?, 'slack', ?, 'pending') returning key"
    first, read = together(
        store.db, [(insert, ["slack:new", NOW.isoformat()]), ("select count(*) from inbox", [])]
    )
    assert first.rows == [("slack:new",)] and first.columns == ("key",) and read.rows == [(2,)]
    with pytest.raises(sqlite3.IntegrityError):
        together(
            store.db, [(insert, ["slack:newer", NOW.isoformat()]), (insert, ["slack:taken", NOW.isoformat()])]
        )
    assert _inbox(store) == [("slack:new", "pending"), ("slack:taken", "pending")]  # not slack:newer
    store.close()


def test_an_answer_and_its_two_reads_are_one_round_trip(pg_url: str) -> None:
    store = StateStore(pg_url)
    ref = _thread(12)
    with RoundTrips(store.db.connection) as trip:
        recorded = record_answer(store, _answer_statement(ref), ref, ref)
    assert trip.trips == 1 and trip.total == 3  # no BEGIN or COMMIT: the pipeline's own transaction
    assert store.answer(recorded.answer_id) is not None
    store.close()


def _burst(store: StateStore) -> int:
    return store.record_burst(
        platform="slack",
        representative="refunds?",
        signatures="[]",
        askers=2,
        channels=["C1"],
        threads=["slack:T1:C1:1.1"],
        at=NOW,
        workspace="T1",
    ).id


def _look(seen: int = 0) -> Look:
    return Look(
        place=("slack", "T1"),
        now=NOW,
        since=NOW - timedelta(minutes=30),
        cooldown=NOW - timedelta(hours=1),
        seen=seen,
    )


def test_what_a_burst_watch_reads_is_what_each_read_gives_alone(state: Path | str) -> None:
    store = StateStore(state)
    look = _look()
    first = _answer(store, _thread(20))
    second = _answer(store, _thread(21), asker="U2")
    burst = _burst(store)
    read = observed(store, look)
    assert read.look == look
    assert [(b, None) for b in read.bursts] == store.burst_signatures_since(
        "slack", look.cooldown, "T1", {burst}
    )
    assert read.fresh == store.recent_questions("slack", look.since, RECENT_LIMIT, 0, "T1")
    assert {q.answer_id for q in read.fresh} == {first, second}  # asked at one time: in either order
    assert observed(store, _look(max(first, second))).fresh == []  # only what is new
    store.close()


def _read_steps(store: StateStore, look: Look) -> int:
    """How much work SQLite did for the burst watch's reads (its virtual machine's steps, in
    hundreds), with what it read checked on the way."""
    assert isinstance(store.db.conn, sqlite3.Connection)
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0  # go on

    store.db.conn.set_progress_handler(count, 100)
    try:
        observed(store, look)
    finally:
        store.db.conn.set_progress_handler(None, 100)
    return steps[0]


def test_a_burst_watch_read_costs_the_window_never_the_history(tmp_path: Path) -> None:
    """Each answer's watch reads what was recorded after `seen` by the primary key, newest id
    first; a first look (`seen` 0) reads the window's newest rows by time. Neither walks the
    history before the window: ten times the older rows cost no more."""
    steps: dict[int, tuple[int, int]] = {}
    for older in (300, 3000):
        store = StateStore(tmp_path / f"{older}.db")
        long_ago = NOW - timedelta(days=2)
        for n in range(older):
            store.record_answer(**answer_fields(_thread(1000 + n), long_ago, f"U-old{n}"))
        ids = [_answer(store, _thread(30 + n), asker=f"U{n}") for n in range(6)]
        assert [q.answer_id for q in observed(store, _look(ids[2])).fresh] == ids[:2:-1]
        assert {q.answer_id for q in observed(store, _look(0)).fresh} == set(ids)
        steps[older] = (_read_steps(store, _look(0)), _read_steps(store, _look(ids[2])))
        store.close()
    first, later = steps[300], steps[3000]
    assert later[0] <= 2 * first[0] + 2 and later[1] <= 2 * first[1] + 2, steps


def test_a_burst_watch_reads_in_one_round_trip(pg_url: str) -> None:
    store = StateStore(pg_url)
    _answer(store, _thread(22))
    _burst(store)
    with RoundTrips(store.db.connection) as trip:
        observed(store, _look())
    assert trip.trips == 1 and trip.total == 2
    store.close()


def _asked(ref: ConversationRef, message_id: str, text: str) -> InboundMessage:
    return InboundMessage(
        id=message_id,
        conversation=ref,
        author=ASKER,
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=NOW,
    )


def test_a_question_is_kept_with_the_reads_that_follow_it(state: Path | str) -> None:
    """history_and_memory with the question to keep: written first, then read in the same
    transaction (the history shows it), on both backends as the two calls one after another."""
    store = StateStore(state)
    ref = _thread(30)
    store.record_message(ref, role="bot", text="earlier", at=NOW, now=NOW, platform_id="30.0")
    question = _asked(ref, "30.1", "And refunds?")
    history, memory = history_and_memory(store, ref, None, ASKER.id, Kept(question, NOW))
    assert [(t.role, t.text) for t in history] == [("bot", "earlier"), ("user", "And refunds?")]
    assert history == store.history(ref, HISTORY_TURNS) and memory == store.memory("slack", ASKER.id)
    conversation = store.conversation(ref.key)
    assert conversation is not None and conversation.asker_id == ASKER.id
    history_and_memory(store, ref, None, ASKER.id, Kept(question, NOW))  # a replay keeps it once
    assert [t.text for t in store.history(ref)] == ["earlier", "And refunds?"]
    store.close()


def test_a_question_kept_and_its_reads_are_one_round_trip(pg_url: str) -> None:
    store = StateStore(pg_url)
    ref = _thread(31)
    question = _asked(ref, "31.1", "q")
    with RoundTrips(store.db.connection) as trip:
        history, _ = history_and_memory(store, ref, None, ASKER.id, Kept(question, NOW))
    # begin, no flush, the upsert, the message, the two reads, commit
    assert trip.trips == 1 and trip.total == 7 and [t.text for t in history] == ["q"]
    store.close()


def test_reads_ending_a_trip_are_read_once_it_is_over(state: Path | str) -> None:
    store = StateStore(state)
    store.claim_event("slack:40", "slack", "{}", NOW)
    reads = Reads(store.db)
    with one_trip(store.db):
        store._finish("slack:40", NOW, "done")
        reads.add("select status from inbox where key = ?", ["slack:40"])  # sees the write
        if store.shared:
            with pytest.raises(RuntimeError, match="no result"):
                store.db.execute("select 1").fetchall()  # inside the block: nothing to read yet
    assert reads.rows() == [[("done",)]]
    store.close()


# text that is SQL, quoting or placeholders if it is ever read as anything but a value
AWKWARD = [
    "'); delete from inbox; --",
    "it's 50% off; really \\ truly",
    "E'\\x00' $1 %s %(name)s ? :name",
    "환불은 며칠 걸리나요? 🙂",
    'a "quoted" word\nand a second line\twith a tab',
]


def test_awkward_text_travels_as_values_in_one_trip_and_together(state: Path | str) -> None:
    """A trip's writes and reads sent together: whatever a person types comes back exactly,
    and runs nothing."""
    store = StateStore(state)
    ref = _thread(40)
    for n, text in enumerate(AWKWARD):
        question = _asked(ref, f"40.{n}", text)
        history_and_memory(store, ref, None, ASKER.id, Kept(question, NOW))  # one_trip + together
    store.claim_event("slack:kept", "slack", AWKWARD[0], NOW)
    [turns] = read_together(store.db, [history_statement(ref, 10, None)])
    assert [t.text for t in history_turns(turns)] == AWKWARD
    assert _inbox(store) == [("slack:kept", "pending")]  # nothing was deleted
    store.close()


def test_a_nul_character_is_kept_as_u_fffd_whichever_way_it_travels(pg_url: str) -> None:
    """PostgreSQL's text refuses NUL (SQLite keeps it). Text that reaches the store without
    passing the chat's arrival scrub (a model's answer, a dashboard request) is kept with
    U+FFFD in its place, not refused: in a trip, in a single write, in a read's filter."""
    store = StateStore(pg_url)
    ref = _thread(41)
    history_and_memory(store, ref, None, ASKER.id, Kept(_asked(ref, "41.1", "bad\x00byte"), NOW))
    assert [t.text for t in store.history(ref)] == ["bad\ufffdbyte"]
    answered = store.record_answer(**(answer_fields(ref, NOW) | {"answer": "Five\x00 days."}))
    record = store.answer(answered)
    assert record is not None and record.answer == "Five\ufffd days."
    ticket, _ = store.create_ticket(ref=ref, asker=ASKER, question="q", reason=EscalationReason.ADMIN, at=NOW)
    draft = store.create_draft(
        ticket_id=ticket.id, title="t", question="q", answer="a", visibility="public", at=NOW
    )
    assert store.retitle_draft(draft.id, "Rotating\x00 keys")
    retitled = store.draft(draft.id)
    assert retitled is not None and retitled.title == "Rotating\ufffd keys"
    assert store.ticket_queue(TicketQuery(reach=(Reach(platform="slack"),), assignee="U\x00"), NOW).total == 0
    store.close()


# -- tickets read on the message path ----------------------------------------------------

_ids = itertools.count(1)


def _dm(text: str, clock: FakeClock) -> InboundMessage:
    return InboundMessage(
        id=f"dm{next(_ids)}",
        conversation=ConversationRef(platform="discord", workspace="dm", channel="DM-C"),
        author=Author(id="D-ASK", name="asker"),
        text=text,
        addressed=True,
        visibility=Visibility.DIRECT,
        sent_at=clock.now(),
    )


def _ticket_reads(trace: RoundTrips) -> int:
    return sum(n for sql, n in trace.statements.items() if "from tickets where conversation" in sql)


async def test_a_discord_dm_question_with_no_ticket_anywhere_reads_no_ticket(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock
) -> None:
    """Every message of a Discord DM after the first, from an asker who never had a ticket: a
    change of this session read their tickets for each (a review counted it); only "I'm all
    set" reads them there."""
    rt = make_runtime(DISCORD, {"SUPPORTBOT_DATABASE_URL": pg_url})
    channel = NoThreads(io.StringIO())
    for _ in range(6):  # warm, as the round-trip test does
        assert await rt.bot.on_message(_dm("How long does a refund take to arrive?", clock), channel) == (
            Outcome.ANSWERED
        )
    with RoundTrips(rt.state.db.connection) as trace:
        for _ in range(4):
            assert await rt.bot.on_message(_dm("How long does a refund take to arrive?", clock), channel) == (
                Outcome.ANSWERED
            )
    assert rt.state.tickets() == []
    assert _ticket_reads(trace) == 0, trace.statements.most_common()


async def test_a_staff_reply_in_a_bot_thread_reads_the_tickets_once(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock
) -> None:
    """A platform staff member's reply taking a bot thread over: the takeover reads the ticket it
    claims (active_ticket); nothing else on the path reads one unless the staff member is the
    thread's asker (a change of this session read every staff reply's tickets twice)."""
    rt = make_runtime(CONFIG, {"SUPPORTBOT_DATABASE_URL": pg_url})
    channel = ConsoleChannel(io.StringIO())
    threads = []
    for n in range(10):
        asked = msg("How long does a refund take to arrive?", thread=f"{n}.0")
        assert await rt.bot.on_message(asked, channel) == Outcome.ANSWERED
        threads.append(f"{n}.0")
    for t in threads[:6]:  # warm
        await rt.bot.on_message(msg("Let me check that", author=STAFF, thread=t, addressed=False), channel)
    with RoundTrips(rt.state.db.connection) as trace:
        for t in threads[6:]:
            assert (
                await rt.bot.on_message(
                    msg("Let me check that", author=STAFF, thread=t, addressed=False), channel
                )
                == Outcome.RECORDED
            )
    assert _ticket_reads(trace) == 4, trace.statements.most_common()


DRAFT_TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"
[slack.channels.C111]
mode = "draft"
"""


async def test_a_top_level_question_in_a_slack_draft_channel_reads_no_ticket(
    make_runtime: Callable[..., Runtime], pg_url: str, clock: FakeClock
) -> None:
    """Slack, where threads exist: a top-level question in a draft-mode channel is proposed on a
    staff card, and kept at the channel level, so that conversation has a state row; no ticket
    lives at a Slack channel's top level, and none is read (a change of this session read the
    tickets for each; a review counted it)."""
    rt = make_runtime(DRAFT_TOML, {"SUPPORTBOT_DATABASE_URL": pg_url})
    channel = ConsoleChannel(io.StringIO())

    def asked(n: int) -> InboundMessage:
        return InboundMessage(
            id=f"17000000{n:02d}.000100",
            conversation=ConversationRef(platform="slack", workspace="T1", channel="C111"),
            author=Author(id=f"U-ASK{n % 3}", name="Ann"),
            text="How long does a refund take to arrive?",
            addressed=False,
            visibility=Visibility.INTERNAL,
            sent_at=clock.now(),
        )

    for n in range(6):
        await rt.bot.on_message(asked(n), channel)
    with RoundTrips(rt.state.db.connection) as trace:
        for n in range(10, 14):
            await rt.bot.on_message(asked(n), channel)
    assert _ticket_reads(trace) == 0, trace.statements.most_common()
