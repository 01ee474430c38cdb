"""Forget-me, memory and export end to end on Slack: real slack-bolt and slack_sdk against the
local fake Slack, the real core and store. The confirm button comes back on an ephemeral
(response-URL) message; after it, no column of any table of state.db holds the person."""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, click, deliver, running, slack_env
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, ResponseUrlPost, load_payload

OTHER = "W333"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], fake: FakeSlack) -> Runtime:
    fake.add_user(OTHER, "other", real_name="Other Member")
    return make_runtime(env=slack_env(fake), answerer=ConfidentExtractive())


async def slash(fake: FakeSlack, slack: SlackAdapter, text: str, user: str) -> ResponseUrlPost:
    since = len(fake.response_posts)
    await fake.socket_send("slash_commands", fake.slash_command("/support", text, user_id=user), timeout=3.0)
    assert await slack.drain(timeout=15)
    return await fake.wait_for_response(lambda r: r.context.get("user") in (user, None), since=since)


def press_ephemeral(fake: FakeSlack, post: ResponseUrlPost, action_id: str, user: str) -> dict[str, Any]:
    """A block_actions payload for a button on an ephemeral message (no message body: Slack sends
    only the container for those)."""
    elements = [e for b in post.blocks or [] if b["type"] == "actions" for e in b["elements"]]
    [element] = [e for e in elements if e["action_id"] == action_id]
    payload = load_payload("block_actions__block_actions__body")
    payload["user"] = {
        "id": user,
        "username": fake.users[user]["name"],
        "name": fake.users[user]["name"],
        "team_id": "T111",
    }
    payload["team"] = {"id": fake.team_id, "domain": fake.team_domain}
    channel = post.context.get("channel") or "C111"
    payload["channel"] = {"id": channel, "name": fake.channels.get(channel, {}).get("name", "")}
    payload["container"] = {
        "type": "message",
        "message_ts": f"{time.time():.6f}",
        "channel_id": channel,
        "is_ephemeral": True,
    }
    payload.pop("message", None)
    payload["actions"] = [
        {
            "action_id": action_id,
            "block_id": "supportbot_actions",
            "text": element["text"],
            "value": element["value"],
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
    ]
    return fake.with_response_url(copy.deepcopy(payload), channel=channel)


def cells_with(path: Path, needle: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        found = []
        for (name,) in db.execute("select name from sqlite_master where type = 'table'").fetchall():
            for row in db.execute(f'select * from "{name}"'):
                found += [(name, str(c)) for c in row if isinstance(c, str) and needle.lower() in c.lower()]
        return found
    finally:
        db.close()


async def test_memory_export_and_forget_me_through_slack(fake: FakeSlack, rt: Runtime) -> None:
    state = rt.settings.data_dir / "state.db"
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        assert "Memory is on" in ((await slash(fake, slack, "remember on", MEMBER)).text or "")
        await deliver(
            fake,
            slack,
            fake.user_message(
                "C111", "We're on the Gizmo plan: how do I reset my password?", user=MEMBER, mention=True
            ),
        )
        await deliver(
            fake,
            slack,
            fake.user_message(
                "C111", "How do I reset my password, other person here?", user=OTHER, mention=True
            ),
        )
        shown = await slash(fake, slack, "me", MEMBER)
        assert "plan: Gizmo plan" in (shown.text or json.dumps(shown.blocks))

        before = len(fake.response_posts)
        await fake.socket_send(
            "slash_commands", fake.slash_command("/support", "my-data", user_id=MEMBER), timeout=3.0
        )
        assert await slack.drain(timeout=15)
        await fake.wait_for_response(lambda r: "everything I keep" in json.dumps(r.body), since=before)
        exported = json.dumps([r.body for r in fake.response_posts[before:]], ensure_ascii=False)
        assert "Gizmo plan" in exported and "other person here" not in exported

        confirm = await slash(fake, slack, "forget-me", MEMBER)
        assert "cannot be undone" in (confirm.text or json.dumps(confirm.blocks))
        await click(fake, slack, press_ephemeral(fake, confirm, "supportbot:forget_me_confirm", OTHER))
        assert cells_with(state, MEMBER)  # someone else's press forgets nobody
        await click(fake, slack, press_ephemeral(fake, confirm, "supportbot:forget_me_confirm", MEMBER))
        told = json.dumps(
            [c.params for c in fake.calls("chat.postEphemeral")] + [r.body for r in fake.response_posts]
        )
        assert "Only the person who asked" in told and "deleted or anonymised" in told

    assert cells_with(state, MEMBER) == []
    assert cells_with(state, "Gizmo") == [] and cells_with(state, "reset my password?") == []
    assert cells_with(state, "other person here")  # the other member is untouched
    assert rt.state.memory("slack", MEMBER) == (False, [])


async def test_a_command_name_that_is_not_a_command_stays_out_of_the_log(
    fake: FakeSlack, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """`/support ann@example.com` (an address typed where a command goes) is refused, and the
    log names no command rather than the address: the log keeps secrets out, not personal data.
    (At INFO, the bot's own level: the libraries' DEBUG lines show whole payloads.)"""
    caplog.set_level(logging.INFO)
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        refused = await slash(fake, slack, "ann@example.com please", MEMBER)
        assert "There is no command" in (refused.text or json.dumps(refused.blocks))
    assert "ann@example.com" not in caplog.text
    assert "(not a command)" in caplog.text


async def test_my_data_cut_short_says_so_wherever_it_was_typed(fake: FakeSlack, rt: Runtime) -> None:
    """A long export typed in a DM between two people, where only the command's response URL
    reaches the person. Before, five parts and then the line saying it was cut short: a sixth
    post, which the URL refuses (it takes five), and chat.postEphemeral cannot reach that DM, so
    the line was lost and "part 5 of 5" read as the whole export. Now the last part says it."""
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        for n in range(25):
            question = f"How long does refund {n} take to reach card {n}?"
            await deliver(fake, slack, fake.user_message("C111", question, user=MEMBER, mention=True))
        since = len(fake.response_posts)
        asked = fake.slash_command("/support", "my-data", user_id=MEMBER, channel_id="D999")
        await fake.socket_send("slash_commands", asked, timeout=3.0)
        assert await slack.drain(timeout=15)
    sent = fake.response_posts[since:]
    assert [r.status for r in sent] == [200] * 5
    assert "part 5 of 5" in (sent[-1].text or "") and "cut short" in (sent[-1].text or "")
