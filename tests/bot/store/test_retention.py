"""Retention in the store, on both backends: what an open ticket keeps past `retention_days`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.store import StateStore
from bot.types import Author, ConversationRef, EscalationReason
from tests.bot.insights.week import ask, at, thread
from tests.bot.store.test_people import _cells_with


@pytest.mark.parametrize("threaded", [False, True])
def test_an_open_ticket_keeps_its_own_history_past_the_window(state: Path | str, threaded: bool) -> None:
    """Where the bot answers in place (no threads), one conversation holds every asker's
    questions in the channel: one person's open ticket there used to keep everyone's words
    past `retention_days` for as long as it stayed open. Now only its asker's stay there; a
    thread with an open ticket keeps all of its history, as before."""
    store = StateStore(state)
    try:
        ref = thread() if threaded else ConversationRef(platform="slack", workspace="T1", channel="C9")
        asked = at(30, 10)
        ask(store, ref, "U-ANN00001", asked, question="Is the quokka-export broken for Ann?")
        ask(store, ref, "U-BOB00002", asked, question="Does the walrus-import work for Bob?")
        later = asked + timedelta(days=60)
        store.create_ticket(
            ref=ref,
            asker=Author(id="U-BOB00002"),
            question="Can a person help with SSO?",
            reason=EscalationReason.ASKED_FOR_HUMAN,
            at=later,
        )
        # 100 days after they asked, with retention_days = 90: their words are past the window
        store.purge_text(asked + timedelta(days=10), asked + timedelta(days=100))
        assert bool(_cells_with(store, "quokka")) == threaded
        assert _cells_with(store, "walrus")  # the ticket's asker's history stays either way
    finally:
        store.close()
