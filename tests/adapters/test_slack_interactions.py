"""Slack button presses and form submissions as Slack may shape them (adapters/slack/interactions.py).

Slack sends `user`, `channel` and `team` as objects with an `id` in most interactive payloads
and as the bare id in some; Bolt reads both, and the HTTP guard lets both through. Over
Socket Mode and HTTP, the press or form is read the same either way: no traceback, and the
person gets what the object form gets them.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from bot.app import Runtime
from bot.messages import say
from bot.types import TicketStatus
from tests.adapters.test_slack import (
    MEMBER,
    STAFF,
    ask_refund,
    click,
    fake,
    http_slack,
    posts,
    press,
    rt,
    slack,
)
from tests.adapters.test_slack_http_hostile import http, logs, send, tracebacks
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


async def slash(fake: FakeSlack, slack: SlackAdapter, text: str, user: str) -> None:
    await fake.socket_send("slash_commands", fake.slash_command("/support", text, user_id=user), timeout=3.0)
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
