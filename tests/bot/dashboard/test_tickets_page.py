"""The dashboard's ticket queue and ticket actions over loopback against a real store: the
filters of the queue, and assign and reopen acting as the chat does (the store, the thread
and the audit log), with the rights and CSRF every route needs."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.commands.handlers import NOTE_LIMIT
from bot.core import Outcome
from bot.dashboard.serve import issue_link
from bot.types import (
    Author,
    ConversationRef,
    InboundMessage,
    Mention,
    MentionKind,
    Ticket,
    TicketStatus,
    Visibility,
)
from tests.bot.dashboard.served import CONFIG, STAFF, Client, start
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in, status_line
from tests.fakes.clock import FakeClock
from tests.fakes.tokens import SLACK_BOT_TOKEN_LONG

CARD = "4111 1111 1111 1111"  # a test card number: Luhn-valid
STAFF_DESK = ConversationRef(platform="slack", workspace="T1", channel="C-STAFF")  # where staff act from


async def ask_for_a_person(
    rt: Runtime, channel: ConsoleChannel, where: str, asker: str, event: str, workspace: str = "T1"
) -> int:
    """A ticket opened as the chat opens one: someone asks the bot for a person in `where`."""
    message = InboundMessage(
        id=event,
        conversation=ConversationRef(platform="slack", workspace=workspace, channel=where),
        author=Author(id=asker, name=asker),
        text="I want to talk to a human please",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )
    assert await rt.bot.on_message(message, channel) == Outcome.ESCALATED
    return max(t.id for t in rt.state.tickets(statuses=None, limit=100))


async def listed(client: Client, query: str = "") -> set[int]:
    response = await client.get(f"/admin/tickets{query}")
    assert response.status == 200
    return {int(n) for n in re.findall(r'data-ticket="(\d+)"', await response.text())}


async def test_the_queue_filters_by_status_channel_assignee_age_and_sla(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    waiting = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    clock.advance(hours=2)  # past its 15-minute first response: overdue
    claimed = await ask_for_a_person(rt, channel, "C-OTHER", "U-A2", "e2")
    done = await ask_for_a_person(rt, channel, "C-GEN", "U-A3", "e3")
    await rt.bot.escalations.claim(claimed, STAFF, channel, STAFF_DESK)
    await rt.bot.escalations.resolve(done, STAFF, channel, STAFF_DESK)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302

    assert await listed(client) == {waiting, claimed}  # the default: what still needs staff
    assert await listed(client, "?status=resolved") == {done}
    assert await listed(client, "?status=all") == {waiting, claimed, done}
    assert await listed(client, "?status=closed") == set()
    assert await listed(client, "?channel=slack:T1:C-OTHER") == {claimed}
    assert await listed(client, "?status=all&channel=slack:T1:C-GEN") == {waiting, done}
    assert await listed(client, "?assignee=U-SAM") == {claimed}
    assert await listed(client, "?assignee=none") == {waiting}
    assert await listed(client, "?age=1h") == {waiting}
    assert await listed(client, "?sla=overdue") == {waiting}
    assert await listed(client, "?sla=on-time") == {claimed}
    assert await listed(client, "?status=all&sla=done") == {done}
    assert await listed(client, "?platform=slack") == {waiting, claimed}
    assert await listed(client, "?platform=discord") == {waiting, claimed}  # no rights there: ignored
    assert await listed(client, "?status=nonsense&age=forever") == {waiting, claimed}
    # the form offers the channels and people it can filter by, and keeps the choice made
    page = await (await client.get("/admin/tickets?channel=slack:T1:C-OTHER")).text()
    assert '<option value="slack:T1:C-OTHER" selected>' in page and '<option value="U-OLU">' in page
    assert '<label for="f-sla">' in page and "<caption>" in page


async def test_the_oldest_waiting_ticket_is_reached_from_the_queue(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """With more than 200 tickets waiting, the queue used to show the newest 200 with no next
    page and no oldest-first order: the one waiting longest could not be reached. Each page
    links to the next, and the queue sorts oldest first."""
    oldest = await ask_for_a_person(rt, channel, "C-GEN", "U-A0", "e0")
    for n in range(1, 201):
        await ask_for_a_person(rt, channel, "C-GEN", f"U-A{n}", f"e{n}")
    newest = oldest + 200
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    first = await (await client.get("/admin/tickets")).text()
    assert "Tickets matching the filters: 201 (on this page: 200)" in first
    assert oldest not in await listed(client) and newest in await listed(client)
    found = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert found is not None
    link = html.unescape(found.group(1))
    assert link == f"/admin/tickets?after={oldest + 1}"  # the filters left at their defaults are not carried
    second = await (await client.get(link)).text()
    assert await listed(client, link.removeprefix("/admin/tickets")) == {oldest}
    assert 'rel="next"' not in second and '<a href="/admin/tickets" rel="first">' in second
    # the same filters, oldest first: the one waiting longest heads the first page
    by_age = await (await client.get("/admin/tickets?status=open&order=oldest")).text()
    rows = [int(n) for n in re.findall(r'data-ticket="(\d+)"', by_age)]
    assert rows[0] == oldest and len(rows) == 200 and '<option value="oldest" selected>' in by_age
    found = re.search(r'<a href="([^"]+)" rel="next">', by_age)
    assert found is not None and html.unescape(found.group(1)) == (
        f"/admin/tickets?status=open&order=oldest&after={newest - 1}"
    )
    assert await listed(client, f"?status=open&order=oldest&after={newest - 1}") == {newest}
    # an "after" that is no ticket id is the first page
    assert len(await listed(client, "?after=-1")) == 200


async def test_the_form_shows_the_channel_and_assignee_the_list_is_filtered_by(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """The form offered only the channels and assignees of the tickets of the status chosen:
    switching C-BILLING's history back to open tickets read "No tickets match" under
    "Channel: any", the list still filtered to C-BILLING."""
    await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    done = await ask_for_a_person(rt, channel, "C-BILLING", "U-A2", "e2")
    await rt.bot.escalations.resolve(done, STAFF, channel, STAFF_DESK)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    page = await (
        await client.get("/admin/tickets?status=active&channel=slack:T1:C-BILLING&assignee=U-GONE")
    ).text()
    assert "No tickets match these filters." in page
    for name, chosen in (("channel", "slack:T1:C-BILLING"), ("assignee", "U-GONE")):
        select = re.search(rf'<select id="f-{name}" name="{name}">(.*?)</select>', page, re.S)
        assert select is not None and f'<option value="{chosen}" selected>' in select.group(1), name


async def test_each_workspace_shows_its_tickets_to_those_with_rights_there(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    # T2 names its own staff (as `[slack.workspaces.T2]` does for the chat); its admins are the shared ones
    rt = make_runtime(CONFIG + '[slack.workspaces.T2]\nstaff_users = ["U-TWO"]\n')
    client = await start(rt, clock, channel)
    try:
        one = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
        two = await ask_for_a_person(rt, channel, "C-GEN", "U-A2", "e2", workspace="T2")

        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # staff in T1 only
        assert await listed(client, "?status=all") == {one}
        assert (await client.get(f"/admin/tickets/{two}")).status == 404
        csrf = await csrf_of(client, f"/admin/tickets/{one}")
        assert (await client.post(f"/admin/tickets/{two}/claim", data={"csrf": csrf})).status == 404
        assert rt.state.ticket(two).status == TicketStatus.OPEN  # type: ignore[union-attr]

        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-TWO")) == 302  # staff in T2 only
        assert await listed(client, "?status=all") == {two}
        assert (await client.get(f"/admin/tickets/{one}")).status == 404
        csrf = await csrf_of(client, f"/admin/tickets/{two}")
        assert (await client.post(f"/admin/tickets/{two}/claim", data={"csrf": csrf})).status == 200
        claimed = rt.state.ticket(two)
        assert (
            claimed is not None and claimed.status == TicketStatus.CLAIMED and claimed.assignee_id == "U-TWO"
        )

        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302  # admin in both
        assert await listed(client, "?status=all") == {one, two}
        page = await (await client.get(f"/admin/tickets/{two}")).text()
        assert f'action="/admin/tickets/{two}/assign"' in page
    finally:
        await client.close()


async def _direct_message_ticket(rt: Runtime, channel: ConsoleChannel) -> Ticket:
    """A Discord direct message asking for a person: its ticket."""
    asked = InboundMessage(
        id="e-dm",
        conversation=ConversationRef(platform="discord", workspace="dm", channel="DM-C"),
        author=Author(id="D-ASK", name="asker"),
        text="I want to talk to a human please",
        addressed=True,
        visibility=Visibility.DIRECT,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )
    assert await rt.bot.on_message(asked, channel) == Outcome.ESCALATED
    [ticket] = rt.state.tickets()
    return ticket


async def test_a_servers_staff_see_and_claim_direct_message_tickets_as_from_that_server(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    # staff in G1 only: in the chat they list and claim direct messages' tickets from G1
    rt = make_runtime('[discord.workspaces."G1"]\nstaff_users = ["D-STAFF"]\n')
    client = await start(rt, clock, channel, platform="discord")
    try:
        ticket = await _direct_message_ticket(rt, channel)
        link = issue_link(rt.state, platform="discord", user_id="D-STAFF", base_url="http://x", clock=clock)
        assert await sign_in(client, link.split("token=", 1)[1]) == 302
        assert await listed(client, "?status=all") == {ticket.id}
        csrf = await csrf_of(client, f"/admin/tickets/{ticket.id}")
        assert (await client.post(f"/admin/tickets/{ticket.id}/claim", data={"csrf": csrf})).status == 200
        claimed = rt.state.ticket(ticket.id)
        assert (
            claimed is not None
            and claimed.status == TicketStatus.CLAIMED
            and claimed.assignee_id == "D-STAFF"
        )
    finally:
        await client.close()


async def test_the_overview_shows_a_person_the_questions_of_their_workspaces_only(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(CONFIG + '[slack.workspaces.T2]\nstaff_users = ["U-TWO"]\n')
    client = await start(rt, clock, channel)
    try:
        for n, (workspace, text) in enumerate(
            (("T1", "Where is the T1 billing page?"), ("T2", "Where is the T2 secret page?"))
        ):
            message = InboundMessage(
                id=f"o{n}",
                conversation=ConversationRef(platform="slack", workspace=workspace, channel="C-GEN"),
                author=Author(id=f"U-ASK{n}", name="asker"),
                text=text,
                addressed=True,
                visibility=Visibility.INTERNAL,
                sent_at=clock.now(),
            )
            await rt.bot.on_message(message, channel)
        clock.advance(minutes=5)

        def asked(report: dict[str, Any]) -> set[str]:
            return {q["question"] for q in report["top_questions"]}

        assert await sign_in(client, link_token(rt, clock, "U-TWO")) == 302  # staff in T2 only
        report = await (await client.get("/admin/api/overview?period=1d")).json()
        assert report["scope"]["workspace"] == "T2" and report["metrics"]["questions"] == 1
        assert asked(report) == {"Where is the T2 secret page?"}
        page = await (await client.get("/admin/?period=1d")).text()
        assert "--workspace T2" in page and "T1 billing" not in page

        client.session.cookie_jar.clear()
        # every workspace but T2, through a link (no workspace named): no figure counts T2's
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        response = await client.get("/admin/api/overview?period=1d")
        assert response.status == 403 and "sign in with Slack" in (await response.json())["error"]
        page = await client.get("/admin/?period=1d")
        assert page.status == 200 and "T2 secret" not in await page.text()

        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302  # every workspace
        report = await (await client.get("/admin/api/overview?period=1d")).json()
        assert asked(report) == {"Where is the T1 billing page?", "Where is the T2 secret page?"}
    finally:
        await client.close()


async def test_an_admin_assigns_a_ticket_as_support_assign_does(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    page = await (await client.get(f"/admin/tickets/{ticket_id}")).text()
    assert f'action="/admin/tickets/{ticket_id}/assign"' in page and '<option value="U-OLU">' in page
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    told = len(channel.posted)
    response = await client.post(
        f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "<@U-OLU>"}
    )
    assert response.status == 200 and "claimed" in (await response.text()).lower()
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == "U-OLU"
    assert [e["event"] for e in rt.state.ticket_events(ticket_id)][-1] == "reassigned"
    # the thread was told, tagging them
    assert any(m.id == "U-OLU" for _, reply in channel.posted[told:] for m in reply.mentions)
    audit = rt.state.audit_log()
    assert (audit[0].action, audit[0].user_id, audit[0].detail) == (
        "assign",
        "U-ADMIN",
        f"ticket #{ticket_id} to U-OLU",
    )
    # someone who is not a user id changes nothing
    response = await client.post(
        f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "two words"}
    )
    assert "user id" in await response.text()
    assert rt.state.ticket(ticket_id).assignee_id == "U-OLU"  # type: ignore[union-attr]


async def test_the_person_assigned_on_the_dashboard_is_tagged_in_the_thread(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """The thread used to read "U-ADMIN assigned this to U-OLU." with no tag (the person was
    never told) and the queue showed the raw id as their name: a bare id is no name, so they
    are tagged, as `/support assign N U-OLU` does."""
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    told = len(channel.posted)
    # picked from the page's own list, whose values are bare user ids
    response = await client.post(f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "U-OLU"})
    assert response.status == 200
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == "U-OLU"
    replies = [reply for _, reply in channel.posted[told:]]
    assert any(m.id == "U-OLU" for reply in replies for m in reply.mentions)


async def test_a_servers_admin_assigns_a_direct_message_ticket_to_the_servers_staff(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    """A direct message's ticket was assigned to the team of the "dm" workspace: a server's
    admin was refused its own staff ("D-STAFF is not on the team of this ticket's workspace
    (dm)"), who were not offered either. Its team is the server's they act from, whose staff
    see and claim such tickets."""
    rt = make_runtime('[discord.workspaces."G1"]\nstaff_users = ["D-STAFF"]\nadmin_users = ["D-ADMIN"]\n')
    client = await start(rt, clock, channel, platform="discord")
    try:
        ticket = await _direct_message_ticket(rt, channel)
        link = issue_link(rt.state, platform="discord", user_id="D-ADMIN", base_url="http://x", clock=clock)
        assert await sign_in(client, link.split("token=", 1)[1]) == 302
        page = await (await client.get(f"/admin/tickets/{ticket.id}")).text()
        assert "D-STAFF" in offered(page)
        csrf = await csrf_of(client, f"/admin/tickets/{ticket.id}")
        response = await client.post(
            f"/admin/tickets/{ticket.id}/assign", data={"csrf": csrf, "person": "D-STAFF"}
        )
        assert response.status == 200, status_line(await response.text())
        assigned = rt.state.ticket(ticket.id)
        assert assigned is not None and assigned.status == TicketStatus.CLAIMED
        assert assigned.assignee_id == "D-STAFF"
        # someone of no server's team is still refused, named by the server acted from
        response = await client.post(
            f"/admin/tickets/{ticket.id}/assign", data={"csrf": csrf, "person": "D-NOBODY"}
        )
        assert response.status == 403 and "(G1)" in status_line(await response.text())
    finally:
        await client.close()


def offered(page: str) -> set[str]:
    """The user ids the ticket page's assign list offers."""
    listed = re.search(r'<datalist id="staff">(.*?)</datalist>', page, re.S)
    assert listed is not None, "no assign list on the page"
    return set(re.findall(r'<option value="([^"]+)"', listed.group(1)))


async def test_the_assign_list_offers_the_tickets_workspace_staff_and_nobody_else_is_assigned(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    # T2 names its own staff, and its user group S-T2 is staff there too (the settings cannot
    # list its members: someone of it is known once they have worked a T2 ticket)
    rt = make_runtime(
        CONFIG
        + '[slack.workspaces.T2]\nstaff_users = ["U-TWO"]\nstaff_groups = ["S-T2"]\n'
        # a tag route names people for every workspace of the platform
        + '[escalation.tags.billing]\nslack_staff_users = ["U-BILL"]\n'
    )
    client = await start(rt, clock, channel)
    try:
        one = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
        two = await ask_for_a_person(rt, channel, "C-GEN", "U-A2", "e2", workspace="T2")
        other = await ask_for_a_person(rt, channel, "C-GEN", "U-A3", "e3", workspace="T2")
        grouped = Author(id="U-GRP", name="Gro", roles=frozenset({"S-T2"}))
        t2 = ConversationRef(platform="slack", workspace="T2", channel="C-T2-DESK")
        assert (await rt.bot.escalations.claim(other, grouped, channel, t2)).changed

        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302  # admin in both
        assert offered(await (await client.get(f"/admin/tickets/{one}")).text()) == {
            "U-SAM",
            "U-OLU",
            "U-ADMIN",
            "U-BILL",
        }
        assert offered(await (await client.get(f"/admin/tickets/{two}")).text()) == {
            "U-TWO",
            "U-GRP",
            "U-ADMIN",
            "U-BILL",
        }

        # the form is not the only guard: T2's people are refused for T1's ticket, and T1's for T2's
        csrf = await csrf_of(client, f"/admin/tickets/{one}")
        for ticket_id, person in ((one, "U-TWO"), (one, "<@U-GRP>"), (two, "U-SAM"), (one, "U-NOBODY")):
            told = len(channel.posted)
            response = await client.post(
                f"/admin/tickets/{ticket_id}/assign",
                data={"csrf": csrf, "person": person},
                allow_redirects=False,
            )
            assert response.status == 403, person
            text = await response.text()
            assert "not on the team of this ticket" in text and ("T2" if ticket_id == two else "T1") in text
            ticket = rt.state.ticket(ticket_id)
            assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.assignee_id is None
            assert channel.posted[told:] == []  # the thread was not told
        assert [e.action for e in rt.state.audit_log()] == ["signin"]

        # while its own people are taken, named or seen
        for ticket_id, person in ((two, "U-GRP"), (one, "U-OLU")):
            response = await client.post(
                f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": person}
            )
            assert response.status == 200
            assert rt.state.ticket(ticket_id).assignee_id == person  # type: ignore[union-attr]
    finally:
        await client.close()


async def test_the_queue_offers_only_the_people_of_the_viewers_workspaces(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(
        CONFIG + '[slack.workspaces.T2]\nstaff_users = ["U-TWO"]\nadmin_users = ["U-T2-BOSS"]\n'
    )
    client = await start(rt, clock, channel)
    try:
        await ask_for_a_person(rt, channel, "C-GEN", "U-A2", "e2", workspace="T2")

        def people(page: str) -> set[str]:
            select = re.search(r'<select id="f-assignee".*?</select>', page, re.S)
            assert select is not None
            return set(re.findall(r'<option value="(U-[^"]+)"', select.group(0)))

        assert await sign_in(client, link_token(rt, clock, "U-TWO")) == 302  # staff in T2 only
        assert people(await (await client.get("/admin/tickets")).text()) == {"U-TWO", "U-T2-BOSS"}
        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # every workspace but T2
        assert people(await (await client.get("/admin/tickets")).text()) == {"U-SAM", "U-OLU", "U-ADMIN"}
    finally:
        await client.close()


async def test_staff_may_not_assign(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    page = await (await client.get(f"/admin/tickets/{ticket_id}")).text()
    assert "/assign" not in page
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    response = await client.post(f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "U-SAM"})
    assert response.status == 403
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.assignee_id is None
    assert [e.action for e in rt.state.audit_log()] == ["signin"]


async def test_reopen_brings_a_resolved_ticket_back_and_tags_the_team(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    resolved = await client.post(
        f"/admin/tickets/{ticket_id}/resolve", data={"csrf": csrf, "note": "Restarted it."}
    )
    assert resolved.status == 200
    page = await resolved.text()
    assert "resolved" in page.lower() and f'action="/admin/tickets/{ticket_id}/reopen"' in page
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.RESOLVED and ticket.note == "Restarted it."
    told = len(channel.posted)
    response = await client.post(
        f"/admin/tickets/{ticket_id}/reopen", data={"csrf": csrf, "reason": "Still down"}
    )
    assert response.status == 200
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.resolved_at is None
    assert ticket.next_action_at is not None  # the first-response clock runs again
    events = rt.state.ticket_events(ticket_id)
    assert (events[-1]["event"], events[-1]["detail"], events[-1]["actor_id"]) == (
        "reopened",
        "Still down",
        "U-SAM",
    )
    assert any(f"reopened ticket #{ticket_id}" in reply.text for _, reply in channel.posted[told:])
    assert [(e.action, e.detail) for e in rt.state.audit_log()[:2]] == [
        ("reopen", f"ticket #{ticket_id}"),
        ("resolve", f"ticket #{ticket_id}"),
    ]
    # an open ticket is not reopened twice: nothing changes, nothing is audited
    again = await client.post(f"/admin/tickets/{ticket_id}/reopen", data={"csrf": csrf})
    assert "already" in await again.text()
    assert [e.action for e in rt.state.audit_log()] == ["reopen", "resolve", "signin"]


async def test_assign_pressed_again_changes_nothing_and_says_whom_it_is_with(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    assign = {"csrf": csrf, "person": "U-OLU"}
    assert (await client.post(f"/admin/tickets/{ticket_id}/assign", data=assign)).status == 200
    told, events = len(channel.posted), len(rt.state.ticket_events(ticket_id))
    again = await client.post(f"/admin/tickets/{ticket_id}/assign", data=assign)
    assert (
        status_line(await again.text())
        == f"Ticket #{ticket_id} is already assigned to U-OLU: nothing changed."
    )
    assert channel.posted[told:] == []  # the customer's thread is not told a second time
    assert len(rt.state.ticket_events(ticket_id)) == events
    assert [e.action for e in rt.state.audit_log()] == ["assign", "signin"]


async def test_a_note_on_many_lines_is_counted_and_kept_as_the_textarea_counted_it(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    # a textarea's maxlength counts a line break as one character; the form sends it as CRLF
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    assert f'maxlength="{NOTE_LIMIT}"' in await (await client.get(f"/admin/tickets/{ticket_id}")).text()
    typed = "\n".join(f"Step {i:02d}: restarted the worker, checked" for i in range(51))
    assert len(typed) <= NOTE_LIMIT < len(typed.replace("\n", "\r\n"))
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    told = len(channel.posted)
    form = {"csrf": csrf, "note": typed.replace("\n", "\r\n")}
    assert (await client.post(f"/admin/tickets/{ticket_id}/resolve", data=form)).status == 200
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.RESOLVED and ticket.note == typed
    posted = [reply.text for _, reply in channel.posted[told:]]
    assert any(typed in text for text in posted) and not any("\r" in text for text in posted)


async def test_what_the_ticket_page_says_after_an_action_reads_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    korean = {"Accept-Language": "ko-KR,ko;q=0.9"}
    nobody = await client.post(
        f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "two words"}, headers=korean
    )
    assert status_line(await nobody.text()) == "배정할 사람의 사용자 ID를 입력하세요(예: U12345)."
    stranger = await client.post(
        f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "U-STRANGER"}, headers=korean
    )
    assert stranger.status == 403
    assert status_line(await stranger.text()).startswith("U-STRANGER님은 이 티켓의 워크스페이스(T1) 팀에")
    long = await client.post(
        f"/admin/tickets/{ticket_id}/resolve", data={"csrf": csrf, "note": "x" * 2001}, headers=korean
    )
    assert status_line(await long.text()) == "메모가 2,001자입니다. 2,000자 이내로 줄여 주세요."
    english = await client.post(f"/admin/tickets/{ticket_id}/assign", data={"csrf": csrf, "person": "?"})
    assert status_line(await english.text()) == "Give the user id of the person to assign, e.g. U12345."


async def test_a_note_or_reason_typed_on_the_dashboard_is_redacted_as_in_the_chat(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    # `[privacy] redact` (card and token by default) covers `/support resolve N note` typed in
    # the chat; the same note typed here is kept and posted the same way
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
    told = len(channel.posted)
    await client.post(f"/admin/tickets/{ticket_id}/resolve", data={"csrf": csrf, "note": f"Refunded {CARD}."})
    await client.post(
        f"/admin/tickets/{ticket_id}/reopen", data={"csrf": csrf, "reason": f"Card {CARD} again"}
    )
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.note == "Refunded [card]."
    assert rt.state.ticket_events(ticket_id)[-1]["detail"] == "Card [card] again"
    posted = [reply.text for _, reply in channel.posted[told:]]
    assert any("Refunded [card]." in text for text in posted) and all(CARD not in text for text in posted)


async def test_the_timeline_hides_a_credential_the_store_kept_as_the_transcript_does(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    # `[privacy] redact = []` keeps text as written; the asker's reply that reopens the ticket
    # is the reopen event's detail, which the timeline shows
    rt = make_runtime(CONFIG + "[privacy]\nredact = []\n")
    client = await start(rt, clock, channel)
    try:
        ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
        await rt.bot.escalations.resolve(ticket_id, STAFF, channel, STAFF_DESK)
        ticket = rt.state.ticket(ticket_id)
        assert ticket is not None
        reply = InboundMessage(
            id="e2",
            conversation=ticket.conversation,
            author=Author(id="U-A1", name="U-A1"),
            text=f"still broken, my token is {SLACK_BOT_TOKEN_LONG}",
            addressed=False,
            visibility=Visibility.INTERNAL,
            sent_at=datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
        )
        await rt.bot.on_message(reply, channel)
        assert rt.state.ticket_events(ticket_id)[-1]["event"] == "reopened"
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        page = await (await client.get(f"/admin/tickets/{ticket_id}")).text()
        assert SLACK_BOT_TOKEN_LONG not in page and "my token is [redacted]" in page.split('id="timeline"')[1]
    finally:
        await client.close()


async def test_new_ticket_routes_need_a_session_rights_and_the_csrf_token(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    for action in ("assign", "reopen"):
        response = await client.post(f"/admin/tickets/{ticket_id}/{action}", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/admin/signin"
    assert (await client.get("/admin/tickets?status=all", allow_redirects=False)).status == 302
    # someone without rights is refused, and sees no ticket
    response = await client.post("/admin/signin", data={"token": link_token(rt, clock, "U-A1")})
    assert response.status == 403 and "talk to a human" not in await response.text()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    for action, data in (("assign", {"person": "U-SAM"}), ("reopen", {})):
        for csrf in ({}, {"csrf": "forged"}):
            response = await client.post(f"/admin/tickets/{ticket_id}/{action}", data={**data, **csrf})
            assert response.status == 403
    ticket = rt.state.ticket(ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.assignee_id is None
    assert [e.action for e in rt.state.audit_log()] == ["signin", "signin refused"]


async def test_standalone_cannot_assign_or_reopen(
    rt: Runtime, clock: FakeClock, channel: ConsoleChannel
) -> None:
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    await rt.bot.escalations.resolve(ticket_id, STAFF, channel, STAFF_DESK)
    client = await start(rt, clock, None, live=False)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        page = await (await client.get(f"/admin/tickets/{ticket_id}")).text()
        assert "Read-only" in page and "/reopen" not in page
        csrf = await csrf_of(client, f"/admin/tickets/{ticket_id}")
        for action in ("assign", "reopen"):
            response = await client.post(
                f"/admin/tickets/{ticket_id}/{action}", data={"csrf": csrf, "person": "U-SAM"}
            )
            assert response.status == 409
        ticket = rt.state.ticket(ticket_id)
        assert ticket is not None and ticket.status == TicketStatus.RESOLVED
    finally:
        await client.close()


async def test_the_queue_reads_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    clock.advance(minutes=5)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    page = await (await client.get("/admin/tickets", headers={"Accept-Language": "ko-KR,ko"})).text()
    assert '<html lang="ko">' in page and "대기열 필터" in page and "열림" in page
    # a row's age and SLA clock too (they read "5m" and "next deadline in 10m")
    assert "<td>5분</td>" in page and "<td>다음 기한까지 10분</td>" in page


async def test_the_ticket_transcript_and_timeline_read_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """A Korean page showed the transcript's speakers and the timeline's events as stored
    ("user", "bot", "opened", "claimed"): they read in Korean, as the queue's statuses do."""
    ticket_id = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    await rt.bot.escalations.claim(ticket_id, STAFF, channel, STAFF_DESK)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    korean = {"Accept-Language": "ko-KR"}
    page = await (await client.get(f"/admin/tickets/{ticket_id}", headers=korean)).text()
    transcript = page.split('<ol class="transcript">', 1)[1].split("</ol>", 1)[0]
    roles = re.findall(r"<li><strong>([^<]*):</strong>", transcript)
    timeline = page.split('id="timeline"', 1)[1]
    events = re.findall(r"<tr><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>", timeline)
    assert "사용자" in roles and not {"user", "bot", "staff"} & set(roles)
    assert events == ["생성됨", "담당 중"]
    english = await (await client.get(f"/admin/tickets/{ticket_id}")).text()
    assert "<td>opened</td>" in english and "<li><strong>user:</strong>" in english


def test_every_label_the_pages_show_for_a_value_has_its_korean() -> None:
    # these reach t() as values, which the template scan of test_i18n.py cannot see
    from bot.dashboard import drafts, gaps, queue, tickets
    from bot.dashboard.i18n import KOREAN

    labels = [
        *queue.STATUS_LABELS.values(),
        *queue.AGE_LABELS.values(),
        *queue.ORDER_LABELS.values(),
        *queue.SLA_LABELS.values(),
        *tickets.ROLE_LABELS.values(),
        *tickets.EVENT_LABELS.values(),
        *drafts.STATUS_LABELS.values(),
        *gaps.STATUS_LABELS.values(),
        *gaps.KIND_LABELS.values(),
    ]
    assert [label for label in labels if label not in KOREAN] == []
    # and every value the filters accept has a label
    assert set(queue.STATUS_LABELS) == set(queue.StatusFilter)
    assert set(queue.AGE_LABELS) == set(queue.AgeFilter)
    assert set(queue.ORDER_LABELS) == set(queue.QueueOrder)
    assert set(queue.SLA_LABELS) == {"", *queue.SlaState}


async def test_a_staff_member_who_wrote_in_a_thread_is_tagged_when_assigned(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """Only a person with no known name was tagged: a staff member who had written in a recent
    ticket thread is named to the team, so "U-ADMIN assigned this to Olu." went out with no tag
    and Olu was never told. The person assigned is tagged; the ticket keeps their name."""
    first = await ask_for_a_person(rt, channel, "C-GEN", "U-A1", "e1")
    thread = rt.state.ticket(first).conversation  # type: ignore[union-attr]
    said = InboundMessage(
        id="e-olu",
        conversation=thread,
        author=Author(id="U-OLU", name="Olu"),
        text="Looking into this now.",
        addressed=False,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 5, tzinfo=UTC),
    )
    await rt.bot.on_message(said, channel)
    second = await ask_for_a_person(rt, channel, "C-GEN", "U-A2", "e2")
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/tickets/{second}")
    told = len(channel.posted)
    response = await client.post(f"/admin/tickets/{second}/assign", data={"csrf": csrf, "person": "U-OLU"})
    assert response.status == 200
    ticket = rt.state.ticket(second)
    assert ticket is not None and (ticket.assignee_id, ticket.assignee_name) == ("U-OLU", "Olu")
    [note] = [reply for _, reply in channel.posted[told:] if "assigned this" in reply.text]
    assert (note.text, note.mentions) == (
        "U-ADMIN assigned this to you.",
        (Mention(kind=MentionKind.USER, id="U-OLU"),),
    )
