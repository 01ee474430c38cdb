"""Slack's FindsPosts: a ticket card that went out but was never noted is edited, not posted twice.

The real adapter (slack_sdk) against the fake Slack. `SlackChannel.find_post` reads the triage
channel's history (conversations.history since `after`, newest first, page after page) for the
bot's earliest message showing a button. Around it: what must not be taken for the card
(another ticket's, a person's message, one before `after`, a reply in a thread), a channel the
bot may not read (None: the card is posted) and a Slack that gives no answer (raised: the card
is tried again later). Last, end to end: a process killed with its card out but not noted,
whose claim lapses and is taken over by the clock's tick.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.client import SlackCallError
from adapters.slack.find_post import PAGE
from adapters.slack.manifest import BOT_SCOPES
from adapters.slack.render import BUTTON_VALUE_LIMIT, render_reply
from bot import faults
from bot.app import Runtime
from bot.store.ticket_posts import CARD_LEASE
from bot.types import (
    ActionKind,
    Author,
    Button,
    ButtonStyle,
    ConversationRef,
    InboundMessage,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)
from tests.adapters.test_slack import MEMBER, TOML, running, slack_env
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(60)

TRIAGE = ConversationRef(platform="slack", workspace="T111", channel="C222")  # TOML's triage channel


@pytest.fixture
def clock() -> FakeClock:
    """The bot's clock where Slack's is: a message's ts is the wall clock's, and the look for a
    card starts from its ticket's opening."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


@pytest.fixture
async def slack(make_runtime: Callable[..., Runtime], fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    runtime = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    async with running(runtime) as adapter:
        yield adapter


def card(ticket: int, *buttons: ActionKind) -> Reply:
    """A ticket's card as the core shows it to staff: its Claim and Resolve buttons."""
    value = str(ticket)
    return Reply(
        conversation=TRIAGE,
        text=f"**Ticket #{ticket}** · open",
        kind=ReplyKind.TICKET,
        buttons=tuple(
            Button(action=action, label=str(action), value=value, style=ButtonStyle.PRIMARY)
            for action in buttons or (ActionKind.CLAIM, ActionKind.RESOLVE)
        ),
    )


def resolve(ticket: int) -> Button:
    """The button a card is looked for by (bot/escalation/cards.py `_posted_already`)."""
    return Button(action=ActionKind.RESOLVE, label="", value=str(ticket))


def ts_of(posted: Posted) -> str:
    return posted.message_id.split(":")[1]


def bot_messages(fake: FakeSlack, channel: str) -> list[str]:
    return [m["ts"] for m in fake.messages(channel) if m.get("bot_id") == fake.bot_id]


# -- finding the card --------------------------------------------------------------------------


async def test_the_bots_card_is_found_and_of_two_the_earliest_over_several_pages(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    after = datetime.now(UTC) - timedelta(minutes=1)
    first = await slack.channel.send(card(7))
    for n in range(PAGE + 20):  # the history is newest first: the first card is on its second page
        fake.add_message("C222", f"chatter {n}", user=MEMBER)
    await slack.channel.send(card(7))
    mark = len(fake.calls("conversations.history"))
    found = await slack.channel.find_post(TRIAGE, after, resolve(7))
    assert found == Posted(message_id=first.message_id, conversation=TRIAGE)
    looks = fake.calls("conversations.history")[mark:]
    assert [(c.ok, c.params["oldest"], "cursor" in c.params) for c in looks] == [
        (True, f"{after.timestamp():.6f}", False),
        (True, f"{after.timestamp():.6f}", True),
    ]


async def test_a_value_slack_shows_cut_to_its_limit_is_compared_as_shown(
    fake: FakeSlack, slack: SlackAdapter
) -> None:
    after = datetime.now(UTC) - timedelta(minutes=1)
    long = Button(action=ActionKind.RESOLVE, label="Resolve", value="v" * (BUTTON_VALUE_LIMIT + 10))
    posted = await slack.channel.send(replace(card(7), buttons=(long,)))
    found = await slack.channel.find_post(TRIAGE, after, long)
    assert found is not None and found.message_id == posted.message_id


async def test_what_only_looks_like_the_card_is_not_taken(fake: FakeSlack, slack: SlackAdapter) -> None:
    """Each of these comes before the card and shows the same Resolve button, or its value:
    none is the card, and the card after them is found."""
    after = datetime.now(UTC) - timedelta(minutes=1)
    shown = render_reply(card(7))[0].blocks
    bot = {"user": fake.bot_user_id, "bot_id": fake.bot_id}
    fake.add_message("C222", "Ticket #7", blocks=shown, ts=f"{after.timestamp() - 3600:.6f}", **bot)
    await slack.channel.send(card(8))  # another ticket's card
    await slack.channel.send(card(7, ActionKind.CLAIM))  # the same value on another button
    fake.add_message("C222", "Ticket #7", user=MEMBER, blocks=shown)  # a person's (another app's)
    root = fake.add_message("C222", "who has ticket 7?", user=MEMBER)
    fake.add_message("C222", "Ticket #7", blocks=shown, thread_ts=root["ts"], **bot)
    # a reply in that thread also sent to the channel: in the channel's history, not in the channel
    fake.add_message(
        "C222", "Ticket #7", blocks=shown, thread_ts=root["ts"], subtype="thread_broadcast", **bot
    )
    assert await slack.channel.find_post(TRIAGE, after, resolve(7)) is None

    posted = await slack.channel.send(card(7))
    found = await slack.channel.find_post(TRIAGE, after, resolve(7))
    assert found == Posted(message_id=posted.message_id, conversation=TRIAGE)


# -- what Slack refuses --------------------------------------------------------------------------


@pytest.mark.parametrize("refused", ["not_in_channel", "channel_not_found", "missing_scope"])
async def test_a_channel_the_bot_may_not_read_is_no_post_found(
    fake: FakeSlack, slack: SlackAdapter, caplog: pytest.LogCaptureFixture, refused: str
) -> None:
    """Waiting would not help: None, one log line, and the caller posts the card."""
    fake.add_channel("C333", "staff-only", bot_is_member=False)
    where = replace(
        TRIAGE, channel={"not_in_channel": "C333", "channel_not_found": "C999"}.get(refused, "C222")
    )
    if refused == "missing_scope":
        fake.set_scopes(fake.bot_token, [s for s in BOT_SCOPES if s != "channels:history"])
    with caplog.at_level(logging.WARNING, logger="adapters.slack.channel"):
        assert await slack.channel.find_post(where, datetime.now(UTC), resolve(7)) is None
    assert [c.error for c in fake.calls("conversations.history")] == [refused]
    assert [r.getMessage() for r in caplog.records] == [f"conversations.history failed: {refused}"]


@pytest.mark.parametrize("failure", ["http_500", "token_revoked"])
async def test_a_slack_that_gives_no_answer_is_raised_not_taken_for_no_post(
    fake: FakeSlack, slack: SlackAdapter, failure: str
) -> None:
    """A 5xx past slack_sdk's retries, or a token Slack refuses: the card is tried again later
    (and in a multi-workspace install, a refused token is read again first)."""
    await slack.channel.send(card(7))
    if failure == "http_500":
        fake.http_error("conversations.history", 500, times=3)  # the call and slack_sdk's two retries
    else:
        fake.fail("conversations.history", failure)
    with pytest.raises(SlackCallError) as raised:
        await slack.channel.find_post(TRIAGE, datetime.now(UTC) - timedelta(minutes=1), resolve(7))
    assert raised.value.code == failure


# -- end to end: a card out before its process died ---------------------------------------------


async def test_a_card_whose_process_died_before_noting_it_is_edited_not_posted_again(
    make_runtime: Callable[..., Runtime], fake: FakeSlack, clock: FakeClock
) -> None:
    """Killed after the triage card went out (`card.sent`), before the store noted it: the
    restarted process's replay takes the dead process's claim, finds the card in the triage
    channel and brings it up to date; the clock's ticks after it owe nothing."""
    question = fake.add_message("C111", "I want to talk to a human about my invoice", user=MEMBER)
    asked = InboundMessage(
        id=f"C111:{question['ts']}",
        conversation=ConversationRef(platform="slack", workspace="T111", channel="C111"),
        author=Author(id=MEMBER, name="member"),
        text=question["text"],
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=clock.now(),
    )

    def make() -> Runtime:
        return make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())

    dying = make()
    async with running(dying) as adapter:
        with faults.crash_at("card.sent"), pytest.raises(faults.Crash):
            await dying.bot.on_message(asked, adapter.channel)
    [card_ts] = bot_messages(fake, "C222")

    clock.advance(seconds=1)
    restarted = make()
    mark = len(fake.api_calls)
    async with running(restarted) as adapter:  # its replay on start finishes the hand-off
        assert restarted.state.pending_events("slack") == []
        clock.advance(seconds=CARD_LEASE.total_seconds())
        await restarted.bot.tick({"slack": adapter.channel})
        clock.advance(minutes=2)  # (short of the SLA's first reminder, which edits the card)
        await restarted.bot.tick({"slack": adapter.channel})  # nothing owed any more

    assert bot_messages(fake, "C222") == [card_ts]  # one card
    calls = fake.api_calls[mark:]
    assert "C222" in [c.params["channel"] for c in calls if c.method == "conversations.history"]
    assert [c.params["ts"] for c in calls if c.method == "chat.update" and c.params["channel"] == "C222"] == [
        card_ts
    ]
    assert [c for c in calls if c.method == "chat.postMessage" and c.params["channel"] == "C222"] == []
    [ticket] = restarted.state.tickets()
    assert [
        (kind, posted.message_id)
        for kind, posted, _ in restarted.state.ticket_posts(ticket.id)
        if kind == "card"
    ] == [("card", f"C222:{card_ts}")]
