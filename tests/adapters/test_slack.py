"""The Slack adapter end to end: real slack-bolt and slack_sdk against the local fake Slack.

Each test runs the adapter's real entry point (`build_adapter(...).run()`) with the real
SupportBot, store and retrieval, over Socket Mode envelopes or signed HTTP requests from
`tests/fakes/slack_server.py`. The fake grants exactly the manifest's scopes, so any call the
adapter makes without the scope it declares fails these tests. Waits are on events (acks,
recorded calls, `adapter.drain()`), never on sleeps.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter, build_adapter
from adapters.slack.find_reply import REPLY_EVENT
from adapters.slack.manifest import BOT_SCOPES
from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.render import citation_text, iter_strings
from bot.app import Runtime
from bot.errors import ConversationDeleted, ConversationGone, FatalAdapterError, PlatformError, PostRefused
from bot.inbox import serialise_message
from bot.types import (
    Author,
    ConversationRef,
    InboundMessage,
    Reply,
    ReplyKind,
    TicketStatus,
    Visibility,
)
from tests.fakes.answerers import ConfidentExtractive, GatedExtractive
from tests.fakes.slack_server import (
    ApiCall,
    FakeSlack,
    interactive_form,
    load_payload,
    post_signed,
    slash_command_form,
)

STAFF = "W111"  # the fake's workspace owner, member of user group S111
MEMBER = "W222"  # an ordinary member
TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A workspace that grants exactly the manifest's scopes: a call needing another one
    fails the test here, even where the adapter would have degraded gracefully."""
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server
        refused = [(c.method, c.response) for c in server.api_calls if c.error == "missing_scope"]
        assert refused == [], "the manifest lacks a scope the adapter uses"


def slack_env(fake: FakeSlack, *, http: bool = False) -> dict[str, str]:
    env = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.api_url}
    if http:
        env["SLACK_SIGNING_SECRET"] = fake.signing_secret
    else:
        env["SLACK_APP_TOKEN"] = fake.app_token
    return env


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], fake: FakeSlack) -> Runtime:
    return make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())


@asynccontextmanager
async def running(runtime: Runtime, **options: Any) -> AsyncIterator[SlackAdapter]:
    """The adapter's real entry point, run as `supportbot run` runs it; the thinking reaction
    shows at once unless a test says otherwise, so tests can see it beside a quick answer."""
    options.setdefault("thinking_after", 0.0)
    adapter = build_adapter(
        runtime.bot,
        runtime.settings,
        host="127.0.0.1",
        port=0,
        ping_interval=1.0,
        retry_interval=0.01,
        **options,
    )
    task = asyncio.create_task(adapter.run())
    ready = asyncio.create_task(adapter.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        task.result()  # re-raises why it stopped
    assert ready in done, "the adapter did not start within 10 s"
    try:
        yield adapter
    finally:
        await adapter.close()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def slack(rt: Runtime, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        yield adapter


async def deliver(fake: FakeSlack, adapter: SlackAdapter, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Send an Events API envelope, require Slack's 3-second ack, wait until it is handled."""
    ack = await fake.socket_send("events_api", body, timeout=3.0, **kw)
    assert await adapter.drain(timeout=15)
    return ack


def posts(fake: FakeSlack, channel: str | None = None) -> list[ApiCall]:
    return [
        c
        for c in fake.calls("chat.postMessage")
        if c.ok and (channel is None or c.params["channel"] == channel)
    ]


def section_text(call: ApiCall) -> str:
    return "\n".join(b["text"]["text"] for b in call.json_param("blocks") if b["type"] == "section")


def buttons(call: ApiCall) -> list[dict[str, Any]]:
    blocks = call.json_param("blocks")
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def press(
    fake: FakeSlack, call: ApiCall, action_id: str, user: str, *, channel: str | None = None
) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when `user` presses a button on the message
    that `call` posted (built on the vendored Bolt fixture)."""
    channel = channel or str(call.response["channel"])  # type: ignore[index]
    ts = str(call.response["ts"])  # type: ignore[index]
    message = fake.message(channel, ts)
    assert message is not None
    [element] = [e for e in buttons(call) if e["action_id"] == action_id]
    payload = load_payload("block_actions__block_actions__body")
    payload["user"] = {
        "id": user,
        "username": fake.users[user]["name"],
        "name": fake.users[user]["name"],
        "team_id": "T111",
    }
    payload["team"] = {"id": fake.team_id, "domain": fake.team_domain}
    payload["channel"] = {"id": channel, "name": fake.channels[channel].get("name", "")}
    payload["container"] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    payload["message"] = message
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
    return fake.with_response_url(payload, channel=channel, message_ts=ts)


async def click(fake: FakeSlack, adapter: SlackAdapter, payload: dict[str, Any]) -> None:
    ack = await fake.socket_send("interactive", payload, timeout=3.0)
    assert set(ack) == {"envelope_id"}
    assert await adapter.drain(timeout=15)


async def ask_refund(fake: FakeSlack, slack: SlackAdapter) -> tuple[str, ApiCall]:
    body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
    await deliver(fake, slack, body)
    [answer] = posts(fake, "C111")
    return body["event"]["ts"], answer


# -- answering --------------------------------------------------------------------------------


async def test_a_mention_is_in_the_inbox_before_slack_gets_its_ack(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
    await fake.socket_send("events_api", body, timeout=3.0)
    # acked: a process killed now leaves the question to a replay, not to nobody
    assert [row["key"] for row in rt.state.db["inbox"].rows] == [f"slack:msg:C111:{body['event']['ts']}"]
    assert await slack.drain(timeout=15)
    assert len(posts(fake, "C111")) == 1


async def test_a_mention_that_cannot_be_recorded_is_not_acked_so_slack_delivers_it_again(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    from bot import faults

    body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
    with faults.crash_at("event.claiming", error=OSError("disk full")), pytest.raises(TimeoutError):
        await fake.socket_send("events_api", body, timeout=2.5)  # no ack: the message is nowhere yet
    assert await slack.drain(timeout=15)
    assert posts(fake, "C111") == []  # nothing said, nothing owed: Slack has it
    await deliver(fake, slack, body, retry_attempt=1, retry_reason="timeout")  # as Slack redelivers
    assert len(posts(fake, "C111")) == 1


async def test_a_mention_is_answered_in_its_thread_with_sources_and_buttons(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    question_ts, answer = await ask_refund(fake, slack)

    assert answer.params["channel"] == "C111"
    assert answer.params["thread_ts"] == question_ts
    value = buttons(answer)[0]["value"]
    record = rt.state.answer(int(value))
    assert record is not None and record.question == "How long does a refund take to arrive?"
    assert "five to seven business days" in record.answer
    assert record.sources[0].path == "refunds.md"
    assert answer.json_param("blocks") == [
        {"type": "section", "text": {"type": "mrkdwn", "text": to_mrkdwn(record.answer)}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "*Sources:*"},
                *(
                    {"type": "mrkdwn", "text": f"{n}. {citation_text(c)}"}
                    for n, c in enumerate(record.sources, start=1)
                ),
            ],
        },
        {
            "type": "actions",
            "block_id": "supportbot_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "supportbot:helpful",
                    "text": {"type": "plain_text", "text": "Helpful"},
                    "value": value,
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": "supportbot:not_helpful",
                    "text": {"type": "plain_text", "text": "Not helpful"},
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": "supportbot:talk_to_human",
                    "text": {"type": "plain_text", "text": "Talk to a person"},
                    "value": value,
                },
            ],
        },
    ]
    assert "Refund policy" in answer.json_param("blocks")[1]["elements"][1]["text"]
    assert answer.params["text"] == to_mrkdwn(record.answer)  # the notification fallback
    # the thinking reaction came before the answer and is gone after it
    order = [
        c.method
        for c in fake.api_calls
        if c.method in ("reactions.add", "chat.postMessage", "reactions.remove")
    ]
    assert order == ["reactions.add", "chat.postMessage", "reactions.remove"]
    assert fake.last_call("reactions.add").params["name"] == "eyes"
    assert "reactions" not in (fake.message("C111", question_ts) or {})
    assert fake.thread("C111", question_ts)[0]["ts"] == question_ts


async def test_an_answered_mention_costs_one_log_line_at_info(
    fake: FakeSlack, slack: SlackAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    """The core's line says what was decided; the adapter's post and outcome lines are DEBUG
    (each line is formatted and scanned for secrets: three a question was a tenth of a busy
    worker's event loop, bench/cluster_throughput.py)."""
    caplog.set_level(logging.INFO)
    await ask_refund(fake, slack)
    await slack.drain(5)
    ours = [
        r for r in caplog.records if r.name.startswith(("bot.", "adapters.")) and r.levelno >= logging.INFO
    ]
    assert [(r.name, r.getMessage().split()[0]) for r in ours] == [("bot.answering.responder", "answered")]
    caplog.set_level(logging.DEBUG)
    await deliver(fake, slack, fake.user_message("C111", "How do refunds work?", user=MEMBER, mention=True))
    await slack.drain(5)
    debug = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.slack")]
    assert "posted answer in 1 message(s)" in debug and "message answered" in debug


async def test_an_answer_quicker_than_the_indicator_delay_shows_no_thinking_reaction(
    fake: FakeSlack, rt: Runtime
) -> None:
    async with running(rt, thinking_after=60.0) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await deliver(fake, adapter, body)
    assert len(posts(fake, "C111")) == 1
    # the answer itself is the acknowledgement: no reaction flickers on and off beside it
    assert fake.calls("reactions.add") == [] and fake.calls("reactions.remove") == []


async def test_a_slow_answer_shows_the_thinking_reaction_until_it_is_posted(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    answerer = GatedExtractive()
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=answerer)
    async with running(runtime, thinking_after=0.01) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        await fake.socket_send("events_api", body, timeout=3.0)
        await asyncio.wait_for(answerer.asked.wait(), 10)
        # the answer is held back, so after the delay the reaction must show
        reaction = await fake.wait_for_call("reactions.add", timeout=10)
        assert reaction.params["timestamp"] == body["event"]["ts"]
        assert posts(fake, "C111") == [] and fake.calls("reactions.remove") == []
        answerer.gate.set()
        assert await adapter.drain(timeout=15)
    order = [
        c.method
        for c in fake.api_calls
        if c.method in ("reactions.add", "chat.postMessage", "reactions.remove")
    ]
    assert order == ["reactions.add", "chat.postMessage", "reactions.remove"]
    assert "reactions" not in (fake.message("C111", body["event"]["ts"]) or {})


async def test_a_burst_of_slow_answers_shows_no_more_thinking_reactions_than_slack_allows(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """reactions.add is rate-limited (Tier 3): past the workspace's budget the rest of a burst
    goes without the reaction, and is answered all the same."""
    answerer = GatedExtractive()
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=answerer)
    questions = 8
    async with running(runtime, thinking_after=0.01, thinking_per_minute=3) as adapter:
        await fake.wait_for_connection(1)
        bodies = [
            fake.user_message("C111", f"How long does refund number {n} take?", user=MEMBER, mention=True)
            for n in range(questions)
        ]
        for body in bodies:
            await fake.socket_send("events_api", body, timeout=3.0)
        await asyncio.wait_for(answerer.asked.wait(), 10)
        await fake.wait_for_call("reactions.add", count=3, timeout=10)
        await asyncio.sleep(0.2)  # every question has waited past the delay: no fourth comes
        assert len(fake.calls("reactions.add")) == 3
        answerer.gate.set()
        assert await adapter.drain(timeout=15)
    answered = {c.params["thread_ts"] for c in fake.calls("chat.postMessage")}
    assert answered == {body["event"]["ts"] for body in bodies}
    reacted = {c.params["timestamp"] for c in fake.calls("reactions.add")}
    assert {c.params["timestamp"] for c in fake.calls("reactions.remove")} == reacted
    assert len(reacted) == 3


async def test_a_direct_message_is_answered_without_a_mention(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    dm = fake.add_im(MEMBER)["id"]
    body = fake.user_message(dm, "How do I reset my password?", user=MEMBER)
    assert body["event"]["channel_type"] == "im"
    await deliver(fake, slack, body)
    [answer] = posts(fake, dm)
    assert answer.params["thread_ts"] == body["event"]["ts"]
    assert "Forgot password" in section_text(answer)
    assert fake.calls("reactions.add") and fake.calls("reactions.remove")
    assert not fake.calls("conversations.info")  # a DM's visibility needs no lookup
    state = rt.state.conversation(f"slack:T111:{dm}:{body['event']['ts']}")
    assert state is not None and state.bot_participating


async def test_a_guest_in_a_dm_sees_only_public_documents(fake: FakeSlack, slack: SlackAdapter) -> None:
    fake.add_user("W999", "guest", is_restricted=True)
    asked = "When does the database failover password rotation happen?"
    guest_dm = fake.add_im("W999")["id"]
    member_dm = fake.add_im(MEMBER)["id"]
    await deliver(fake, slack, fake.user_message(guest_dm, asked, user="W999"))
    await deliver(fake, slack, fake.user_message(member_dm, asked, user=MEMBER))
    guest, member = posts(fake, guest_dm), posts(fake, member_dm)
    assert guest and member  # both got a visible outcome
    assert "On-call runbook" in str(member[0].json_param("blocks"))
    assert "every Tuesday" not in str([c.params for c in guest])


async def test_a_member_whose_profile_cannot_be_read_counts_as_an_outsider(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    asked = "When does the database failover password rotation happen?"
    dm = fake.add_im(MEMBER)["id"]
    fake.fail("users.info", "internal_error", times=10)
    await deliver(fake, slack, fake.user_message(dm, asked, user=MEMBER))
    said = posts(fake, dm)
    assert said  # a visible outcome all the same
    # unknown person, unknown rights: a DM cannot reach the internal runbook
    assert "every Tuesday" not in str([c.params for c in said])
    assert "On-call runbook" not in str([c.params for c in said])


async def test_a_channel_whose_kind_cannot_be_read_counts_as_public(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    fake.add_channel("C444", "mystery")
    fake.fail("conversations.info", "internal_error", times=10)
    asked = f"<@{fake.bot_user_id}> When does the database failover password rotation happen?"
    await deliver(fake, slack, fake.user_message("C444", asked, user=MEMBER, mention=True))
    said = posts(fake, "C444")
    assert said
    # it might be shared with another organisation: internal documents stay out of it
    assert "every Tuesday" not in str([c.params for c in said])
    assert "On-call runbook" not in str([c.params for c in said])


async def test_a_follow_up_in_the_thread_needs_no_mention_but_chatter_is_ignored(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    question_ts, _ = await ask_refund(fake, slack)
    mark = fake.mark()
    await deliver(fake, slack, fake.user_message("C111", "hello everyone, lunch at noon", user=MEMBER))
    assert [c.method for c in fake.api_calls[mark:]] == []  # no answer, no reaction, no lookup

    follow_up = fake.user_message("C111", "How do I reset my password?", user=MEMBER, thread_ts=question_ts)
    await deliver(fake, slack, follow_up)
    second = posts(fake, "C111")[-1]
    assert len(posts(fake, "C111")) == 2
    assert second.params["thread_ts"] == question_ts
    assert "Forgot password" in section_text(second)


async def test_a_file_shared_with_no_text_in_the_bots_thread_is_not_greeted_as_a_newcomer(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    """The asker, answered in the thread, shares a screenshot with no message: a follow-up with
    no text, which got the newcomer's greeting ("Hi! Ask me a question...") in the middle of
    the conversation. Now nothing is said to it."""
    question_ts, _ = await ask_refund(fake, slack)
    screenshot = fake.user_message("C111", "", user=MEMBER, thread_ts=question_ts)
    screenshot["event"].update(subtype="file_share", files=[{"id": "F123", "name": "error.png"}])
    await deliver(fake, slack, screenshot)
    assert len(posts(fake, "C111")) == 1


async def test_a_retried_event_and_the_mention_message_pair_are_answered_once(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    mention = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
    # Slack also sends the mention as a plain message event, with its own event id
    as_message = copy.deepcopy(mention)
    as_message["event"].update(type="message", channel_type="channel")
    as_message["event_id"] = "Ev-message-copy"
    await deliver(fake, slack, as_message)
    await deliver(fake, slack, mention)
    await deliver(fake, slack, mention, retry_attempt=1, retry_reason="timeout")
    assert len(posts(fake)) == 1
    assert len(fake.calls("reactions.add")) == len(fake.calls("reactions.remove"))
    assert len(fake.acks) == 3  # every delivery was acknowledged


def edited_question(fake: FakeSlack, question_ts: str, text: str) -> dict[str, Any]:
    """The `message_changed` event of the asker editing their question in #C111 to `text`."""
    changed = fake.event_from_fixture("message.message_changed__message_changed__event_payload")
    changed["event"]["channel"] = "C111"
    changed["event"]["message"].update(
        text=f"<@{fake.bot_user_id}> {text}",
        ts=question_ts,
        user=MEMBER,
        edited={"user": MEMBER, "ts": fake.next_ts()},
    )
    return changed


async def test_an_edited_question_gets_its_answer_updated_in_place(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    question_ts, answer = await ask_refund(fake, slack)
    answer_ts = answer.response["ts"]
    changed = edited_question(fake, question_ts, "How do I reset my password?")
    await deliver(fake, slack, changed)
    assert len(posts(fake, "C111")) == 1  # no second answer
    [update] = [c for c in fake.calls("chat.update") if c.ok and c.params["ts"] == answer_ts]
    assert "Forgot password" in section_text(update)
    # Slack retries the same delivery: it is the same edit, answered once
    await deliver(fake, slack, changed)
    assert len([c for c in fake.calls("chat.update") if c.ok and c.params["ts"] == answer_ts]) == 1


async def test_edits_of_unanswered_messages_joins_and_bot_messages_are_not_answered(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    changed = fake.event_from_fixture("message.message_changed__message_changed__event_payload")
    # as Slack sends it: the edited message keeps its ts (the vendored fixture omits it)
    changed["event"]["message"].update(
        text=f"<@{fake.bot_user_id}> how do refunds work?", ts="1665102338.901939", user=MEMBER
    )
    joined = fake.event_from_fixture("member_joined_channel__events__join_event_body")
    channel_join = fake.event_callback(
        {
            "type": "message",
            "subtype": "channel_join",
            "user": MEMBER,
            "text": "<@W222> has joined the channel",
            "channel": "C111",
            "channel_type": "channel",
            "ts": fake.next_ts(),
        }
    )
    other_bot = fake.event_from_fixture(
        "message.bot_message__message_bot__classic_bot_message_event_payload",
        text=f"<@{fake.bot_user_id}> how do refunds work?",
        channel="C111",
    )
    own_echo = fake.event_callback(
        {
            "type": "message",
            "user": fake.bot_user_id,
            "bot_id": fake.bot_id,
            "text": "an answer",
            "channel": "C111",
            "channel_type": "channel",
            "ts": fake.next_ts(),
        }
    )
    for body in (changed, joined, channel_join, other_bot, own_echo):
        await deliver(fake, slack, body)
    assert posts(fake) == []
    assert fake.calls("reactions.add") == []
    # an edit is checked against the answers once (the bot never answered this message); a
    # bot's message is plainly not a question, and the join and the own echo never got that far
    assert [row["status"] for row in rt.state.db["inbox"].rows] == ["ignored"]


async def test_auto_answer_channels_answer_questions_but_not_chatter(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    fake.add_channel("C333", "help")
    runtime = make_runtime(
        TOML + '[slack.channels.C333]\nmode = "auto-answer"\n',
        env=slack_env(fake),
        answerer=ConfidentExtractive(),
    )
    async with running(runtime) as adapter:
        await deliver(fake, adapter, fake.user_message("C333", "thanks all, see you tomorrow", user=MEMBER))
        question = fake.user_message("C333", "How do I reset my password?", user=MEMBER)
        await deliver(fake, adapter, question)
    [answer] = posts(fake, "C333")
    assert answer.params["thread_ts"] == question["event"]["ts"]


async def test_slack_connect_channels_see_only_public_documents(fake: FakeSlack, slack: SlackAdapter) -> None:
    fake.add_channel("C333", "shared-with-partner")
    fake.channels["C333"]["is_ext_shared"] = True
    asked = "When does the database failover password rotation happen?"
    await deliver(fake, slack, fake.user_message("C333", asked, user=MEMBER, mention=True))
    await deliver(fake, slack, fake.user_message("C111", asked, user=MEMBER, mention=True))
    shared, internal = posts(fake, "C333"), posts(fake, "C111")
    assert shared and internal  # both got a visible outcome
    assert "On-call runbook" in str(internal[0].json_param("blocks"))
    assert all("On-call runbook" not in str(c.json_param("blocks")) for c in shared)
    assert "every Tuesday" not in str([c.params for c in shared])


async def test_the_bot_steps_back_when_staff_reply_and_returns_when_mentioned(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    question_ts, _ = await ask_refund(fake, slack)
    await deliver(
        fake, slack, fake.user_message("C111", "I'll take this one.", user=STAFF, thread_ts=question_ts)
    )
    await deliver(
        fake,
        slack,
        fake.user_message("C111", "How do I reset my password?", user=MEMBER, thread_ts=question_ts),
    )
    assert len(posts(fake, "C111")) == 1  # staff (a member of S111) took over: quiet
    mention = fake.user_message(
        "C111", "How do I reset my password?", user=MEMBER, thread_ts=question_ts, mention=True
    )
    await deliver(fake, slack, mention)
    assert len(posts(fake, "C111")) == 2
    assert fake.calls("usergroups.users.list")[0].params["usergroup"] == "S111"


# -- escalation, tickets, staff ---------------------------------------------------------------


async def test_talk_to_a_person_opens_a_ticket_tagging_the_user_group_and_a_triage_card(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    question_ts, answer = await ask_refund(fake, slack)
    await click(fake, slack, press(fake, answer, "supportbot:talk_to_human", MEMBER))

    escalation = posts(fake, "C111")[-1]
    assert escalation.params["thread_ts"] == question_ts
    assert escalation.params["text"].startswith("<!subteam^S111> ")
    assert "ticket #1" in section_text(escalation)
    assert [b["action_id"] for b in buttons(escalation)] == [
        "supportbot:claim",
        "supportbot:resolve",
    ]
    [card] = posts(fake, "C222")
    assert "thread_ts" not in card.params
    permalink = fake.last_call("chat.getPermalink")
    assert permalink.params["message_ts"] == question_ts
    assert f"<{permalink.response['permalink']}|Open the conversation>" in section_text(card)  # type: ignore[index]
    [ticket] = rt.state.tickets()
    assert ticket.status == TicketStatus.OPEN and ticket.asker_id == MEMBER


async def test_staff_claim_and_resolve_update_the_messages_and_others_are_refused(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    _, answer = await ask_refund(fake, slack)
    await click(fake, slack, press(fake, answer, "supportbot:talk_to_human", MEMBER))
    escalation, card = posts(fake, "C111")[-1], posts(fake, "C222")[-1]

    await click(fake, slack, press(fake, escalation, "supportbot:claim", MEMBER))
    refusal = fake.last_call("chat.postEphemeral")
    assert refusal.params["user"] == MEMBER
    assert "Only the support team can claim or resolve tickets." in refusal.params["text"]
    assert fake.calls("chat.update") == []
    assert rt.state.tickets()[0].status == TicketStatus.OPEN

    await click(fake, slack, press(fake, escalation, "supportbot:claim", STAFF))
    assert rt.state.tickets()[0].status == TicketStatus.CLAIMED
    updated = {c.params["ts"] for c in fake.calls("chat.update") if c.ok}
    assert updated == {escalation.response["ts"], card.response["ts"]}  # type: ignore[index]
    thread_note = fake.message("C111", escalation.response["ts"])  # type: ignore[index]
    assert thread_note is not None and "claimed by primary-owner" in thread_note["text"]
    assert "is looking at this now" in section_text(posts(fake, "C111")[-1])

    refreshed_card = fake.message("C222", card.response["ts"])  # type: ignore[index]
    assert refreshed_card is not None
    await click(fake, slack, press(fake, card, "supportbot:resolve", STAFF, channel="C222"))
    assert rt.state.tickets()[0].status == TicketStatus.RESOLVED
    final_card = fake.message("C222", card.response["ts"])  # type: ignore[index]
    assert final_card is not None and "resolved by primary-owner" in final_card["text"]
    assert not [b for b in final_card["blocks"] if b["type"] == "actions"]  # no buttons left


# -- slash commands ---------------------------------------------------------------------------


async def test_admin_commands_are_refused_to_members_and_allowed_to_workspace_admins(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    ack = await fake.socket_send(
        "slash_commands", fake.slash_command("/support", "reindex", user_id=MEMBER), timeout=3.0
    )
    assert set(ack) == {"envelope_id"}  # acked at once, with no payload
    assert await slack.drain(timeout=15)
    refused = await fake.wait_for_response()
    assert refused.response_type == "ephemeral"
    assert refused.text == "`/support reindex` is for admin only. Ask an admin if you need it."

    await fake.socket_send(
        "slash_commands", fake.slash_command("/support", "reindex", user_id=STAFF), timeout=3.0
    )
    assert await slack.drain(timeout=15)
    allowed = await fake.wait_for_response(count=2)
    assert allowed.response_type == "ephemeral" and "admin only" not in (allowed.text or "")
    assert fake.users[STAFF]["is_owner"] and allowed.context["user"] == STAFF


async def test_members_of_the_admin_user_group_may_run_admin_commands(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    fake.add_usergroup("S222", "bot-admins", users=[MEMBER])
    runtime = make_runtime(
        TOML + 'admin_groups = ["S222"]\n', env=slack_env(fake), answerer=ConfidentExtractive()
    )
    async with running(runtime) as adapter:
        await fake.socket_send(
            "slash_commands", fake.slash_command("/support", "stats", user_id=MEMBER), timeout=3.0
        )
        assert await adapter.drain(timeout=15)
    reply = (await fake.wait_for_response()).text or ""
    assert reply.startswith("Last 7 days:")
    assert {c.params["usergroup"] for c in fake.calls("usergroups.users.list")} == {"S111", "S222"}


async def test_a_bare_slash_command_shows_help_and_ask_answers_in_the_channel(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    await fake.socket_send("slash_commands", fake.slash_command("/support", "", user_id=MEMBER), timeout=3.0)
    assert await slack.drain(timeout=15)
    help_text = (await fake.wait_for_response()).text or ""
    assert help_text.startswith("Commands:") and "`/support ask &lt;question&gt;`" in help_text
    assert "reindex" not in help_text  # members see only what they may run

    await fake.socket_send(
        "slash_commands",
        fake.slash_command("/support", "ask How do I reset my password?", user_id=MEMBER),
        timeout=3.0,
    )
    assert await slack.drain(timeout=15)
    root, answer = posts(fake, "C111")
    # the question is posted for everyone, and answered in its own thread
    assert "thread_ts" not in root.params and "asked: How do I reset my password?" in root.params["text"]
    assert answer.params["thread_ts"] == root.response["ts"] and "Forgot password" in section_text(answer)


# -- safety -----------------------------------------------------------------------------------

HOSTILE_DOC = """\
# Escalation contacts

Escalation contacts for outages: <!channel> <!everyone> @here <@U123> <!subteam^S999> and
[page everyone](!channel). Write to the on-call rota for outages.
"""
PING = re.compile(
    r"<!(channel|here|everyone)|<@U123|<!subteam\^S999|(?<!\u200b)@(channel|here|everyone)\b", re.I
)


def outgoing_strings(fake: FakeSlack) -> list[str]:
    """Every string the bot sent Slack to show people."""
    strings: list[str] = []
    for method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
        for call in fake.calls(method):
            strings += iter_strings(call.params.get("text"))
            strings += iter_strings(call.json_param("blocks"))
    for post in fake.response_posts:
        strings += iter_strings(post.body)
    return strings


async def test_mentions_written_by_users_or_documents_never_ping(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], knowledge_dir: Path
) -> None:
    (knowledge_dir / "contacts.md").write_text(HOSTILE_DOC, encoding="utf-8")
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        question = "<!channel> <!everyone> <@U123> who are the escalation contacts for outages?"
        await deliver(fake, adapter, fake.user_message("C111", question, user=MEMBER, mention=True))
        [answer] = posts(fake)
        assert "Escalation contacts" in section_text(answer)
        # "@here" is shown, not broadcast; "<!channel>" is inline HTML to Markdown, not shown at all
        assert "@\u200bhere" in section_text(answer)
        # a request for a person quotes the question in the triage card
        ask = "<!here> <@U123> @channel I want to talk to a human"
        await deliver(fake, adapter, fake.user_message("C111", ask, user=MEMBER, mention=True))
        [card] = posts(fake, "C222")
        assert "I want to talk to a human" in section_text(card)
    strings = outgoing_strings(fake)
    assert strings
    offenders = [s for s in strings if PING.search(s)]
    assert offenders == []
    assert any("<!subteam^S111>" in s for s in strings)  # the one ping the bot means


# -- resilience -------------------------------------------------------------------------------


async def test_a_rate_limited_post_is_retried_after_retry_after(fake: FakeSlack, slack: SlackAdapter) -> None:
    fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    question_ts, answer = await ask_refund(fake, slack)
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]
    assert time.monotonic() - started >= 1.0  # it waited as Retry-After said
    assert answer.params["thread_ts"] == question_ts


async def test_a_failing_post_is_logged_the_reaction_removed_and_the_bot_carries_on(
    fake: FakeSlack, slack: SlackAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # the answer, the hand-off to people, and the plain apology all fail
    fake.fail("chat.postMessage", "channel_not_found", times=3)
    body = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    await deliver(fake, slack, body)
    assert [c.error for c in fake.calls("chat.postMessage")] == ["channel_not_found"] * 3
    assert "chat.postMessage failed: channel_not_found" in caplog.text
    assert fake.last_call("reactions.remove").ok
    assert "reactions" not in (fake.message("C111", body["event"]["ts"]) or {})
    assert fake.bot_token not in caplog.text

    _, answer = await ask_refund_again(fake, slack)
    assert answer.ok  # the adapter is alive and answering


async def ask_refund_again(fake: FakeSlack, slack: SlackAdapter) -> tuple[str, ApiCall]:
    body = fake.user_message("C111", "How long does a refund take to arrive?", user=MEMBER, mention=True)
    await deliver(fake, slack, body)
    return body["event"]["ts"], fake.last_call("chat.postMessage")


async def test_server_errors_are_retried_then_the_asker_gets_an_error_reply(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    fake.http_error("chat.postMessage", status=500, times=3)  # the first try and both retries
    body = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    await deliver(fake, slack, body)
    calls = fake.calls("chat.postMessage")
    assert [c.status for c in calls] == [500, 500, 500, 200, 200]
    apology, card = calls[3], calls[4]
    assert apology.params["thread_ts"] == body["event"]["ts"]
    assert "something went wrong on my side" in apology.params["text"]
    assert "<!subteam^S111>" in apology.params["text"]  # handed to people, not just apologised for
    assert card.params["channel"] == "C222"
    assert "reactions" not in (fake.message("C111", body["event"]["ts"]) or {})


async def test_a_failing_thinking_reaction_does_not_stop_the_answer(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    fake.fail("reactions.add", "too_many_reactions")
    _, answer = await ask_refund(fake, slack)
    assert answer.ok
    assert fake.calls("reactions.remove") == []  # nothing of ours to remove


async def test_socket_mode_reconnects_after_a_dropped_connection(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    await fake.socket_drop()
    second = await fake.wait_for_connection(2, timeout=10)
    assert len(fake.calls("apps.connections.open")) == 2
    body = fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    await deliver(fake, slack, body)
    assert fake.acks[-1]["_connection"] == second.number
    assert posts(fake)[0].params["thread_ts"] == body["event"]["ts"]


async def test_close_stops_a_socket_mode_connect_slack_sdk_is_still_retrying(
    fake: FakeSlack, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # a URL the socket server refuses: slack_sdk's connect() tries it again and again
    url = f"ws://{fake.host}:{fake.port}/link/?ticket=spent"
    fake.stub("apps.connections.open", {"ok": True, "url": url})
    adapter = build_adapter(rt.bot, rt.settings, host="127.0.0.1", port=0, ping_interval=0.05)
    task = asyncio.create_task(adapter.run())

    async def retrying() -> None:
        while not any(r.getMessage().startswith("Failed to connect") for r in caplog.records):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(retrying(), 10)
    await adapter.close()
    await asyncio.wait_for(task, 10)  # run() returns: nothing is left connecting
    assert not adapter.ready.is_set()


async def test_messages_left_unanswered_by_a_crash_are_answered_on_start(
    fake: FakeSlack, rt: Runtime
) -> None:
    question = fake.add_message("C111", "How do I reset my password?", user=MEMBER)
    pending = InboundMessage(
        id=f"C111:{question['ts']}",
        conversation=ConversationRef(platform="slack", workspace="T111", channel="C111"),
        author=Author(id=MEMBER, name="member"),
        text="How do I reset my password?",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=rt.bot.clock.now(),
    )
    rt.state.claim_event(f"slack:msg:{pending.id}", "slack", serialise_message(pending), rt.bot.clock.now())
    async with running(rt):
        [answer] = posts(fake)  # posted before the adapter reported ready
        assert answer.params["thread_ts"] == question["ts"]
    assert rt.state.pending_events("slack") == []


def _left_pending(fake: FakeSlack, rt: Runtime, text: str) -> dict[str, Any]:
    """A question a dead process had claimed and not finished: what the replay on start finds."""
    question = fake.add_message("C111", text, user=MEMBER)
    pending = InboundMessage(
        id=f"C111:{question['ts']}",
        conversation=ConversationRef(platform="slack", workspace="T111", channel="C111"),
        author=Author(id=MEMBER, name="member"),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=rt.bot.clock.now(),
    )
    rt.state.claim_event(f"slack:msg:{pending.id}", "slack", serialise_message(pending), rt.bot.clock.now())
    return question


async def test_a_reply_posted_but_never_noted_is_finished_not_posted_twice(
    fake: FakeSlack, rt: Runtime
) -> None:
    """Killed after its first post went out and before the inbox noted it: the replay finds that
    post in the thread (conversations.replies) and edits it into the answer."""
    question = _left_pending(fake, rt, "How do I reset my password?")
    thinking = fake.add_message("C111", "Looking into it…", user=fake.bot_user_id, thread_ts=question["ts"])
    async with running(rt):
        pass
    assert posts(fake) == []  # no second message
    finished = fake.message("C111", thinking["ts"])
    assert finished is not None and "password" in str(finished.get("text", "")).lower()
    assert rt.state.pending_events("slack") == []


async def test_a_bot_message_after_someone_else_spoke_is_not_taken_for_the_reply(
    fake: FakeSlack, rt: Runtime
) -> None:
    question = _left_pending(fake, rt, "How do I reset my password?")
    fake.add_message("C111", "same problem here", user="W333", thread_ts=question["ts"])
    earlier = fake.add_message("C111", "an answer to them", user=fake.bot_user_id, thread_ts=question["ts"])
    async with running(rt):
        [answer] = posts(fake)  # its own message: the bot's later one may answer the other person
    assert answer.params["thread_ts"] == question["ts"]
    assert fake.message("C111", earlier["ts"])["text"] == "an answer to them"  # type: ignore[index]


def _labelled(fake: FakeSlack, text: str, thread_ts: str, question: str) -> dict[str, Any]:
    """A bot post as `send` makes it: its metadata names the question it answers."""
    metadata = {"event_type": REPLY_EVENT, "event_payload": {"question": question}}
    return fake.add_message("C111", text, user=fake.bot_user_id, thread_ts=thread_ts, metadata=metadata)


async def test_the_answer_to_another_question_in_the_thread_is_never_taken(
    fake: FakeSlack, rt: Runtime
) -> None:
    """Two questions in a thread, then the bot's answer to the first (it names that question):
    the replay of the second must not overwrite it. It answers anew, naming its own question."""
    root = fake.add_message("C111", "How do I invite the bot?", user=MEMBER)
    question = fake.add_message("C111", "How do I reset my password?", user=MEMBER, thread_ts=root["ts"])
    first = _labelled(fake, "Invite it from the app directory.", root["ts"], f"C111:{root['ts']}")
    pending = InboundMessage(
        id=f"C111:{question['ts']}",
        conversation=ConversationRef(platform="slack", workspace="T111", channel="C111", thread=root["ts"]),
        author=Author(id=MEMBER, name="member"),
        text=question["text"],
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=rt.bot.clock.now(),
    )
    rt.state.claim_event(f"slack:msg:{pending.id}", "slack", serialise_message(pending), rt.bot.clock.now())
    async with running(rt):
        [answer] = posts(fake)
    assert fake.message("C111", first["ts"])["text"] == "Invite it from the app directory."  # type: ignore[index]
    metadata = answer.params["metadata"]  # slack_sdk sends it as JSON: a dict once parsed
    assert (json.loads(metadata) if isinstance(metadata, str) else metadata) == {
        "event_type": REPLY_EVENT,
        "event_payload": {"question": pending.id},
    }


async def test_a_post_naming_the_question_is_found_even_after_someone_spoke(
    fake: FakeSlack, rt: Runtime
) -> None:
    question = _left_pending(fake, rt, "How do I reset my password?")
    fake.add_message("C111", "same problem here", user="W333", thread_ts=question["ts"])
    ours = _labelled(fake, "Looking into it…", question["ts"], f"C111:{question['ts']}")
    async with running(rt):
        pass
    assert posts(fake) == []
    assert "password" in str(fake.message("C111", ours["ts"])["text"]).lower()  # type: ignore[index]


async def test_a_refused_bot_token_stops_the_adapter_for_good(
    make_runtime: Callable[..., Runtime], fake: FakeSlack
) -> None:
    fake.revoke_token(fake.bot_token)
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    with pytest.raises(FatalAdapterError, match="token_revoked") as info:
        async with running(runtime):
            pass
    assert fake.bot_token not in str(info.value)


@pytest.mark.parametrize("refusal", ["token_revoked", "invalid_auth", "missing_scope"])
async def test_a_refused_app_token_stops_the_adapter_for_good_saying_what_to_check(
    make_runtime: Callable[..., Runtime], refusal: str
) -> None:
    """slack_sdk's connect() would retry a refused app-level token for ever, logging a traceback
    each time: the adapter asks for the first Socket Mode URL once, and stops."""
    app_scopes = () if refusal == "missing_scope" else ("connections:write",)
    async with FakeSlack(bot_scopes=BOT_SCOPES, app_scopes=app_scopes) as server:
        env = slack_env(server)
        if refusal == "token_revoked":
            server.revoke_token(server.app_token)
        elif refusal == "invalid_auth":
            server.fail("apps.connections.open", refusal, times=100)
        runtime = make_runtime(TOML, env=env, answerer=ConfidentExtractive())
        with pytest.raises(FatalAdapterError, match=refusal) as info:
            async with running(runtime):
                pass
        assert "xapp-" in str(info.value) and "connections:write" in str(info.value)
        assert env["SLACK_APP_TOKEN"] not in str(info.value)
        assert len(server.calls("apps.connections.open")) == 1


async def test_an_app_token_revoked_while_connected_stops_the_adapter_at_the_reconnect(
    make_runtime: Callable[..., Runtime],
) -> None:
    """slack_sdk's reconnect would ask for a new URL with a revoked token for ever (an error
    every ping interval, no events): the refusal stops the adapter, saying what to check."""
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        runtime = make_runtime(TOML, env=slack_env(server), answerer=ConfidentExtractive())
        adapter = build_adapter(
            runtime.bot, runtime.settings, host="127.0.0.1", port=0, ping_interval=0.2, retry_interval=0.01
        )
        task = asyncio.create_task(adapter.run())
        try:
            await asyncio.wait_for(adapter.ready.wait(), 10)
            await server.wait_for_connection(1)
            server.revoke_token(server.app_token)
            await server.socket_drop()  # the network drops: slack_sdk reconnects
            with pytest.raises(FatalAdapterError, match="token_revoked") as info:
                await asyncio.wait_for(task, 10)
        finally:
            await adapter.close()
        assert "xapp-" in str(info.value)
        assert [c.error for c in server.calls("apps.connections.open")] == [None, "token_revoked"]


# -- HTTP mode --------------------------------------------------------------------------------


@pytest.fixture
async def http_slack(
    make_runtime: Callable[..., Runtime], fake: FakeSlack
) -> AsyncIterator[tuple[SlackAdapter, str, Runtime]]:
    runtime = make_runtime(TOML, env=slack_env(fake, http=True), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        assert adapter.mode == "http" and adapter.http_port
        yield adapter, f"http://127.0.0.1:{adapter.http_port}", runtime


async def test_http_mode_answers_signed_events_once_and_serves_health(
    fake: FakeSlack, http_slack: tuple[SlackAdapter, str, Runtime]
) -> None:
    adapter, base, _ = http_slack
    url = f"{base}/slack/events"
    status, text = await post_signed(
        url,
        json.dumps({"type": "url_verification", "challenge": "c-1"}).encode(),
        fake.signing_secret,
    )
    assert (status, json.loads(text)) == (200, {"challenge": "c-1"})

    body = json.dumps(
        fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    ).encode()
    started = time.monotonic()
    status, _ = await post_signed(url, body, fake.signing_secret)
    assert status == 200 and time.monotonic() - started < 3.0
    status, _ = await post_signed(url, body, fake.signing_secret, retry_num=1, retry_reason="http_timeout")
    assert status == 200
    assert await adapter.drain(timeout=15)
    [answer] = posts(fake)
    assert "Forgot password" in section_text(answer)

    form = slash_command_form(fake.slash_command("/support", "reindex", user_id=MEMBER))
    status, _ = await post_signed(
        url, form, fake.signing_secret, content_type="application/x-www-form-urlencoded"
    )
    assert status == 200
    assert await adapter.drain(timeout=15)
    assert "is for admin only" in ((await fake.wait_for_response()).text or "")

    async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["mode"] == "http"


async def test_http_mode_refuses_bad_and_stale_signatures_without_side_effects(
    fake: FakeSlack, http_slack: tuple[SlackAdapter, str, Runtime]
) -> None:
    adapter, base, runtime = http_slack
    url = f"{base}/slack/events"
    mark = fake.mark()
    body = json.dumps(
        fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    ).encode()
    stale = int(time.time()) - 10 * 60
    action = interactive_form(fake.with_response_url(load_payload("block_actions__block_actions__body")))
    for attempt in (
        post_signed(url, body, "not-the-signing-secret"),
        post_signed(url, body, fake.signing_secret, timestamp=stale),
        post_signed(url, action, "wrong", content_type="application/x-www-form-urlencoded"),
    ):
        status, _ = await attempt
        assert status == 401
    assert await adapter.drain(timeout=15)
    assert fake.api_calls[mark:] == []  # no post, no reaction, no lookup
    assert runtime.state.db["inbox"].count == 0  # nothing was even recorded
    assert fake.response_posts == []


async def test_a_post_to_an_archived_channel_is_refused_for_good_and_a_server_error_for_now(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    """What the clock's one-off posts tell apart (bot/insights/incidents.py): a conversation
    that will refuse every retry, and a refusal a retry may get past."""
    fake.add_channel("C444", "old-incidents", is_archived=True)

    def reply(channel: str) -> Reply:
        ref = ConversationRef(platform="slack", workspace="T111", channel=channel)
        return Reply(conversation=ref, text="The incident is over.", kind=ReplyKind.INFO)

    with pytest.raises(ConversationGone, match="is_archived") as archived:
        await slack.channel.send(reply("C444"))
    # still there to read (and channel_not_found is also a private channel the bot is not in):
    # its people are owed a ticket, unlike those of a conversation deleted (bot/errors.py)
    assert not isinstance(archived.value, ConversationDeleted)
    fake.fail("chat.postMessage", "internal_error")
    with pytest.raises(PlatformError, match="internal_error") as refused:
        await slack.channel.send(reply("C111"))
    # Slack says an internal_error may have been carried out in part: not a refusal of the post
    assert not isinstance(refused.value, ConversationGone | PostRefused)
    fake.fail("chat.postMessage", "restricted_action")
    with pytest.raises(PostRefused, match="restricted_action"):  # nothing posted: safe to post again
        await slack.channel.send(reply("C111"))
