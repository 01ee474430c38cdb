"""The inbox payload (bot/inbox.py): what a replay reads back is the message that arrived."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.inbox import deserialise_message, serialise_message
from bot.types import Author, ConversationRef, InboundMessage, Visibility


def every_field_set() -> InboundMessage:
    return InboundMessage(
        id="C1:1700000000.000200:edited:1",
        conversation=ConversationRef(
            platform="slack", workspace="T1", channel="C1", thread="1700000000.000100"
        ),
        author=Author(
            id="U1",
            name="Mina",
            is_bot=False,
            roles=frozenset({"S2", "S1"}),
            platform_admin=True,
            external=True,
        ),
        text="환불은 얼마나 걸리나요? </passage>",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 12, 5, 18, 0, tzinfo=UTC),
        edited=True,
        edit_of="C1:1700000000.000200",
        raw={"event": {"nested": ["the platform's payload", {"deep": 1}]}},
    )


def test_every_field_but_the_raw_payload_survives_the_round_trip() -> None:
    message = every_field_set()
    payload = serialise_message(message)
    assert deserialise_message(payload) == message  # `raw` is not compared
    data = json.loads(payload)
    assert "raw" not in data and "the platform's payload" not in payload
    assert data["author"]["roles"] == ["S1", "S2"]  # a stable order, not a set's
    assert "환불" in payload  # stored as written, not as escapes


def test_a_payload_written_before_edits_were_answered_still_reads() -> None:
    data = json.loads(serialise_message(every_field_set()))
    del data["edit_of"]
    del data["author"]["external"]
    old = deserialise_message(json.dumps(data))
    assert old.edit_of is None and old.author.external is False
