"""The ticket queue's query on both backends: each filter, the SLA states as the triage card
words them, the count beside a limited page, and only the workspaces the viewer may see."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.escalation.cards import sla_state
from bot.store import StateStore
from bot.store.queue import Reach, SlaState, TicketQuery
from bot.types import Author, ConversationRef, EscalationReason, SlaStage, TicketStatus
from tests.fakes.clock import FakeClock

NOW = FakeClock().now()
SLACK = (Reach(platform="slack"),)
SAM = Author(id="U-SAM", name="Sam")


def _open(
    store: StateStore,
    channel: str,
    thread: str,
    *,
    hours_ago: float,
    platform: str = "slack",
    workspace: str = "T1",
    **fields: object,
) -> int:
    ref = ConversationRef(platform=platform, workspace=workspace, channel=channel, thread=thread)
    ticket, _ = store.create_ticket(
        ref=ref,
        asker=Author(id=f"U-{thread}", name=thread),
        question=f"question {thread}",
        reason=EscalationReason.ASKED_FOR_HUMAN,
        at=NOW - timedelta(hours=hours_ago),
        **fields,  # type: ignore[arg-type]
    )
    return ticket.id


def _ids(store: StateStore, **query: object) -> set[int]:
    page = store.ticket_queue(TicketQuery(reach=SLACK, **query), NOW)  # type: ignore[arg-type]
    assert page.total == len(page.tickets)
    return {t.id for t in page.tickets}


def test_each_filter_of_the_queue(state: Path | str) -> None:
    store = StateStore(state)
    try:
        overdue = _open(store, "C-GEN", "a", hours_ago=3, next_action_at=NOW - timedelta(minutes=1))
        waiting = _open(
            store,
            "C-GEN",
            "b",
            hours_ago=0.5,
            sla_stage=SlaStage.WAITING_FOR_HOURS,
            next_action_at=NOW + timedelta(hours=9),
        )
        no_deadline = _open(store, "C_GEN", "c", hours_ago=30, sla_stage=SlaStage.SECOND_TIER)
        claimed = _open(store, "C-OTHER", "d", hours_ago=200, next_action_at=NOW + timedelta(minutes=5))
        store.transition_ticket(
            claimed,
            to=TicketStatus.CLAIMED,
            allowed_from=(TicketStatus.OPEN,),
            actor=SAM,
            at=NOW,
            assignee=SAM,
        )
        done = _open(store, "C-OTHER", "e", hours_ago=2)
        store.transition_ticket(
            done, to=TicketStatus.RESOLVED, allowed_from=(TicketStatus.OPEN,), actor=SAM, at=NOW
        )
        elsewhere = _open(store, "C-GEN", "f", hours_ago=1, platform="discord")

        active = (TicketStatus.OPEN, TicketStatus.CLAIMED)
        assert _ids(store) == {overdue, waiting, no_deadline, claimed, done}  # never another platform's
        assert _ids(store, statuses=active) == {overdue, waiting, no_deadline, claimed}
        assert _ids(store, statuses=(TicketStatus.RESOLVED,)) == {done}
        # a channel key is matched literally: C_GEN is not C-GEN, although _ is a LIKE wildcard
        assert _ids(store, channel="slack:T1:C-GEN") == {overdue, waiting}
        assert _ids(store, channel="slack:T1:C_GEN") == {no_deadline}
        assert _ids(store, assignee="U-SAM") == {claimed}
        assert _ids(store, unassigned=True) == {overdue, waiting, no_deadline, done}
        assert _ids(store, older_than=timedelta(hours=2)) == {overdue, no_deadline, claimed, done}
        assert _ids(store, older_than=timedelta(days=7)) == {claimed}
        by_state = {state: _ids(store, sla=state) for state in SlaState}
        assert by_state == {
            SlaState.OVERDUE: {overdue},
            SlaState.ON_TIME: {claimed},
            SlaState.WAITING: {waiting},
            SlaState.NO_DEADLINE: {no_deadline},
            SlaState.DONE: {done},
        }
        # the same states the triage card words
        words = {t.id: sla_state(t, NOW) for t in store.tickets(statuses=None, limit=100)}
        assert words[overdue].startswith("overdue") and words[claimed].startswith("next deadline")
        assert words[waiting] == "waiting for business hours" and words[no_deadline] == "past every deadline"
        assert words[done] == "done"

        page = store.ticket_queue(TicketQuery(reach=SLACK), NOW, limit=2)
        assert page.total == 5 and [t.id for t in page.tickets] == [done, claimed]  # newest first
        both = store.ticket_queue(TicketQuery(reach=(*SLACK, Reach(platform="discord"))), NOW)
        assert both.total == 6 and elsewhere in {t.id for t in both.tickets}
        assert store.ticket_queue(TicketQuery(reach=()), NOW).total == 0

        channels, people = store.queue_people_and_channels(SLACK, active)
        assert channels == ["slack:T1:C-GEN", "slack:T1:C-OTHER", "slack:T1:C_GEN"]
        assert people == [("U-SAM", "Sam")]
        assert store.queue_people_and_channels(SLACK, (TicketStatus.CLOSED,)) == ([], [])
    finally:
        store.close()


def test_the_queue_pages_past_its_last_row_in_either_order(state: Path | str) -> None:
    """A queue page used to be its newest rows alone: those past the limit, the oldest, were
    on no page. A page says whether more follow, and the next one starts past its last id."""
    store = StateStore(state)
    try:
        ids = [_open(store, "C1", f"t{n}", hours_ago=10 - n) for n in range(5)]
        waiting = TicketQuery(reach=SLACK, statuses=(TicketStatus.OPEN,))

        def page(after: int | None = None, oldest_first: bool = False) -> tuple[list[int], int, bool]:
            query = replace(waiting, after=after, oldest_first=oldest_first)
            found = store.ticket_queue(query, NOW, limit=2)
            return [t.id for t in found.tickets], found.total, found.more

        assert page() == ([ids[4], ids[3]], 5, True)
        assert page(after=ids[3]) == ([ids[2], ids[1]], 5, True)
        assert page(after=ids[1]) == ([ids[0]], 5, False)
        assert page(oldest_first=True) == ([ids[0], ids[1]], 5, True)
        assert page(after=ids[3], oldest_first=True) == ([ids[4]], 5, False)
        assert store.ticket_queue(waiting, NOW, limit=5).more is False
    finally:
        store.close()


def test_the_queue_reads_only_the_workspaces_in_reach(state: Path | str) -> None:
    store = StateStore(state)
    try:
        one = _open(store, "C1", "a", hours_ago=1, workspace="T1")
        two = _open(store, "C1", "b", hours_ago=1, workspace="T2")
        # a workspace id with a LIKE wildcard in it matches only itself
        odd = _open(store, "C1", "c", hours_ago=1, workspace="T_")
        other = _open(store, "C1", "d", hours_ago=1, workspace="T1", platform="discord")

        def ids(*reach: Reach) -> set[int]:
            return {t.id for t in store.ticket_queue(TicketQuery(reach=reach), NOW).tickets}

        assert ids(Reach(platform="slack")) == {one, two, odd}
        assert ids(Reach(platform="slack", only=frozenset({"T2"}))) == {two}
        assert ids(Reach(platform="slack", only=frozenset({"T_"}))) == {odd}
        assert ids(Reach(platform="slack", excluded=frozenset({"T1", "T_"}))) == {two}
        assert ids(Reach(platform="slack", only=frozenset())) == set()
        assert ids(Reach(platform="slack", only=frozenset({"T1"})), Reach(platform="discord")) == {one, other}
        channels, _ = store.queue_people_and_channels(
            (Reach(platform="slack", only=frozenset({"T2"})),), None
        )
        assert channels == ["slack:T2:C1"]
    finally:
        store.close()


def test_the_staff_seen_working_a_workspaces_tickets_are_that_workspaces_alone(state: Path | str) -> None:
    store = StateStore(state)
    try:
        one = _open(store, "C1", "a", hours_ago=2, workspace="T1")
        two = _open(store, "C1", "b", hours_ago=2, workspace="T2")
        odd = _open(store, "C1", "c", hours_ago=2, workspace="T_")  # a LIKE wildcard matches only itself
        elsewhere = _open(store, "C1", "d", hours_ago=2, workspace="T1", platform="discord")
        at = NOW - timedelta(hours=1)

        def move(ticket_id: int, to: TicketStatus, actor: Author, event: str | None = None) -> None:
            changed, _ = store.transition_ticket(
                ticket_id, to=to, allowed_from=tuple(TicketStatus), actor=actor, at=at, event=event
            )
            assert changed

        move(one, TicketStatus.CLAIMED, SAM)
        move(two, TicketStatus.RESOLVED, Author(id="U-TWO"))
        move(odd, TicketStatus.CLAIMED, Author(id="U-ODD"))
        move(elsewhere, TicketStatus.CLAIMED, Author(id="D-MOD"))
        move(one, TicketStatus.CLAIMED, Author(id="U-BOSS"), event="reassigned")
        move(one, TicketStatus.OPEN, Author(id="U-a"), event="reopened")  # the asker: not staff
        thread = store.ticket(one)
        assert thread is not None
        store.add_message(
            thread.conversation, role="staff", text="on it", at=at, author=Author(id="U-GRP", name="Gro")
        )
        store.add_message(thread.conversation, role="user", text="thanks", at=at, author=Author(id="U-a"))
        # assigned by an admin (`/support assign`), not yet at work on it: assignable again
        store.transition_ticket(
            two,
            to=TicketStatus.CLAIMED,
            allowed_from=tuple(TicketStatus),
            actor=Author(id="U-ADMIN2"),
            at=at,
            event="reassigned",
            assignee=Author(id="U-NEW"),
            detail="U-NEW",
        )

        assert store.workspace_staff("slack", "T1") == [("U-BOSS", ""), ("U-GRP", "Gro"), ("U-SAM", "")]
        assert store.workspace_staff("slack", "T2") == [("U-ADMIN2", ""), ("U-NEW", ""), ("U-TWO", "")]
        assert store.workspace_staff("slack", "T_") == [("U-ODD", "")]
        assert store.workspace_staff("discord", "T1") == [("D-MOD", "")]
        assert store.workspace_staff("slack", "T9") == []
    finally:
        store.close()


def test_the_staff_seen_working_a_workspace_are_those_of_its_newest_tickets(state: Path | str) -> None:
    # an admin's ticket page asks on the bot's own lane: not a read of the workspace's whole history
    store = StateStore(state)
    try:
        at = NOW - timedelta(hours=1)
        for thread, worker in (("old", "U-LEFT"), ("mid", "U-MID"), ("new", "U-NOW")):
            ticket = _open(store, "C1", thread, hours_ago=2)
            store.transition_ticket(
                ticket,
                to=TicketStatus.CLAIMED,
                allowed_from=(TicketStatus.OPEN,),
                actor=Author(id=worker),
                at=at,
            )
            ref = ConversationRef(platform="slack", workspace="T1", channel="C1", thread=thread)
            store.add_message(
                ref, role="staff", text="on it", at=at, author=Author(id=f"{worker}-GRP", name="G")
            )
        _open(store, "C1", "other", hours_ago=1, workspace="T2")  # newer, of another workspace
        assert [p for p, _ in store.workspace_staff("slack", "T1", recent=2)] == [
            "U-MID",
            "U-MID-GRP",
            "U-NOW",
            "U-NOW-GRP",
        ]
        assert "U-LEFT" in dict(store.workspace_staff("slack", "T1"))  # within the default's 1000
    finally:
        store.close()
