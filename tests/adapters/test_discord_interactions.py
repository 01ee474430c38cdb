"""A button press Discord will not let the bot acknowledge (adapters/discord/interactions.py).

Discord refuses an interaction's callback once its 3 seconds are past, or when another
process answered it first (10062 Unknown interaction): the press is then not acted on (the
person sees Discord's own "this interaction failed" and can press again), one ERROR line says
so, and the next press works. And a slash command's private reply stays private when the
public "thinking" message Discord would put it in cannot be removed, and a press where the bot
may not post itself is answered through the press. Real discord.py against the fake Discord,
real core and store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from adapters.discord import DiscordAdapter
from bot.messages import say
from tests.adapters.test_discord_adapter import (  # noqa: F401  (fixtures)
    MESSAGES,
    adapter,
    answered,
    custom_ids,
    fake,
    ok_post,
    press,
    runtime,
)
from tests.fakes.discord_server import FLAG_EPHEMERAL, FakeDiscord, RecordedRequest

CALLBACK = "/interactions/{id}/{token}/callback"
WEBHOOK = "/webhooks/{app}/{token}"


async def test_a_press_whose_acknowledgement_discord_refuses_is_not_acted_on_and_the_next_one_is(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    thread_id, answer = await answered(fake, adapter, "How do I reset my password?")
    human = custom_ids(answer.json)[2]  # "talk to a person"
    fake.fail("POST", CALLBACK, 404, 10062, "Unknown interaction")
    start = len(fake.requests)
    payload = fake.build_button_press(human, message_id=answer.response["id"], channel_id=thread_id)
    await fake.dispatch("INTERACTION_CREATE", payload)
    refused = await fake.wait_for_request("POST", f"/interactions/{payload['id']}/{{t}}/callback")
    assert refused.status == 404
    assert await adapter.drain(5)
    # not acted on: no ticket, no ping of staff
    assert fake.requests_matching("POST", MESSAGES, ok_post(thread_id, "ticket #1"), after=start) == []
    lines = [r for r in caplog.records if "could not acknowledge a button" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR] and lines[0].exc_info is None

    await press(fake, human, message_id=answer.response["id"], channel_id=thread_id)  # pressed again
    await fake.wait_for_request("POST", MESSAGES, ok_post(thread_id, "ticket #1"), after=start)
    assert await adapter.drain(5)


async def test_a_private_reply_stays_private_when_the_public_thinking_message_cannot_be_deleted(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
) -> None:
    """`/support ask` thinks in public; a private reply (a question too long) deletes that
    first, since Discord shows the first follow-up in its place, public whatever it asks. A
    refused delete left the private text to become that public message."""
    fake.fail("DELETE", "/webhooks/{w}/{t}/messages/{m}", 403, 50013, times=None)
    interaction = fake.build_slash_command("support", "ask", {"question": "why " * 1100})
    await fake.dispatch("INTERACTION_CREATE", interaction)
    await fake.wait_for_request(
        "POST",
        f"/webhooks/{fake.app_id}/{{token}}",
        lambda r: r.path.endswith(interaction["token"]),
        timeout=30,
    )
    assert await adapter.drain(20)
    shown = fake.channel_messages(fake.text_channel_id, include_ephemeral=True)
    refusals = [m for m in shown if "characters long" in m["content"]]
    assert refusals and all(m["flags"] & FLAG_EPHEMERAL for m in refusals)
    [neutral] = [m for m in shown if m["content"] == say("replied_privately", "en")]
    assert not neutral["flags"] & FLAG_EPHEMERAL  # in the thinking message's place


def on_token(token: str) -> Callable[[RecordedRequest], bool]:
    return lambda r: r.path.endswith(token)


async def test_talk_to_a_person_where_the_bot_may_not_post_is_said_through_the_press(
    fake: FakeDiscord,  # noqa: F811
    adapter: DiscordAdapter,  # noqa: F811
) -> None:
    """#support takes no message and no thread from the bot (403 50001), yet `/support ask`
    works there, its answer riding on the command's token. Before, *Talk to a person* under
    that answer opened ticket #1 but its note went through the channel, was refused, and the
    presser was told privately to try again, on every press (the note claimed and refused
    again). Now the note rides on the press's own token: said once, staff's card posted, and
    a second press is told the ticket is open without a second note."""
    channel = fake.text_channel_id
    fake.fail("POST", f"/channels/{channel}/messages", 403, 50001, "Missing Access", times=None)
    fake.fail("POST", f"/channels/{channel}/messages/{{m}}/threads", 403, 50001, "Missing Access", times=None)
    start = len(fake.requests)
    interaction = fake.build_slash_command("support", "ask", {"question": "How do I reset my password?"})
    await fake.dispatch("INTERACTION_CREATE", interaction)
    answer = await fake.wait_for_request(
        "POST",
        WEBHOOK,
        lambda r: r.status == 200 and "Forgot password" in ((r.json or {}).get("content") or ""),
        after=start,
        timeout=15,
    )
    assert await adapter.drain(10)
    human = custom_ids(answer.json)[2]  # "talk to a person"
    presses = []
    for _ in range(2):
        on_press = on_token(
            (await press(fake, human, message_id=answer.response["id"], channel_id=channel))["token"]
        )
        await fake.wait_for_request("POST", WEBHOOK, on_press, after=start)
        assert await adapter.drain(10)
        presses.append([r.json or {} for r in fake.requests_matching("POST", WEBHOOK, on_press)])
    told = [[(m.get("content") or "", bool(m.get("flags", 0) & FLAG_EPHEMERAL)) for m in p] for p in presses]
    assert not [t for p in told for t, _ in p if "try again" in t.lower()], told
    notes = [t for p in told for t, private in p if "ticket #1" in t and not private]
    assert len(notes) == 1 and notes[0] in [t for t, _ in told[0]], told  # the first press's, once
    assert [t for t, _ in told[1] if "ticket #1" in t], told
    assert fake.requests_matching("POST", MESSAGES, ok_post(fake.general_channel_id, "#1"), after=start)
