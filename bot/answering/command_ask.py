"""`/support ask`: a question asked with a slash command, answered as a mention is
(`Responder.answer`). A command has no message to answer under, so the question is posted
first and answered in a thread on it: each asker's question is its own conversation (and
ticket)."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot import policy
from bot.answering.responder import Responder
from bot.conversation import log_context, thread_title
from bot.messages import say
from bot.ports import Channel
from bot.privacy.redaction import quoted
from bot.types import Command, ConversationRef, InboundMessage, Outcome, Reply, ReplyKind

log = logging.getLogger(__name__)


async def answer_command(responder: Responder, command: Command, question: str, channel: Channel) -> Outcome:
    """`/support ask`: the same pipeline as a mention, answered in the command's channel."""
    language = policy.detect_language(question)
    question = question.strip()
    if len(question) > responder.settings.answer.max_question_chars:
        await channel.send(
            Reply(
                conversation=command.conversation,
                text=say(
                    "too_long",
                    language,
                    length=len(question),
                    limit=responder.settings.answer.max_question_chars,
                ),
                kind=ReplyKind.ERROR,
                ephemeral_to=command.invoker.id,
            )
        )
        return Outcome.REFUSED
    scope = policy.document_scope(
        responder.settings, command.conversation, command.visibility, command.invoker
    )
    return await responder.answer(
        question=question,
        language=language,
        asker=command.invoker,
        conversation=await _thread_for_command(responder, command, question, language, channel),
        scope=scope,
        channel=channel,
        message_id=None,
    )


async def _thread_for_command(
    responder: Responder, command: Command, question: str, language: str, channel: Channel
) -> ConversationRef:
    """A slash command has no message to answer under: post the question, and answer in
    a thread on it, so each asker's question is its own conversation (and ticket)."""
    anchor = InboundMessage(
        id=command.id,
        conversation=command.conversation,
        author=command.invoker,
        text=question,
        addressed=True,
        visibility=command.visibility,
        sent_at=responder.clock.now(),
    )
    thread = command.conversation
    if thread.thread is None:
        root = await channel.send(
            Reply(
                conversation=command.conversation,
                # the asker's name and words, as typed: not a link or bold under the bot's name
                text=say(
                    "asked_by",
                    language,
                    who=quoted(command.invoker.display),
                    question=quoted(thread_title(question)),
                ),
            )
        )
        if root.conversation.thread is not None:
            # the platform made the post its own thread (Slack), or a conversation of its own
            # where the post has no thread (Slack: shown through the response URL)
            thread = root.conversation
        elif root.message_id:
            try:
                thread = await channel.open_thread(
                    replace(anchor, id=root.message_id), thread_title(question)
                )
            except Exception:
                log.exception(
                    "could not start a thread for a command", extra=log_context(command.conversation)
                )
    await responder.recorder.record(anchor, role="user", conversation=thread)
    return thread
