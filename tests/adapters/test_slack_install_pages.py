"""The OAuth pages of multi-workspace HTTP mode against what anyone on the internet may send.

`/slack/install` and `/slack/oauth_redirect` take unsigned GET requests: a body that is not
text is ignored rather than a 500, one address opening the install page in a loop is held
back (429) before it can fill the store's bound on installs under way, and that bound
refuses the newcomer (503) rather than cancel an install someone started. A state database
that refuses either page's write gives Bolt's failure page, with its link to start again, and
one WARNING line. Requests aiohttp's own parser rejects are a counted WARNING line, not an
ERROR traceback each.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from adapters.rate_limited_log import MALFORMED
from adapters.slack import SlackAdapter
from adapters.slack.install_pages import PAGES_PER_WINDOW, InstallLimit, client_key
from adapters.slack.installations import StoreOAuthStates, TooManyInstalls
from bot.store import AsyncStore, StateStore
from tests.adapters.test_slack_oauth import fake, finish_install, oauth_slack, start_install
from tests.adapters.test_slack_workspaces import state_of
from tests.fakes.slack_server import FakeSlack

__all__ = ["fake", "oauth_slack"]  # the fixtures, imported from test_slack_oauth

OauthSlack = tuple[SlackAdapter, str]


async def raw(port: int, request: bytes) -> bytes:
    """What the server answers to `request` sent as is (aiohttp's client would not send it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode()


async def test_a_body_that_is_not_text_is_ignored_by_both_pages(
    oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    adapter, _ = oauth_slack
    assert adapter.http_port is not None
    caplog.set_level(logging.DEBUG)
    bodies = (
        b"Content-Length: 2\r\n\r\n\xff\xfe",
        b"Content-Type: text/plain; charset=nope\r\nContent-Length: 2\r\n\r\nab",
    )
    statuses = set()
    for path in (b"/slack/install", b"/slack/oauth_redirect?code=x&state=y"):
        for body in bodies:
            request = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + body
            statuses.add((path, status_line(await raw(adapter.http_port, request))))
    assert statuses == {
        (b"/slack/install", "HTTP/1.1 200 OK"),  # the page, as without a body
        (b"/slack/oauth_redirect?code=x&state=y", "HTTP/1.1 400 Bad Request"),  # no state cookie
    }
    assert [r.name for r in caplog.records if r.exc_info] == []


async def test_one_address_opening_the_install_page_in_a_loop_is_held_back(
    fake: FakeSlack, oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    _, base = oauth_slack
    caplog.set_level(logging.WARNING, logger="adapters.slack.install_pages")
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")  # a person's install
        for _ in range(PAGES_PER_WINDOW - 1):
            async with http.get(f"{base}/slack/install") as page:
                assert page.status == 200
        async with http.get(f"{base}/slack/install") as page:
            assert page.status == 429 and int(page.headers["Retry-After"]) >= 1
        assert await finish_install(http, redirect, cookie) == 200  # still finishes
    [line] = [r.getMessage() for r in caplog.records if r.name == "adapters.slack.install_pages"]
    assert "127.0.0.1" in line and "429" in line
    assert fake.oauth.installs == ["T222"]


def test_the_address_count_starts_afresh_each_window_and_is_bounded() -> None:
    now = [0.0]
    limit = InstallLimit(per_window=2, window=60.0, max_clients=2, clock=lambda: now[0])
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a")] == [True, True, False]
    assert limit.allow("b") and not limit.allow("c")  # two addresses counted: the most kept
    assert limit.retry_after() == 61
    now[0] = 60.0
    assert limit.allow("a") and limit.allow("c")


def test_an_ipv6_visitor_is_counted_by_its_64_not_each_address() -> None:
    limit = InstallLimit(per_window=2, window=60.0, clock=lambda: 0.0)
    one_host = [client_key(f"2001:db8:1:2::{n:x}") for n in range(1, 4)]  # three addresses, one /64
    assert [limit.allow(key) for key in one_host] == [True, True, False]
    assert limit.allow(client_key("2001:db8:1:3::1"))  # the next /64 is someone else
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "an unknown address"


async def test_the_bound_on_installs_under_way_refuses_the_newcomer_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    try:
        states = StoreOAuthStates(store, limit=2)
        first, second = await states.async_issue(), await states.async_issue()
        with pytest.raises(TooManyInstalls):
            await states.async_issue()
        assert await states.async_consume(first) and await states.async_consume(second)
        assert await states.async_issue()  # room again once they are used
    finally:
        store.close()


async def test_a_flood_of_requests_aiohttp_cannot_parse_is_a_counted_line_not_a_traceback_each(
    oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    adapter, _ = oauth_slack
    assert adapter.http_port is not None
    caplog.set_level(logging.DEBUG)
    statuses = set()
    for n in range(200):
        request = (
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signature: v0=\x01secret-"
            + str(n).encode()
            + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        statuses.add(status_line(await raw(adapter.http_port, request)))
    MALFORMED.lines.flush()  # the count of the lines held back, now rather than a second later
    assert {s.split(" ", 1)[1] for s in statuses} == {"400 Bad Request"}
    lines = [r for r in caplog.records if r.name.startswith(("aiohttp", "adapters.rate_limited_log"))]
    assert [r for r in lines if r.exc_info or r.levelno >= logging.ERROR] == []
    assert 1 <= len(lines) <= 5
    assert all("secret-" not in r.getMessage() for r in lines)  # the raw header is not echoed
    assert "BadHttpMessage" in lines[0].getMessage() or "InvalidHeader" in lines[0].getMessage()


def refuse_writes(adapter: SlackAdapter, table: str) -> None:
    """The state database refuses every new row of `table`, as a full disk would."""
    db = sqlite3.connect(adapter.settings.data_dir / "state.db", isolation_level=None)
    db.execute(
        f"create trigger refuse_{table} before insert on {table} "
        "begin select raise(abort, 'database or disk is full'); end"
    )
    db.close()


def told_to_try_again(page: str) -> bool:
    """Bolt's failure page: it links the install page to start again."""
    return 'href="/slack/install"' in page and "try again" in page.lower()


def store_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "adapters.slack.installations"]


async def test_an_install_whose_token_the_store_cannot_keep_is_told_to_try_again(
    fake: FakeSlack, oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The install's write refused (a full disk): the store's error went through Bolt, which
    catches only its own, so the installer got aiohttp's bare 500 and the log a traceback."""
    adapter, base = oauth_slack
    caplog.set_level(logging.WARNING)
    refuse_writes(adapter, "slack_installations")
    async with aiohttp.ClientSession() as http:
        redirect, cookie = await start_install(http, base, "T222")
        async with http.get(redirect, headers={"Cookie": cookie}, allow_redirects=False) as done:
            assert done.status == 500 and told_to_try_again(await done.text())
    assert [r for r in caplog.records if r.exc_info] == []
    [line] = store_lines(caplog)
    said = line.getMessage()
    assert "T222" in said and "database or disk is full" in said, said
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    assert code not in said and str(fake.workspaces["T222"]["bot_token"]) not in said
    assert state_of(adapter).slack_installations() == []


async def test_an_install_page_whose_state_the_store_cannot_keep_is_told_to_try_again(
    oauth_slack: OauthSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The one-time state's write refused: the install page answered aiohttp's bare 500, with
    a traceback in the log."""
    adapter, base = oauth_slack
    caplog.set_level(logging.WARNING)
    refuse_writes(adapter, "slack_oauth_states")
    async with aiohttp.ClientSession() as http, http.get(f"{base}/slack/install") as page:
        assert page.status == 500 and told_to_try_again(await page.text())
    assert [r for r in caplog.records if r.exc_info] == []
    [line] = store_lines(caplog)
    assert "database or disk is full" in line.getMessage()
