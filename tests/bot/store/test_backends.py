"""Every repository on both backends: the same calls give the same answers on SQLite and on
PostgreSQL (reports, forget-me, retention, gaps, incidents, follow-ups, jobs, drafts, memory)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.answering.trips import record_answer
from bot.insights.collect import collect
from bot.insights.gaps import place
from bot.insights.metrics import Scope
from bot.insights.report import ReportFormat, render
from bot.store import StateStore, retention
from bot.store.answers import answer_statement
from bot.store.followups import FollowupClaim
from bot.store.gaps import GapStatus
from bot.store.incidents import PostKind
from bot.store.jobs import POST_LEASE
from bot.store.queue import Reach
from bot.types import Author, ConversationRef, EscalationReason, Posted, TicketStatus
from tests.bot.insights.week import DEFINITIONS, NOW, WEEK, ask, at, escalate, say, script_week, thread
from tests.bot.store.answer_fields import answer_fields


def _week_report(target: Path | str) -> dict[str, Any]:
    store = StateStore(target)
    try:
        script_week(store)
        place(store, 3, WEEK.until)
        report: dict[str, Any] = json.loads(
            render(collect(store, WEEK, Scope(), DEFINITIONS), ReportFormat.JSON)
        )
        return report
    finally:
        store.close()


def test_the_weekly_report_is_the_same_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    on_sqlite, on_postgres = _week_report(tmp_path / "state.db"), _week_report(pg_url)
    assert on_postgres == on_sqlite
    assert on_postgres["metrics"]["questions"] > 0


def test_stats_gaps_and_usage(state: Path | str) -> None:
    store = StateStore(state)
    assert store.figures_version() == (0, 0, 0, 0)  # an empty store
    ref = thread()
    answered = ask(store, ref, "U1", at(1, 10))
    asked = store.figures_version()
    assert asked[0] > 0 and asked[1] > 0  # a question and its message
    ask(store, thread(), "U2", at(1, 11), answered=False, question="Where is the SSO page?")
    ask(store, thread(), "U3", at(1, 12), answered=False, question="where is the sso page? ")
    store.add_feedback(answered, "U1", "not_helpful", at(1, 10, 5))
    assert store.figures_version()[3] > 0  # a rating
    stats = store.stats()
    assert (stats.questions, stats.answered, stats.abstained, stats.not_helpful) == (3, 1, 2, 1)
    assert store.stats(platform="discord").questions == 0
    [(question, asks)] = store.knowledge_gaps(platform="slack")
    assert question.lower().strip() == "where is the sso page?" and asks == 2
    # a model's usage counts the answers it was asked for (tokens in), not the others
    for asker, tokens_in in (("U1", 120), ("U2", 80), ("U1", 0)):  # 0: the model never asked
        store.record_answer(
            ref=thread(), message_id=f"m-{asker}-{tokens_in}", asker_id=asker, question="Refunds?",
            answer="Five to seven days [1].", confidence=0.9, language="en", answerer="llm",
            abstained=False, sources=[], top_path=None, tokens_in=tokens_in, tokens_out=10, at=at(1, 10),
        )  # fmt: skip
    assert store.usage_since(at(1, 0)) == (2, 200, 20)

    assert place(store, 3, at(1, 13)) == 3  # the abstentions and the answer rated not helpful
    gaps = store.gaps("slack", (GapStatus.OPEN,))
    assert sum(g.asks for g in gaps) == 3
    top = max(gaps, key=lambda g: g.asks)
    assert store.set_gap_status(top.id, GapStatus.DISMISSED, at(1, 14))
    assert not store.set_gap_status(top.id, GapStatus.DISMISSED, at(1, 14))
    assert store.gaps(None, (GapStatus.DISMISSED,))[0].asks_at_dismissal == top.asks
    assert store.unassigned_gap_questions() == []
    ticket = escalate(store, ref, "U1", at(1, 15), EscalationReason.NOT_HELPFUL, answered)
    [soft] = [
        g for g in gaps if any(q == "How do I reset my password?" for q, _ in store.gap_questions(g.id))
    ]
    assert store.gap_tickets(soft.id) == [ticket]
    store.close()


def _reserve(
    store: StateStore, asker: str, *, per_user: int = 0, per_channel: int = 0, now: datetime = NOW
) -> int | None:
    """A model answer reserved for `asker`'s question in slack:T1:C1 at `now`, held 3 minutes."""
    return store.reserve_model_answer(
        asker, thread().channel_key, per_user=per_user, per_channel=per_channel,
        since=now - timedelta(hours=1), now=now, until=now + timedelta(minutes=3),
    )  # fmt: skip


def test_a_models_hourly_share_counts_its_answers_and_the_questions_being_answered(
    state: Path | str,
) -> None:
    """A share counts the answers the model was asked for (tokens in) within the hour, and the
    answers reserved for questions still being answered: before, only the answers recorded,
    so questions asked at once all found the share's last answer free. A reservation goes
    with its answer's record, is given back when none is made, and lapses when its worker
    died."""
    store = StateStore(state)
    for asker, tokens_in in (("U1", 120), ("U2", 80), ("U1", 0)):  # 0: the model never asked
        fields = answer_fields(thread(), NOW - timedelta(minutes=30), asker) | {"tokens_in": tokens_in}
        store.record_answer(**fields)
    assert _reserve(store, "U1", per_user=1) is None  # its one answer this hour is given
    an_hour_on = _reserve(store, "U1", per_user=1, now=NOW + timedelta(minutes=31))
    assert an_hour_on is not None
    store.release_model_answer(an_hour_on)
    held = _reserve(store, "U2", per_user=2)
    assert held is not None and _reserve(store, "U2", per_user=2) is None  # its question being answered
    store.release_model_answer(held)  # which failed before its answer was recorded
    released = _reserve(store, "U2", per_user=2)
    assert released is not None
    answered = answer_fields(thread(), NOW, "U2") | {"tokens_in": 50}
    record_answer(store, answer_statement(**answered), None, None, released)
    last = _reserve(store, "U2", per_user=3)  # the answer recorded counts once, not twice
    assert last is not None and _reserve(store, "U2", per_user=3) is None
    # the channel's share: three answers, and U2's last reservation, until it lapses
    assert _reserve(store, "U3", per_channel=4) is None
    assert _reserve(store, "U3", per_channel=4, now=NOW + timedelta(minutes=4)) is not None
    assert _reserve(store, "U3", per_user=1, per_channel=100, now=NOW + timedelta(minutes=4)) is None
    store.close()


def test_status_counts_are_one_workspaces(state: Path | str) -> None:
    store = StateStore(state)
    elsewhere = ConversationRef(
        platform="slack", workspace="T_", channel="C1", thread="9"
    )  # "_" is a LIKE wildcard
    ask(store, thread(), "U1", at(1, 10))
    ask(store, elsewhere, "U2", at(1, 10), answered=False)
    escalate(store, elsewhere, "U2", at(1, 11), EscalationReason.ASKED_FOR_HUMAN)
    here, there = store.stats(platform="slack", workspace="T1"), store.stats(platform="slack", workspace="T_")
    assert (here.questions, here.abstained, here.tickets_open) == (1, 0, 0)
    assert (there.questions, there.abstained, there.tickets_open) == (1, 1, 1)
    assert store.stats(platform="slack").questions == 2
    store.close()


def test_forget_me_leaves_no_cell_with_the_person(state: Path | str) -> None:
    store = StateStore(state)
    script_week(store)
    store.set_memory_enabled("slack", "U1", True, NOW)
    assert store.save_memory_facts("slack", "U1", [{"kind": "plan", "text": "annual", "at": "x"}], NOW)
    store.claim_welcome("slack", "U1", NOW)
    store.claim_event("slack:msg:U1-late", "slack", '{"author": "U1"}', NOW)
    ref = thread()
    say(store, ref, "U2", "ask <@U1> about it", NOW)
    exported = store.export_person("slack", "U1")
    assert exported["memory"]["enabled"] and exported["questions"] and exported["welcomed"]
    counts = store.forget("slack", "U1", NOW)
    assert counts["tombstones"] == 1 and counts["answers"] >= 3
    assert store.is_tombstoned("slack", "U1")
    assert not store.save_memory_facts("slack", "U1", [], NOW)
    for table in store.db.table_names():
        for row in store.db.execute(f"select * from {table}").fetchall():
            assert not any(isinstance(cell, str) and "U1" in cell.split(":") for cell in row), (table, row)
    assert store.export_person("slack", "U1")["questions"] == []
    # the second forget finds nothing left but the tombstone
    assert store.forget("slack", "U1", NOW) == {"tombstones": 1}
    store.close()


def test_retention_empties_old_text_and_keeps_active_work(state: Path | str) -> None:
    store = StateStore(state)
    script_week(store)
    before = at(3, 0)
    dry = store.purge_text(before, NOW, dry_run=True)
    assert dry["messages"] > 0 and dry["answers"] > 0
    assert store.purge_text(before, NOW) == dry
    assert set(store.purge_text(before, NOW).values()) == {0}  # run twice, nothing more
    store.close()


def test_retention_goes_through_a_backlog_a_batch_at_a_time(
    state: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first purge after retention is turned on meets all the old text at once: it is
    emptied a batch a statement (one statement over a year of it would outlast PostgreSQL's
    statement limit), and every row is reached, counted once."""
    monkeypatch.setattr(retention, "BATCH", 3)
    whole, batched = StateStore(state), StateStore(state)
    script_week(whole)
    before = at(3, 0)
    dry = whole.purge_text(before, NOW, dry_run=True)
    assert dry["messages"] > 3  # more than one batch
    assert batched.purge_text(before, NOW) == dry
    assert set(batched.purge_text(before, NOW, dry_run=True).values()) == {0}
    whole.close()
    batched.close()


def test_askers_are_counted_once_each_and_no_further_than_asked(state: Path | str) -> None:
    store = StateStore(state)
    for asker in ("U1", "U2", "U1", "U3", "U4"):
        ask(store, thread(), asker, at(1, 10))
    ask(store, thread(), "U5", at(1, 8))  # before the window
    since = at(1, 9)
    assert store.askers_since("slack", since, 10) == 4  # U1 asked twice: one asker
    assert store.askers_since("slack", since, 3) == 3  # enough to know a burst is possible
    assert store.askers_since("discord", since, 10) == 0
    store.close()


def test_a_question_blanked_since_it_was_read_is_told_from_one_still_kept(state: Path | str) -> None:
    """What the burst watch reads back before it quotes a question it holds in memory."""
    store = StateStore(state)
    kept, forgotten = ask(store, thread(), "U1", at(1, 10)), ask(store, thread(), "U2", at(1, 10))
    store.forget("slack", "U2", NOW)
    assert store.blanked_questions([kept, forgotten, 999_999]) == {forgotten, 999_999}  # blanked, or gone
    assert store.blanked_questions([]) == set()
    store.close()


def test_incidents_bursts_and_notices_are_each_taken_once(state: Path | str) -> None:
    store = StateStore(state)
    burst = store.record_burst(
        platform="slack", representative="login fails", signatures="[]", askers=5,
        channels=["C1"], threads=["slack:T1:C1:1"], at=NOW,
    )  # fmt: skip
    assert [b.id for b in store.bursts_since("slack", NOW - timedelta(hours=1))] == [burst.id]
    newer = store.record_burst(
        platform="slack", representative="sso fails", signatures='[{"w": 1}]', askers=3,
        channels=["C2"], threads=["slack:T1:C2:1"], at=NOW + timedelta(minutes=1),
    )  # fmt: skip
    # the same bursts, newest first; signatures only of those the caller has not parsed yet
    since = NOW - timedelta(hours=1)
    assert store.burst_signatures_since("slack", since) == [(newer.id, '[{"w": 1}]'), (burst.id, "[]")]
    assert store.burst_signatures_since("slack", since, known={burst.id}) == [
        (newer.id, '[{"w": 1}]'),
        (burst.id, None),
    ]
    assert store.burst_signatures_since("slack", since, known={burst.id, newer.id}) == [
        (newer.id, None),
        (burst.id, None),
    ]
    assert store.burst_signatures_since("slack", NOW + timedelta(seconds=30)) == [(newer.id, '[{"w": 1}]')]
    assert store.burst_signatures_since("discord", since) == []
    assert [b.id for b in store.unposted_bursts("slack", since)] == [burst.id, newer.id]
    store.set_burst_post(burst.id, "m1", thread())
    assert [b.id for b in store.unposted_bursts("slack", since)] == [newer.id]  # posted: left alone
    assert store.unposted_bursts("slack", NOW + timedelta(minutes=2)) == []  # past the cooldown
    first, created = store.open_incident(
        platform="slack", text="Login is down", signatures="[]", by="S1", at=NOW, burst_id=burst.id
    )
    again, created_again = store.open_incident(
        platform="slack", text="x", signatures="[]", by="S2", at=NOW, burst_id=burst.id
    )
    assert created and not created_again and again.id == first.id
    ref = thread()
    assert store.add_notice(first.id, ref, NOW, "ko") and not store.add_notice(first.id, ref, NOW, "en")
    [(notice, where, language)] = store.notices_to_close(first.id)
    assert where == ref and language == "ko"  # the first notice's: the thread was shown it so
    assert store.close_incident(first.id, by="S1", at=NOW, text="fixed")
    assert not store.close_incident(first.id, by="S1", at=NOW, text="fixed")
    assert [i.id for i in store.incidents_to_tell("slack", NOW)] == [first.id]  # closed, one thread untold
    assert store.mark_notice_told(notice, NOW) and not store.mark_notice_told(notice, NOW)
    assert store.incidents_to_tell("slack", NOW) == []
    assert [i.status for i in store.incidents("slack")] == ["closed"]
    store.close()


def test_a_post_is_claimed_on_its_own_row_and_leaves_nothing_behind(state: Path | str) -> None:
    """A burst's alert and a thread's "it is over" reply: one claimant at a time, taken over
    once the lease lapsed (its worker died), none once made; no job_runs row is kept for it."""
    store = StateStore(state)
    burst = store.record_burst(
        platform="slack", representative="login fails", signatures="[]", askers=5,
        channels=["C1"], threads=["slack:T1:C1:1"], at=NOW,
    )  # fmt: skip
    incident, _ = store.open_incident(platform="slack", text="down", signatures="[]", by="S1", at=NOW)
    assert store.add_notice(incident.id, thread(), NOW)
    [(notice, _, _)] = store.notices_to_close(incident.id)
    lapsed = NOW + POST_LEASE
    for kind, row_id in ((PostKind.BURST_ALERT, burst.id), (PostKind.INCIDENT_CLOSED, notice)):
        assert store.claim_post(kind, row_id, NOW)
        assert not store.claim_post(kind, row_id, lapsed - timedelta(seconds=1))  # held
        assert store.claim_post(kind, row_id, lapsed)  # its worker died: taken over
    store.set_burst_post(burst.id, "m1", thread())
    assert store.mark_notice_told(notice, lapsed)
    later = lapsed + POST_LEASE
    assert not store.claim_post(PostKind.BURST_ALERT, burst.id, later)  # made: never again
    assert not store.claim_post(PostKind.INCIDENT_CLOSED, notice, later)
    assert store.db.execute("select count(*) from job_runs").fetchone()[0] == 0
    store.close()


def test_the_conversation_says_who_its_pending_follow_up_would_ask(state: Path | str) -> None:
    """The asker of the answer it is about, who may not be the thread's first asker; nobody
    once it is sent (or when none is due)."""
    store = StateStore(state)
    ref = thread()
    first = ask(store, ref, "U1", at(1, 10))

    def asked() -> tuple[str | None, str | None]:  # (the thread's asker, the follow-up's)
        now = store.conversation(ref.key)
        assert now is not None
        return now.asker_id, now.followup_asker_id

    assert asked() == ("U1", None)
    assert store.schedule_followup(ref.key, first, at(2, 10))
    assert asked() == ("U1", "U1")
    second = ask(store, ref, "U2", at(1, 11))
    assert store.schedule_followup(ref.key, second, at(2, 11))
    assert asked() == ("U1", "U2")
    assert store.claim_followup(ref.key, second, at(2, 12)) == FollowupClaim.CLAIMED
    assert asked() == ("U1", None)
    store.close()


def test_follow_ups_jobs_drafts_and_welcomes(state: Path | str) -> None:
    store = StateStore(state)
    ref = thread()
    answer = ask(store, ref, "U1", at(1, 10))
    assert store.schedule_followup(ref.key, answer, at(2, 10))
    assert store.postpone_followup(ref.key, at(2, 11))
    [due] = store.due_followups(at(2, 12), ["slack"])
    assert due.answer_id == answer and due.asker_id == "U1"
    assert store.claim_followup(ref.key, answer, at(2, 12)) == FollowupClaim.CLAIMED
    assert store.claim_followup(ref.key, answer, at(2, 12)) == FollowupClaim.GONE
    assert store.followup_state(ref.key) == (None, answer, at(2, 12))

    assert store.claim_job("digest:2026-48", NOW, timedelta(hours=1))
    assert not store.claim_job("digest:2026-48", NOW, timedelta(hours=1))
    assert store.claim_job(
        "digest:2026-48", NOW + timedelta(hours=2), timedelta(hours=1)
    )  # stale: taken over
    store.finish_job("digest:2026-48", NOW)
    assert store.job_done("digest:2026-48")
    assert not store.claim_job("digest:2026-48", NOW + timedelta(days=9), timedelta(hours=1))

    draft = store.create_reply_draft(
        conversation=ref, message_id="m1", asker_id="U1", question="q", answer="a", answer_id=answer, at=NOW
    )
    store.set_reply_draft_card(draft.id, Posted(message_id="c1", conversation=thread()))
    assert store.edit_reply_draft(draft.id, "better", "S1")
    assert store.decide_reply_draft(draft.id, status="posted", by="S1", at=NOW)
    assert not store.decide_reply_draft(draft.id, status="discarded", by="S2", at=NOW)
    counts = store.draft_counts(NOW - timedelta(hours=1), NOW + timedelta(hours=1), platform="slack")
    assert (counts.proposed, counts.posted, counts.discarded) == (1, 1, 0)
    assert store.claim_welcome("slack", "U1", NOW) and not store.claim_welcome("slack", "U1", NOW)

    ticket = escalate(store, ref, "U1", NOW, EscalationReason.ASKED_FOR_HUMAN)
    learned = store.create_draft(
        ticket_id=ticket, title="t", question="q", answer="a", visibility="public", at=NOW
    )
    slack = (Reach(platform="slack"),)
    assert [d.id for d in store.drafts_in(slack)] == [learned.id]
    assert store.drafts_in(slack, status=None)[0].id == learned.id
    # only the workspaces in reach: the ticket is in the thread's workspace
    assert store.drafts_in((Reach(platform="slack", only=frozenset({ref.workspace})),)) != []
    assert store.drafts_in((Reach(platform="slack", excluded=frozenset({ref.workspace})),)) == []
    assert store.drafts_in(()) == []
    assert store.decide_draft(learned.id, status="approved", by="S1", at=NOW, path="learned/t.md")
    assert store.drafts() == [] and store.ticket_drafts(ticket) != []
    store.close()


def test_a_draft_is_approved_only_while_it_holds_the_text_approved(state: Path | str) -> None:
    store = StateStore(state)
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="9.0")
    ticket = escalate(store, ref, "U1", NOW, EscalationReason.ASKED_FOR_HUMAN)
    draft = store.create_draft(
        ticket_id=ticket, title="t", question="q", answer="a", visibility="public", at=NOW
    )
    assert store.retitle_draft(draft.id, "edited meanwhile")

    def approve(seen: tuple[str, str]) -> bool:
        return store.decide_draft(draft.id, status="approved", by="S1", at=NOW, path="x.md", unchanged=seen)

    assert not approve(("t", "a"))  # the text the approval wrote is not what the draft holds
    assert [d.id for d in store.drafts()] == [draft.id]
    assert approve(("edited meanwhile", "a"))
    assert store.drafts() == [] and store.ticket_drafts(ticket) != []
    store.close()


def test_approvals_and_reindexes_are_counted_once(state: Path | str) -> None:
    """The knowledge generation other workers sync at (bot/cluster.py): an approval counts
    with its decision; a rejection, or an approval that lost its compare-and-set, does not."""
    store = StateStore(state)
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="9.0")
    ticket = escalate(store, ref, "U1", NOW, EscalationReason.ASKED_FOR_HUMAN)
    rejected, approved = (
        store.create_draft(ticket_id=ticket, title="t", question="q", answer="a", visibility="public", at=NOW)
        for _ in range(2)
    )
    assert store.knowledge_generation() == 0
    assert store.count_knowledge_change() == 1  # `/support reindex`
    assert store.decide_draft(rejected.id, status="rejected", by="S1", at=NOW)
    assert not store.decide_draft(approved.id, status="approved", by="S1", at=NOW, unchanged=("x", "a"))
    assert store.knowledge_generation() == 1
    assert store.decide_draft(approved.id, status="approved", by="S1", at=NOW, path="learned/t.md")
    assert not store.decide_draft(approved.id, status="approved", by="S1", at=NOW, path="learned/t.md")
    assert store.knowledge_generation() == 2
    store.close()


def test_history_shows_only_the_bots_answers_to_that_person(state: Path | str) -> None:
    store = StateStore(state)
    ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="9.0")
    ask(store, ref, "U1", at(1, 10))
    ask(store, ref, "U2", at(1, 11), question="What about me?")
    mine = store.history(ref, answers_to="U1")
    assert [t.role for t in mine] == ["user", "bot", "user"]
    assert len(store.history(ref)) == 4
    assert [text for text, _ in store.messages_since(ref, at(1, 0), "user")] == [
        "How do I reset my password?",
        "What about me?",
    ]
    store.set_conversation_flags(ref, NOW, human_takeover=True)
    state_now = store.conversation(ref.key)
    assert state_now is not None and state_now.human_takeover and state_now.bot_participating
    assert store.tickets(statuses=[TicketStatus.OPEN]) == []
    assert store.active_ticket(ref) is None
    staff = Author(id="S1")
    store.add_message(ref, role="staff", text="hi", at=NOW, author=staff)
    store.close()
