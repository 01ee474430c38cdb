"""The dashboard's knowledge drafts over loopback against a real store and knowledge folder:
review side by side, a preview that never renders a draft's HTML, save, approve as
`/support learn approve` does (the file written, indexed, and answered from), reject, and
admins only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.types import Author, ConversationRef, InboundMessage, Visibility
from tests.bot.dashboard.served import CONFIG, STAFF, Client, start
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in, status_line
from tests.bot.store.conftest import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.fakes.clock import FakeClock
from tests.fakes.tokens import SLACK_BOT_TOKEN

QUESTION = "How do I rotate the webhook signing key?"
STAFF_ANSWER = (
    "Open Settings, then Webhooks, and press Rotate signing key. The old webhook signing key keeps "
    "working for 24 hours so you can update your receivers."
)


def said(
    text: str, author: Author, conversation: ConversationRef, event: str, *, addressed: bool
) -> InboundMessage:
    return InboundMessage(
        id=event,
        conversation=conversation,
        author=author,
        text=text,
        addressed=addressed,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
    )


async def a_draft(rt: Runtime, channel: ConsoleChannel) -> int:
    """The learning loop as the chat runs it: unanswered, staff answer in the thread, resolved."""
    where = ConversationRef(platform="slack", workspace="T1", channel="C-GEN")
    asker = Author(id="U-ASK", name="Ann")
    assert (
        await rt.bot.on_message(said(QUESTION, asker, where, "q1", addressed=True), channel)
        == Outcome.ESCALATED
    )
    [ticket] = rt.state.tickets()
    await rt.bot.on_message(said(STAFF_ANSWER, STAFF, ticket.conversation, "s1", addressed=False), channel)
    result = await rt.bot.escalations.resolve(ticket.id, STAFF, channel, ticket.conversation)
    assert "knowledge draft #" in result.message
    [draft] = rt.state.drafts()
    return draft.id


async def test_an_admin_reviews_edits_and_approves_a_draft_and_the_bot_answers_from_it(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    listing = await (await client.get("/admin/drafts")).text()
    assert f'data-draft="{draft_id}"' in listing and QUESTION in listing
    page = await (await client.get(f"/admin/drafts/{draft_id}")).text()
    # side by side: the question, and the answer in a labelled plain textarea
    assert (
        QUESTION in page and '<label for="answer">' in page and '<textarea id="answer" name="answer"' in page
    )
    assert "Rotate signing key" in page.split('class="preview"', 1)[1]
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    edited = STAFF_ANSWER + "\n\n**Tip:** rotate before the old key expires."
    saved = await client.post(
        f"/admin/drafts/{draft_id}/save",
        data={"csrf": csrf, "title": "Rotating the webhook signing key", "answer": edited},
    )
    assert saved.status == 200 and f"Draft #{draft_id} saved." in await saved.text()
    draft = rt.state.draft(draft_id)
    assert draft is not None and draft.title == "Rotating the webhook signing key" and draft.answer == edited
    assert (rt.state.audit_log()[0].action, rt.state.audit_log()[0].detail) == (
        "draft edit",
        f"draft #{draft_id}",
    )

    approved = await client.post(
        f"/admin/drafts/{draft_id}/approve",
        data={"csrf": csrf, "title": "Rotating the webhook signing key", "answer": edited},
    )
    assert approved.status == 200 and "approved" in await approved.text()
    draft = rt.state.draft(draft_id)
    assert draft is not None and draft.status == "approved" and draft.path is not None
    written = knowledge_dir / draft.path
    assert draft.path.startswith("learned/") and written.is_file()
    front_text, body = written.read_text(encoding="utf-8").removeprefix("---\n").split("\n---\n", 1)
    front = yaml.safe_load(front_text)
    assert front == {
        "title": "Rotating the webhook signing key",
        "visibility": "internal",
        "tags": ["learned"],
        "source": f"ticket #{draft.ticket_id}",
        "date": clock.now().date().isoformat(),
    }
    assert body.startswith("# Rotating the webhook signing key") and "**Tip:**" in body
    audit = rt.state.audit_log()[0]
    assert (audit.action, audit.user_id, audit.detail) == (
        "draft approve",
        "U-ADMIN",
        f"draft #{draft_id} to {draft.path}",
    )
    # indexed at once: the next person asking gets the answer from the new file
    where = ConversationRef(platform="slack", workspace="T1", channel="C-GEN")
    asked = said(
        "how can I rotate my webhook signing key?",
        Author(id="U-NEW", name="New"),
        where,
        "q2",
        addressed=True,
    )
    assert await rt.bot.on_message(asked, channel) == Outcome.ANSWERED
    answer = channel.posted[-1][1]
    assert answer.citations[0].path == draft.path and "Rotate signing key" in answer.text
    # decided once: a second approval writes nothing
    again = await client.post(
        f"/admin/drafts/{draft_id}/approve", data={"csrf": csrf, "title": "x", "answer": "y"}
    )
    assert "already approved" in await again.text()
    assert len(list((knowledge_dir / "learned").glob("*.md"))) == 1


async def test_two_admins_approving_at_once_each_publish_their_own_text_or_nothing(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    # two editors press "Save and approve" at the same moment, each with their own edit
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    edits = {who: (f"Title by {who}", f"Answer written by admin {who}.") for who in ("A", "B")}
    responses = await asyncio.gather(
        *(
            client.post(
                f"/admin/drafts/{draft_id}/approve", data={"csrf": csrf, "title": title, "answer": answer}
            )
            for title, answer in edits.values()
        )
    )
    said = [await response.text() for response in responses]
    approved = [who for who, page in zip(edits, said, strict=True) if f"Draft #{draft_id} approved" in page]
    assert len(approved) == 1, said
    [winner] = approved
    [written] = (knowledge_dir / "learned").glob("*.md")
    text = written.read_text(encoding="utf-8")
    assert all(part in text for part in edits[winner])
    assert not any(part in text for who, parts in edits.items() if who != winner for part in parts)
    draft = rt.state.draft(draft_id)
    assert draft is not None and (draft.title, draft.answer) == edits[winner]


async def editor_of(client: Client, draft_id: int) -> dict[str, str]:
    """The hidden fields of a draft's editor as its page was made (CSRF token, version)."""
    page = await (await client.get(f"/admin/drafts/{draft_id}")).text()
    return dict(re.findall(r'<input type="hidden" name="(csrf|base)" value="([^"]*)"', page))


async def test_a_save_from_an_editor_opened_before_someone_elses_save_keeps_both_texts(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """Admin A opens the draft, admin B saves an edit, then A saves from the page as it was:
    B's text is not silently replaced; A keeps what they typed and sees B's; a second save
    (now knowing) replaces it."""
    draft_id = await a_draft(rt, channel)
    other = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        opened = await editor_of(client, draft_id)  # A's page, before B's save
        assert await sign_in(other, link_token(rt, clock, "U-ADMIN")) == 302
        theirs = "B's careful fix: press Rotate, wait 24 hours."
        saved = await other.post(
            f"/admin/drafts/{draft_id}/save",
            data={**await editor_of(other, draft_id), "title": "Rotating keys", "answer": theirs},
        )
        assert f"Draft #{draft_id} saved." in status_line(await saved.text())
        mine = "A's edit of the original answer."
        stale = await client.post(
            f"/admin/drafts/{draft_id}/save", data={**opened, "title": "Rotating keys", "answer": mine}
        )
        page = await stale.text()
        assert stale.status == 409 and "Someone else saved" in status_line(page)
        assert mine in page and theirs.replace("'", "&#39;") in page  # both texts shown
        draft = rt.state.draft(draft_id)
        assert draft is not None and draft.answer == theirs
        again = dict(re.findall(r'<input type="hidden" name="(csrf|base)" value="([^"]*)"', page))
        resaved = await client.post(
            f"/admin/drafts/{draft_id}/save", data={**again, "title": "Rotating keys", "answer": mine}
        )
        assert f"Draft #{draft_id} saved." in status_line(await resaved.text())
        draft = rt.state.draft(draft_id)
        assert draft is not None and draft.answer == mine
    finally:
        await other.close()


async def test_a_stale_save_refused_for_a_blank_title_still_shows_the_other_save_first(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    """A page answered for a blank title would carry the other save's version without showing
    its text, so the corrected save would replace it unseen: the other save is shown first."""
    draft_id = await a_draft(rt, channel)
    other = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        opened = await editor_of(client, draft_id)
        assert await sign_in(other, link_token(rt, clock, "U-ADMIN")) == 302
        theirs = "B's careful fix: press Rotate, wait 24 hours."
        await other.post(
            f"/admin/drafts/{draft_id}/save",
            data={**await editor_of(other, draft_id), "title": "Rotating keys", "answer": theirs},
        )
        stale = await client.post(
            f"/admin/drafts/{draft_id}/save", data={**opened, "title": "", "answer": "A's edit."}
        )
        page = await stale.text()
        assert stale.status == 409 and theirs.replace("'", "&#39;") in page
        draft = rt.state.draft(draft_id)
        assert draft is not None and draft.answer == theirs
    finally:
        await other.close()


async def test_the_preview_renders_markdown_and_never_a_drafts_html(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    hostile = (
        "**Bold** and `code`\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
        f"[click](javascript:alert(1)) and token {SLACK_BOT_TOKEN}"
    )
    response = await client.post(
        f"/admin/drafts/{draft_id}/preview", data={"csrf": csrf, "title": "Hostile", "answer": hostile}
    )
    assert response.status == 200
    page = await response.text()
    preview = page.split('class="preview">', 1)[1].split("</section>", 1)[0]
    assert page.count("<script") == 1 and '<script src="/admin/static/draft.js" defer>' in page  # ours only
    assert "<strong>Bold</strong>" in preview and "<code>code</code>" in preview
    assert "<script" not in preview and "<img" not in preview and 'href="javascript:' not in preview
    assert "&lt;script&gt;" in preview
    assert SLACK_BOT_TOKEN not in preview and "[redacted]" in preview  # as the file would be written
    draft = rt.state.draft(draft_id)
    assert draft is not None and draft.answer == STAFF_ANSWER  # a preview saves nothing
    assert [e.action for e in rt.state.audit_log()] == ["signin"]


async def test_reject_writes_nothing(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    response = await client.post(f"/admin/drafts/{draft_id}/reject", data={"csrf": csrf})
    assert f"Draft #{draft_id} rejected." in await response.text()
    draft = rt.state.draft(draft_id)
    assert draft is not None and draft.status == "rejected"
    assert not (knowledge_dir / "learned").exists()
    assert rt.state.audit_log()[0].action == "draft reject"
    assert f'data-draft="{draft_id}"' not in await (await client.get("/admin/drafts")).text()
    assert f'data-draft="{draft_id}"' in await (await client.get("/admin/drafts?status=rejected")).text()


async def test_an_admin_of_another_workspace_neither_sees_nor_decides_a_draft(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    # Sam is staff everywhere and an admin of T2 only: T1's drafts are for T1's admins
    rt = make_runtime(CONFIG + '[slack.workspaces.T2]\nadmin_users = ["U-SAM"]\n')
    client = await start(rt, clock, channel)
    try:
        draft_id = await a_draft(rt, channel)  # from a T1 ticket
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        listing = await client.get("/admin/drafts")
        assert listing.status == 200 and f'data-draft="{draft_id}"' not in await listing.text()
        assert (await client.get(f"/admin/drafts/{draft_id}")).status == 404
        csrf = await csrf_of(client, "/admin/tickets")
        assert (await client.post(f"/admin/drafts/{draft_id}/reject", data={"csrf": csrf})).status == 404
        assert (await client.post(f"/admin/drafts/{draft_id}/approve", data={"csrf": csrf})).status == 404
        draft = rt.state.draft(draft_id)
        assert draft is not None and draft.status == "pending"
    finally:
        await client.close()


async def test_an_empty_answer_is_refused_and_saves_nothing(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    response = await client.post(
        f"/admin/drafts/{draft_id}/save", data={"csrf": csrf, "title": "T", "answer": "  "}
    )
    assert response.status == 400 and "needs an answer" in await response.text()
    assert rt.state.draft(draft_id).answer == STAFF_ANSWER  # type: ignore[union-attr]


async def test_what_the_draft_editor_says_reads_in_the_viewers_language(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    korean = {"Accept-Language": "ko-KR,ko;q=0.9"}
    untitled = await client.post(
        f"/admin/drafts/{draft_id}/save", data={"csrf": csrf, "title": "", "answer": "x"}, headers=korean
    )
    assert untitled.status == 400
    assert (
        status_line(await untitled.text()) == "초안에는 제목이 있어야 합니다. 제목은 문서의 머리글이 됩니다."
    )
    form = {"csrf": csrf, "title": "Rotating keys", "answer": STAFF_ANSWER}
    saved = await client.post(f"/admin/drafts/{draft_id}/save", data=form, headers=korean)
    assert status_line(await saved.text()) == f"초안 #{draft_id}을 저장했습니다."
    rejected = await client.post(f"/admin/drafts/{draft_id}/reject", data={"csrf": csrf}, headers=korean)
    assert status_line(await rejected.text()) == f"초안 #{draft_id}을 거절했습니다."
    edited = form | {"answer": f"{STAFF_ANSWER} Then update the receivers."}
    again = await client.post(f"/admin/drafts/{draft_id}/save", data=edited)  # English, as the browser asks
    assert status_line(await again.text()) == f"Draft #{draft_id} was already rejected."
    again = await client.post(f"/admin/drafts/{draft_id}/approve", data=form, headers=korean)
    assert status_line(await again.text()) == f"초안 #{draft_id}은 이미 '거절됨' 상태입니다."


async def test_what_the_editor_saves_is_redacted_as_in_the_chat(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    # `[privacy] redact` (card and token by default) covers `learn title` and an edited draft in the chat
    draft_id = await a_draft(rt, channel)
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
    card = "4111 1111 1111 1111"
    await client.post(
        f"/admin/drafts/{draft_id}/save",
        data={"csrf": csrf, "title": f"Refunds to {card}", "answer": f"Use {SLACK_BOT_TOKEN} for {card}."},
    )
    draft = rt.state.draft(draft_id)
    assert draft is not None and draft.title == "Refunds to [card]"
    assert draft.answer == "Use [redacted] for [card]."


async def test_a_credential_stored_in_a_title_is_never_shown_in_the_list_or_heading(
    make_runtime: Callable[..., Runtime], clock: FakeClock, channel: ConsoleChannel
) -> None:
    """With `[privacy] redact` leaving tokens out, a title may hold one: the drafts list and
    the page's heading hide it as every other page does (the editor's field keeps the text
    it edits)."""
    rt = make_runtime(CONFIG + "[privacy]\nredact = []\n")
    draft_id = await a_draft(rt, channel)
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
        saved = await client.post(
            f"/admin/drafts/{draft_id}/save",
            data={"csrf": csrf, "title": f"Rotate {SLACK_BOT_TOKEN} now", "answer": "Press Rotate."},
        )
        assert saved.status == 200
        heading = (await (await client.get(f"/admin/drafts/{draft_id}")).text()).split("</h1>", 1)[0]
        listing = await (await client.get("/admin/drafts")).text()
        assert SLACK_BOT_TOKEN not in heading and "Rotate [redacted] now" in heading
        assert SLACK_BOT_TOKEN not in listing and "Rotate [redacted] now" in listing
    finally:
        await client.close()


async def test_drafts_are_for_admins_and_need_the_csrf_token(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    draft_id = await a_draft(rt, channel)
    routes = [("GET", "/admin/drafts"), ("GET", f"/admin/drafts/{draft_id}")] + [
        ("POST", f"/admin/drafts/{draft_id}/{action}") for action in ("preview", "save", "approve", "reject")
    ]
    for method, path in routes:  # no session
        response = await client.request(method, path, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/admin/signin", path
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # staff, not admin
    home = await (await client.get("/admin/tickets")).text()
    assert 'href="/admin/gaps"' in home and 'href="/admin/drafts"' not in home
    csrf = await csrf_of(client, "/admin/tickets")
    for method, path in routes:
        data = {"csrf": csrf, "title": "T", "answer": "A"} if method == "POST" else None
        response = await client.request(method, path, data=data)
        assert response.status == 403, path
        assert QUESTION not in await response.text()
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    assert 'href="/admin/drafts"' in await (await client.get("/admin/tickets")).text()
    for action in ("approve", "reject", "save"):
        for data in ({"title": "T", "answer": "A"}, {"csrf": "forged", "title": "T", "answer": "A"}):
            response = await client.post(f"/admin/drafts/{draft_id}/{action}", data=data)
            assert response.status == 403
    draft = rt.state.draft(draft_id)
    assert draft is not None and draft.status == "pending" and draft.answer == STAFF_ANSWER
    assert not (knowledge_dir / "learned").exists()
    assert [e.action for e in rt.state.audit_log()] == ["signin", "signin"]


async def test_standalone_reviews_but_does_not_approve(
    rt: Runtime, clock: FakeClock, channel: ConsoleChannel, knowledge_dir: Path
) -> None:
    draft_id = await a_draft(rt, channel)
    client = await start(rt, clock, None, live=False)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        page = await (await client.get(f"/admin/drafts/{draft_id}")).text()
        assert "/approve" not in page and re.search(r"Approving works only", page)
        csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
        response = await client.post(
            f"/admin/drafts/{draft_id}/approve", data={"csrf": csrf, "title": "T", "answer": STAFF_ANSWER}
        )
        assert response.status == 409
        assert rt.state.draft(draft_id).status == "pending"  # type: ignore[union-attr]
        assert not (knowledge_dir / "learned").exists()
    finally:
        await client.close()


async def test_the_drafts_pages_read_in_korean_and_the_editor_script_is_served(
    rt: Runtime, clock: FakeClock, client: Client, channel: ConsoleChannel
) -> None:
    draft_id = await a_draft(rt, channel)
    assert (await client.get("/admin/static/draft.js", allow_redirects=False)).status == 302  # no session
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    korean = {"Accept-Language": "ko"}
    listing = await (await client.get("/admin/drafts", headers=korean)).text()
    assert "지식 초안" in listing and "검토 대기" in listing
    page = await (await client.get(f"/admin/drafts/{draft_id}", headers=korean)).text()
    assert "저장 후 승인" in page and QUESTION in page
    script = await client.get("/admin/static/draft.js")
    assert script.status == 200 and "javascript" in script.content_type and "/preview" in await script.text()


async def test_approving_on_a_cluster_says_when_the_other_workers_follow(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    channel: ConsoleChannel,
    pg_url: str,  # noqa: F811
) -> None:
    """On several workers the page's worker indexes the approved file at once and the others at
    their next tick (bot/cluster.py); the notice said "indexed" as if every worker had, where
    the chat command says when the others follow."""
    rt = make_runtime(CONFIG, env={"SUPPORTBOT_DATABASE_URL": pg_url})
    draft_id = await a_draft(rt, channel)
    client = await start(rt, clock, channel)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        csrf = await csrf_of(client, f"/admin/drafts/{draft_id}")
        draft = rt.state.draft(draft_id)
        assert draft is not None
        approved = await client.post(
            f"/admin/drafts/{draft_id}/approve",
            data={"csrf": csrf, "title": draft.title, "answer": draft.answer},
        )
        assert "The other workers re-read the folder within a minute." in status_line(await approved.text())
    finally:
        await client.close()
