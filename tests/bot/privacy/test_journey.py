"""The onboarding welcome through the Slack fake (real slack-bolt, core and store): after a
member's first answered question in a channel, one welcome in the thread linking the
`[journey] welcome_docs`; never a second one, never in a DM, and nothing when it is off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.slack.manifest import BOT_SCOPES
from bot.app import Runtime
from tests.adapters import test_slack as s
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(60)

WELCOME_TOML = s.TOML + '\n[journey]\nwelcome = true\nwelcome_docs = ["password-reset.md", "missing.md"]\n'


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


def welcomes(fake: FakeSlack, channel: str) -> list[str]:
    return [s.section_text(c) for c in s.posts(fake, channel) if "Welcome" in s.section_text(c)]


async def test_the_welcome_is_sent_once_per_person_after_the_answer_and_never_in_a_dm(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    rt = make_runtime(WELCOME_TOML, env=s.slack_env(fake), answerer=ConfidentExtractive())
    async with s.running(rt) as slack:
        await fake.wait_for_connection(1)
        # a DM first: answered, not welcomed (and it does not use up the welcome)
        dm = fake.add_im(s.MEMBER)["id"]
        await s.deliver(fake, slack, fake.user_message(dm, "How do I reset my password?", user=s.MEMBER))
        assert len(s.posts(fake, dm)) == 1 and welcomes(fake, dm) == []

        first = fake.user_message("C111", "How long does a refund take?", user=s.MEMBER, mention=True)
        await s.deliver(fake, slack, first)
        answer, welcome = s.posts(fake, "C111")  # the answer first, then the welcome
        assert "30 days" in s.section_text(answer)
        assert welcome.params["thread_ts"] == first["event"]["ts"]
        assert "Resetting your password" in s.section_text(welcome)  # linked by its title
        assert "missing" not in s.section_text(welcome)  # a document not in the folder is left out

        again = fake.user_message("C111", "How do I reset my password?", user=s.MEMBER, mention=True)
        await s.deliver(fake, slack, again)
        assert len(welcomes(fake, "C111")) == 1  # once per person

        other = fake.user_message("C111", "How do I reset my password?", user=s.STAFF, mention=True)
        await s.deliver(fake, slack, other)
        assert len(welcomes(fake, "C111")) == 2  # someone else's first question
        assert rt.state.db.execute("select count(*) from welcomed").fetchone() == (2,)


async def test_no_welcome_unless_it_is_turned_on(
    fake: FakeSlack, make_runtime: Callable[..., Runtime]
) -> None:
    rt = make_runtime(s.TOML, env=s.slack_env(fake), answerer=ConfidentExtractive())
    async with s.running(rt) as slack:
        await fake.wait_for_connection(1)
        await s.deliver(fake, slack, fake.user_message("C111", "How long does a refund take?", mention=True))
        assert len(s.posts(fake, "C111")) == 1 and welcomes(fake, "C111") == []
