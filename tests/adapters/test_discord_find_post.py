"""Discord's FindsPosts: a ticket card that went out but was never noted is edited, not posted twice.

The real adapter (discord.py) against the fake Discord. `DiscordChannel.find_post` reads the
channel's history after `after`, oldest first (GET /channels/{id}/messages?after=..., page
after page), for the bot's first message showing a button's custom id. Around it: what must
not be taken for the card (another ticket's, a person's message, one before `after`, one in a
thread), a channel the bot may not read (None: the card is posted) and a Discord that gives no
answer (raised: the card is tried again later). Last, end to end: a process killed with its
card out but not noted, whose claim lapses and is taken over by the clock's tick.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import discord
import pytest

from adapters.discord import DiscordAdapter
from bot import faults
from bot.app import Runtime
from bot.errors import PlatformError
from bot.store.ticket_posts import CARD_LEASE
from bot.types import ActionKind, Button, ButtonStyle, ConversationRef, Posted, Reply, ReplyKind
from tests.adapters.test_discord_adapter import MESSAGES, discord_env, discord_toml, running
from tests.adapters.test_discord_find_reply import HISTORY, bot_messages, fake, inbound
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import FakeDiscord

__all__ = ["fake"]  # the fixture, shared with test_discord_find_reply.py

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def clock() -> FakeClock:
    """The bot's clock where Discord's is: a message's snowflake holds the wall clock's time,
    and the look for a card starts from its ticket's opening."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def make(fake: FakeDiscord, make_runtime: Callable[..., Runtime]) -> Callable[[], Runtime]:
    """A runtime on the test's one data dir (triage channel: #general)."""
    return lambda: make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())


@pytest.fixture
async def adapter(make: Callable[[], Runtime]) -> AsyncIterator[DiscordAdapter]:
    async with running(make()) as started:
        yield started


def channel(fake: FakeDiscord, channel_id: str | None = None) -> ConversationRef:
    """A text channel of the fake's guild (default: #support, which has a thread)."""
    return ConversationRef(
        platform="discord", workspace=fake.guild_id, channel=channel_id or fake.text_channel_id
    )


def card(where: ConversationRef, ticket: int, *buttons: ActionKind) -> Reply:
    """A ticket's card as the core shows it to staff: its Claim and Resolve buttons."""
    return Reply(
        conversation=where,
        text=f"**Ticket #{ticket}** · open",
        kind=ReplyKind.TICKET,
        buttons=tuple(
            Button(action=action, label=str(action), value=str(ticket), style=ButtonStyle.PRIMARY)
            for action in buttons or (ActionKind.CLAIM, ActionKind.RESOLVE)
        ),
    )


def resolve(ticket: int) -> Button:
    """The button a card is looked for by (bot/escalation/cards.py `_posted_already`)."""
    return Button(action=ActionKind.RESOLVE, label="", value=str(ticket))


def backdate(fake: FakeDiscord, channel_id: str, message_id: str, when: datetime) -> str:
    """A stored message as if posted at `when`: its snowflake holds the time, and orders the
    history. Its new id."""
    message = fake.messages[channel_id].pop(message_id)
    message.update(id=str(discord.utils.time_snowflake(when)), timestamp=when.isoformat())
    fake.messages[channel_id][message["id"]] = message
    return str(message["id"])


# -- finding the card --------------------------------------------------------------------------


async def test_the_bots_card_is_found_and_of_two_the_earliest_past_a_page(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    where = channel(fake)
    after = datetime.now(UTC) - timedelta(minutes=1)
    for n in range(120):  # oldest first: the cards are on the history's second page
        fake.build_message_create(f"chatter {n}", channel_id=where.channel)
    first = await adapter.channel.send(card(where, 7))
    await adapter.channel.send(card(where, 7))
    start = len(fake.requests)
    found = await adapter.channel.find_post(where, after, resolve(7))
    assert found == Posted(message_id=first.message_id, conversation=where)
    looks = fake.requests_matching("GET", HISTORY, after=start)
    assert [(r.path, r.status) for r in looks] == [(f"/channels/{where.channel}/messages", 200)] * 2


async def test_what_only_looks_like_the_card_is_not_taken(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    """Each of these comes before the card and shows its Resolve button, or its value: none is
    the card, and the card after them is found."""
    where = channel(fake)
    after = datetime.now(UTC) - timedelta(minutes=1)
    early = await adapter.channel.send(card(where, 7))  # then moved to an hour before `after`
    early_id = backdate(fake, where.channel, early.message_id, after - timedelta(hours=1))
    shown = copy.deepcopy(fake.get_message(where.channel, early_id)["components"])
    await adapter.channel.send(card(where, 8))  # another ticket's card
    await adapter.channel.send(card(where, 7, ActionKind.CLAIM))  # the same value on another button
    theirs = fake.build_message_create("Ticket #7", channel_id=where.channel, author_id=fake.staff_user_id)
    fake.messages[where.channel][theirs["id"]]["components"] = shown  # a person's (another app's)
    await adapter.channel.send(card(where.in_thread(fake.thread_id), 7))  # in a thread of the channel
    assert await adapter.channel.find_post(where, after, resolve(7)) is None

    posted = await adapter.channel.send(card(where, 7))
    found = await adapter.channel.find_post(where, after, resolve(7))
    assert found == Posted(message_id=posted.message_id, conversation=where)


# -- what Discord refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, 50001), (403, 50013), (404, 10003)],
    ids=["missing-access", "missing-permissions", "unknown-channel"],
)
async def test_a_channel_the_bot_may_not_read_is_no_post_found(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: int,
) -> None:
    """Waiting would not help: None, one log line, and the caller posts the card."""
    if status == 404:
        where = channel(fake, str(discord.utils.time_snowflake(datetime.now(UTC))))  # no such channel
    else:
        where = channel(fake)
        await adapter.channel.send(card(where, 7))
        fake.fail("GET", HISTORY, status, code)
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        assert (
            await adapter.channel.find_post(where, datetime.now(UTC) - timedelta(minutes=1), resolve(7))
            is None
        )
    [line] = [r for r in caplog.records if "earlier post" in r.getMessage()]
    assert (line.status, line.code) == (status, code)  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [503, 429], ids=["unavailable", "rate-limited"])
async def test_a_discord_that_gives_no_answer_is_raised_not_taken_for_no_post(
    fake: FakeDiscord, adapter: DiscordAdapter, status: int
) -> None:
    """A 5xx, or a rate limit past discord.py's retries: the card is tried again later."""
    where = channel(fake)
    await adapter.channel.send(card(where, 7))
    if status == 429:
        fake.rate_limit("GET", HISTORY, times=None, retry_after=0.01)
    else:
        fake.fail("GET", HISTORY, status)
    with pytest.raises(PlatformError):
        await adapter.channel.find_post(where, datetime.now(UTC) - timedelta(minutes=1), resolve(7))
    assert {r.status for r in fake.requests_matching("GET", HISTORY)} == {status}


# -- end to end: a card out before its process died ---------------------------------------------


async def test_a_card_whose_process_died_before_noting_it_is_edited_not_posted_again(
    fake: FakeDiscord, make: Callable[[], Runtime], clock: FakeClock
) -> None:
    """Killed after the triage card went out (`card.sent`), before the store noted it: the
    restarted process's replay takes the dead process's claim, finds the card in the triage
    channel and brings it up to date; the clock's ticks after it owe nothing."""
    triage = fake.general_channel_id
    payload = fake.build_message_create("I want to talk to a human about my invoice", mention_bot=True)
    asked = replace(inbound(fake, payload), text="I want to talk to a human about my invoice")
    dying = make()
    async with running(dying) as adapter:
        with faults.crash_at("card.sent"), pytest.raises(faults.Crash):
            await dying.bot.on_message(asked, adapter.channel)
    [out] = bot_messages(fake, triage)

    clock.advance(seconds=1)
    restarted = make()
    start = len(fake.requests)
    async with running(restarted) as adapter:  # its replay on READY finishes the hand-off
        assert await adapter.drain(5)
        assert restarted.state.pending_events("discord") == []
        clock.advance(seconds=CARD_LEASE.total_seconds())
        await restarted.bot.tick({"discord": adapter.channel})
        clock.advance(minutes=2)  # (short of the SLA's first reminder, which edits the card)
        await restarted.bot.tick({"discord": adapter.channel})  # nothing owed any more

    assert [m["id"] for m in bot_messages(fake, triage)] == [out["id"]]  # one card
    at_triage = f"/channels/{triage}/messages"
    assert at_triage in [r.path for r in fake.requests_matching("GET", HISTORY, after=start)]
    assert [r.path for r in fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)] == [
        f"{at_triage}/{out['id']}"
    ]
    assert [r for r in fake.requests_matching("POST", MESSAGES, after=start) if r.path == at_triage] == []
    [ticket] = restarted.state.tickets()
    assert [
        (kind, posted.message_id)
        for kind, posted, _ in restarted.state.ticket_posts(ticket.id)
        if kind == "card"
    ] == [("card", out["id"])]
