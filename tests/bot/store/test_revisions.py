"""Whose turn it is to revise an answer after its question was edited (bot/store/revisions.py),
on both backends: the newest edit's turn, an older one outdated, one that finds another edit
revising told to wait, a dead holder's turn lapsing, and the turns forgotten with the inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.revisions import REVISION_LEASE, RevisionTurn

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ASKED = "slack:1700000000.000100"


def made(minute: int) -> datetime:
    return datetime(2026, 12, 7, 11, minute, tzinfo=UTC)


def test_the_newest_edit_takes_the_turn_and_an_older_one_is_outdated(state: Path | str) -> None:
    store = StateStore(state)
    try:
        assert store.take_revision(ASKED, "edit-2", made(2), NOW) is RevisionTurn.TAKEN
        store.end_revision(ASKED, "edit-2")
        assert store.take_revision(ASKED, "edit-1", made(1), NOW) is RevisionTurn.OUTDATED
        assert store.take_revision(ASKED, "edit-3", made(3), NOW) is RevisionTurn.TAKEN
        assert store.take_revision("slack:other", "edit-1", made(1), NOW) is RevisionTurn.TAKEN  # its own row
    finally:
        store.close()


def test_an_edit_waits_while_another_revises_and_a_dead_holders_turn_lapses(state: Path | str) -> None:
    store = StateStore(state)
    try:
        assert store.take_revision(ASKED, "edit-1", made(1), NOW) is RevisionTurn.TAKEN
        assert store.take_revision(ASKED, "edit-2", made(2), NOW) is RevisionTurn.BUSY
        # the holder replayed after a crash takes its own turn again
        assert store.take_revision(ASKED, "edit-1", made(1), NOW + timedelta(seconds=5)) is RevisionTurn.TAKEN
        later = NOW + REVISION_LEASE + timedelta(seconds=6)  # its worker died: the turn lapsed
        assert store.take_revision(ASKED, "edit-2", made(2), later) is RevisionTurn.TAKEN
        store.end_revision(ASKED, "edit-1")  # a late end from the lapsed holder changes nothing
        assert store.take_revision(ASKED, "edit-3", made(3), later) is RevisionTurn.BUSY
    finally:
        store.close()


def test_turns_are_forgotten_with_the_inbox_but_never_one_being_held(state: Path | str) -> None:
    store = StateStore(state)
    try:
        assert store.take_revision(ASKED, "edit-1", made(1), NOW) is RevisionTurn.TAKEN
        store.end_revision(ASKED, "edit-1")
        assert (
            store.take_revision("slack:held", "edit-9", made(1), NOW + timedelta(days=8))
            is RevisionTurn.TAKEN
        )
        assert store.prune_revisions(NOW + timedelta(days=7)) == 1
        assert (
            store.take_revision(ASKED, "edit-0", made(0), NOW) is RevisionTurn.TAKEN
        )  # nothing left to outdate it
    finally:
        store.close()
