"""Slack button presses and form submissions as Slack may shape them (adapters/slack/interactions.py).

Slack sends `user`, `channel` and `team` as objects with an `id` in most interactive payloads
and as the bare id in some; Bolt reads both, and the HTTP guard lets both through. Over
Socket Mode and HTTP, the press or form is read the same either way: no traceback, and the
person gets what the object form gets them. Where Slack lets the bot post nothing (a channel
it is not in, a DM between two people), a command or a press reaches its person through its
response URL, and each `/support ask` there is a conversation of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from bot.app import Runtime
from bot.messages import say
from bot.types import TicketStatus
from tests.adapters.test_privacy_e2e import press_ephemeral
from tests.adapters.test_slack import (
    MEMBER,
    STAFF,
    TOML,
    ask_refund,
    click,
    deliver,
    fake,
    http_slack,
    posts,
    press,
    rt,
    running,
    slack,
    slack_env,
)
from tests.adapters.test_slack_http_hostile import http, logs, send, tracebacks
from tests.fakes.answerers import RecordingExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import FakeSlack, interactive_form, load_payload, sign

__all__ = ["fake", "http", "http_slack", "logs", "rt", "slack"]  # the fixtures, imported

BARE_IDS = ["user", "channel", "team"]


def bare(payload: dict[str, Any], field: str) -> dict[str, Any]:
    """`payload` with `field` sent as its bare id instead of an object."""
    return {**payload, field: payload[field]["id"]}


@pytest.mark.parametrize("field", BARE_IDS)
async def test_a_press_naming_its_user_channel_or_team_by_bare_id_is_handled_over_socket_mode(
    field: str, fake: FakeSlack, slack: SlackAdapter, rt: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    _, answer = await ask_refund(fake, slack)
    await click(fake, slack, press(fake, answer, "supportbot:talk_to_human", MEMBER))
    escalation = posts(fake, "C111")[-1]

    await click(fake, slack, bare(press(fake, escalation, "supportbot:claim", STAFF), field))

    assert tracebacks(logs) == []
    [ticket] = rt.state.tickets()
    assert ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == STAFF


@pytest.mark.parametrize("field", BARE_IDS)
async def test_a_press_naming_its_user_channel_or_team_by_bare_id_is_handled_over_http(
    field: str,
    fake: FakeSlack,
    http_slack: tuple[SlackAdapter, str, Runtime],
    http: aiohttp.ClientSession,
    logs: pytest.LogCaptureFixture,
) -> None:
    adapter, base_url, runtime = http_slack
    url = f"{base_url}/slack/events"

    async def interact(payload: dict[str, Any]) -> int:
        raw = interactive_form(payload)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(raw, fake.signing_secret)}
        status = await send(http, url, raw, headers)
        assert await adapter.drain(timeout=15)
        return status

    event = json.dumps(fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True))
    assert (
        await send(
            http,
            url,
            event,
            {"Content-Type": "application/json", **sign(event.encode(), fake.signing_secret)},
        )
        == 200
    )
    assert await adapter.drain(timeout=15)
    [answer] = posts(fake, "C111")
    assert await interact(press(fake, answer, "supportbot:talk_to_human", MEMBER)) == 200
    escalation = posts(fake, "C111")[-1]

    assert await interact(bare(press(fake, escalation, "supportbot:claim", STAFF), field)) == 200

    assert tracebacks(logs) == []
    [ticket] = runtime.state.tickets()
    assert ticket.status == TicketStatus.CLAIMED and ticket.assignee_id == STAFF


async def test_a_form_submitted_with_a_bare_user_id_answers_that_user(
    fake: FakeSlack, slack: SlackAdapter, logs: pytest.LogCaptureFixture
) -> None:
    payload = load_payload("view_submission__view_submission__body")
    meta = {"action": "edit_draft", "value": "1", "channel": "C222", "thread": None, "message": None}
    payload.update(
        team={"id": fake.team_id, "domain": fake.team_domain},
        user=MEMBER,
        trigger_id=fake.trigger_id(),
        view={
            "id": "V1",
            "type": "modal",
            "callback_id": "supportbot:form",
            "private_metadata": json.dumps(meta),
            "state": {"values": {"supportbot_text": {"text": {"type": "plain_text_input", "value": "hi"}}}},
        },
        response_urls=[],
    )
    await fake.socket_send("interactive", payload, timeout=3.0)
    assert await slack.drain(timeout=15)

    assert tracebacks(logs) == []
    told = fake.last_call("chat.postEphemeral")
    assert told.params["user"] == MEMBER and told.params["text"] == say("draft_staff_only")


# -- slash commands ---------------------------------------------------------------------------


async def slash(fake: FakeSlack, slack: SlackAdapter, text: str, user: str, channel: str = "C111") -> None:
    command = fake.slash_command("/support", text, user_id=user, channel_id=channel)
    await fake.socket_send("slash_commands", command, timeout=3.0)
    assert await slack.drain(timeout=15)


async def test_a_question_naming_a_person_is_echoed_with_their_name_not_the_id_markup(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    await slash(fake, slack, "ask <@W111|primary-owner> told me to ask how long a refund takes", MEMBER)
    root = posts(fake, "C111")[0]
    assert "asked: @primary-owner told me to ask" in root.params["text"]
    assert "W111" not in root.params["text"]


async def test_assign_still_reads_the_person_from_their_mention(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    _, answer = await ask_refund(fake, slack)
    await click(fake, slack, press(fake, answer, "supportbot:talk_to_human", MEMBER))
    [ticket] = rt.state.tickets()

    await slash(fake, slack, f"assign {ticket.id} <@W111|primary-owner>", STAFF)

    [ticket] = rt.state.tickets()
    assert ticket.assignee_id == STAFF
    # the thread names them as the mention did, not by the id (it said "assigned this to W111")
    said = [c.params.get("text") or "" for c in posts(fake, "C111")]
    assert [t for t in said if "assigned this to" in t] == ["primary-owner assigned this to primary-owner."]


async def test_not_helpful_pressed_twice_tells_the_thread_once(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    """The asker presses "Not helpful" twice (a double click, or again later): one ticket and
    one public note in the thread; the repeat press is told privately that the question is
    with the team (before, a second public note)."""
    _, answer = await ask_refund(fake, slack)
    for _ in range(2):
        await click(fake, slack, press(fake, answer, "supportbot:not_helpful", MEMBER))
    assert len(rt.state.tickets()) == 1
    thread = [c.params.get("text") or "" for c in posts(fake, "C111")][1:]  # after the answer
    assert len(thread) == 1 and "ticket #1" in thread[0], thread
    [private] = [c.params for c in fake.calls("chat.postEphemeral")]
    assert private["user"] == MEMBER and "already with the support team" in private["text"]


async def test_a_resolve_whose_thread_note_slack_refused_still_shows_resolved_and_says_so(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    """Resolve pressed on the card while Slack refuses posts in the thread: the ticket is
    resolved (committed), so its card shows it at once, and the presser is told the thread
    was not told; before, the card kept "open" with live buttons and the presser was told to
    try again, which then said "already resolved"."""
    _, answer = await ask_refund(fake, slack)
    await click(fake, slack, press(fake, answer, "supportbot:talk_to_human", MEMBER))
    card = posts(fake, "C222")[-1]
    fake.fail("chat.postMessage", "fatal_error", times=5)
    await click(fake, slack, press(fake, card, "supportbot:resolve", STAFF, channel="C222"))
    fake.heal("chat.postMessage")
    assert rt.state.tickets()[0].status == TicketStatus.RESOLVED
    shown = fake.message("C222", card.response["ts"])
    assert shown is not None and "resolved" in shown["text"]
    told = fake.last_call("chat.postEphemeral").params["text"]
    assert "is now resolved" in told and "please tell the asker" in told


# -- where the bot may not post ---------------------------------------------------------------

OUTSIDE = "C777"  # a channel the bot was never invited to
OTHER = "W333"


def shown_answers(fake: FakeSlack) -> list[dict[str, Any]]:
    """The answers in OUTSIDE, posted through response URLs: the messages with buttons."""
    return [m for m in fake.messages(OUTSIDE) if any(b["type"] == "actions" for b in m.get("blocks", []))]


def press_shown(fake: FakeSlack, shown: dict[str, Any], action_id: str, user: str) -> dict[str, Any]:
    """A press on a message the fake holds: one posted through a response URL has no
    chat.postMessage call to build it from (tests/adapters/test_slack.py's `press`)."""
    [element] = [
        e
        for b in shown["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]
    payload = load_payload("block_actions__block_actions__body")
    name = fake.users[user]["name"]
    payload.update(
        user={"id": user, "username": name, "name": name, "team_id": fake.team_id},
        team={"id": fake.team_id, "domain": fake.team_domain},
        channel={"id": OUTSIDE, "name": fake.channels[OUTSIDE]["name"]},
        container={
            "type": "message",
            "message_ts": shown["ts"],
            "channel_id": OUTSIDE,
            "is_ephemeral": False,
        },
        message=shown,
        actions=[
            {
                "action_id": action_id,
                "block_id": "supportbot_actions",
                "text": element["text"],
                "value": element["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    )
    return fake.with_response_url(payload, channel=OUTSIDE, message_ts=shown["ts"])


def told(fake: FakeSlack, user: str) -> list[str]:
    """What `user` alone was shown: ephemerals, over chat.postEphemeral or a response URL."""
    return [str(e["message"].get("text") or "") for e in fake.ephemerals if e["user"] == user]


def everything_shown(fake: FakeSlack) -> list[str]:
    """What people were shown: the messages of every channel and every ephemeral."""
    said = [str(e["message"].get("text") or "") for e in fake.ephemerals]
    return said + [str(m.get("text") or "") for c in fake.channels for m in fake.messages(c)]


async def test_talk_to_a_person_under_a_slash_ask_answer_outside_the_bots_channels_reaches_the_asker(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    """`/support ask` where the bot is not a member is answered through the command's response
    URL, with the usual *Talk to a person*. Before, the press opened a ticket whose note Slack
    refused (not_in_channel) and the press's own response URL was never used: the asker was
    told "something went wrong, try again", and every retry said the same. Now the note comes
    through the press's URL, once: a second press is told the question is with the team."""
    fake.add_channel(OUTSIDE, "outside", bot_is_member=False)
    await slash(fake, slack, "ask How long does a refund take?", MEMBER, OUTSIDE)
    [answer] = shown_answers(fake)

    for _ in range(2):
        await click(fake, slack, press_shown(fake, answer, "supportbot:talk_to_human", MEMBER))

    [ticket] = rt.state.tickets()
    assert say("error_no_ticket") not in everything_shown(fake)
    notes = [m["text"] for m in fake.messages(OUTSIDE) if f"ticket #{ticket.id}" in m["text"]]
    assert len(notes) == 1 and "A person will reply" in notes[0], notes
    [again] = told(fake, MEMBER)
    assert "already with the support team" in again
    assert tracebacks(logs) == []


async def test_slash_ask_where_the_bot_is_not_a_member_does_not_answer_from_another_askers_question(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """Two people `/support ask` in a channel the bot is not in: answered through the response
    URL, with no thread. Before, both were one channel-level conversation: the second answer was
    written with the first asker's question and answer as its history (a model would read
    them), and their *Talk to a person* presses shared one ticket. Now each ask is its own."""
    fake.add_user(OTHER, "bob")
    fake.add_channel(OUTSIDE, "outside", bot_is_member=False)
    answerer = RecordingExtractive(confident=True)
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=answerer)
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        await slash(
            fake, adapter, "ask My account is acme-4471: how long does a refund take?", MEMBER, OUTSIDE
        )
        await slash(fake, adapter, "ask How do I reset my password?", OTHER, OUTSIDE)
        for answer, asker in zip(shown_answers(fake), (MEMBER, OTHER), strict=True):
            await click(fake, adapter, press_shown(fake, answer, "supportbot:talk_to_human", asker))

    assert [len(h) for h in answerer.histories] == [0, 0]
    tickets = sorted(runtime.state.tickets(), key=lambda t: t.id)
    assert [(t.asker_id, "acme-4471" in t.question) for t in tickets] == [(MEMBER, True), (OTHER, False)]
    assert tickets[0].conversation != tickets[1].conversation


async def test_slash_ask_where_the_bot_is_not_a_member_schedules_no_follow_up_it_cannot_post(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """A review of the above: its conversation of its own has a thread key Slack never gave,
    which the follow-ups read as a thread, so a day later "Did this solve it?" went top-level
    into a channel the bot is not in, refused (not_in_channel) with a traceback."""
    fake.add_channel(OUTSIDE, "outside", bot_is_member=False)
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=RecordingExtractive(confident=True))
    async with running(runtime) as adapter:
        await fake.wait_for_connection(1)
        await slash(fake, adapter, "ask How long does a refund take?", MEMBER, OUTSIDE)
        assert len(shown_answers(fake)) == 1
        clock.advance(hours=25)
        await runtime.bot.tick({"slack": adapter.channel})
        await runtime.bot.settle()
    asked = [c for c in fake.calls("chat.postMessage") if "Did this solve it?" in str(c.params.get("text"))]
    assert asked == []


async def test_forget_me_confirmed_in_a_dm_the_bot_is_not_in_tells_the_person_it_is_done(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime, logs: pytest.LogCaptureFixture
) -> None:
    """`/support forget-me` typed in a DM between two people: the confirmation comes through the
    command's response URL. Before, the press's reply went over chat.postEphemeral, which Slack
    refuses there: the data was deleted, the person told nothing (not even the apology), and
    two tracebacks logged. Now the press's response URL tells them."""
    await deliver(
        fake, slack, fake.user_message("C111", "How long does a refund take?", user=MEMBER, mention=True)
    )
    since = len(fake.response_posts)
    await slash(fake, slack, "forget-me", MEMBER, "D999")
    confirm = await fake.wait_for_response(since=since)

    await click(fake, slack, press_ephemeral(fake, confirm, "supportbot:forget_me_confirm", MEMBER))

    assert [t for t in told(fake, MEMBER) if "deleted or anonymised" in t], told(fake, MEMBER)
    assert tracebacks(logs) == []
