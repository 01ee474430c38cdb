"""Slack's FindsPosts in multi-workspace mode: the card is looked for with the workspace's token.

The real adapter in multi-workspace HTTP mode against the fake Slack (test_slack_oauth's
fixtures); another worker's reinstall is Slack revoking the old token and a new install
written straight to the state store, as in test_slack_token_retry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.client import SlackCallError
from tests.adapters.test_slack_find_post import card, resolve
from tests.adapters.test_slack_oauth import fake, oauth_slack
from tests.adapters.test_slack_workspaces import (
    IN_T222,
    install_and_answer,
    new_token,
    saved_elsewhere,
    state_of,
)
from tests.fakes.slack_server import FakeSlack

__all__ = ["fake", "oauth_slack"]  # the fixtures, imported from test_slack_oauth


async def test_a_refused_token_is_read_again_and_never_taken_for_no_card(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    adapter, base = oauth_slack
    old = await install_and_answer(fake, adapter, base)
    after = datetime.now(UTC) - timedelta(minutes=1)
    posted = await adapter.channel.send(replace(card(7), conversation=IN_T222))
    found = await adapter.channel.find_post(IN_T222, after, resolve(7))
    assert found is not None and found.message_id == posted.message_id
    fake.revoke_token(old)
    new = new_token(fake)
    state_of(adapter).save_slack_installation(saved_elsewhere(new))  # a reinstall elsewhere
    mark = len(fake.calls("conversations.history"))
    assert await adapter.channel.find_post(IN_T222, after, resolve(7)) == found  # with the new token
    looks = fake.calls("conversations.history")[mark:]
    assert [(c.error, c.headers["Authorization"]) for c in looks] == [
        ("token_revoked", f"Bearer {old}"),
        (None, f"Bearer {new}"),
    ]
    fake.revoke_token(new)  # and no token left that Slack accepts: the card waits
    with pytest.raises(SlackCallError):
        await adapter.channel.find_post(IN_T222, after, resolve(7))
