"""What a refused token's retry may do again: never post a part twice, never take "no reply".

The real adapter in multi-workspace HTTP mode against the fake Slack (test_slack_oauth's
fixtures). Another worker's uninstall and reinstall is Slack revoking the old token and a
new install written straight to the state store, as in test_slack_workspaces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.client import SlackCallError
from bot.types import Author, ConversationRef, InboundMessage, Reply, ReplyKind, Visibility
from tests.adapters.test_slack_oauth import MEMBER, fake, oauth_slack
from tests.adapters.test_slack_workspaces import (
    IN_T222,
    install_and_answer,
    new_token,
    saved_elsewhere,
    state_of,
    tokens_used,
)
from tests.fakes.slack_server import ApiCall, FakeSlack

__all__ = ["fake", "oauth_slack"]  # the fixtures, imported from test_slack_oauth

OauthSlack = tuple[SlackAdapter, str]
# long enough that SlackChannel posts it as several messages
LONG = "\n\n".join(f"Paragraph {i}: " + "word " * 600 for i in range(20))


async def test_a_reply_refused_midway_is_finished_with_the_new_token_not_posted_again(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    old = await install_and_answer(fake, adapter, base)
    new = new_token(fake)
    ok_posts: list[ApiCall] = []

    def post_then_reinstall_elsewhere(call: ApiCall) -> dict[str, Any]:
        ok_posts.append(call)
        if len(ok_posts) == 1:  # after the first part, another worker sees a reinstall
            fake.revoke_token(old)
            state_of(adapter).save_slack_installation(saved_elsewhere(new))
        return {"ok": True, "channel": "C222", "ts": f"1700000000.{len(ok_posts):06d}"}

    fake.stub("chat.postMessage", post_then_reinstall_elsewhere)
    mark = len(fake.calls("chat.postMessage"))
    await adapter.channel.send(Reply(conversation=IN_T222, text=LONG, kind=ReplyKind.ANSWER))
    calls = fake.calls("chat.postMessage")[mark:]
    refused = [c for c in calls if not c.ok]
    assert [c.error for c in refused] == ["token_revoked"]  # the second part, with the old token
    texts = [str(c.params.get("text")) for c in ok_posts]
    assert len(texts) >= 2 and len(set(texts)) == len(texts)  # every part once
    assert texts[0].startswith("Paragraph 0") and refused[0].params.get("text") == texts[1]
    assert tokens_used(fake, mark) == [old, old] + [new] * (len(texts) - 1)


async def test_a_refused_token_is_not_taken_for_no_reply_when_a_replay_looks(
    fake: FakeSlack, oauth_slack: OauthSlack
) -> None:
    adapter, base = oauth_slack
    old = await install_and_answer(fake, adapter, base)  # the answer is in the thread
    [question] = [c for c in fake.calls("chat.postMessage")]
    asked = str(question.params["metadata"]["event_payload"]["question"])
    message = InboundMessage(
        id=asked,
        conversation=ConversationRef(platform="slack", workspace="T222", channel="C222"),
        author=Author(id=MEMBER, name="member"),
        text="How do I reset my password?",
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime.now(UTC),
    )
    found = await adapter.channel.find_reply(message)
    assert found is not None
    fake.revoke_token(old)
    new = new_token(fake)
    state_of(adapter).save_slack_installation(saved_elsewhere(new))  # a reinstall elsewhere
    mark = len(fake.calls("conversations.replies"))
    assert await adapter.channel.find_reply(message) == found  # looked again with the new token
    looks = fake.calls("conversations.replies")[mark:]
    assert [(c.error, c.headers["Authorization"]) for c in looks] == [
        ("token_revoked", f"Bearer {old}"),
        (None, f"Bearer {new}"),
    ]
    fake.revoke_token(new)  # and no token left that Slack accepts: the replay waits
    with pytest.raises(SlackCallError):
        await adapter.channel.find_reply(message)
