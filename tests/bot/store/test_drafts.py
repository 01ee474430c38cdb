"""Knowledge drafts in the store (bot/store/drafts.py), on both backends: an answer a person
saved by hand is never rewritten by the learning loop, not even one saved before the upgrade
that told the two apart (migration 0024)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.migrations import STATE_MIGRATIONS
from bot.store.rows import transaction
from bot.store.store import iso, open_state
from bot.types import ConversationRef, EscalationReason
from tests.bot.insights.week import NOW, escalate

REF = ConversationRef(platform="slack", workspace="T1", channel="C1", thread="9.0")


def test_an_answer_saved_by_hand_is_never_rewritten_by_the_loop(state: Path | str) -> None:
    """The dashboard's save and the loop's refresh used one call: a refresh after a reopen, or
    "draft from this gap" pressed again, replaced an admin's reviewed answer with the thread's."""
    store = StateStore(state)
    try:
        ticket = escalate(store, REF, "U1", NOW, EscalationReason.ASKED_FOR_HUMAN)
        draft = store.create_draft(
            ticket_id=ticket, title="t", question="q", answer="raw", visibility="public", at=NOW
        )
        assert store.refresh_draft(draft.id, "raw, and more", NOW + timedelta(minutes=1))
        # a new title alone leaves the answer the loop's
        assert store.edit_draft(draft.id, "Exporting invoices", "raw, and more", NOW + timedelta(minutes=2))
        assert store.refresh_draft(draft.id, "raw, more, and more", NOW + timedelta(minutes=3))
        assert store.edit_draft(draft.id, "Exporting invoices", "Reviewed.", NOW + timedelta(minutes=4))
        assert not store.refresh_draft(draft.id, "raw, more, more, and more", NOW + timedelta(minutes=5))
        after = store.draft(draft.id)
        assert after is not None and (after.title, after.answer) == ("Exporting invoices", "Reviewed.")
        assert after.edited_at == NOW + timedelta(minutes=4)
        assert after.updated_at == NOW + timedelta(minutes=3)  # the loop's last write
    finally:
        store.close()


def test_a_pending_draft_written_to_before_the_upgrade_is_kept_as_edited(state: Path | str) -> None:
    """Before 0024 a written-to draft may hold an admin's text or the loop's: kept either way."""
    names = [name for name, _ in STATE_MIGRATIONS]
    old = open_state(state, STATE_MIGRATIONS[: names.index("0024_draft_edits")])
    try:
        with transaction(old):
            old.execute(
                "insert into tickets (conversation, platform, asker_id, question, reason, status, "
                "created_at, updated_at) values (?, 'slack', 'U1', 'q?', 'asked_for_human', 'resolved', ?, ?)",
                [REF.key, iso(NOW), iso(NOW)],
            )
            for status, updated in [("pending", iso(NOW)), ("pending", None), ("approved", iso(NOW))]:
                old.execute(
                    "insert into drafts (ticket_id, title, question, answer, status, created_at, updated_at) "
                    "values (1, 't', 'q', 'a', ?, ?, ?)",
                    [status, iso(NOW), updated],
                )
    finally:
        old.close()
    store = StateStore(state)
    try:
        drafts = [store.draft(n) for n in (1, 2, 3)]
        assert [d.edited_at for d in drafts if d is not None] == [NOW, None, None]
        assert not store.refresh_draft(1, "the thread's", NOW) and store.refresh_draft(2, "the thread's", NOW)
    finally:
        store.close()
