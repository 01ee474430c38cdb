"""Slack Connect: a channel shared with another organisation's workspace. Slack names the
channel's home workspace in an event's top-level `team_id`, and the submitter's in a form
submitted from the other side; the workspace whose install heard it (its settings, triage
channel, staff, tickets and figures) is `authorizations[0]` and `view.app_installed_team_id`."""

from __future__ import annotations

from collections.abc import Callable

from adapters.slack.interactions import installed_enterprise, installed_team
from bot.app import Runtime
from tests.adapters.test_slack import MEMBER, click, deliver, fake, posts, press, running, slack_env  # noqa: F401
from tests.fakes.answerers import ConfidentExtractive
from tests.fakes.slack_server import FakeSlack, event_callback_body

TOML = """
[slack]
staff_groups = ["S111"]
triage_channel = "C222"

[slack.workspaces.T111]
triage_channel = "C444"
"""


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
