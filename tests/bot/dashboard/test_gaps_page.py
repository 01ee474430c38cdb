"""The dashboard's knowledge gaps over loopback against a real store and index: the clusters
the clock placed, "as of" then, with their questions and status; the clock marking what the
docs now answer; dismissing one, and "draft from cluster", each as `/support gaps` does it and
audited; staff and admins only, CSRF on every change."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.insights.gaps import ADDRESSED_EVERY, ALL
from bot.store.gaps import GapKind, GapRecord, GapStatus
from bot.types import InboundMessage, Visibility
from tests.bot.dashboard.served import CONFIG, STAFF, Client, start
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in, status_line
from tests.bot.insights.test_gaps import EXPORT, REFUND, ask, two_gaps
from tests.fakes.clock import FakeClock
from tests.fakes.tokens import SLACK_BOT_TOKEN

INVOICES = """# Exporting invoices to CSV

To export your invoices to a CSV file, open Billing, choose Invoices and click
"Export CSV". The CSV export includes every invoice of the selected year.
"""


def hard_gap(rt: Runtime) -> GapRecord:
    return next(g for g in rt.state.gaps("slack", ALL) if g.kind == GapKind.HARD)


def listed(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-gap="(\d+)"', page)}


def placed_at(page: str) -> str:
    found = re.search(r"<span data-placed-at>([^<]*)</span>", page)
    assert found is not None
    return found.group(1)


async def test_the_gaps_list_shows_what_the_clock_placed_as_of_then(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    page = await (await client.get("/admin/gaps")).text()
    # the page places nothing itself: the running bot's clock does, and has not ticked yet
    assert listed(page) == set() and placed_at(page) == "never"
    assert rt.state.gaps("slack", ALL) == []
    await rt.bot.tick({"slack": channel})
    page = await (await client.get("/admin/gaps")).text()
    gaps = {g.kind: g for g in rt.state.gaps("slack", ALL)}
    assert listed(page) == {gaps[GapKind.HARD].id, gaps[GapKind.SOFT].id}
    assert placed_at(page) == clock.now().isoformat(timespec="seconds")
    assert "invoices" in page.lower() and "refund" in page.lower()
    hard = gaps[GapKind.HARD]
    shown = await (await client.get(f"/admin/gaps/{hard.id}")).text()
    assert all(q in shown for q in EXPORT) and not any(q in shown for q in REFUND)
    assert "<caption>" in shown and f'action="/admin/gaps/{hard.id}/dismiss"' in shown
    assert (await client.get("/admin/gaps/999")).status == 404
    # a question asked since is listed once the clock has placed it, with the later moment
    clock.advance(minutes=1)
    await rt.bot.on_message(ask(EXPORT[0], "U-LATER"), channel)
    assert hard_gap(rt).asks == len(EXPORT)
    await rt.bot.tick({"slack": channel})
    page = await (await client.get("/admin/gaps")).text()
    assert hard_gap(rt).asks == len(EXPORT) + 1 and placed_at(page) == clock.now().isoformat(
        timespec="seconds"
    )


async def test_the_gap_pages_hide_a_credential_the_config_lets_through(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(CONFIG + "[privacy]\nredact = []\n")  # stored as written
    await rt.bot.on_message(
        ask(f"How do I export invoices to CSV with token {SLACK_BOT_TOKEN}?", "U1"), channel
    )
    await rt.bot.tick({"slack": channel})
    gap = hard_gap(rt)
    assert SLACK_BOT_TOKEN in gap.representative
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        for page in (
            await (await client.get("/admin/gaps")).text(),
            await (await client.get(f"/admin/gaps/{gap.id}")).text(),
        ):
            assert "export invoices to CSV" in page and SLACK_BOT_TOKEN not in page
    finally:
        await client.close()


async def test_the_clock_marks_what_the_docs_now_answer_every_few_minutes(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    await two_gaps(rt, channel)
    await rt.bot.tick({"slack": channel})  # placed, and the docs searched once: nothing answers them
    hard = hard_gap(rt)
    assert hard.status == GapStatus.OPEN
    (knowledge_dir / "invoices.md").write_text(INVOICES, encoding="utf-8")
    await rt.bot.knowledge.reindex()
    clock.advance(minutes=1)
    await rt.bot.tick({"slack": channel})
    assert hard_gap(rt).status == GapStatus.OPEN  # checked a minute ago: not searched again yet
    clock.advance(seconds=ADDRESSED_EVERY.total_seconds())
    await rt.bot.tick({"slack": channel})
    assert hard_gap(rt).status == GapStatus.ADDRESSED
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    assert hard.id not in listed(await (await client.get("/admin/gaps")).text())
    assert hard.id in listed(await (await client.get("/admin/gaps?status=addressed")).text())


async def test_dismissing_a_gap_hides_it_and_is_audited(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    await rt.bot.insights.gaps.sync()  # what the clock does
    hard = hard_gap(rt)
    csrf = await csrf_of(client, f"/admin/gaps/{hard.id}")
    response = await client.post(f"/admin/gaps/{hard.id}/dismiss", data={"csrf": csrf})
    assert response.status == 200 and f"Gap #{hard.id} dismissed." in await response.text()
    assert hard_gap(rt).status == GapStatus.DISMISSED
    audit = rt.state.audit_log()[0]
    assert (audit.action, audit.user_id, audit.detail) == ("gap dismiss", "U-SAM", f"gap #{hard.id}")
    assert hard.id not in listed(await (await client.get("/admin/gaps")).text())
    assert hard.id in listed(await (await client.get("/admin/gaps?status=dismissed")).text())
    again = await client.post(f"/admin/gaps/{hard.id}/dismiss", data={"csrf": csrf})
    assert "already dismissed" in await again.text()
    assert [e.action for e in rt.state.audit_log()] == ["gap dismiss", "signin"]


async def test_draft_from_a_gap_uses_what_staff_answered_in_its_ticket(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    await rt.bot.insights.gaps.sync()  # what the clock does
    hard = hard_gap(rt)
    csrf = await csrf_of(client, f"/admin/gaps/{hard.id}")
    response = await client.post(f"/admin/gaps/{hard.id}/draft", data={"csrf": csrf})
    assert "Nobody has answered" in await response.text()
    assert rt.state.drafts(None) == []
    [ticket, *_] = [t for t in rt.state.tickets(statuses=None) if "invoices" in t.question.lower()]
    staff_reply = InboundMessage(
        id="staff-1",
        conversation=ticket.conversation,
        author=STAFF,
        text="Billing > Invoices > Export CSV gives you every invoice of the year.",
        addressed=False,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )
    await rt.bot.on_message(staff_reply, channel)
    response = await client.post(f"/admin/gaps/{hard.id}/draft", data={"csrf": csrf})
    page = await response.text()
    [draft] = rt.state.drafts()
    assert f"Draft #{draft.id} started from ticket #{ticket.id}" in page and "Export CSV" in draft.answer
    audit = rt.state.audit_log()[0]
    assert (audit.action, audit.detail) == (
        "gap draft",
        f"gap #{hard.id}: Draft #{draft.id} started from ticket #{ticket.id}, where staff answered this gap",
    )


async def test_drafting_from_a_gap_again_keeps_the_admins_edit(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """ "Draft from this gap" pressed again (or in a second tab) after an admin saved a reviewed
    answer on the draft's page silently replaced it with the ticket's raw staff reply. The
    draft is left as the admin saved it, and the press says the draft exists already."""
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()
    hard = hard_gap(rt)
    [ticket, *_] = [t for t in rt.state.tickets(statuses=None) if "invoices" in t.question.lower()]
    staff_reply = InboundMessage(
        id="staff-1",
        conversation=ticket.conversation,
        author=STAFF,
        text="billing > invoices > export csv, think it's per year",
        addressed=False,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )
    await rt.bot.on_message(staff_reply, channel)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    csrf = await csrf_of(client, f"/admin/gaps/{hard.id}")
    assert (await client.post(f"/admin/gaps/{hard.id}/draft", data={"csrf": csrf})).status == 200
    [draft] = rt.state.drafts()
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    admin_csrf = await csrf_of(client, f"/admin/drafts/{draft.id}")
    edited = "Open **Billing**, choose *Invoices* and press **Export CSV**. Exports cover one calendar year."
    form = {"csrf": admin_csrf, "title": "Exporting invoices to CSV", "answer": edited}
    assert (await client.post(f"/admin/drafts/{draft.id}/save", data=form)).status == 200
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    csrf = await csrf_of(client, f"/admin/gaps/{hard.id}")
    again = await (await client.post(f"/admin/gaps/{hard.id}/draft", data={"csrf": csrf})).text()
    assert [(d.id, d.answer) for d in rt.state.drafts()] == [(draft.id, edited)]
    assert f"Draft #{draft.id} from ticket #{ticket.id} already exists and was edited by hand" in again


async def test_gaps_need_a_session_rights_and_the_csrf_token(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()
    hard = hard_gap(rt)
    routes = [("GET", "/admin/gaps"), ("GET", f"/admin/gaps/{hard.id}")] + [
        ("POST", f"/admin/gaps/{hard.id}/{action}") for action in ("dismiss", "draft")
    ]
    for method, path in routes:
        response = await client.request(method, path, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/admin/signin", path
    refused = await client.post("/admin/signin", data={"token": link_token(rt, clock, "U-NOBODY")})
    assert refused.status == 403 and "invoices" not in (await refused.text()).lower()
    assert (await client.get("/admin/gaps", allow_redirects=False)).status == 302
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302  # admins see gaps too
    assert hard.id in listed(await (await client.get("/admin/gaps")).text())
    for action in ("dismiss", "draft"):
        for data in ({}, {"csrf": "forged"}):
            assert (await client.post(f"/admin/gaps/{hard.id}/{action}", data=data)).status == 403
    assert hard_gap(rt).status == GapStatus.OPEN and rt.state.drafts(None) == []
    assert [e.action for e in rt.state.audit_log()] == ["signin", "signin refused"]


async def test_standalone_shows_gaps_read_only(
    rt: Runtime, clock: FakeClock, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()
    hard = hard_gap(rt)
    client = await start(rt, clock, None, live=False)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        page = await (await client.get(f"/admin/gaps/{hard.id}")).text()
        assert "Read-only" in page and "/dismiss" not in page and EXPORT[0] in page
        csrf = await csrf_of(client, f"/admin/gaps/{hard.id}")
        for action in ("dismiss", "draft"):
            assert (await client.post(f"/admin/gaps/{hard.id}/{action}", data={"csrf": csrf})).status == 409
        assert hard_gap(rt).status == GapStatus.OPEN
    finally:
        await client.close()


async def test_the_gaps_pages_read_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()  # what the clock does
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    korean = {"Accept-Language": "ko-KR"}
    listing = await (await client.get("/admin/gaps", headers=korean)).text()
    assert "지식 공백" in listing and "답하지 못함" in listing and "답했지만 도움 안 됨" in listing
    assert "배치 기준 시각:" in listing
    page = await (await client.get(f"/admin/gaps/{hard_gap(rt).id}", headers=korean)).text()
    assert "이 공백으로 초안 만들기" in page and EXPORT[0] in page


async def test_how_long_ago_a_gaps_questions_were_asked_reads_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """The "Asked ago" column read "3h" on a Korean page: it says "3시간", as the queue's age does."""
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()  # what the clock does
    clock.advance(hours=3)
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    korean = {"Accept-Language": "ko-KR"}
    page = await (await client.get(f"/admin/gaps/{hard_gap(rt).id}", headers=korean)).text()
    ages = re.findall(r"<td>([^<]*)</td></tr>", page)
    assert ages and set(ages) == {"3시간"}


async def test_what_the_gap_page_says_after_dismissing_reads_in_korean(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    await two_gaps(rt, channel)
    await rt.bot.insights.gaps.sync()  # what the clock does
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
    hard = hard_gap(rt)
    csrf = await csrf_of(client, f"/admin/gaps/{hard.id}")
    korean = {"Accept-Language": "ko-KR"}
    dismissed = await client.post(f"/admin/gaps/{hard.id}/dismiss", data={"csrf": csrf}, headers=korean)
    asks = rt.settings.insights.gap_reopen_asks
    assert status_line(await dismissed.text()) == (
        f"공백 #{hard.id}을 무시했습니다. 앞으로 {asks}번 더 질문되면 다시 나타납니다."
    )
    again = await client.post(f"/admin/gaps/{hard.id}/dismiss", data={"csrf": csrf}, headers=korean)
    assert status_line(await again.text()) == f"공백 #{hard.id}은 이미 무시되었습니다."


async def test_each_workspace_shows_its_gaps_to_those_with_rights_there(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    rt = make_runtime(CONFIG + '[slack.workspaces.T2]\nstaff_users = ["U-TWO"]\n')
    client = await start(rt, clock, channel)
    try:
        for n, text in enumerate(EXPORT):
            await rt.bot.on_message(ask(text, f"U{n}"), channel)
            await rt.bot.on_message(ask(text, f"W{n}", workspace="T2"), channel)
        await rt.bot.tick({"slack": channel})
        by_workspace = {g.workspace: g.id for g in rt.state.gaps("slack", ALL)}
        assert set(by_workspace) == {"T1", "T2"}
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # staff in T1 only
        assert listed(await (await client.get("/admin/gaps")).text()) == {by_workspace["T1"]}
        assert (await client.get(f"/admin/gaps/{by_workspace['T2']}")).status == 404
        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-TWO")) == 302  # staff in T2 only
        assert listed(await (await client.get("/admin/gaps")).text()) == {by_workspace["T2"]}
        assert (await client.get(f"/admin/gaps/{by_workspace['T1']}")).status == 404
    finally:
        await client.close()
