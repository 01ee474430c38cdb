"""Follow-ups end to end: the real slack-bolt and discord.py against the local fakes, with the
real core, store and clock tick behind them. An answer nobody confirmed gets one "Did this solve
it?" in its thread when the clock passes `[followup] after_hours`; its buttons come back as the
core's Solved / Still stuck; only the asker's press counts, and a double click on Still stuck
opens one ticket. Nothing sleeps: the tests move the fake clock and wait on the fakes' journals.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from bot.types import TicketStatus
from tests.adapters import test_discord_adapter as d
from tests.adapters import test_slack as s
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FLAG_EPHEMERAL, FakeDiscord
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(60)


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server
        refused = [c.method for c in server.api_calls if c.error == "missing_scope"]
        assert refused == [], "the manifest lacks a scope the follow-up uses"


async def test_slack_one_follow_up_whose_buttons_confirm_or_open_one_ticket(
    slack_fake: FakeSlack, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    fake = slack_fake
    rt = make_runtime(s.TOML, env=s.slack_env(fake), answerer=ConfidentExtractive())
    async with s.running(rt) as slack:
        await fake.wait_for_connection(1)
        question_ts, answer = await s.ask_refund(fake, slack)
        answer_id = s.buttons(answer)[0]["value"]

        clock.advance(hours=23)
        assert await rt.bot.tick({"slack": slack.channel}) == 0
        clock.advance(hours=1)
        assert await rt.bot.tick({"slack": slack.channel}) == 1
        assert await rt.bot.tick({"slack": slack.channel}) == 0  # once per thread
        await rt.bot.settle()
        followup = s.posts(fake, "C111")[-1]
        assert len(s.posts(fake, "C111")) == 2  # the answer, then the follow-up
        assert followup.params["thread_ts"] == question_ts
        assert "Did this solve it?" in s.section_text(followup)
        assert followup.params["text"].startswith(f"<@{s.MEMBER}>")  # the asker, and only them
        assert [(b["action_id"], b["value"]) for b in s.buttons(followup)] == [
            ("supportbot:solved", answer_id),
            ("supportbot:still_stuck", answer_id),
        ]

        # someone else's press: a note only they see, nothing recorded
        await s.click(fake, slack, s.press(fake, followup, "supportbot:still_stuck", s.STAFF))
        refusal = fake.last_call("chat.postEphemeral")
        assert refusal.params["user"] == s.STAFF and "Only the person who asked" in refusal.params["text"]
        assert rt.state.tickets() == []

        # the asker double-clicks Still stuck: one ticket, one hand-off in the thread
        first = s.press(fake, followup, "supportbot:still_stuck", s.MEMBER)
        second = s.press(fake, followup, "supportbot:still_stuck", s.MEMBER)
        second["actions"][0]["action_ts"] = first["actions"][0]["action_ts"] + "1"  # a distinct press
        acks = await asyncio.gather(
            fake.socket_send("interactive", first, timeout=3.0),
            fake.socket_send("interactive", second, timeout=3.0),
        )
        assert all(set(ack) == {"envelope_id"} for ack in acks)
        assert await slack.drain(timeout=15)
        [ticket] = rt.state.tickets()
        assert ticket.status == TicketStatus.OPEN and ticket.asker_id == s.MEMBER
        handoffs = [c for c in s.posts(fake, "C111") if "ticket #1" in s.section_text(c)]
        assert len(handoffs) == 1 and handoffs[0].params["thread_ts"] == question_ts
        assert "Sorry it's still not working." in s.section_text(handoffs[0])

        # then Solved: a confirmed resolution, and the ticket it no longer needs is closed
        await s.click(fake, slack, s.press(fake, followup, "supportbot:solved", s.MEMBER))
        closed = rt.state.ticket(ticket.id)
        assert closed is not None and closed.status == TicketStatus.CLOSED
        assert rt.state.db.execute(
            "select value from feedback where answer_id = ? and user_id = ?", [int(answer_id), s.MEMBER]
        ).fetchone() == ("solved",)


async def test_slack_no_follow_up_once_staff_reply_in_the_thread(
    slack_fake: FakeSlack, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    fake = slack_fake
    rt = make_runtime(s.TOML, env=s.slack_env(fake), answerer=ConfidentExtractive())
    async with s.running(rt) as slack:
        await fake.wait_for_connection(1)
        question_ts, _ = await s.ask_refund(fake, slack)
        staff_reply = fake.user_message(
            "C111", "Checking your order now.", user=s.STAFF, thread_ts=question_ts
        )
        await s.deliver(fake, slack, staff_reply)
        clock.advance(hours=48)
        assert await rt.bot.tick({"slack": slack.channel}) == 0
        await rt.bot.settle()
        assert len(s.posts(fake, "C111")) == 1  # the answer only


# -- Discord ----------------------------------------------------------------------------------


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_discord_one_follow_up_whose_buttons_confirm_or_open_one_ticket(
    discord_fake: FakeDiscord, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    fake = discord_fake
    runtime = make_runtime(d.discord_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())
    async with d.running(runtime) as adapter:
        thread_id, answer = await d.answered(fake, adapter, "How do I reset my password?")
        answer_id = d.custom_ids(answer.json)[0].rsplit(":", 1)[1]

        start = len(fake.requests)
        clock.advance(hours=24)
        assert await runtime.bot.tick({"discord": adapter.channel}) == 1
        assert await runtime.bot.tick({"discord": adapter.channel}) == 0
        await runtime.bot.settle()
        followup = await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(thread_id, "Did this solve it?"), after=start
        )
        assert d.custom_ids(followup.json) == [
            f"supportbot:solved:{answer_id}",
            f"supportbot:still_stuck:{answer_id}",
        ]
        assert followup.json["content"].startswith(f"<@{fake.user_id}>")
        assert followup.json["allowed_mentions"]["users"] == [int(fake.user_id)]  # only the asker pinged

        # bob (not the asker) is told, privately, and nothing happens
        start = len(fake.requests)
        denied = await d.press(
            fake,
            f"supportbot:still_stuck:{answer_id}",
            message_id=followup.response["id"],
            channel_id=thread_id,
            user_id=fake.staff_user_id,
        )
        note = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{denied['token']}", after=start)
        assert "Only the person who asked" in note.json["content"] and note.json["flags"] == FLAG_EPHEMERAL
        await adapter.drain(5)
        assert runtime.state.tickets() == []

        # alice double-clicks Still stuck: one ticket, one hand-off
        start = len(fake.requests)
        for _ in range(2):
            await d.press(
                fake,
                f"supportbot:still_stuck:{answer_id}",
                message_id=followup.response["id"],
                channel_id=thread_id,
            )
        await fake.wait_for_request("POST", d.MESSAGES, d.ok_post(thread_id, "ticket #1"), after=start)
        await adapter.drain(5)
        [ticket] = runtime.state.tickets()
        assert ticket.status == TicketStatus.OPEN and ticket.asker_id == fake.user_id
        handoffs = fake.requests_matching("POST", d.MESSAGES, after=start)
        assert len([r for r in handoffs if d.ok_post(thread_id, "ticket #1")(r)]) == 1


async def test_discord_no_follow_up_to_a_second_asker_who_said_thanks(
    discord_fake: FakeDiscord, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Carol asks her own question in alice's thread (no mention needed in a bot thread), is
    answered and says thanks. She used to be told "You're welcome" and then pinged "Did this
    solve it?" a day later: only the thread's first asker's thanks cancelled it."""
    fake = discord_fake
    carol = fake.add_user("carol")["id"]
    fake.add_member(fake.guild_id, carol)
    runtime = make_runtime(d.discord_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())
    async with d.running(runtime) as adapter:
        thread_id, _ = await d.answered(fake, adapter, "How long does a refund take to arrive?")
        for text, reply in (("How do I reset my password?", "Forgot password"), ("thanks!", "welcome")):
            start = len(fake.requests)
            created = fake.build_message_create(text, channel_id=thread_id, author_id=carol)
            await fake.dispatch("MESSAGE_CREATE", created)
            await fake.wait_for_request("POST", d.MESSAGES, d.ok_post(thread_id, reply), after=start)
            await adapter.drain(5)
            clock.advance(hours=1)

        start = len(fake.requests)
        clock.advance(hours=30)
        assert await runtime.bot.tick({"discord": adapter.channel}) == 0
        await runtime.bot.settle()
        await adapter.drain(5)
        asked = [r.json["content"] for r in fake.requests_matching("POST", d.MESSAGES, after=start)]
        assert not [c for c in asked if "Did this solve it?" in c], asked
