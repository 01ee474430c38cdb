"""Bursts, known-issue notices and similar resolved tickets end to end on Slack: real slack-bolt
and slack_sdk against the local fake Slack, the real core and store. A burst alert reaches the
triage channel with links to the threads; *Open incident* puts the notice on the next similar
answer; closing it with the slash command replies in that thread. An answer links a similar
resolved ticket only in a channel every asker of the workspace may open."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from bot.store.incidents import IncidentStatus
from bot.types import TicketStatus
from tests.adapters.test_slack import (
    MEMBER,
    STAFF,
    buttons,
    click,
    deliver,
    posts,
    press,
    running,
    section_text,
    slack_env,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.clock import FakeClock
from tests.fakes.slack_server import FakeSlack

THIRD = "W333"
TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"
[insights]
burst_min_askers = 2
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server
        assert [c for c in server.api_calls if c.error == "missing_scope"] == []


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime], fake: FakeSlack) -> Runtime:
    fake.add_user(THIRD, "third", real_name="Third Member")
    return make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())


@pytest.fixture
async def slack(rt: Runtime, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        yield adapter


async def test_a_burst_alert_an_incident_notice_and_its_closing_reply(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    await deliver(
        fake, slack, fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    )
    assert posts(fake, "C222") == []  # one asker is no burst
    await deliver(
        fake,
        slack,
        fake.user_message("C111", "I forgot my password, how do I reset it?", user=THIRD, mention=True),
    )
    [alert] = posts(fake, "C222")
    text = section_text(alert)
    assert "2 people asked about the same thing" in text and "#C111" in text
    permalinks = [c.response["permalink"] for c in fake.calls("chat.getPermalink") if c.ok]  # type: ignore[index]
    assert len(permalinks) >= 2 and all(f"<{p}|" in text for p in set(permalinks))
    assert [b["action_id"] for b in buttons(alert)] == ["supportbot:open_incident"]

    await click(fake, slack, press(fake, alert, "supportbot:open_incident", MEMBER, channel="C222"))
    assert rt.state.incidents("slack") == []  # members cannot
    await click(fake, slack, press(fake, alert, "supportbot:open_incident", STAFF, channel="C222"))
    [incident] = rt.state.incidents("slack", IncidentStatus.OPEN)
    assert f"Incident #{incident.id} is open" in posts(fake, "C222")[-1].params["text"]

    await deliver(fake, slack, fake.user_message("C111", "password reset, how?", user=MEMBER, mention=True))
    noticed = posts(fake, "C111")[-1]
    assert section_text(noticed).startswith("*Known issue:* the team knows about this problem")

    await fake.socket_send(
        "slash_commands",
        fake.slash_command("/support", "incident close Fixed at 11:05.", user_id=STAFF),
        timeout=3.0,
    )
    assert await slack.drain(timeout=15)
    closing = posts(fake, "C111")[-1]
    assert closing.params["thread_ts"] == noticed.params["thread_ts"]
    assert "Update on the known issue:* Fixed at 11:05." in section_text(closing)
    assert "closed; 1 thread(s)" in ((await fake.wait_for_response()).text or "")


DIGEST_TOML = """
[slack]
staff_groups = ["S111"]
[insights]
digest_channel = "C222"
digest_weekday = "mon"
digest_hour = 9
"""


async def test_the_weekly_digest_and_the_gaps_command_through_slack(
    fake: FakeSlack, make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    rt = make_runtime(DIGEST_TOML, env=slack_env(fake))
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        clock.current = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
        for text in ("How do I export my invoices to CSV?", "Can I export invoices as a CSV file?"):
            await deliver(fake, slack, fake.user_message("C111", text, user=MEMBER, mention=True))
        await fake.socket_send(
            "slash_commands", fake.slash_command("/support", "gaps", user_id=STAFF), timeout=3.0
        )
        assert await slack.drain(timeout=15)
        listing = (await fake.wait_for_response()).text or ""
        assert "(2x, unanswered)" in listing and "invoices" in listing.lower()

        clock.current = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)  # Monday 09:05 UTC
        await rt.bot.tick({"slack": slack.channel})  # SLA reminders are due too by now
        await rt.bot.tick({"slack": slack.channel})
        [digest] = posts(fake, "C222")  # once
        text = section_text(digest)
        assert "Weekly support digest" in text and "Questions: 2" in text
        assert "Top knowledge gaps" in text and "Unresolved tickets: 2" in text


async def test_open_incident_pressed_after_its_incident_closed_says_so(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    """The alert's button pressed again once its incident was closed: the presser is told it
    was closed and how to open a new one (before: "already open", with nothing open)."""
    await deliver(
        fake, slack, fake.user_message("C111", "How do I reset my password?", user=MEMBER, mention=True)
    )
    await deliver(
        fake,
        slack,
        fake.user_message("C111", "I forgot my password, how do I reset it?", user=THIRD, mention=True),
    )
    [alert] = posts(fake, "C222")
    await click(fake, slack, press(fake, alert, "supportbot:open_incident", STAFF, channel="C222"))
    closing = fake.slash_command("/support", "incident close Fixed.", user_id=STAFF)
    await fake.socket_send("slash_commands", closing, timeout=3.0)
    assert await slack.drain(timeout=15)
    [closed] = rt.state.incidents("slack", IncidentStatus.CLOSED)
    await click(fake, slack, press(fake, alert, "supportbot:open_incident", STAFF, channel="C222"))
    told = fake.last_call("chat.postEphemeral").params["text"]
    assert f"Incident #{closed.id} for this alert was closed" in told and "incident open" in told
    assert rt.state.incidents("slack", IncidentStatus.OPEN) == []


SIMILAR_TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"
"""
LINKED = "similar question was resolved"


async def _resolved_ticket_from(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime, channel: str, user: str, question: str
) -> None:
    """`user` asks in `channel`, asks for a person, and staff resolve it from its card."""
    mention = not channel.startswith("D")
    await deliver(fake, slack, fake.user_message(channel, question, user=user, mention=mention))
    await click(fake, slack, press(fake, posts(fake, channel)[-1], "supportbot:talk_to_human", user))
    card = posts(fake, "C222")[-1]
    await click(fake, slack, press(fake, card, "supportbot:resolve", STAFF, channel="C222"))
    assert rt.state.tickets()[-1].status == TicketStatus.RESOLVED


def _linked_since(fake: FakeSlack, mark: int) -> set[str]:
    """The channels the bot asked a permalink into after the `mark`-th such call."""
    return {str(c.params.get("channel")) for c in fake.calls("chat.getPermalink")[mark:]}


async def test_a_guests_direct_message_is_never_linked_to_other_askers(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """A guest's questions see public documents only, so their resolved DM ticket's scope is
    public: before, the next member asking something like it in a public channel was told "a
    similar question was resolved" and given a link into the guest's direct message."""
    rt = make_runtime(SIMILAR_TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_user("W999", "guest", is_restricted=True)
    guest_dm = fake.add_im("W999")["id"]
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        await _resolved_ticket_from(
            fake, slack, rt, guest_dm, "W999", "How long does a refund take to arrive?"
        )
        mark = len(fake.calls("chat.getPermalink"))
        asked = fake.user_message("C111", "How many days until my refund arrives?", user=MEMBER, mention=True)
        await deliver(fake, slack, asked)
        answer = posts(fake, "C111")[-1]
    assert LINKED not in section_text(answer), section_text(answer)
    assert guest_dm not in _linked_since(fake, mark)


async def test_a_members_direct_message_is_never_linked_where_dms_see_public_documents(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """With `dm_visibility = "public"` every direct message's ticket has a public scope: before,
    a member's resolved DM was linked in the answer to anyone asking alike in a channel."""
    toml = SIMILAR_TOML + 'dm_visibility = "public"\n'
    rt = make_runtime(toml, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_user(THIRD, "third")
    dm = fake.add_im(THIRD)["id"]
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        await _resolved_ticket_from(fake, slack, rt, dm, THIRD, "How long does a refund take to arrive?")
        mark = len(fake.calls("chat.getPermalink"))
        asked = fake.user_message("C111", "How many days until my refund arrives?", user=MEMBER, mention=True)
        await deliver(fake, slack, asked)
        answer = posts(fake, "C111")[-1]
    assert LINKED not in section_text(answer), section_text(answer)
    assert dm not in _linked_since(fake, mark)


async def test_one_customers_connect_channel_is_never_linked_to_another_customer(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """Slack Connect channels see public documents only, so their tickets' scope is public:
    before, a question in one customer's Connect channel was answered with a link into another
    customer's. A ticket of one of the team's own public channels is still linked, past the
    shared one."""
    toml = SIMILAR_TOML + '[slack.channels.C111]\nvisibility = "public"\n'
    rt = make_runtime(toml, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_user(THIRD, "third")
    for cid, name in (("C-GLOBEX", "shared-globex"), ("C-ACME", "shared-acme")):
        fake.add_channel(cid, name)
        fake.channels[cid].update(is_shared=True, is_ext_shared=True)
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        await _resolved_ticket_from(
            fake, slack, rt, "C-GLOBEX", MEMBER, "How long does a refund take to arrive?"
        )
        mark = len(fake.calls("chat.getPermalink"))
        asked = fake.user_message(
            "C-ACME", "How many days until my refund arrives?", user=MEMBER, mention=True
        )
        await deliver(fake, slack, asked)
        assert LINKED not in section_text(posts(fake, "C-ACME")[-1])
        assert "C-GLOBEX" not in _linked_since(fake, mark)

        await _resolved_ticket_from(fake, slack, rt, "C111", THIRD, "How long does a refund take to arrive?")
        asked = fake.user_message("C111", "How many days until my refund arrives?", user=MEMBER, mention=True)
        await deliver(fake, slack, asked)
        text = section_text(posts(fake, "C111")[-1])
        assert LINKED in text and "/archives/C111/" in text, text


async def test_a_guests_private_channel_ticket_is_never_linked_to_an_asker_outside_it(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    """A guest sees public documents wherever they ask, so their ticket's scope is public in a
    private channel too: before, a member of the workspace asking in a public channel was
    answered with a link into a private channel they cannot open. Asked in that channel, it
    is still linked. (A group DM is not open either: the manifest asks for no mpim:read, and a
    channel that could not be looked up counts as closed.)"""
    rt = make_runtime(SIMILAR_TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_user("W999", "guest", is_restricted=True)
    fake.add_channel("G-ACME", "acme-contract", is_private=True, members=["W999"])
    async with running(rt) as slack:
        await fake.wait_for_connection(1)
        await _resolved_ticket_from(
            fake, slack, rt, "G-ACME", "W999", "How long does a refund take to arrive?"
        )
        mark = len(fake.calls("chat.getPermalink"))
        asked = fake.user_message("C111", "How many days until my refund arrives?", user=MEMBER, mention=True)
        await deliver(fake, slack, asked)
        answer = posts(fake, "C111")[-1]
        assert LINKED not in section_text(answer), section_text(answer)
        assert "G-ACME" not in _linked_since(fake, mark)
        asked = fake.user_message(
            "G-ACME", "How many days until my refund arrives?", user=MEMBER, mention=True
        )
        await deliver(fake, slack, asked)
        text = section_text(posts(fake, "G-ACME")[-1])
    assert LINKED in text and "/archives/G-ACME/" in text, text


async def test_the_alert_links_its_channels_as_slack_channel_mentions(
    fake: FakeSlack, slack: SlackAdapter, rt: Runtime
) -> None:
    """The alert said "Channels: #C111", which Slack shows as that literal text (it links a
    channel only written <#C111>): on a real workspace "#C04Q2LRF8KY", which nobody can read."""
    for user, text in (
        (MEMBER, "How do I reset my password?"),
        (THIRD, "I forgot my password, how do I reset it?"),
    ):
        await deliver(fake, slack, fake.user_message("C111", text, user=user, mention=True))
    [alert] = posts(fake, "C222")
    assert "Channels: <#C111>" in section_text(alert)
