"""Slack Connect: a channel shared with another organisation's workspace. Slack names the
channel's home workspace in an event's top-level `team_id`, and the submitter's in a form
submitted from the other side; the workspace whose install heard it (its settings, triage
channel, staff, tickets and figures) is `authorizations[0]` and `view.app_installed_team_id`.
People of the other organisation are outsiders here, whatever they are there, and a channel
once shared is public from that moment."""

from __future__ import annotations

from collections.abc import Callable

from adapters.slack.interactions import installed_enterprise, installed_team
from bot.app import Runtime
from bot.types import TicketStatus
from tests.adapters.test_slack import (  # noqa: F401
    MEMBER,
    click,
    deliver,
    fake,
    posts,
    press,
    running,
    section_text,
    slack_env,
)
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, event_callback_body

TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"

[slack.workspaces.T111]
triage_channel = "C444"
"""
PARTNER_ADMIN = "W0PARTNER"  # an admin and owner of the partner organisation's workspace
RUNBOOK_QUESTION = "When does the database failover password rotation happen?"  # internal docs


async def test_a_question_in_a_shared_channel_is_the_installing_workspaces(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_channel("C333", "shared-with-partner")
    fake.channels["C333"]["is_ext_shared"] = True
    fake.add_channel("C444", "own-triage")
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        body = fake.user_message("C333", "How long does a refund take to arrive?", user=MEMBER, mention=True)
        body["team_id"] = "T-PARTNER"  # the shared channel's home workspace, not the install's
        await deliver(fake, adapter, body)
        [answer] = posts(fake, "C333")
        await click(fake, adapter, press(fake, answer, "supportbot:talk_to_human", MEMBER))
    [ticket] = rt.state.tickets()
    assert ticket.conversation.workspace == "T111"
    assert len(posts(fake, "C444")) == 1  # T111's triage channel has the card
    assert posts(fake, "C222") == []  # not the shared default's, as an unknown workspace would


def test_the_installing_workspace_is_read_where_slack_names_it() -> None:
    event = event_callback_body({"type": "message", "channel": "C1", "ts": "1.0"}, team_id="T111")
    event["team_id"], event["enterprise_id"] = "T-PARTNER", "E-PARTNER"
    assert (installed_team(event), installed_enterprise(event)) == ("T111", "")
    # an org-wide install names no team in its authorization: the event's own workspace
    event["authorizations"][0].update(team_id=None, enterprise_id="E1", is_enterprise_install=True)
    assert (installed_team(event), installed_enterprise(event)) == ("T-PARTNER", "E1")
    # a form submitted from the other side of the channel
    view = {"team": {"id": "T-PARTNER"}, "view": {"id": "V1", "app_installed_team_id": "T111"}}
    assert installed_team(view) == "T111"
    # a button press (its `team` is the install's) and a slash command (a bare `team_id`)
    assert installed_team({"team": {"id": "T111"}}) == installed_team({"team_id": "T111"}) == "T111"
    assert installed_team({}) == ""


async def test_another_organisations_admin_cannot_resolve_our_ticket_in_a_shared_channel(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """users.info describes a partner of another organisation with their own team and their
    own organisation's flags: their workspace's admin (is_admin, is_owner) was taken for
    an admin here, and could resolve (or claim, reassign) this workspace's tickets."""
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_channel("C333", "shared-with-partner")
    fake.channels["C333"].update(is_shared=True, is_ext_shared=True)
    fake.add_channel("C444", "own-triage")
    fake.add_user(PARTNER_ADMIN, "partner-admin", is_admin=True, is_owner=True, channels=["C333"])
    fake.users[PARTNER_ADMIN]["team_id"] = fake.users[PARTNER_ADMIN]["profile"]["team"] = "T-PARTNER"
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        question = fake.user_message(
            "C333", "How long does a refund take to arrive?", user=MEMBER, mention=True
        )
        await deliver(fake, adapter, question)
        [answer] = posts(fake, "C333")
        await click(fake, adapter, press(fake, answer, "supportbot:talk_to_human", MEMBER))
        note = posts(fake, "C333")[-1]  # the note in the thread, with Claim and Resolve
        await click(fake, adapter, press(fake, note, "supportbot:resolve", PARTNER_ADMIN))
    [ticket] = rt.state.tickets()
    assert (ticket.status, ticket.assignee_id) == (TicketStatus.OPEN, None)


async def test_once_a_channel_is_shared_with_another_org_internal_docs_are_not_quoted_there(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """A channel the bot answered in as internal becomes a Slack Connect channel: its
    visibility was cached for ten minutes, and the next answer there quoted the internal
    runbook to the other organisation. Slack's channel_shared event drops it at once."""
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_channel("C333", "project-acme")
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        await deliver(fake, adapter, fake.user_message("C333", RUNBOOK_QUESTION, user=MEMBER, mention=True))
        [before] = posts(fake, "C333")
        assert "every Tuesday" in section_text(before)  # an internal channel: the internal runbook
        fake.channels["C333"].update(is_shared=True, is_ext_shared=True)  # shared with Acme's
        shared = {"type": "channel_shared", "connected_team_id": "T-ACME", "channel": "C333"}
        await deliver(fake, adapter, event_callback_body(shared))
        await deliver(fake, adapter, fake.user_message("C333", RUNBOOK_QUESTION, user=MEMBER, mention=True))
        [_, after] = posts(fake, "C333")
    assert "every Tuesday" not in section_text(after)


async def test_a_message_that_says_its_channel_is_shared_is_not_answered_from_internal_docs(
    fake: FakeSlack,  # noqa: F811
    make_runtime: Callable[..., Runtime],
) -> None:
    """channel_shared drops a channel's cached visibility only in the worker Slack delivers it
    to: another worker of a cluster (or an install whose manifest predates the subscription)
    kept the channel INTERNAL for up to INTERNAL_TTL and quoted the internal runbook to the
    other organisation, though every event there says so (`is_ext_shared_channel`)."""
    rt = make_runtime(TOML, env=slack_env(fake), answerer=ConfidentExtractive())
    fake.add_channel("C333", "project-acme")
    async with running(rt) as adapter:
        await fake.wait_for_connection(1)
        await deliver(fake, adapter, fake.user_message("C333", RUNBOOK_QUESTION, user=MEMBER, mention=True))
        [before] = posts(fake, "C333")
        assert "every Tuesday" in section_text(before)
        fake.channels["C333"].update(is_shared=True, is_ext_shared=True)  # channel_shared went elsewhere
        body = fake.user_message("C333", RUNBOOK_QUESTION, user=MEMBER, mention=True)
        body["is_ext_shared_channel"] = True
        await deliver(fake, adapter, body)
        [_, after] = posts(fake, "C333")
    assert "every Tuesday" not in section_text(after)
