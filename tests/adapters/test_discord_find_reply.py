"""Discord's FindsReplies: a post that went out but was never noted is finished, not posted twice.

The real core and the real discord.py adapter against the fake Discord. A first runtime
answers a question and dies at `answer.sent` (its post is out on Discord, the inbox never
learnt of it); a second runtime on the same data dir starts the adapter, whose replay on
READY asks `DiscordChannel.find_reply` (GET /channels/{id}/messages?after=...) and edits
what it finds. Around it: a person who spoke before the bot's post (not the bot's answer to
this question), a history Discord refuses (None, one log line, never a crash), and the
second guard, the nonce a reply to a question carries (Discord returns the earlier message).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import faults
from bot.app import Runtime
from bot.channel_types import DM_WORKSPACE, Visibility
from bot.inbox import serialise_message
from bot.types import Author, ConversationRef, InboundMessage
from tests.adapters.test_discord_adapter import MESSAGES, discord_env, discord_toml, running
from tests.fakes.answerers import ConfidentExtractive, GatedExtractive
from tests.fakes.discord_server import FakeDiscord, RecordedRequest

pytestmark = pytest.mark.timeout(30)

QUESTION = "How do I reset my password?"
HISTORY = "/channels/{id}/messages"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def make(fake: FakeDiscord, make_runtime: Callable[..., Runtime]) -> Callable[[], Runtime]:
    """A runtime on the test's one data dir: call it again for the process after a crash."""
    return lambda: make_runtime(discord_toml(fake), env=discord_env(fake), answerer=ConfidentExtractive())


def inbound(
    fake: FakeDiscord, payload: dict[str, Any], *, thread: str | None = None, parent: str | None = None
) -> InboundMessage:
    """The question as the adapter's translator hands it to the core. In a thread, `parent` is
    the channel the thread is under (default: the text channel); a forum post's starter
    message, as the fake stores it, names no guild but is not a DM."""
    dm = "guild_id" not in payload and parent is None
    return InboundMessage(
        id=payload["id"],
        conversation=ConversationRef(
            platform="discord",
            workspace=DM_WORKSPACE if dm else fake.guild_id,
            channel=(parent or fake.text_channel_id) if thread else payload["channel_id"],
            thread=thread,
        ),
        author=Author(id=payload["author"]["id"], name="Alice"),
        text=QUESTION,
        addressed=True,
        visibility=Visibility.DIRECT if dm else Visibility.PUBLIC,
        sent_at=datetime.now(UTC),
    )


def bot_messages(fake: FakeDiscord, channel_id: str) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages(channel_id) if m["author"]["id"] == fake.bot_user_id]


def at_path(channel_id: str) -> Callable[[RecordedRequest], bool]:
    return lambda r: r.path == f"/channels/{channel_id}/messages"


def button_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def die_after_posting(runtime: Runtime, question: InboundMessage) -> None:
    """The first process: answers through the real adapter's channel and is killed between
    the post going out and the inbox noting it."""
    async with running(runtime) as adapter:
        with faults.crash_at("answer.sent"), pytest.raises(faults.Crash):
            await runtime.bot.on_message(question, adapter.channel)
    assert runtime.state.pending_events("discord")  # claimed, never finished


async def restart(runtime: Runtime) -> int:
    """The next process: the adapter's replay on READY runs before `running` yields."""
    async with running(runtime) as adapter:
        assert await adapter.drain(5)
    return len(runtime.state.pending_events("discord"))


def replay_looks(
    fake: FakeDiscord, start: int, *where: Callable[[RecordedRequest], bool]
) -> list[RecordedRequest]:
    """The replay's history reads since `start`: each starts after the question (`after`).
    A restarted process also reads back what was said while it was down (newest-first pages,
    adapters/discord/standby.py and missed.py); those are not the replay's look."""
    return [r for r in fake.requests_matching("GET", HISTORY, *where, after=start) if "after" in r.query]


# -- the answer.sent crash -------------------------------------------------------------------


async def test_a_thread_answer_posted_but_never_noted_is_edited_not_posted_again(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    thread_id = payload["id"]  # the thread started from the question has its id
    await die_after_posting(make(), inbound(fake, payload))
    [first] = bot_messages(fake, thread_id)
    assert "Forgot password" in first["content"]
    # a fresh post carries its nonce and needs no second look (no edit after the send)
    assert first["nonce"] and fake.requests_matching("PATCH", "/channels/{c}/messages/{m}") == []

    start = len(fake.requests)
    assert await restart(make()) == 0
    looked = replay_looks(fake, start, at_path(thread_id))
    assert [(r.status, r.query["after"]) for r in looked] == [(200, thread_id)]
    assert fake.requests_matching("POST", MESSAGES, after=start) == []  # nothing posted anywhere
    edits = fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)
    assert [r.path for r in edits] == [f"/channels/{thread_id}/messages/{first['id']}"]
    [answer] = bot_messages(fake, thread_id)  # the thread holds exactly one bot answer
    assert answer["id"] == first["id"] and "Forgot password" in answer["content"]


async def test_a_dm_answer_is_found_by_its_reply_reference(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    payload = fake.build_message_create(QUESTION, dm=True)
    dm = payload["channel_id"]
    await die_after_posting(make(), inbound(fake, payload))
    [first] = bot_messages(fake, dm)
    assert first["message_reference"]["message_id"] == payload["id"]

    start = len(fake.requests)
    assert await restart(make()) == 0
    # a DM has no thread to look in: one history read, in the DM itself
    looked = replay_looks(fake, start)
    assert [(r.path, r.status) for r in looked] == [(f"/channels/{dm}/messages", 200)]
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    assert [m["id"] for m in bot_messages(fake, dm)] == [first["id"]]


async def test_an_answer_in_place_is_found_when_no_thread_was_started(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """Thread creation refused: the dead process answered in the channel, replying to the
    question. The replay's look in the thread that does not exist (404 Unknown Channel) is
    not a failure: it looks in the channel, where people chatting in between change nothing."""
    fake.fail("POST", "/channels/{c}/messages/{m}/threads", 403, 50013, "Missing Permissions")
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    channel = fake.text_channel_id
    await die_after_posting(make(), inbound(fake, payload))
    [first] = bot_messages(fake, channel)
    assert first["message_reference"]["message_id"] == payload["id"]
    fake.build_message_create("anyone around?", author_id=fake.staff_user_id)  # chatter after it

    start = len(fake.requests)
    assert await restart(make()) == 0
    looked = replay_looks(fake, start)
    assert [(r.path, r.status) for r in looked] == [
        (f"/channels/{payload['id']}/messages", 404),
        (f"/channels/{channel}/messages", 200),
    ]
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    assert [m["id"] for m in bot_messages(fake, channel)] == [first["id"]]


def left_pending(runtime: Runtime, question: InboundMessage) -> None:
    """Claimed by a process that died before posting anything for it."""
    key = f"discord:msg:{question.id}"
    runtime.state.claim_event(key, "discord", serialise_message(question), datetime.now(UTC))


async def test_a_bot_post_after_a_person_spoke_is_not_taken_for_the_answer(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """In a thread the bot's messages reply to nothing: after someone else spoke, the bot's
    next message may be answering them. The replay answers anew and leaves that one alone."""
    payload = fake.build_message_create(QUESTION, mention_bot=True, channel_id=fake.thread_id)
    fake.build_message_create("same problem here", channel_id=fake.thread_id, author_id=fake.staff_user_id)
    theirs = fake.build_message_create(
        "an answer to them", channel_id=fake.thread_id, author_id=fake.bot_user_id
    )
    runtime = make()
    left_pending(runtime, inbound(fake, payload, thread=fake.thread_id))

    start = len(fake.requests)
    assert await restart(runtime) == 0
    assert len(replay_looks(fake, start, at_path(fake.thread_id))) == 1
    assert fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start) == []
    [posted] = fake.requests_matching("POST", MESSAGES, at_path(fake.thread_id), after=start)
    assert "Forgot password" in posted.json["content"]
    assert fake.get_message(fake.thread_id, theirs["id"])["content"] == "an answer to them"
    assert [m["id"] for m in bot_messages(fake, fake.thread_id)] == [theirs["id"], posted.response["id"]]


async def test_a_bot_reply_to_someone_else_is_passed_over_for_the_one_replying_to_the_question(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    payload = fake.build_message_create(QUESTION, dm=True)
    dm = payload["channel_id"]
    other = fake.build_message_create("and my invoice?", dm=True)
    theirs = fake.build_message_create("Invoices are under Billing.", dm=True, reply_to=other["id"])
    fake.messages[dm][theirs["id"]]["author"] = fake.user_payload(fake.bot_user_id)
    await die_after_posting(make(), inbound(fake, payload))
    ours = bot_messages(fake, dm)[-1]
    assert ours["message_reference"]["message_id"] == payload["id"]

    start = len(fake.requests)
    assert await restart(make()) == 0
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    [edit] = fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)
    assert edit.path == f"/channels/{dm}/messages/{ours['id']}"
    assert fake.get_message(dm, theirs["id"])["content"] == "Invoices are under Billing."


async def test_in_a_thread_the_answer_replies_to_its_question_and_is_found_by_it(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """A question asked inside an existing thread: the answer quotes it (a reply), so the
    replay knows its own post among the thread's other bot messages."""
    payload = fake.build_message_create(QUESTION, mention_bot=True, channel_id=fake.thread_id)
    await die_after_posting(make(), inbound(fake, payload, thread=fake.thread_id))
    ours = bot_messages(fake, fake.thread_id)[-1]
    assert ours["message_reference"]["message_id"] == payload["id"]

    start = len(fake.requests)
    assert await restart(make()) == 0
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    [edit] = fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)
    assert edit.path == f"/channels/{fake.thread_id}/messages/{ours['id']}"


async def test_a_forum_post_answer_is_found_in_the_post(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """A forum post's first message is the question and has the post's id: the answer in the
    post quotes nothing, and is still the one found (not posted again, whatever the nonce)."""
    post = fake.build_thread_create("Password reset", starter_content=QUESTION)
    [starter] = fake.channel_messages(post["id"])
    await die_after_posting(make(), inbound(fake, starter, thread=post["id"], parent=fake.forum_channel_id))
    [first] = bot_messages(fake, post["id"])
    assert "message_reference" not in first

    start = len(fake.requests)
    assert await restart(make()) == 0
    assert fake.requests_matching("POST", MESSAGES, after=start) == []
    [edit] = fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)
    assert edit.path == f"/channels/{post['id']}/messages/{first['id']}"


async def test_the_answer_to_an_earlier_question_in_the_thread_is_never_taken(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """Two questions in a thread, then the bot's answer to the first (one that names no
    question, as answers in threads once were): the replay of the second must not overwrite
    it with its own answer. It answers anew."""
    fake.build_message_create("How do I invite the bot?", mention_bot=True, channel_id=fake.thread_id)
    payload = fake.build_message_create(QUESTION, mention_bot=True, channel_id=fake.thread_id)
    first_answer = fake.build_message_create(
        "Invite it from the app directory.", channel_id=fake.thread_id, author_id=fake.bot_user_id
    )
    runtime = make()
    left_pending(runtime, inbound(fake, payload, thread=fake.thread_id))

    start = len(fake.requests)
    assert await restart(runtime) == 0
    assert fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start) == []
    [posted] = fake.requests_matching("POST", MESSAGES, at_path(fake.thread_id), after=start)
    assert "Forgot password" in posted.json["content"]
    assert (
        fake.get_message(fake.thread_id, first_answer["id"])["content"] == "Invite it from the app directory."
    )


# -- the second guard: the nonce of a reply to a question --------------------------------------


async def test_when_the_look_cannot_tell_the_same_reply_is_not_created_twice(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """Discord refuses the history, so the look finds nothing; the replay posts the same
    answer to the same question, with the same nonce, and Discord returns the message it
    already created: the thread still holds one answer."""
    payload = fake.build_message_create(QUESTION, mention_bot=True, channel_id=fake.thread_id)
    fake.build_message_create("same problem here", channel_id=fake.thread_id, author_id=fake.staff_user_id)
    await die_after_posting(make(), inbound(fake, payload, thread=fake.thread_id))
    [first] = bot_messages(fake, fake.thread_id)
    fake.fail("GET", HISTORY, 503, 0, times=None)

    start = len(fake.requests)
    assert await restart(make()) == 0
    [again] = fake.requests_matching("POST", MESSAGES, at_path(fake.thread_id), after=start)
    assert again.json["nonce"] == first["nonce"] and again.json["enforce_nonce"] is True
    assert again.response["id"] == first["id"]
    [answer] = bot_messages(fake, fake.thread_id)
    assert "Forgot password" in answer["content"]
    # the buttons name the answer the replay recorded, whichever process's id they carried
    assert button_ids(answer) == [
        c["custom_id"] for row in again.json["components"] for c in row["components"]
    ]


# -- history Discord refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, 50001), (503, 0), (429, 0)],
    ids=["missing-access", "unavailable", "rate-limited"],
)
async def test_a_history_discord_refuses_is_no_reply_found_and_no_crash(
    fake: FakeDiscord,
    make: Callable[[], Runtime],
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: int,
) -> None:
    payload = fake.build_message_create(QUESTION, mention_bot=True)
    thread_id = payload["id"]
    question = inbound(fake, payload)
    await die_after_posting(make(), question)
    [first] = bot_messages(fake, thread_id)
    if status == 429:
        fake.rate_limit("GET", HISTORY, times=None, retry_after=0.01)
    else:
        fake.fail("GET", HISTORY, status, code, times=None)

    runtime = make()
    async with running(runtime) as adapter:
        with caplog.at_level(logging.WARNING, logger="adapters.discord"):
            assert await adapter.channel.find_reply(question) is None
    # one line per look (the replay's on READY, then this one), and no traceback
    lines = [r for r in caplog.records if "could not read the history" in r.getMessage()]
    assert len(lines) == 2 and all(r.exc_info is None for r in lines)
    assert {r.status for r in lines} == {status}  # type: ignore[attr-defined]
    refused = fake.requests_matching("GET", HISTORY, at_path(thread_id))
    assert refused and {r.status for r in refused} == {status}
    # the adapter's own replay on READY met the same refusal and carried on: the question is
    # answered, and the nonce kept it to the one message
    assert runtime.state.pending_events("discord") == []
    assert [m["id"] for m in bot_messages(fake, thread_id)] == [first["id"]]


async def test_a_noted_post_a_moderator_deleted_is_answered_anew(
    fake: FakeDiscord, make: Callable[[], Runtime]
) -> None:
    """The dead process's noted post is gone (PATCH: 404 Unknown Message): the replay posts
    the answer as a new message instead of apologising and opening a ticket."""
    payload = fake.build_message_create(QUESTION, mention_bot=True, channel_id=fake.thread_id)
    question = inbound(fake, payload, thread=fake.thread_id)
    runtime = make()
    left_pending(runtime, question)
    thinking = fake.build_message_create("To reset …", channel_id=fake.thread_id, author_id=fake.bot_user_id)
    runtime.state.note_post(f"discord:msg:{question.id}", thinking["id"], question.conversation.key)
    del fake.messages[fake.thread_id][thinking["id"]]
    start = len(fake.requests)
    assert await restart(runtime) == 0
    assert [r.status for r in fake.requests_matching("PATCH", "/channels/{c}/messages/{m}", after=start)] == [
        404
    ]
    [answer] = [m["content"] for m in bot_messages(fake, fake.thread_id)]
    assert "Forgot password" in answer
    assert runtime.state.tickets() == []


@pytest.mark.parametrize("where", ["thread", "dm"])
async def test_an_answer_said_anew_below_a_refused_edit_is_the_one_a_replay_finishes(
    fake: FakeDiscord, make_runtime: Callable[..., Runtime], where: str
) -> None:
    """Discord refused the streamed answer's edit, so the answer was posted anew, below it and
    replying to the question too; the process died before noting it. The replay finishes the
    last post that replies to the question: the answer shows once, the unfinished post above
    is left as it was (before, the replay edited the answer into the first post as well)."""

    def make() -> Runtime:
        answerer = GatedExtractive(held=lambda q: False, partial="Forgot password: open the sign-in page")
        return make_runtime(discord_toml(fake), env=discord_env(fake), answerer=answerer)

    if where == "thread":
        payload = fake.build_message_create(QUESTION, mention_bot=True, channel_id=fake.thread_id)
        question, channel_id = inbound(fake, payload, thread=fake.thread_id), fake.thread_id
    else:
        payload = fake.build_message_create(QUESTION, dm=True)
        question, channel_id = inbound(fake, payload), payload["channel_id"]
    fake.fail("PATCH", "/channels/{c}/messages/{m}", 403, 50013, "Missing Permissions", times=None)
    first = make()
    async with running(first) as adapter:
        # answer.sent passes with the partial, then with the answer said anew: killed before its note
        with faults.crash_at("answer.sent", after=1), pytest.raises(faults.Crash):
            await first.bot.on_message(question, adapter.channel)
    partial, anew = bot_messages(fake, channel_id)
    assert "Forgot password" in anew["content"] and partial["content"] != anew["content"]
    fake.clear_faults()  # Discord takes edits again
    start = len(fake.requests)
    assert await restart(make()) == 0
    assert replay_looks(fake, start)  # the replay looked for its post, and Discord answered
    after = bot_messages(fake, channel_id)
    assert [m["content"] for m in after].count(anew["content"]) == 1
    assert [m["content"] for m in after if m["id"] == partial["id"]] == [partial["content"]]
