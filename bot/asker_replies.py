"""What the asker's replies in a thread the bot is in do when they are not a new question.

This module owns two moments of the message flow (bot/core.py decides when they apply): the
asker writing in the thread of their own ticket ("I'm all set" closes it; after resolution a
new message reopens it, thanks are only acknowledged), and a thanks in a thread the bot
answered, which ends it: kept, since it confirms the answer helped, and acknowledged.

A conversation without threads holds every question of its askers one after another: a
Discord direct message (all its asker's questions) and a channel where threads could not be made
(everyone's). There "I'm all set" closes the asker's own open ticket, but a later message is as
likely a new question as the old problem back, so it reopens nothing: it is answered, and a
ticket it leads to lists the earlier one on its card.
"""

from __future__ import annotations

from bot import policy
from bot.conversation import Recorder
from bot.escalation import Escalations
from bot.messages import say
from bot.ports import Channel
from bot.store import AsyncStore, StateStore
from bot.types import InboundMessage, Outcome, Reply, TicketStatus


async def asker_ticket_reply(
    message: InboundMessage,
    channel: Channel,
    *,
    store: AsyncStore,
    recorder: Recorder,
    escalations: Escalations,
) -> Outcome | None:
    """The asker writes in the thread of their ticket: "I'm all set" closes it; after
    resolution, a new message reopens it (thanks are only acknowledged). None when it is not
    their ticket's thread or the reopen window has passed, or for a resolved ticket in a
    conversation without threads (the module's docstring): the message goes on as any other."""
    ticket = await store.run(StateStore.latest_ticket, message.conversation, message.author.id)
    if ticket is None or ticket.asker_id != message.author.id:
        return None
    text = message.text.strip()
    if ticket.status in (TicketStatus.OPEN, TicketStatus.CLAIMED) and policy.says_all_set(text):
        await recorder.record(message, role="user")
        await escalations.close_by_asker(ticket, message.author, channel)
        return Outcome.RECORDED
    if ticket.conversation.thread is None or not escalations.reopen_window_open(ticket):
        return None
    await recorder.record(message, role="user")
    if policy.is_acknowledgement(text):
        return Outcome.RECORDED  # "ok", "네 알겠습니다": kept in the thread, nobody pinged
    if policy.says_all_set(text) or policy.is_thanks(text):
        await channel.send(
            Reply(conversation=message.conversation, text=say("you_are_welcome", ticket.language))
        )
        return Outcome.RECORDED
    await escalations.reopen(ticket, message.author, channel, text)
    return Outcome.ESCALATED


def closes_the_loop(text: str) -> bool:
    return policy.is_thanks(text) or policy.says_all_set(text) or policy.is_acknowledgement(text)


async def acknowledge_thanks(
    message: InboundMessage, channel: Channel, *, recorder: Recorder, language: str
) -> Outcome:
    """A "thanks!" in a thread the bot answered is the end of it, not a question to hand to
    people: kept (it confirms the answer helped) and acknowledged (a bare "ok" needs no reply)."""
    await recorder.record(message, role="user")
    if not policy.is_acknowledgement(message.text.strip()):
        await channel.send(
            Reply(
                conversation=message.conversation,
                text=say("you_are_welcome", language),
                in_reply_to=message.id,
            )
        )
    return Outcome.RECORDED
