"""Draft-mode channels end to end: the real slack-bolt and discord.py against the local fakes,
with the real core and store behind them. A question in a draft channel is posted nowhere
public: its proposed answer goes on a staff card in the triage channel. *Post* publishes it
once (a double click gives one message), *Edit* opens a modal whose submission changes what
is posted, *Discard* posts nothing, and a direct mention is still answered at once. Nothing
sleeps: the tests wait on the fakes' journals and the adapters' drains.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from tests.adapters import test_discord_adapter as d
from tests.adapters import test_slack as s
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import ApiCall, FakeSlack

pytestmark = pytest.mark.timeout(60)

QUESTION = "How long does a refund take to arrive?"
SLACK_TOML = s.TOML + '\n[slack.channels.C111]\nmode = "draft"\n'


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server
        refused = [c.method for c in server.api_calls if c.error == "missing_scope"]
        assert refused == [], "the manifest lacks a scope draft mode uses"


@pytest.fixture
def slack_rt(make_runtime: Callable[..., Runtime], slack_fake: FakeSlack) -> Runtime:
    return make_runtime(SLACK_TOML, env=s.slack_env(slack_fake), answerer=ConfidentExtractive())


async def propose(fake: FakeSlack, slack: Any) -> tuple[str, ApiCall]:
    """A member asks in the draft channel without mentioning the bot: the card, and the
    question's ts. Nothing is posted in the channel."""
    body = fake.user_message("C111", QUESTION, user=s.MEMBER)
    await s.deliver(fake, slack, body)
    assert s.posts(fake, "C111") == []
    [card] = s.posts(fake, "C222")
    assert f"> {QUESTION}" in s.section_text(card)
    assert [b["action_id"] for b in s.buttons(card)] == [
        "supportbot:post_draft",
        "supportbot:edit_draft",
        "supportbot:discard_draft",
    ]
    return body["event"]["ts"], card


def card_updates(fake: FakeSlack, card: ApiCall) -> list[str]:
    ts = str(card.response["ts"])  # type: ignore[index]
    return [c.params["text"] for c in fake.calls("chat.update") if c.ok and c.params["ts"] == ts]


async def test_slack_nothing_public_until_post_and_a_double_post_gives_one_message(
    slack_fake: FakeSlack, slack_rt: Runtime
) -> None:
    fake = slack_fake
    async with s.running(slack_rt) as slack:
        await fake.wait_for_connection(1)
        question_ts, card = await propose(fake, slack)
        assert "refund" in s.section_text(card).lower()
        assert not fake.calls("reactions.add")  # not even the thinking indicator

        # a member cannot post it
        await s.click(fake, slack, s.press(fake, card, "supportbot:post_draft", s.MEMBER))
        assert "Only staff" in fake.last_call("chat.postEphemeral").params["text"]
        assert s.posts(fake, "C111") == []

        # staff double-click Post: two distinct presses, one message
        first = s.press(fake, card, "supportbot:post_draft", s.STAFF)
        second = s.press(fake, card, "supportbot:post_draft", s.STAFF)
        second["actions"][0]["action_ts"] = first["actions"][0]["action_ts"] + "1"
        await asyncio.gather(
            fake.socket_send("interactive", first, timeout=3.0),
            fake.socket_send("interactive", second, timeout=3.0),
        )
        assert await slack.drain(timeout=15)
        [answer] = s.posts(fake, "C111")
        assert answer.params["thread_ts"] == question_ts
        assert "30 days" in s.section_text(answer)
        assert s.buttons(answer)[0]["action_id"] == "supportbot:helpful"
        assert any("posted by" in text for text in card_updates(fake, card))
        told = [c for c in fake.calls("chat.postEphemeral") if "already posted" in c.params["text"]]
        assert len(told) == 1 and told[0].params["user"] == s.STAFF
        [row] = slack_rt.state.db.execute("select status, posted_message_id from reply_drafts").fetchall()
        assert row[0] == "posted" and row[1]


async def test_slack_edit_opens_a_modal_whose_text_is_what_gets_posted(
    slack_fake: FakeSlack, slack_rt: Runtime
) -> None:
    fake = slack_fake
    async with s.running(slack_rt) as slack:
        await fake.wait_for_connection(1)
        _, card = await propose(fake, slack)

        await s.click(fake, slack, s.press(fake, card, "supportbot:edit_draft", s.STAFF))
        opened = fake.last_call("views.open")
        assert opened.ok
        view = opened.json_param("view")
        assert view["blocks"][0]["element"]["initial_value"].startswith("Customers can ask for a refund")
        view_id = opened.response["view"]["id"]  # type: ignore[index]
        # the trigger id was exchanged: a second modal from the same press is refused
        assert opened.params["trigger_id"] in fake.triggers

        edited = "Refunds arrive within 5 business days. (Checked by the team.)"
        submission = fake.view_submission(view_id, s.STAFF, {"text": edited})
        ack = await fake.socket_send("interactive", submission, timeout=3.0)
        assert ack.get("payload") in (None, {})  # an empty ack: the modal closes
        assert await slack.drain(timeout=15)
        assert s.posts(fake, "C111") == []  # an edit publishes nothing
        assert any(edited in text for text in card_updates(fake, card))

        await s.click(fake, slack, s.press(fake, card, "supportbot:post_draft", s.STAFF))
        [answer] = s.posts(fake, "C111")
        assert edited in s.section_text(answer)
        assert "Customers can ask" not in s.section_text(answer)


async def test_slack_edit_of_a_draft_longer_than_the_form_is_refused_not_cut(
    slack_fake: FakeSlack, slack_rt: Runtime
) -> None:
    """A model's draft can run past the 3,000 characters a Slack input holds: the form opened
    with its start alone, and saving it dropped the rest, unseen, from what was then posted."""
    fake = slack_fake
    async with s.running(slack_rt) as slack:
        await fake.wait_for_connection(1)
        _, card = await propose(fake, slack)
        long = "Refunds arrive within 5 business days. " * 90 + "The last line matters."
        assert slack_rt.state.edit_reply_draft(1, long, "model")
        await s.click(fake, slack, s.press(fake, card, "supportbot:edit_draft", s.STAFF))
        assert fake.calls("views.open") == []
        told = fake.last_call("chat.postEphemeral").params
        assert told["user"] == s.STAFF and f"This draft is {len(long):,} characters" in told["text"]
        await s.click(fake, slack, s.press(fake, card, "supportbot:post_draft", s.STAFF))
        posted = "".join(s.section_text(post) for post in s.posts(fake, "C111"))
        assert "The last line matters." in posted


async def test_slack_discard_posts_nothing_and_a_mention_is_answered_at_once(
    slack_fake: FakeSlack, slack_rt: Runtime
) -> None:
    fake = slack_fake
    async with s.running(slack_rt) as slack:
        await fake.wait_for_connection(1)
        _, card = await propose(fake, slack)
        await s.click(fake, slack, s.press(fake, card, "supportbot:discard_draft", s.STAFF))
        await s.click(fake, slack, s.press(fake, card, "supportbot:post_draft", s.STAFF))
        assert s.posts(fake, "C111") == []
        assert any("discarded by" in text for text in card_updates(fake, card))

        mention = fake.user_message("C111", "How do I reset my password?", user=s.MEMBER, mention=True)
        await s.deliver(fake, slack, mention)
        [answer] = s.posts(fake, "C111")
        assert answer.params["thread_ts"] == mention["event"]["ts"]
        assert "Forgot password" in s.section_text(answer)
        assert len(s.posts(fake, "C222")) == 1  # no second card


# -- Discord ----------------------------------------------------------------------------------


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


def draft_toml(fake: FakeDiscord) -> str:
    return d.discord_toml(fake, f'\n[discord.channels."{fake.text_channel_id}"]\nmode = "draft"\n')


async def discord_press(fake: FakeDiscord, custom_id: str, card: dict[str, Any], **kw: Any) -> dict[str, Any]:
    payload = fake.build_button_press(
        custom_id, message_id=card["id"], channel_id=fake.general_channel_id, **kw
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    return payload


async def test_discord_draft_edit_in_a_modal_then_one_post_for_a_double_click(
    discord_fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    fake = discord_fake
    runtime = make_runtime(draft_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())
    async with d.running(runtime) as adapter:
        start = len(fake.requests)
        question = fake.build_message_create(QUESTION)
        await fake.dispatch("MESSAGE_CREATE", question)
        posted_card = await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(fake.general_channel_id, "Draft reply"), after=start
        )
        await adapter.drain(5)
        card = posted_card.response
        assert d.custom_ids(posted_card.json) == [
            "supportbot:post_draft:1",
            "supportbot:edit_draft:1",
            "supportbot:discard_draft:1",
        ]
        public = [
            r
            for r in fake.requests[start:]
            if r.method == "POST" and r.path.startswith(f"/channels/{fake.text_channel_id}/")
        ]
        assert public == []  # no answer, no thread, nothing in #support

        # Edit: the press is answered with a modal (type 9) holding the proposed text
        press = await discord_press(fake, "supportbot:edit_draft:1", card, user_id=fake.staff_user_id)
        callback = await fake.wait_for_request("POST", f"/interactions/{press['id']}/{{t}}/callback")
        assert callback.status == 200 and callback.json["type"] == 9
        [row] = callback.json["data"]["components"]
        assert row["components"][0]["value"].startswith("Customers can ask for a refund")
        await adapter.drain(5)

        edited = "Refunds arrive within 5 business days."
        submit = fake.build_modal_submit(press["id"], {"text": edited}, user_id=fake.staff_user_id)
        start = len(fake.requests)
        await fake.dispatch("INTERACTION_CREATE", submit)
        ack = await fake.wait_for_request("POST", f"/interactions/{submit['id']}/{{t}}/callback")
        assert ack.json == {"type": 6}
        await fake.wait_for_request(
            "PATCH", f"/channels/{fake.general_channel_id}/messages/{card['id']}", after=start
        )
        await adapter.drain(5)

        # Post, twice: one answer, in a thread on the question
        start = len(fake.requests)
        clicks = [
            fake.build_button_press(
                "supportbot:post_draft:1",
                message_id=card["id"],
                channel_id=fake.general_channel_id,
                user_id=fake.staff_user_id,
            )
            for _ in range(2)
        ]  # both built on the card as it stood: a double click
        for click in clicks:
            await fake.dispatch("INTERACTION_CREATE", click)
        for click in clicks:
            await fake.wait_for_request("POST", f"/interactions/{click['id']}/{{t}}/callback")
        await adapter.drain(5)
        edits = fake.requests_matching("PATCH", f"/channels/{fake.general_channel_id}/messages/{card['id']}")
        assert "posted by" in edits[-1].json["content"] and not edits[-1].json.get("components")
        thread_id = question["id"]  # a thread started from a message has the message's id
        answers = [
            r for r in fake.requests_matching("POST", d.MESSAGES, after=start) if d.ok_post(thread_id)(r)
        ]
        assert len(answers) == 1
        assert edited in answers[0].json["content"]
        [row] = runtime.state.db.execute("select status from reply_drafts").fetchall()
        assert row == ("posted",)


async def test_discord_discard_posts_nothing_and_members_cannot_act(
    discord_fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    fake = discord_fake
    runtime = make_runtime(draft_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())
    async with d.running(runtime) as adapter:
        start = len(fake.requests)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create(QUESTION))
        posted_card = await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(fake.general_channel_id, "Draft reply"), after=start
        )
        await adapter.drain(5)
        card = posted_card.response

        # a member's Edit: no modal, a note only they see
        press = await discord_press(fake, "supportbot:edit_draft:1", card)
        note = await fake.wait_for_request("POST", f"/webhooks/{fake.app_id}/{press['token']}")
        assert "Only staff" in note.json["content"]
        callback = await fake.wait_for_request("POST", f"/interactions/{press['id']}/{{t}}/callback")
        assert callback.json == {"type": 6}

        pressed = await discord_press(fake, "supportbot:discard_draft:1", card, user_id=fake.staff_user_id)
        await fake.wait_for_request("POST", f"/interactions/{pressed['id']}/{{t}}/callback")
        await adapter.drain(5)
        public = [
            r
            for r in fake.requests[start:]
            if r.method == "POST" and r.path.startswith(f"/channels/{fake.text_channel_id}/")
        ]
        assert public == []
        [row] = runtime.state.db.execute("select status from reply_drafts").fetchall()
        assert row == ("discarded",)
        edits = fake.requests_matching("PATCH", f"/channels/{fake.general_channel_id}/messages/{card['id']}")
        assert "discarded by" in edits[-1].json["content"]  # the card, edited in place


async def test_discord_draft_card_edited_past_one_message_keeps_its_parts(
    discord_fake: FakeDiscord, make_runtime: Callable[..., Runtime]
) -> None:
    """A card the Edit made longer than one Discord message shows in two; the card's record
    names both, so the next refresh (the Discard) edits them instead of adding a part again."""
    fake = discord_fake
    triage = fake.general_channel_id
    runtime = make_runtime(draft_toml(fake), env=d.discord_env(fake), answerer=ConfidentExtractive())

    def on_card() -> list[dict[str, Any]]:
        return [m for m in fake.channel_messages(triage) if m["author"]["id"] == fake.bot_user_id]

    async with d.running(runtime) as adapter:
        start = len(fake.requests)
        await fake.dispatch("MESSAGE_CREATE", fake.build_message_create(QUESTION))
        posted_card = await fake.wait_for_request(
            "POST", d.MESSAGES, d.ok_post(triage, "Draft reply"), after=start
        )
        await adapter.drain(5)
        press = await discord_press(
            fake, "supportbot:edit_draft:1", posted_card.response, user_id=fake.staff_user_id
        )
        await fake.wait_for_request("POST", f"/interactions/{press['id']}/{{t}}/callback")
        long_text = " ".join(f"Refund step {n}: open Billing, then choose Refund." for n in range(50))
        submit = fake.build_modal_submit(press["id"], {"text": long_text}, user_id=fake.staff_user_id)
        await fake.dispatch("INTERACTION_CREATE", submit)
        await fake.wait_for_request("POST", f"/interactions/{submit['id']}/{{t}}/callback")
        await adapter.drain(5)
        first, second = on_card()

        discard = await discord_press(fake, "supportbot:discard_draft:1", second, user_id=fake.staff_user_id)
        await fake.wait_for_request("POST", f"/interactions/{discard['id']}/{{t}}/callback")
        await adapter.drain(5)
    assert [m["id"] for m in on_card()] == [first["id"], second["id"]]
    assert "discarded by" in on_card()[0]["content"]
    assert not on_card()[1].get("components")  # no Post / Edit / Discard left on the old part


async def test_a_draft_whose_post_slack_refused_is_pending_again_and_posted_on_the_next_press(
    slack_fake: FakeSlack, slack_rt: Runtime
) -> None:
    """Post pressed while Slack refuses messages: the presser is told to try again, and the
    draft is pending again, so the next press posts the answer once. Before, the draft was
    marked posted for good: the answer never reached the asker, and the next press said
    "already posted"."""
    fake = slack_fake
    async with s.running(slack_rt) as slack:
        await fake.wait_for_connection(1)
        _, card = await propose(fake, slack)
        # an error Slack gives for a post it did not make (a workspace rule, for a while)
        fake.fail("chat.postMessage", "restricted_action", times=5)
        await s.click(fake, slack, s.press(fake, card, "supportbot:post_draft", s.STAFF))
        fake.heal("chat.postMessage")
        assert slack_rt.state.db.execute("select status from reply_drafts").fetchall() == [("pending",)]
        await s.click(fake, slack, s.press(fake, card, "supportbot:post_draft", s.STAFF))
        assert len(s.posts(fake, "C111")) == 1  # the answer, once
        assert slack_rt.state.db.execute("select status from reply_drafts").fetchall() == [("posted",)]
