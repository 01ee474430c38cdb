"""The conversation record: messages kept per thread, and the small helpers every flow shares.

Recording is what makes history, tickets and the knowledge-gap report possible; it is also
what lets a thread continue after a restart, because which threads the bot takes part in
is a flag on the conversation, not process memory.
"""

from __future__ import annotations

from bot import policy
from bot.answering.secrets import redact_secrets
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore
from bot.types import ActionEvent, ConversationRef, InboundMessage, Reply, ReplyKind


def thread_title(text: str) -> str:
    """A thread's name (shown in the channel list on Discord): the first line, no secrets."""
    text = redact_secrets(text)
    first_line = text.strip().splitlines()[0] if text.strip() else "Question"
    return first_line if len(first_line) <= 80 else first_line[:77] + "..."


def log_context(conversation: ConversationRef) -> dict[str, object]:
    """The structured fields every log line about a conversation carries (ids, never text)."""
    return {
        "platform": conversation.platform,
        "channel": conversation.channel,
        "thread_id": conversation.thread,
    }


class Recorder:
    def __init__(self, *, store: AsyncStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def record(
        self,
        message: InboundMessage,
        *,
        role: str,
        conversation: ConversationRef | None = None,
        asker: bool = False,
    ) -> None:
        """Keep `message` in its conversation (one write); `asker`: its author asked the question
        the conversation is about."""
        await self.store.run(
            StateStore.record_message,
            conversation or message.conversation,
            role=role,
            text=message.text,
            at=message.sent_at,
            now=self.clock.now(),
            author=message.author,
            platform_id=message.id,
            asker_id=message.author.id if asker else None,
        )

    async def mark_bot_thread(self, conversation: ConversationRef) -> None:
        if conversation.thread is not None:
            await self.store.run(
                StateStore.set_conversation_flags, conversation, self.clock.now(), bot_participating=True
            )

    async def question_for_ticket(self, conversation: ConversationRef, text: str, asker_id: str) -> str:
        """A request for a person is rarely the question itself: use the asker's first question
        here. Theirs alone: in a thread someone else started, the first question is that
        person's, and a ticket filed with it would be the requester's to see and export, and
        outlive its asker's forget-me."""
        said = await self.store.run(StateStore.said_by, conversation, asker_id)
        questions = [line for line in said if not policy.wants_human(line)]
        return questions[0] if questions else text


async def tell_presser(
    event: ActionEvent, channel: Channel, text: str, *, kind: ReplyKind = ReplyKind.INFO
) -> None:
    """A note to the one who pressed a button (or sent a form), and nobody else."""
    await channel.send(
        Reply(conversation=event.conversation, text=text, kind=kind, ephemeral_to=event.actor.id)
    )
