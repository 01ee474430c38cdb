"""What a read-back starts from and where it looks (bot/store/conversations.py), on both
backends: the channels the bot took part in, however many conversations were held there,
and the newest mark noted as heard, which never moves back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.types import Author, ConversationRef

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_the_channels_the_bot_took_part_in_are_listed_once_however_many_threads(state: Path | str) -> None:
    store = StateStore(state)
    try:
        asker = Author(id="U1", name="Ann")
        threads = [
            ConversationRef(platform="slack", workspace="T1", channel="C1", thread=f"{n}.0") for n in range(5)
        ]
        dm = ConversationRef(platform="slack", workspace="T2", channel="D1")
        only_read = ConversationRef(platform="slack", workspace="T1", channel="C9")
        old = ConversationRef(platform="slack", workspace="T3", channel="C3")
        discord = ConversationRef(platform="discord", workspace="G", channel="42")
        for n, ref in enumerate((*threads, dm, only_read, discord)):
            at = T0 + timedelta(minutes=n)
            store.record_message(
                ref, role="user", text="q", at=at, now=at, author=asker, platform_id=f"X:{n}"
            )
            if ref is not only_read:
                store.record_message(ref, role="bot", text="a", at=at, now=at, platform_id=f"X:{n}.1")
        at = T0 - timedelta(days=40)
        store.record_message(old, role="bot", text="a", at=at, now=at, platform_id="X:old")
        assert store.channels_since("slack", T0 - timedelta(days=30)) == [("T1", "C1"), ("T2", "D1")]
        assert store.channels_since("discord", T0) == [("G", "42")]
    finally:
        store.close()


def test_the_mark_noted_as_heard_only_moves_forward(state: Path | str) -> None:
    store = StateStore(state)
    try:
        assert store.noted_heard("slack") is None
        store.note_heard("slack", "1796500000.000200")
        store.note_heard("slack", "1796500000.000100")  # a worker that heard less, later
        assert store.noted_heard("slack") == "1796500000.000200"
        store.note_heard("slack", "1796500010.000000")
        assert store.noted_heard("slack") == "1796500010.000000"
        assert store.noted_heard("discord") is None
    finally:
        store.close()


def test_an_owed_read_back_stands_until_one_covering_it_ends(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.owe_read_back("slack", "1796500100.000000")
        store.owe_read_back("slack", "1796500050.000000")  # owed from earlier: that counts
        store.owe_read_back("slack", "1796500050.000000")  # the same point twice: one row
        assert store.owed_read_back("slack") == "1796500050.000000"
        # a read-back from 100 ended, having read until 150: 50 is not covered, 100 is
        store.settle_read_back("slack", "1796500100.000000", "1796500150.000000")
        assert store.owed_read_back("slack") == "1796500050.000000"
        # one from 50 ran while a message was left unrecorded at 300: that stands
        store.owe_read_back("slack", "1796500300.000000")
        store.settle_read_back("slack", "1796500050.000000", "1796500200.000000")
        assert store.owed_read_back("slack") == "1796500300.000000"
        store.settle_read_back("slack", "1796500300.000000", "1796500400.000000")
        assert store.owed_read_back("slack") is None
        assert store.owed_read_back("discord") is None
    finally:
        store.close()


def test_the_places_owed_under_a_prefix_each_give_their_earliest_point(state: Path | str) -> None:
    """A Slack workspace's own owed places ("slack@T1"): listed with their earliest point,
    apart from the platform's, and settled each on its own."""
    store = StateStore(state)
    try:
        store.owe_read_back("slack", "1796500010.000000")
        store.owe_read_back("slack@T1", "1796500100.000000")
        store.owe_read_back("slack@T1", "1796500050.000000")
        store.owe_read_back("slack@T2", "1796500200.000000")
        assert store.owed_read_backs("slack@") == {
            "slack@T1": "1796500050.000000",
            "slack@T2": "1796500200.000000",
        }
        assert store.owed_read_back("slack") == "1796500010.000000"  # the workspaces' are not the platform's
        store.settle_read_back("slack@T1", "1796500000.000000", "1796500150.000000")
        assert store.owed_read_backs("slack@") == {"slack@T2": "1796500200.000000"}
        assert store.owed_read_backs("discord") == {}
    finally:
        store.close()


def test_the_marks_noted_under_a_prefix_are_listed_by_place(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.note_heard("discord/2/0", "00000000000000000200")
        store.note_heard("discord/2/1", "00000000000000000100")
        store.note_heard("slack", "1700000000.000100")
        assert store.noted_heards("discord/") == {
            "discord/2/0": "00000000000000000200",
            "discord/2/1": "00000000000000000100",
        }
        assert store.noted_heards("discord/3/") == {}
    finally:
        store.close()
